"""Convert a PySlowFast (.pyth, or Caffe2 model-zoo .pkl) or pytorchvideo SlowFast checkpoint into PaddleVideo
weights (.pdparams, or .safetensors by the suffix of --to), checked key for key and shape against the model of
the config (-c, default slowfast.yaml: R50 4x16, 400 classes; use slowfast_8x8.yaml for 8x8 checkpoints such as
pytorchvideo's hub slowfast_r50, and -o MODEL.head.num_classes=N for other class counts)."""
from __future__ import annotations

import argparse

from ..config import config_file, load_config
from ..interop.convert import SOURCES, convert  # imports no Paddle
from .common import OVERRIDE_HELP

DEFAULT_CONFIG = "slowfast.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", metavar="SRC",
                        help="the checkpoint to convert: .pyth, Caffe2 .pkl, or an .npz of its state dict")
    parser.add_argument("--from", dest="source_format", required=True, choices=SOURCES,
                        help="who wrote SRC: pyslowfast (.pyth with model_state, or a Caffe2 .pkl with blobs) "
                        "or pytorchvideo (create_slowfast state dict); either may come as an .npz of the state "
                        "dict under its own names, read without pickle")
    parser.add_argument("--to", dest="dst", required=True, metavar="DST.pdparams",
                        help="output file; a .safetensors suffix writes safetensors")
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, metavar="FILE",
                        help=f"config whose MODEL the weights must fit (default {DEFAULT_CONFIG})")
    parser.add_argument("-o", "--override", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help=OVERRIDE_HELP)


def run(args: argparse.Namespace) -> int:
    from ..modeling import build_model

    cfg = load_config(args.config, args.override)
    state = convert(args.src, args.source_format, args.dst, model=build_model(cfg.MODEL))
    print(f"wrote {len(state)} tensors to {args.dst} (checked against MODEL of {config_file(cfg)})")
    return 0
