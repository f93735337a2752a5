"""Pre-check every video of a config's train/valid/test lists on all cores: open, frame count, fps, and the
frames a clip may need, under the same usability rule as test and predict (data/sampling.py). Prints a summary, writes the bad files as TSV; exits 1 when any is bad.
"""
from __future__ import annotations

import argparse
import os
import time

from .common import add_config_arguments, config_from_args, writable_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--report", metavar="FILE", default=None,
                        help="TSV of bad videos (default: <output folder>/scan_data/bad_videos.tsv, the output folder "
                        "being train's: output_dir, else output/<model_name>)")
    parser.add_argument("--modes", nargs="+", choices=("train", "valid", "test"), default=["train", "valid", "test"],
                        help="which lists to scan (default: all that are set)")
    parser.add_argument("--backend", choices=("opencv", "pyav", "decord"), default=None,
                        help="decoder (default: DATASET.backend)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")


def run(args: argparse.Namespace) -> int:
    from ..data.scan import scan, summary_lines, write_report
    from ..runtime import output_folder

    cfg = config_from_args(args)
    report = args.report or os.path.join(str(output_folder(cfg)), "scan_data", "bad_videos.tsv")
    writable_folder(os.path.dirname(report) or ".", "--report" if args.report else "output_dir")
    start = time.time()
    lists, checks = scan(cfg, modes=args.modes, backend=args.backend, workers=args.workers)
    bad = write_report(report, checks)
    for line in summary_lines(lists, checks):
        print(line)
    print(f"scanned in {time.time() - start:.1f}s; report of {bad} bad video(s): {report}")
    return 1 if bad else 0
