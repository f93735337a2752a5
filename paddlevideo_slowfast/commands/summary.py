"""Print the model of a config: output shapes, parameters and GMACs per block for the configured training clip.

The clip is the training one: PIPELINE.train.decode_sampler.num_frames fast frames (else MODEL.head.num_frames),
num_frames / alpha slow frames, MODEL.head.crop_size pixels square; --num-frames / --crop-size change it.
A detector (AVA) is profiled on its test clip instead (PIPELINE.test.sampler.clip_len, else INFERENCE.num_frames;
INFERENCE.target_size square) with --rois person boxes: backbone and RoI head (RoIAlign itself costs no MACs here).
"""
from __future__ import annotations

import argparse

import numpy as np

from .common import add_config_arguments, config_from_args, positive


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--num-frames", type=int, default=None, metavar="N",
                        help="fast-pathway frames of the clip (default: the training clip's)")
    parser.add_argument("--crop-size", type=int, default=None, metavar="PX",
                        help="spatial size of the clip (default: MODEL.head.crop_size; a detector's "
                        "INFERENCE.target_size)")
    parser.add_argument("--rois", type=positive(int), default=5, metavar="N",
                        help="person boxes per clip for a detector (default: 5)")


def person_boxes(count: int, size: int) -> np.ndarray:
    """`count` distinct person-sized boxes [count, 4] (x1, y1, x2, y2 pixels) spread over a `size` square frame."""
    left = np.linspace(0.05, 0.55, count, dtype=np.float32) * size
    top = np.linspace(0.1, 0.3, count, dtype=np.float32) * size
    return np.stack([left, top, left + 0.4 * size, top + 0.6 * size], axis=1)


def run(args: argparse.Namespace) -> int:
    import paddle

    from ..config import get, require
    from ..engine.detection_eval import is_detector
    from ..modeling import build_model, count_parameters, profile

    cfg = config_from_args(args)
    model_cfg = require(cfg, "MODEL", (dict,))
    model = build_model(model_cfg)
    detector = is_detector(model)
    if detector:
        num_frames = args.num_frames or get(cfg, "PIPELINE.test.sampler.clip_len") \
            or require(cfg, "INFERENCE.num_frames", (int,))
        crop = args.crop_size or require(cfg, "INFERENCE.target_size", (int,))
    else:
        num_frames = args.num_frames or get(cfg, "PIPELINE.train.decode_sampler.num_frames") \
            or require(cfg, "MODEL.head.num_frames", (int,))
        crop = args.crop_size or require(cfg, "MODEL.head.crop_size", (int,))
    alpha = getattr(model.backbone, "alpha", 1)
    shapes = [[1, 3, num_frames // alpha, crop, crop], [1, 3, num_frames, crop, crop]]
    inputs = [paddle.zeros(s) for s in shapes]
    if detector:  # PaddleVideo's inference batch: + proposals [1, R, 4] in pixels, img_shape [1, 2]
        inputs += [person_boxes(args.rois, crop)[None], np.array([[crop, crop]], np.float32)]
    blocks = profile(model, inputs)

    backbone, head = model_cfg["backbone"], model_cfg["head"]
    fusion = f", fusion {model.backbone.fusion}" if getattr(model.backbone, "fusion", None) else ""
    classes = model.num_classes if detector else model.head.num_classes
    print(f"{model_cfg['framework']}: {backbone['name']} (depth {model.backbone.depth}, alpha {alpha}, "
          f"beta {model.backbone.beta}{fusion}) + {head['name']} ({classes} classes)")
    rois = f", {args.rois} RoIs" if detector else ""
    print(f"input: slow {shapes[0]}, fast {shapes[1]}{rois}")
    name_width = max([18] + [len(block.name) for block in blocks])
    print(f"{'block':<{name_width}} {'output shapes':<44} {'params':>12} {'GMAC':>8}")
    for block in blocks:
        out = " ".join(str(s).replace(" ", "") for s in block.output_shapes)
        print(f"{block.name:<{name_width}} {out:<44} {block.params:>12,} {block.macs / 1e9:>8.3f}")
    trainable = count_parameters(model)
    macs = sum(b.total() for b in blocks)
    fvcore = sum(b.total(fvcore=True) for b in blocks)
    print(f"parameters: {trainable / 1e6:.2f} M ({trainable:,} trainable)")
    print(f"compute: {fvcore / 1e9:.1f} GMAC as published (fvcore: conv/FC multiply-adds + 2 per BN element); "
          f"{macs / 1e9:.2f} GMAC conv and FC multiply-adds alone")
    return 0
