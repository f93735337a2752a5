"""`python -m paddlevideo_slowfast.pv`: PaddleVideo's workflow with our components (see cli.py)."""
import sys

from .cli import main

sys.exit(main())
