"""Make PaddleVideo list files from a folder-per-class video tree ROOT/<class>/<video> for fine-tuning.

Writes DIR/train.list and DIR/val.list (paths relative to ROOT: set data_prefix to ROOT) and
DIR/label_names.txt (classes sorted by folder name). The split is stratified per class and fixed by --seed;
every class with two or more videos gets at least one validation video. See docs/finetune.md.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", metavar="ROOT", help="folder with one sub-folder of videos per class")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the lists and label_names.txt")
    parser.add_argument("--val-split", type=float, default=0.2, help="fraction of each class for val (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    parser.add_argument("--extensions", nargs="+", metavar="EXT", default=None,
                        help="video file suffixes (default: mp4 avi mkv mov webm m4v mpg mpeg flv wmv)")


def run(args: argparse.Namespace) -> int:
    from ..data.make_list import VIDEO_EXTENSIONS, make_lists

    summary = make_lists(args.root, args.out, val_split=args.val_split, seed=args.seed,
                         extensions=args.extensions or VIDEO_EXTENSIONS)
    width = max(len(name) for name in summary.classes)
    for label, name in enumerate(summary.classes):
        train, val = summary.counts[name]
        print(f"{label:>4} {name:<{width}}  train {train:>5}  val {val:>5}")
    k = len(summary.classes)
    print(f"{k} classes, {summary.num_train} train and {summary.num_val} val videos: "
          f"{summary.train_list}, {summary.val_list}, {summary.label_file}")
    print(f"config: data_prefix {args.root}; -o MODEL.head.num_classes={k} METRIC.num_classes={k}")
    return 0
