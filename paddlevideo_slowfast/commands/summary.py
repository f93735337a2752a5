"""Print the model of a config: output shapes, parameters and GMACs per block for the configured training clip.

The clip is the training one: PIPELINE.train.decode_sampler.num_frames fast frames (else MODEL.head.num_frames),
num_frames / alpha slow frames, MODEL.head.crop_size pixels square; --num-frames / --crop-size change it.
"""
from __future__ import annotations

import argparse

from .common import add_config_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--num-frames", type=int, default=None, metavar="N",
                        help="fast-pathway frames of the clip (default: the training clip's)")
    parser.add_argument("--crop-size", type=int, default=None, metavar="PX",
                        help="spatial size of the clip (default: MODEL.head.crop_size)")


def run(args: argparse.Namespace) -> int:
    import paddle

    from ..config import get, require
    from ..modeling import build_model, count_parameters, profile

    cfg = config_from_args(args)
    model_cfg = require(cfg, "MODEL", (dict,))
    num_frames = args.num_frames or get(cfg, "PIPELINE.train.decode_sampler.num_frames") \
        or require(cfg, "MODEL.head.num_frames", (int,))
    crop = args.crop_size or require(cfg, "MODEL.head.crop_size", (int,))
    model = build_model(model_cfg)
    alpha = getattr(model.backbone, "alpha", 1)
    shapes = [[1, 3, num_frames // alpha, crop, crop], [1, 3, num_frames, crop, crop]]
    blocks = profile(model, [paddle.zeros(s) for s in shapes])

    backbone, head = model_cfg["backbone"], model_cfg["head"]
    fusion = f", fusion {model.backbone.fusion}" if getattr(model.backbone, "fusion", None) else ""
    print(f"{model_cfg['framework']}: {backbone['name']} (depth {model.backbone.depth}, alpha {alpha}, "
          f"beta {model.backbone.beta}{fusion}) + {head['name']} ({model.head.num_classes} classes)")
    print(f"input: slow {shapes[0]}, fast {shapes[1]}")
    print(f"{'block':<18} {'output shapes':<44} {'params':>12} {'GMAC':>8}")
    for block in blocks:
        out = " ".join(str(s).replace(" ", "") for s in block.output_shapes)
        print(f"{block.name:<18} {out:<44} {block.params:>12,} {block.macs / 1e9:>8.3f}")
    trainable = count_parameters(model)
    macs = sum(b.total() for b in blocks)
    fvcore = sum(b.total(fvcore=True) for b in blocks)
    print(f"parameters: {trainable / 1e6:.2f} M ({trainable:,} trainable)")
    print(f"compute: {fvcore / 1e9:.1f} GMAC as published (fvcore: conv/FC multiply-adds + 2 per BN element); "
          f"{macs / 1e9:.2f} GMAC conv and FC multiply-adds alone")
    return 0
