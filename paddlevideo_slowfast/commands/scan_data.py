"""Pre-check every video of a config's train/valid/test lists on all cores: open, frame count, fps, and the
first/last frame a clip may need. Prints a summary, writes the bad files as TSV; exits 1 when any is bad.
"""
from __future__ import annotations

import argparse
import os
import time

from .common import add_config_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--report", metavar="FILE", default=None,
                        help="TSV of bad videos (default: <output_dir>/scan_data/bad_videos.tsv)")
    parser.add_argument("--modes", nargs="+", choices=("train", "valid", "test"), default=["train", "valid", "test"],
                        help="which lists to scan (default: all that are set)")
    parser.add_argument("--backend", choices=("opencv", "pyav", "decord"), default=None,
                        help="decoder (default: DATASET.backend)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")


def run(args: argparse.Namespace) -> int:
    from ..config import get
    from ..data.scan import scan, summary_lines, write_report

    cfg = config_from_args(args)
    start = time.time()
    lists, checks = scan(cfg, modes=args.modes, backend=args.backend, workers=args.workers)
    report = args.report or os.path.join(str(get(cfg, "output_dir", "output")), "scan_data", "bad_videos.tsv")
    bad = write_report(report, checks)
    for line in summary_lines(lists, checks):
        print(line)
    print(f"scanned in {time.time() - start:.1f}s; report of {bad} bad video(s): {report}")
    return 1 if bad else 0
