"""The `paddlevideo` command: PaddleVideo's verbs (train, test, export ...) plus our own tools."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, List, Optional

from . import __version__, runtime
from .errors import SlowFastError

# verb -> module holding `add_arguments(parser)` and `run(args) -> int`, and its one-line help
COMMANDS = {
    "train": ("paddlevideo_slowfast.commands.train", "train a model from a config (resumable, distributed)"),
    "test": ("paddlevideo_slowfast.commands.test", "multi-view test of trained weights"),
    "check-config": ("paddlevideo_slowfast.commands.check_config",
                     "print the fully merged config and where each top-level key came from"),
    "make-data": ("paddlevideo_slowfast.commands.make_data", "generate the embedded dataset (seeded H.264 videos)"),
    "scan-data": ("paddlevideo_slowfast.commands.scan_data", "pre-check every video of the train/valid/test lists"),
    "make-list": ("paddlevideo_slowfast.commands.make_list", "train/val lists from a ROOT/<class>/<video> folder"),
    "convert": ("paddlevideo_slowfast.commands.convert", "PySlowFast/pytorchvideo checkpoint -> .pdparams"),
    "export-weights": ("paddlevideo_slowfast.commands.export_weights", "re-save weights as .safetensors"),
    "summary": ("paddlevideo_slowfast.commands.summary", "print parameters and GMACs of the configured model"),
    "export": ("paddlevideo_slowfast.commands.export", "export a Paddle Inference model (+ infer_cfg.yml, ONNX)"),
    "predict": ("paddlevideo_slowfast.commands.predict", "classify video files with an exported model"),
    "detect": ("paddlevideo_slowfast.commands.detect", "detect each person's actions in a video (exported AVA model)"),
    "serve": ("paddlevideo_slowfast.commands.serve", "serve an exported model over HTTP (dynamic batching)"),
    "explain": ("paddlevideo_slowfast.commands.explain", "Grad-CAM per pathway on videos (heat-map MP4s, PNG strip)"),
}


VERBOSE_HELP = "also show Paddle's own warnings and C++ log lines (hidden by default)"

# verbs that run the model: Paddle's eager CPU kernels use one thread unless told otherwise
COMPUTE_VERBS = {"train", "test", "export", "predict", "summary", "detect", "explain", "serve"}


def _configure_threads() -> None:
    """Threads for Paddle's math library: OMP_NUM_THREADS when the user set it, else this process's share of
    the cores (several processes per machine under the launcher). `train` then leaves a core to each data
    worker (commands/train.py)."""
    import os

    user = os.environ.get("OMP_NUM_THREADS", "")  # read before `import paddle`, which sets it to 1
    if user.isdigit():
        runtime.configure_cpu_threads(int(user), user_choice=True)
        return
    local = int(os.environ.get("PADDLE_LOCAL_SIZE") or os.environ.get("PADDLE_TRAINERS_NUM") or 1)
    runtime.configure_cpu_threads(max(1, runtime.usable_cores() // max(1, local)))


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per verb."""
    parser = argparse.ArgumentParser(prog="paddlevideo", description="SlowFast video recognition on PaddlePaddle 3.")
    parser.add_argument("--version", action="version", version=f"paddlevideo-slowfast {__version__}")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = verbs.add_parser(verb, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(sub)
        sub.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
        sub.set_defaults(_run=module.run)
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Optional[List[str]],
             prepare: Callable[[argparse.Namespace], None] = lambda args: None) -> int:
    """Parse `argv`, run the chosen verb's `run`; our own errors print one line and exit 2, Ctrl-C (also when
    Paddle wraps it in another exception) prints one line and exits 130."""
    from .engine.interrupt import interrupt_message, is_interrupt

    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        prepare(args)
        return int(args._run(args) or 0)
    except BaseException as exc:
        if is_interrupt(exc):
            print(interrupt_message(exc), file=sys.stderr)
            return 130
        if isinstance(exc, SlowFastError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the `paddlevideo` console script."""
    def prepare(args: argparse.Namespace) -> None:
        if not args.verbose:
            runtime.quiet_paddle()  # first: glog reads its level when Paddle's library loads
        if args.command in COMPUTE_VERBS:
            _configure_threads()

    return dispatch(build_parser(), argv, prepare)


if __name__ == "__main__":
    sys.exit(main())
