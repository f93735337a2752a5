"""Grad-CAM of trained weights on video files: for each pathway (Slow and Fast separately) a heat map over the
frames of the test pipeline's centre clip, upsampled in time and space from the chosen stage's output, written
as an MP4 per pathway, a PNG strip of sampled frames, and the class scores (JSON). A detection config (AVA,
FastRCNN) is explained per person box (RoI) at each keyframe: boxes from --boxes or --detector as `detect` takes
them, per RoI an MP4 per pathway with the box drawn and a strip, per video one scores JSON of every RoI.
"""
from __future__ import annotations

import argparse
import json

from .common import add_config_arguments, config_from_args, positive, writable_folder

DETECTION_ONLY = ("boxes", "detector", "keyframe", "fps", "video_start", "det_threshold", "person_class")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..explain.gradcam import LAYERS, METHODS

    add_config_arguments(parser)
    parser.add_argument("-w", "--weights", required=True, metavar="WEIGHTS",
                        help="trained weights (.pdparams, .safetensors or URL)")
    parser.add_argument("--video", required=True, nargs="+", metavar="PATH",
                        help="video file(s), folder(s) of videos, or list file(s) (.txt/.list, one path per line)")
    parser.add_argument("--target-class", metavar="NAME|INDEX", default=None,
                        help="class (detection: action) to explain (default: each video's, each box's, top one)")
    parser.add_argument("--layer", choices=LAYERS, default=LAYERS[-1],
                        help=f"backbone stage whose output is explained (default {LAYERS[-1]}, the last)")
    parser.add_argument("--cam", choices=METHODS, default=None,
                        help="gradcam: gradient averaged per channel (default for recognition); hirescam: kept per "
                        "position (default for detection, where Grad-CAM gives every box scored for one action "
                        "the same map)")
    detection = parser.add_argument_group("detection configs (per person box, as `paddlevideo detect`)")
    source = detection.add_mutually_exclusive_group()
    source.add_argument("--boxes", metavar="FILE", default=None, help="person boxes per timestamp, normalised: AVA "
                        "CSV rows (video_id,timestamp,x1,y1,x2,y2,...; video_id = the video's file stem), JSON lines "
                        "{timestamp, box, score}, or an AVA proposal .pkl")
    source.add_argument("--detector", metavar="DET_DIR", default=None, help="a person detector exported by "
                        "PaddleDetection or PaddleX, run on each keyframe")
    detection.add_argument("--keyframe", type=float, nargs="+", metavar="SECONDS", default=None,
                           help="explain these keyframes only (timestamps on the box file's clock; default: every "
                           "keyframe with boxes)")
    detection.add_argument("--fps", type=positive(float), default=None, metavar="F",
                           help="keyframes per second (default 1, AVA's rate)")
    detection.add_argument("--video-start", type=float, default=None, metavar="SECONDS",
                           help="the timestamp of the video's first frame on the box file's clock (default 0)")
    detection.add_argument("--det-threshold", type=float, default=None, metavar="S",
                           help="least person score of a box (default 0.5)")
    detection.add_argument("--person-class", type=int, default=None, metavar="ID",
                           help="--detector: the class id of a person (default 0)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the MP4s, PNG strips and scores")
    parser.add_argument("--top-k", type=positive(int), default=5, metavar="K", help="classes to report (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON object per video (detection: per box) on stdout")


def run(args: argparse.Namespace) -> int:
    from ..deploy.inputs import expand_videos
    from ..errors import ConfigError
    from ..explain.run import explain_videos

    cfg = config_from_args(args)
    videos = expand_videos(args.video)
    if not videos:
        raise ConfigError("no videos found", key="--video", expected="a video file, a folder of videos or a list file")
    out = writable_folder(args.out, "--out")
    from ..explain.detection_run import is_detector_config

    if is_detector_config(cfg):
        return _run_detection(args, cfg, videos, out)
    given = [name for name in DETECTION_ONLY if getattr(args, name) is not None]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise ConfigError(f"{flag} applies to detection configs; this one builds a recognizer", key=flag,
                          expected="a detection config (MODEL.framework: FastRCNN), or leave it out")
    for record in explain_videos(cfg, args.weights, videos, out, target=args.target_class, layer=args.layer,
                                 method=args.cam or "gradcam", top_k=args.top_k):
        if args.json:
            print(json.dumps(record), flush=True)
            continue
        best = ", ".join(f"{e['label']} {e['score']:.4f}" for e in record["top_k"])
        print(f"{record['video']}: explaining {record['target']['label']} ({args.layer}); top: {best}")
        for name, path in record["files"].items():
            print(f"  {name}: {path}")
    return 0


def _run_detection(args: argparse.Namespace, cfg, videos, out) -> int:
    from ..errors import ConfigError
    from ..explain.detection_run import explain_detections

    boxes = args.boxes
    if args.detector:
        from ..deploy.person_detector import PersonDetector

        boxes = PersonDetector(args.detector, person_class=0 if args.person_class is None else args.person_class,
                               threshold=0.5 if args.det_threshold is None else args.det_threshold)
    elif args.person_class is not None:
        raise ConfigError("--person-class applies to --detector", key="--person-class", expected="--detector DET_DIR")
    if boxes is None:
        raise ConfigError("a detection config is explained per person box", key="--boxes",
                          expected="--boxes FILE (AVA CSV, JSON lines or proposal .pkl) or --detector DET_DIR")
    records = explain_detections(cfg, args.weights, videos, out, boxes, fps=args.fps or 1.0,
                                 video_start=args.video_start or 0.0, keyframes=args.keyframe,
                                 det_threshold=0.5 if args.det_threshold is None else args.det_threshold,
                                 target=args.target_class, layer=args.layer, method=args.cam or "hirescam",
                                 top_k=args.top_k)
    for record in records:
        if args.json:
            print(json.dumps(record), flush=True)
            continue
        box = ", ".join(f"{v:.3f}" for v in record["box"])
        best = ", ".join(f"{a['label']} {a['score']:.3f}" for a in record["actions"])
        print(f"{record['video']} {record['timestamp']:g}s [{box}]: explaining {record['target']['label']} "
              f"({args.layer}, {record['method']}); top: {best}")
        for name, path in record["files"].items():
            print(f"  {name}: {path}")
    return 0
