"""`python -m paddlevideo_slowfast VERB ...`: what `paddle.distributed.launch -m` starts."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
