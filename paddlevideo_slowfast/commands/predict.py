"""Classify video files with an exported model: top-k labels and probabilities per video (JSON lines with --json),
or per window with --windows. Each video is decoded once; unreadable videos are reported and the rest go on
(exit status 1 when any failed). A model exported by PaddleVideo itself (no infer_cfg.yml) needs its config -c,
whose DATASET.test.label_file names the classes. `--runtime onnx` runs the model.onnx of `export --format onnx`
with onnxruntime.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict

from .common import add_config_arguments, config_from_args, positive


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR", help="folder written by `paddlevideo export`")
    parser.add_argument("--video", required=True, nargs="+", metavar="PATH",
                        help="video file(s), folder(s) of videos, or list file(s) (.txt/.list, one path per line); "
                        "or a live source (rtsp://, http://, udp://, ... or /dev/videoN) with --windows: classified "
                        "window by window as they close, reconnecting when it drops, until Ctrl-C")
    parser.add_argument("--views", default="1x1", metavar="TxS",
                        help="temporal x spatial views averaged per video or window: 1x1 (default, centre clip) or "
                        "10x3 (the K400 test protocol)")
    parser.add_argument("--top-k", type=positive(int), default=5, metavar="K", help="classes to print (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line (per window with --windows)")
    parser.add_argument("--windows", type=positive(float), default=None, metavar="SECONDS",
                        help="slide over the whole video in windows of SECONDS and print a top-k timeline")
    parser.add_argument("--out", metavar="FILE.mp4", default=None,
                        help="with --windows and one video file: write it with each window's top-k drawn, and a "
                        "timeline PNG of class probabilities beside it (FILE_timeline.png)")
    add_config_arguments(parser, required=False)  # -c: for a model exported by PaddleVideo (no infer_cfg.yml)
    parser.add_argument("--runtime", choices=["paddle", "onnx"], default="paddle",
                        help="paddle: Paddle Inference on the exported program (default); onnx: onnxruntime (CPU) on "
                        "the model.onnx of `export --format onnx` (needs onnxruntime)")
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu", help="where to run (default cpu)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU math threads (default: the cores this process may use)")
    parser.add_argument("--onednn", action=argparse.BooleanOptionalAction, default=True,
                        help="oneDNN kernels on CPU (default on; off is 6-8x slower)")
    parser.add_argument("--trt", choices=["fp32", "fp16"], default=None,
                        help="TensorRT subgraphs on GPU, when the Paddle build has TensorRT")
    parser.add_argument("--batch-size", type=positive(int), default=1, metavar="N", help="views per forward pass (default 1)")


def run(args: argparse.Namespace) -> int:
    from ..deploy.inputs import expand_videos
    from ..deploy.predictor import Predictor
    from ..errors import ConfigError, SlowFastError, VideoDecodeError
    from ..serve.streams import is_live, live_predictions

    config = config_from_args(args) if args.config else None
    if config is None and args.override:
        raise ConfigError("-o needs the training config -c", key="-o")
    predictor = Predictor(args.model, device=args.device, threads=args.threads, onednn=args.onednn,
                          config=config, views=args.views, batch_size=args.batch_size, trt=args.trt,
                          runtime=args.runtime)
    videos = [v for arg in args.video for v in ([arg] if is_live(arg) else expand_videos([arg]))]
    if not args.windows and any(is_live(v) for v in videos):
        raise ConfigError("a live source needs --windows SECONDS", key="--video",
                          expected="--windows, e.g. --windows 2: one result per 2 s window as it closes")
    if not videos:
        raise ConfigError("no videos found", key="--video", expected="a video file, a folder of videos or a list file")
    if args.out and (not args.windows or len(videos) != 1 or is_live(videos[0])):
        raise ConfigError("--out draws the windows of one video file", key="--out",
                          expected="--windows SECONDS and a single video file")
    failed = 0
    for video in videos:
        try:
            if os.path.islink(video) and not os.path.exists(video):
                raise VideoDecodeError(video, f"broken symbolic link (to {os.readlink(video)})")
            if args.windows:
                if not args.json:
                    print(video)
                windows = (live_predictions(predictor, video, args.windows, args.top_k) if is_live(video)
                           else predictor.timeline(video, args.windows, args.top_k))
                if args.out:
                    from ..deploy.timeline_video import annotate_windows

                    windows = annotate_windows(windows, video, args.out, predictor.labels)
                for window in windows:
                    _emit(window, args.json)
            else:
                _emit(predictor.predict(video, args.top_k), args.json)
        except SlowFastError as exc:
            failed += 1
            if args.json:
                print(json.dumps({"video": video, "error": str(getattr(exc, "reason", exc))}), flush=True)
            print(f"error: {exc}", file=sys.stderr, flush=True)
    if failed:
        print(f"{failed} of {len(videos)} videos could not be classified", file=sys.stderr)
    return 1 if failed else 0


def _emit(prediction: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(prediction.to_json()), flush=True)
        return
    if prediction.start is None:
        print(prediction.video)
        for rank, entry in enumerate(prediction.top_k, 1):
            print(f"  {rank}. {_name(entry):<24} {entry['score']:.4f}")
    else:
        best = ", ".join(f"{_name(e)} {e['score']:.4f}" for e in prediction.top_k)
        print(f"  {prediction.start:8.2f}-{prediction.end:<8.2f}s  {best}")
    sys.stdout.flush()


def _name(entry: Dict[str, Any]) -> str:
    return entry["label"] if entry["label"] != str(entry["class_id"]) else f"class {entry['class_id']}"
