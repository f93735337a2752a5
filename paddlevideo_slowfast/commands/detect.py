"""Detect actions in a video with an exported AVA detector: one keyframe every 1/fps seconds over the whole video,
each person box (from --boxes, a box file, or --detector, a PaddleDetection/PaddleX person detector run on the
keyframe) scored for every action. A table, or JSON lines {timestamp, box, score, actions: [{label, action_id,
score}]} with --json, on stdout; logs on stderr. --out also writes the video with the boxes and top actions drawn.
The video is decoded once, holding only the frames of the keyframes in flight. An unreadable video exits 1; a bad
box file, model folder or option exits 2, each with one line saying why.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .common import positive, writable_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR", help="folder written by `paddlevideo export` of a "
                        "detection config (configs/ava_*.yaml)")
    parser.add_argument("--video", required=True, metavar="PATH", help="the video file")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--boxes", metavar="FILE", help="person boxes per timestamp, normalised: AVA CSV rows "
                        "(video_id,timestamp,x1,y1,x2,y2[,action_id[,person_id|score]]; rows of other videos are "
                        "skipped: the video_id is the video's file stem), JSON lines {timestamp, box, score}, or an "
                        "AVA proposal .pkl")
    source.add_argument("--detector", metavar="DET_DIR", help="a person detector exported by PaddleDetection or "
                        "PaddleX for Paddle Inference (its infer_cfg.yml and model files), run on each keyframe")
    parser.add_argument("--fps", type=positive(float), default=1.0, metavar="F",
                        help="keyframes per second (default 1, AVA's rate)")
    parser.add_argument("--video-start", type=float, default=0.0, metavar="SECONDS",
                        help="the timestamp of the video's first frame on the box file's clock and in the output "
                        "(default 0; 900 for AVA's 15-minute cuts)")
    parser.add_argument("--person-class", type=int, default=0, metavar="ID",
                        help="--detector: the class id of a person in its label list (default 0)")
    parser.add_argument("--det-threshold", type=float, default=0.5, metavar="S",
                        help="least person score of a box, from --boxes or --detector (default 0.5)")
    parser.add_argument("--top-k", type=positive(int), default=3, metavar="K",
                        help="actions per person, best first, above the model's action_thr (default 3)")
    parser.add_argument("--json", action="store_true", help="one JSON object per person and keyframe")
    parser.add_argument("--out", metavar="FILE", help="write the video with boxes and top actions drawn (.mp4)")
    parser.add_argument("--runtime", choices=["paddle", "onnx"], default="paddle",
                        help="paddle: Paddle Inference (default); onnx: onnxruntime on the model.onnx of "
                        "`export --format onnx`")
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu", help="where to run (default cpu)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU math threads (default: the cores this process may use)")


def run(args: argparse.Namespace) -> int:
    from ..deploy.detector import Detector
    from ..errors import VideoDecodeError

    detector = Detector(args.model, runtime=args.runtime, device=args.device, threads=args.threads)
    boxes: Any = args.boxes
    if args.detector:
        from ..deploy.person_detector import PersonDetector

        boxes = PersonDetector(args.detector, person_class=args.person_class, threshold=args.det_threshold,
                               threads=args.threads)
    if args.out:
        writable_folder(Path(args.out).resolve().parent, "--out")
    detections = detector.run(args.video, boxes, args.fps, top_k=args.top_k, det_threshold=args.det_threshold,
                              video_start=args.video_start, out=args.out)
    count = 0
    try:
        if not args.json:
            print(f"{args.video}: keyframes every {1 / args.fps:g} s")
        for detection in detections:
            count += 1
            _emit(detection, args.json)
    except VideoDecodeError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    summary = (f"{detections.keyframes} keyframes, {detections.scored} with person boxes, {count} people "
               f"(at most {detections.peak_frames} frames held)")
    print(summary, file=sys.stderr)
    if detections.annotated:
        print(detections.annotated, file=sys.stderr if args.json else sys.stdout)
    return 0


def _emit(detection: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(detection.to_json()), flush=True)
        return
    box = ", ".join(f"{v:.3f}" for v in detection.box)
    actions = ", ".join(f"{a['label']} {a['score']:.3f}" for a in detection.actions) or "-"
    print(f"  {detection.timestamp:9.2f}s  [{box}] {detection.score:.2f}  {actions}", flush=True)
