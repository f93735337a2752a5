"""Generate an embedded dataset: seeded H.264 videos of shapes whose actions only motion tells.

--task recognition (default): one shape per video, PaddleVideo lists DIR/train.list, DIR/val.list and
DIR/label_names.txt (docs/embedded_dataset.md). --task detection: 1-3 shapes per video with AVA's annotation
CSVs, excluded timestamps, label map and proposal pickles under DIR/annotations (docs/embedded_ava.md).
The same seed gives the same files. An existing DIR is replaced only when it is empty or was written by
make-data (its dataset.json), or with --force.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError

# option -> the task it belongs to; the other task refuses it rather than ignoring it
_RECOGNITION_ONLY = {"classes": "--classes", "frames": "--frames", "train_per_class": "--train-per-class",
                     "val_per_class": "--val-per-class"}
_DETECTION_ONLY = {"seconds": "--seconds", "train_videos": "--train-videos", "val_videos": "--val-videos",
                   "max_actors": "--max-actors", "rawframes": "--rawframes"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=("recognition", "detection"), default="recognition",
                        help="recognition: one labelled shape per video (default); detection: AVA-format boxes")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder to write; an existing one is replaced only when make-data wrote it or it is empty")
    parser.add_argument("--force", action="store_true",
                        help="replace DIR even when it holds files make-data did not write (they are deleted)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    parser.add_argument("--classes", nargs="+", metavar="NAME", default=None,
                        help="recognition: subset of classes, in label order (default: all 10: left right up down "
                        "rotate_cw rotate_ccw blink_slow blink_fast drift_slow drift_fast)")
    parser.add_argument("--frames", type=int, default=None, help="recognition: frames per video (default 48)")
    parser.add_argument("--size", type=int, default=None,
                        help="frame width and height in pixels, even (default 64; detection 128)")
    parser.add_argument("--fps", type=int, default=30, help="frame rate (default 30)")
    parser.add_argument("--train-per-class", type=int, default=None,
                        help="recognition: training videos per class (default 60)")
    parser.add_argument("--val-per-class", type=int, default=None,
                        help="recognition: validation videos per class (default 15)")
    parser.add_argument("--seconds", type=int, default=None,
                        help="detection: seconds per video (default 7: keyframes at seconds 2..5, AVA's 902..905)")
    parser.add_argument("--train-videos", type=int, default=None, help="detection: training videos (default 100)")
    parser.add_argument("--val-videos", type=int, default=None, help="detection: validation videos (default 25)")
    parser.add_argument("--max-actors", type=int, default=None, help="detection: actors per video, 1-3 (default 3)")
    parser.add_argument("--rawframes", action="store_true", default=None,
                        help="detection: also write rawframes/<video>/img_00001.jpg ... (PaddleVideo's layout)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")


def _given(args: argparse.Namespace, names: Iterable[str]) -> dict:
    """The options among `names` the user gave (not left at None), by keyword."""
    return {key: getattr(args, key) for key in names if getattr(args, key) is not None}


def _refuse_other_task(args: argparse.Namespace, options: dict) -> None:
    wrong = [flag for key, flag in options.items() if getattr(args, key) is not None]
    if wrong:
        other = "recognition" if args.task == "detection" else "detection"
        raise ConfigError(f"{', '.join(wrong)}: only with --task {other}, not --task {args.task}", key=wrong[0])


def run(args: argparse.Namespace) -> int:
    if args.task == "detection":
        return _run_detection(args)
    from ..data.synthetic import make_embedded_dataset

    _refuse_other_task(args, _DETECTION_ONLY)
    classes = [c for item in args.classes for c in item.split(",") if c] if args.classes else None
    start = time.time()
    out = make_embedded_dataset(args.out, seed=args.seed, classes=classes, size=64 if args.size is None else args.size,
                                fps=args.fps, workers=args.workers, force=args.force,
                                **_given(args, ("frames", "train_per_class", "val_per_class")))
    count = sum(1 for _ in (out / "train.list").open()) + sum(1 for _ in (out / "val.list").open())
    print(f"wrote {count} videos to {out} in {time.time() - start:.1f}s "
          f"(lists: {out / 'train.list'}, {out / 'val.list'}; names: {out / 'label_names.txt'})")
    return 0


def _run_detection(args: argparse.Namespace) -> int:
    from ..data.ava_synthetic import make_embedded_ava

    _refuse_other_task(args, _RECOGNITION_ONLY)
    start = time.time()
    options = _given(args, ("seconds", "train_videos", "val_videos", "max_actors"))
    out = make_embedded_ava(args.out, seed=args.seed, size=128 if args.size is None else args.size, fps=args.fps,
                            rawframes=bool(args.rawframes), workers=args.workers, force=args.force, **options)
    counts = json.loads((Path(out) / "dataset.json").read_text(encoding="utf-8"))["counts"]
    parts = [f"{c['videos']} {split} videos ({c['keyframes']} keyframes, {c['actor_boxes']} actor boxes)"
             for split, c in counts.items()]
    print(f"wrote {', '.join(parts)} to {out} in {time.time() - start:.1f}s "
          f"(annotations: {Path(out) / 'annotations'})")
    return 0
