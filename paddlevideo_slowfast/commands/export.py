"""Export a trained model for deployment: a Paddle Inference model (inputs slow and fast, or the one clip a Slow-only
or Fast-only model reads; probabilities out) plus an
`infer_cfg.yml` holding the test pipeline, alpha, crop size, views and label names, so `predict` needs no
training config. PIR `.json` by default; `--legacy-format` writes the `.pdmodel` of Paddle Inference 2.x,
FastDeploy and Paddle Lite; `--format onnx` also converts to ONNX with paddle2onnx. Each exported model is run
once against the dygraph model (onnxruntime for the ONNX one, when installed) and must agree within 1e-3.
"""
from __future__ import annotations

import argparse

from .common import add_config_arguments, config_from_args, writable_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("-w", "--weights", required=True, metavar="WEIGHTS",
                        help="trained weights (.pdparams, .safetensors or URL)")
    parser.add_argument("--output", default="inference", metavar="DIR",
                        help="folder to write model.json/.pdmodel, model.pdiparams, infer_cfg.yml (default: inference)")
    parser.add_argument("--legacy-format", action="store_true",
                        help="write the legacy .pdmodel program (FLAGS_enable_pir_api=0) instead of PIR .json")
    parser.add_argument("--format", choices=["paddle", "onnx"], default="paddle",
                        help="onnx: also write model.onnx (one model, the same inputs) with paddle2onnx; "
                        "`predict --runtime onnx` runs it")


def run(args: argparse.Namespace) -> int:
    from ..deploy.export import ExportOptions, export_model

    cfg = config_from_args(args)
    options = ExportOptions.from_config(cfg, legacy=args.legacy_format, onnx=args.format == "onnx")
    result = export_model(cfg, args.weights, writable_folder(args.output, "--output"), options)
    written = [result.model_file, result.params_file, result.infer_cfg, result.onnx_file]
    print(f"exported to {result.model_dir}: " + ", ".join(p.name for p in written if p is not None))
    shapes = "; ".join(f"{spec['name']} {spec['shape']}" for spec in result.info.inputs)
    output = result.info.output if result.info.task == "detection" else "class probabilities"
    print(f"inputs: {shapes} (-1 = dynamic); output: {output}")
    if result.folded_bn:
        print(f"folded {result.folded_bn} BatchNorms into their convolutions")
    if result.max_abs_diff is not None:
        print(f"Paddle Inference vs dygraph on random {'clips and boxes' if result.info.task == 'detection' else 'clip'}: "
              f"max abs difference {result.max_abs_diff:.2e}")
    if result.onnx_max_abs_diff is not None:
        print(f"onnxruntime vs dygraph on the same clip: max abs difference {result.onnx_max_abs_diff:.2e}")
    elif result.onnx_file is not None and options.check:
        print("onnxruntime is not installed: model.onnx was not run (pip install onnxruntime to check it)")
    return 0
