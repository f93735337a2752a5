"""Grad-CAM of trained weights on video files: for each pathway (Slow and Fast separately) a heat map over the
frames of the test pipeline's centre clip, upsampled in time and space from the chosen stage's output, written
as an MP4 per pathway, a PNG strip of sampled frames, and the class scores (JSON). Recognition models only.
"""
from __future__ import annotations

import argparse
import json

from .common import add_config_arguments, config_from_args, positive, writable_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..explain.gradcam import LAYERS

    add_config_arguments(parser)
    parser.add_argument("-w", "--weights", required=True, metavar="WEIGHTS",
                        help="trained weights (.pdparams, .safetensors or URL)")
    parser.add_argument("--video", required=True, nargs="+", metavar="PATH",
                        help="video file(s), folder(s) of videos, or list file(s) (.txt/.list, one path per line)")
    parser.add_argument("--target-class", metavar="NAME|INDEX", default=None,
                        help="class to explain (default: each video's top class)")
    parser.add_argument("--layer", choices=LAYERS, default=LAYERS[-1],
                        help=f"backbone stage whose output is explained (default {LAYERS[-1]}, the last)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the MP4s, PNG strips and scores")
    parser.add_argument("--top-k", type=positive(int), default=5, metavar="K", help="classes to report (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON object per video on stdout")


def run(args: argparse.Namespace) -> int:
    from ..deploy.inputs import expand_videos
    from ..errors import ConfigError
    from ..explain.run import explain_videos

    cfg = config_from_args(args)
    videos = expand_videos(args.video)
    if not videos:
        raise ConfigError("no videos found", key="--video", expected="a video file, a folder of videos or a list file")
    out = writable_folder(args.out, "--out")
    for record in explain_videos(cfg, args.weights, videos, out, target=args.target_class, layer=args.layer,
                                 top_k=args.top_k):
        if args.json:
            print(json.dumps(record), flush=True)
            continue
        best = ", ".join(f"{e['label']} {e['score']:.4f}" for e in record["top_k"])
        print(f"{record['video']}: explaining {record['target']['label']} ({args.layer}); top: {best}")
        for name, path in record["files"].items():
            print(f"  {name}: {path}")
    return 0
