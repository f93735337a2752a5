"""Train a model from a config (PaddleVideo's `main.py` flags); several processes (GPUs, or CPU with gloo):
`python -m paddle.distributed.launch --nproc_per_node 2 paddlevideo train ...` (the launcher runs the executable
it is given)."""
from __future__ import annotations

import argparse

from .common import add_config_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--validate", action="store_true", help="evaluate on DATASET.valid every val_interval epochs")
    parser.add_argument("--resume", metavar="PATH|auto",
                        help="continue from a checkpoint (a _epoch_NNNNN stem or .pdparams/.pdopt path), or 'auto' "
                        "for the newest complete one in the output folder")
    parser.add_argument("-w", "--weights", metavar="PRETRAINED",
                        help="initial weights (.pdparams, .safetensors or URL); a different num_classes re-inits the head")
    parser.add_argument("--amp", action="store_true", help="mixed precision (float16 auto-cast; GPU only)")
    parser.add_argument("--amp_level", "--amp-level", default="O1", choices=["O1", "O2"], help="auto-cast level")
    parser.add_argument("--seed", type=int, help="random seed of the initial weights, data order, augmentation "
                        "and dropout (default: the config's seed)")
    parser.add_argument("--output", metavar="DIR", help="output folder (default: output/<model_name>)")


def run(args: argparse.Namespace) -> int:
    from ..config import get
    from ..engine.trainer import TrainOptions, train_model
    from ..runtime import leave_cores_for_workers

    cfg = config_from_args(args)
    leave_cores_for_workers(int(get(cfg, "DATASET.num_workers", 0) or 0))
    summary = train_model(cfg, TrainOptions(weights=args.weights, resume=args.resume, validate=args.validate,
                                            amp=args.amp, amp_level=args.amp_level, seed=args.seed,
                                            output=args.output))
    from ..engine.distributed import is_main_process

    if is_main_process():  # one line per job, not one per process of a launcher
        print(f"training finished; outputs in {summary['output']}")
    return 0
