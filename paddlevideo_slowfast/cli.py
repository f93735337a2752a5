"""The `paddlevideo` command: PaddleVideo's verbs (train, test, export ...) plus our own tools."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from . import __version__
from .errors import SlowFastError

# verb -> module holding `add_arguments(parser)` and `run(args) -> int`, and its one-line help
COMMANDS = {
    "train": ("paddlevideo_slowfast.commands.train", "train a model from a config (resumable, distributed)"),
    "test": ("paddlevideo_slowfast.commands.test", "multi-view test of trained weights"),
    "check-config": ("paddlevideo_slowfast.commands.check_config",
                     "print the fully merged config and where each top-level key came from"),
    "make-data": ("paddlevideo_slowfast.commands.make_data", "generate the embedded dataset (seeded H.264 videos)"),
    "scan-data": ("paddlevideo_slowfast.commands.scan_data", "pre-check every video of the train/valid/test lists"),
    "convert": ("paddlevideo_slowfast.commands.convert", "PySlowFast/pytorchvideo checkpoint -> .pdparams"),
    "export-weights": ("paddlevideo_slowfast.commands.export_weights", "re-save weights as .safetensors"),
    "summary": ("paddlevideo_slowfast.commands.summary", "print parameters and GMACs of the configured model"),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per verb."""
    parser = argparse.ArgumentParser(prog="paddlevideo", description="SlowFast video recognition on PaddlePaddle 3.")
    parser.add_argument("--version", action="version", version=f"paddlevideo-slowfast {__version__}")
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = verbs.add_parser(verb, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the `paddlevideo` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except SlowFastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
