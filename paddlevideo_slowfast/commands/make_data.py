"""Generate the embedded dataset: seeded H.264 videos of shapes whose class only motion tells, with PaddleVideo lists.

Writes DIR/train.list, DIR/val.list, DIR/label_names.txt and the videos (see docs/embedded_dataset.md).
The same seed gives the same videos. An existing DIR is replaced only when it is empty or was written by
make-data (its dataset.json), or with --force.
"""
from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder to write; an existing one is replaced only when make-data wrote it or it is empty")
    parser.add_argument("--force", action="store_true",
                        help="replace DIR even when it holds files make-data did not write (they are deleted)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    parser.add_argument("--classes", nargs="+", metavar="NAME", default=None,
                        help="subset of classes, in label order (default: all 10: left right up down rotate_cw "
                        "rotate_ccw blink_slow blink_fast drift_slow drift_fast)")
    parser.add_argument("--frames", type=int, default=48, help="frames per video (default 48)")
    parser.add_argument("--size", type=int, default=64, help="frame width and height in pixels, even (default 64)")
    parser.add_argument("--fps", type=int, default=30, help="frame rate (default 30)")
    parser.add_argument("--train-per-class", type=int, default=60, help="training videos per class (default 60)")
    parser.add_argument("--val-per-class", type=int, default=15, help="validation videos per class (default 15)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")


def run(args: argparse.Namespace) -> int:
    from ..data.synthetic import make_embedded_dataset

    classes = [c for item in args.classes for c in item.split(",") if c] if args.classes else None
    start = time.time()
    out = make_embedded_dataset(args.out, seed=args.seed, classes=classes, size=args.size, frames=args.frames,
                                fps=args.fps, train_per_class=args.train_per_class,
                                val_per_class=args.val_per_class, workers=args.workers, force=args.force)
    count = sum(1 for _ in (out / "train.list").open()) + sum(1 for _ in (out / "val.list").open())
    print(f"wrote {count} videos to {out} in {time.time() - start:.1f}s "
          f"(lists: {out / 'train.list'}, {out / 'val.list'}; names: {out / 'label_names.txt'})")
    return 0
