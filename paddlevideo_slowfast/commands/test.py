"""Test of trained weights (PaddleVideo's `main.py --test`). A recognizer: multi-view top-1/top-5 over scored videos,
per-class accuracy and confusion matrix (CSV + PNG), unreadable videos listed as unscored, never substituted.
A detector (AVA): frame-mAP@0.5 with per-class AP, and the detections in AVA's CSV result format."""
from __future__ import annotations

import argparse
import json

from .common import add_config_arguments, config_from_args, writable_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("-w", "--weights", required=True, metavar="WEIGHTS",
                        help="weights to test (.pdparams, .safetensors or URL)")
    parser.add_argument("--output", metavar="DIR", help="report folder (default: output/<model_name>/test)")
    parser.add_argument("--no-accelerate", dest="accelerate", action="store_false",
                        help="run plain dygraph instead of the faster static-graph backbone (same outputs)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    from ..engine.evaluator import test_model
    from ..engine.logging import setup_logging

    from ..runtime import output_folder

    cfg = config_from_args(args)
    folder = writable_folder(args.output or output_folder(cfg) / "test", "--output")
    log = setup_logging(None, str(cfg.get("log_level", "INFO")))
    result = test_model(cfg, args.weights, output=str(folder), accelerate=args.accelerate, log=log)
    if args.json:
        print(json.dumps(result))
        return 0
    if "mAP@0.5IOU" in result:  # a detector: AVA frame-mAP over keyframes
        print(f"mAP@0.5IOU: {result['mAP@0.5IOU']:.4f}  over {result['keyframes']} keyframes "
              f"({result['missed_keyframes']} with ground truth but no detection)")
    else:
        tops = "  ".join(f"{k}: {v:.4f}" for k, v in result.items() if k.startswith("top"))
        print(f"{tops}  over {result['scored']} scored videos ({result['unscored']} unscored)")
    for path in result["unscored_videos"]:
        print(f"unscored: {path}")
    for name, path in result["report"].items():
        print(f"{name}: {path}")
    return 0
