#!/usr/bin/env python
"""INT8 investigation: post-training quantisation of SlowFast with Paddle's own API, run on Paddle Inference's
oneDNN INT8 path (CPU with VNNI), next to fp32 on the embedded validation set.

PTQ with `paddle.quantization.PTQ` (PaddleSlim 2.6 targets Paddle 2.x). Paddle's layer mapping covers Conv2D and
Linear only, so conv3d gets a `QuantedConv3D` here (abs-max observers: per tensor on inputs, per output channel on weights),
calibrated on embedded training clips; `PTQ.convert` gives quantize/dequantize (QDQ) ops around every conv3d,
saved with `paddle.jit.save`. Then, on the same clips:
  fp32      the default export (BN folded), Paddle Inference + oneDNN;
  QDQ       the quantised program, oneDNN, INT8 passes off: int8 numerics simulated in fp32 (accuracy of INT8);
  INT8      the same program with `enable_onednn_int8()` (the legacy `.pdmodel`; the PIR one fails to load);
and records which convolutions oneDNN actually ran in int8 (from ONEDNN_VERBOSE in a subprocess).
Without -w the model is the seed-0 init with BN statistics drawn and its classifier fitted by ridge regression
on the pooled features of embedded training clips (a linear probe), so predictions have real margins.

Writes docs/benchmarks.md between `<!-- bench_int8:start -->` and `<!-- bench_int8:end -->`.
Usage: python scripts/bench_int8.py [--val N] [--calib N] [-c CONFIG -w WEIGHTS]   (about 6 minutes on 2 quiet cores)
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from benchdoc import publish  # noqa: E402  (scripts/ is on sys.path when run)
from benchmodel import trained_like_bn  # noqa: E402  (scripts/ is on sys.path when run)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

CROP = 224  # the default model's test crop


def build(args):
    """(config, eval-mode model) of R50 4x16 at 224 with the embedded dataset's 10 classes, or -c/-w."""
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.deploy.export import build_for_export

    overrides = [f"PIPELINE.test.transform.JitterScale.min_size={CROP}",
                 f"PIPELINE.test.transform.JitterScale.max_size={CROP}",
                 f"PIPELINE.test.transform.MultiCrop.target_size={CROP}", f"INFERENCE.target_size={CROP}",
                 "MODEL.head.num_classes=10"] if not args.config else []
    cfg = load_config(args.config or str(REPO / "configs" / "slowfast.yaml"), overrides)
    model = build_for_export(cfg, args.weights)
    if not args.weights:
        trained_like_bn(model)
    return cfg, model


def clips_of(pipeline, videos: Sequence[str]) -> List[Tuple[np.ndarray, np.ndarray]]:
    from paddlevideo_slowfast.deploy.views import video_views

    return [video_views(pipeline, v, (1, 1)) for v in videos]


def fit_probe(model, pipeline, train: Sequence[Tuple[str, int]], work: Path, threads: int,
              shapes: Sequence[Sequence[int]]) -> None:
    """Ridge regression of one-hot labels on the pooled res5 features; written into the head's classifier."""
    import paddle
    import paddle.nn.functional as F

    from paddlevideo_slowfast.deploy.runtime import PaddleRunner

    class Features(paddle.nn.Layer):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, slow, fast):
            maps = self.net.backbone([slow, fast])
            return paddle.concat([F.adaptive_avg_pool3d(x, 1).flatten(1) for x in maps], axis=1)

    specs = [paddle.static.InputSpec([None, *shape], "float32", name) for name, shape in zip(("slow", "fast"), shapes)]
    paddle.jit.save(paddle.jit.to_static(Features(model), input_spec=specs, full_graph=True), str(work / "features"))
    runner = PaddleRunner(work / "features.json", work / "features.pdiparams", threads=threads)
    feats = np.concatenate([runner(s, f) for s, f in clips_of(pipeline, [p for p, _ in train])])
    labels = np.array([y for _, y in train])
    classes = int(model.head.projection.weight.shape[1])
    # one scale for all features: per-feature standardising would blow up near-constant (dead) channels
    mean, scale = feats.mean(0), feats.std() + 1e-12
    x = (feats - mean) / scale
    target = np.eye(classes)[labels] * 10.0 - 5.0  # logit margins of about 10
    gram = x @ x.T  # dual ridge: fewer clips than features
    alpha = np.linalg.solve(gram + 0.1 * np.trace(gram) / len(x) * np.eye(len(x)), target - target.mean(0))
    weight = x.T @ alpha / scale
    bias = target.mean(0) - mean @ weight
    model.head.projection.weight.set_value(weight.astype(np.float32))
    model.head.projection.bias.set_value(bias.astype(np.float32))


def quantize(model, calib: Sequence[Tuple[np.ndarray, np.ndarray]]):
    """PTQ of every Conv3D (abs-max activations and weights, 8 bits) calibrated on `calib`; the converted model."""
    import paddle
    import paddle.nn.functional as F
    from paddle import nn
    from paddle.nn.quant.format import ConvertibleQuantedLayer
    from paddle.quantization import BaseObserver, PTQ, QuantConfig
    from paddle.quantization.factory import ObserverFactory
    from paddle.quantization.observers import AbsmaxObserver

    class ChannelAbsmaxLayer(BaseObserver):
        """Per-output-channel abs-max of a weight: BN folded into conv makes channel ranges differ by 100x, and
        one scale per tensor (Paddle's only abs-max observer) then zeroes the small channels."""

        def __init__(self, layer, quant_bits=8):
            super().__init__()
            self._quant_bits, self._scale, self._zero_point = quant_bits, None, None

        def forward(self, weight):
            self._scale = paddle.max(paddle.abs(weight.reshape([weight.shape[0], -1])), axis=1)
            return weight

        def cal_thresholds(self):
            self._zero_point = paddle.zeros_like(self._scale)

        def scales(self):
            return self._scale

        def zero_points(self):
            if self._zero_point is None:
                self.cal_thresholds()
            return self._zero_point

        def quant_axis(self):
            return 0

        def bit_length(self):
            return self._quant_bits

    class ChannelAbsmax(ObserverFactory):
        def __init__(self, quant_bits=8):
            super().__init__(quant_bits=quant_bits)

        def _get_class(self):
            return ChannelAbsmaxLayer

    class QuantedConv3D(ConvertibleQuantedLayer):
        """Conv3D whose input and weight pass through quanters (Paddle maps only Conv2D and Linear)."""

        def __init__(self, layer: nn.Conv3D, q_config):
            super().__init__()
            self._groups, self._stride, self._padding = layer._groups, layer._stride, layer._padding
            self._dilation, self._data_format = layer._dilation, layer._data_format
            self.weight, self.bias = layer.weight, layer.bias
            self.weight_quanter = q_config.weight._instance(layer) if q_config.weight else None
            self.activation_quanter = q_config.activation._instance(layer) if q_config.activation else None

        def forward(self, x):
            if self.activation_quanter is not None:
                x = self.activation_quanter(x)
            weight = self.weight_quanter(self.weight) if self.weight_quanter is not None else self.weight
            return F.conv3d(x, weight, bias=self.bias, stride=self._stride, padding=self._padding,
                            dilation=self._dilation, groups=self._groups, data_format=self._data_format)

        def weights_to_quanters(self):
            return [("weight", "weight_quanter")]

        def activation_quanters(self):
            return ["activation_quanter"]

    config = QuantConfig(activation=None, weight=None)
    config.add_type_config(nn.Conv3D, activation=AbsmaxObserver(quant_bits=8), weight=ChannelAbsmax(quant_bits=8))
    config.add_qat_layer_mapping(nn.Conv3D, QuantedConv3D)
    ptq = PTQ(config)
    observed = ptq.quantize(model, inplace=False)
    with paddle.no_grad():
        for slow, fast in calib:
            observed([paddle.to_tensor(slow), paddle.to_tensor(fast)], mode="infer")
    return ptq.convert(observed, inplace=False)


def save_quantized(model, prefix: Path, legacy: bool, shapes: Sequence[Sequence[int]]) -> Path:
    """jit.save of the QDQ model at batch 1 (QDQ layers cannot trace a dynamic batch in static mode)."""
    import contextlib

    import paddle

    from paddlevideo_slowfast.deploy.export import SlowFastInference

    specs = [paddle.static.InputSpec([1, *shape], "float32", name) for name, shape in zip(("slow", "fast"), shapes)]
    net = SlowFastInference(model)
    with paddle.pir_utils.OldIrGuard() if legacy else contextlib.nullcontext():
        paddle.jit.save(paddle.jit.to_static(net, input_spec=specs, full_graph=True), str(prefix))
    return prefix.with_suffix(".pdmodel" if legacy else ".json")


PROBE = r"""
import json, sys, numpy as np, paddle.inference as pi
model, params, int8, shapes = sys.argv[1], sys.argv[2], sys.argv[3] == "1", json.loads(sys.argv[4])
c = pi.Config(model, params); c.disable_gpu(); c.enable_onednn(); c.set_cpu_math_library_num_threads(2)
if int8: c.enable_onednn_int8()
p = pi.create_predictor(c)
for n, shape in zip(p.get_input_names(), shapes):
    h = p.get_input_handle(n); h.reshape([1] + shape); h.copy_from_cpu(np.zeros([1] + shape, "float32"))
p.run()
"""


def probe(model_file: Path, params_file: Path, int8: bool, shapes: Sequence[Sequence[int]]) -> Dict[str, object]:
    """Run once in a subprocess with ONEDNN_VERBOSE and glog: conv data types, quantize-pass counts, errors."""
    env = dict(os.environ, ONEDNN_VERBOSE="1", GLOG_v="0")
    run = subprocess.run([sys.executable, "-c", PROBE, str(model_file), str(params_file), "1" if int8 else "0",
                          json.dumps([list(map(int, shape)) for shape in shapes])],
                         capture_output=True, text=True, env=env, timeout=300)
    text = run.stdout + run.stderr
    convs = [line.split(",")[8].split()[0] for line in text.splitlines()
             if line.startswith("onednn_verbose") and ",exec,cpu,convolution," in line]
    kinds: Dict[str, int] = {}
    for source in convs:
        kind = source.split(":")[1]
        kinds[kind] = kinds.get(kind, 0) + 1
    quantized = [f"{count} {what}" for count, what in re.findall(r"quantized (\d+) (.+?) ops", text) if count != "0"]
    errors = [line.strip() for line in text.splitlines() if "Error" in line]
    return {"returncode": run.returncode, "conv_src_types": kinds, "quantized": quantized,
            "error": errors[-1] if errors else ""}


def evaluate(runners: Dict[str, object], clips) -> Dict[str, Tuple[np.ndarray, np.ndarray, float]]:
    """Per program: argmax predictions (-1 for an all-zero or non-finite output), probabilities, median s/clip.
    The programs take turns on each clip, so load from other processes hits them alike."""
    results: Dict[str, List[list]] = {name: [[], [], []] for name in runners}
    for slow, fast in clips:
        for name, runner in runners.items():
            start = time.perf_counter()
            out = runner(slow, fast)[0]
            results[name][2].append(time.perf_counter() - start)
            results[name][1].append(out)
            results[name][0].append(int(np.argmax(out)) if np.isfinite(out).all() and out.any() else -1)
    return {name: (np.array(pred), np.stack(scores), float(np.median(times)))
            for name, (pred, scores, times) in results.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", default=None, help="config of a trained model (default: R50 4x16 at 224)")
    parser.add_argument("-w", "--weights", default=None, help="its weights (default: init + linear probe)")
    parser.add_argument("--embedded", default=str(REPO / "data" / "embedded"), help="embedded dataset root")
    parser.add_argument("--train", type=int, default=10, help="training videos per class for the probe (10)")
    parser.add_argument("--calib", type=int, default=16, help="calibration clips from the training split (16)")
    parser.add_argument("--val", type=int, default=60, help="validation videos, every k-th (default 60; 0 = all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--docs", default=str(REPO / "docs" / "benchmarks.md"), help="file to update ('' = none)")
    args = parser.parse_args()

    import paddle

    from paddlevideo_slowfast.data import build_pipeline, ensure_embedded_dataset, read_list
    from paddlevideo_slowfast.deploy import ExportOptions, export_model
    from paddlevideo_slowfast.deploy.runtime import PaddleRunner

    root = ensure_embedded_dataset(args.embedded)
    train = read_list(str(root / "train.list"), str(root))
    val = read_list(str(root / "val.list"), str(root))
    per_class: Dict[int, int] = {}
    probe_set = []
    for path, label in train:
        if per_class.get(label, 0) < args.train:
            per_class[label] = per_class.get(label, 0) + 1
            probe_set.append((path, label))
    rng = np.random.default_rng(0)
    calib_videos = [train[i][0] for i in rng.choice(len(train), size=min(args.calib, len(train)), replace=False)]
    val = val[::max(1, len(val) // args.val)][:args.val] if args.val else val  # every class
    cfg, model = build(args)
    pipeline = build_pipeline(cfg.PIPELINE.test, where="PIPELINE.test")
    tmp = tempfile.TemporaryDirectory(prefix="bench_int8_")  # removed at exit: the exports take ~0.5 GB
    work = Path(tmp.name)
    t0 = time.time()
    calib = clips_of(pipeline, calib_videos)
    shapes = [x.shape[1:] for x in calib[0]]  # (C, T, H, W) of slow and fast
    if not args.weights:
        print(f"fitting the classifier on {len(probe_set)} training clips ...", flush=True)
        fit_probe(model, pipeline, probe_set, work, args.threads, shapes)
    fp32 = export_model(cfg, None, work / "fp32", ExportOptions(check=False), model=model)
    print(f"calibrating on {len(calib_videos)} clips and converting ...", flush=True)
    from paddlevideo_slowfast.deploy.fold import fold_batchnorm

    fold_batchnorm(model, [paddle.to_tensor(x) for x in calib[0]])  # quantise what the fp32 export runs
    qdq_model = quantize(model, calib)
    legacy_file = save_quantized(qdq_model, work / "qdq_legacy", legacy=True, shapes=shapes)
    pir_file = save_quantized(qdq_model, work / "qdq_pir", legacy=False, shapes=shapes)

    print(f"evaluating {len(val)} validation videos ...", flush=True)
    val_clips = clips_of(pipeline, [p for p, _ in val])
    labels = np.array([y for _, y in val])
    makers = {"fp32 (default export, oneDNN)": lambda: PaddleRunner(fp32.model_file, fp32.params_file,
                                                                      threads=args.threads),
              "QDQ, INT8 passes off (int8 numerics in fp32)":
                  lambda: PaddleRunner(legacy_file, legacy_file.with_suffix(".pdiparams"), threads=args.threads),
              "INT8: enable_onednn_int8() (legacy .pdmodel)": lambda: Int8Runner(legacy_file, args.threads),
              "INT8: PIR .json QDQ program":
                  lambda: PaddleRunner(pir_file, pir_file.with_suffix(".pdiparams"), threads=args.threads)}
    runners, notes = {}, {}
    for name, make in makers.items():
        try:
            runner = make()
            runner(*val_clips[0])  # some programs fail only when they first run
            runners[name] = runner
        except Exception as exc:  # recorded: the point of this script is which paths work
            notes[name] = " ".join(str(exc).split())[:200]
    runs = evaluate(runners, val_clips)
    probes = {"INT8: enable_onednn_int8() (legacy .pdmodel)": probe(legacy_file, legacy_file.with_suffix(".pdiparams"),
                                                                    True, shapes)}
    section = report(runs, notes, probes, labels, len(calib_videos), len(probe_set), args, time.time() - t0, shapes)
    publish("bench_int8", section, args.docs)
    return 0


class Int8Runner:
    """PaddleRunner with enable_onednn_int8() on its config."""

    def __init__(self, model_file: Path, threads: int):
        import paddle.inference as pi

        from paddlevideo_slowfast.deploy.runtime import order_inputs, paddle_config, stdout_to_stderr

        config = paddle_config(model_file, model_file.with_suffix(".pdiparams"), threads=threads)
        config.enable_onednn_int8()
        with stdout_to_stderr():
            self.predictor = pi.create_predictor(config)
        names = order_inputs(self.predictor.get_input_names(), ("slow", "fast"))
        self.inputs = [self.predictor.get_input_handle(n) for n in names]
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def __call__(self, slow, fast):
        for handle, x in zip(self.inputs, (slow, fast)):
            handle.reshape(list(x.shape))
            handle.copy_from_cpu(np.ascontiguousarray(x))
        self.predictor.run()
        return self.output.copy_to_cpu()


def report(runs, notes, probes, labels, calib: int, probe_n: int, args, seconds: float, shapes) -> str:
    from bench_infer import cpu_description

    base_name = "fp32 (default export, oneDNN)"
    base, base_scores, base_time = runs[base_name]
    lines = ["## INT8 (`scripts/bench_int8.py`): post-training quantisation on Paddle's own path", "",
             f"Machine: {cpu_description()}; batch 1, {args.threads} threads, {shapes[1][-1]} px, "
             f"{shapes[1][1]} fast frames, 1x1 view, the programs taking turns on each clip; "
             f"{len(labels)} embedded validation videos; calibration: {calib} embedded training clips; "
             + (f"classifier: linear probe on {probe_n} training clips over the seed-0 backbone" if not args.weights
                else f"weights {args.weights}") + f"; {seconds / 60:.1f} min.", "",
             "| program | s/clip | vs fp32 | top-1 | predictions changed vs fp32 | mean max abs prob. diff | "
             "conv3d run in |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, (pred, scores, seconds_per_clip) in runs.items():
        top1 = 100.0 * float(np.mean(pred == labels))
        changed = int(np.sum(pred != base))
        finite = np.isfinite(scores).all() and scores.any()
        diff = f"{float(np.abs(scores - base_scores).max(axis=1).mean()):.3f}" if finite else "output all 0/NaN"
        kinds = probes.get(name, {}).get("conv_src_types") if name in probes else None
        where = ", ".join(f"{k}: {v}" for k, v in kinds.items()) if kinds else "f32"
        lines.append(f"| {name} | {seconds_per_clip:.3f} | {base_time / seconds_per_clip:.2f}x | {top1:.1f}% | "
                     f"{changed} of {len(labels)} | {diff} | {where} |")
    for name, error in notes.items():
        lines.append(f"| {name} | fails | | | | | `{error}` |")
    if not args.weights:
        lines += ["", "The backbone is untrained: its pooled features hardly depend on the clip, and the fitted classifier "
                  "separates classes on differences smaller than int8 rounding (with these observers the QDQ features "
                  "stay within about 0.5% of fp32), so 'predictions changed' overstates what INT8 would do to a "
                  "trained SlowFast. `-c CONFIG -w WEIGHTS` of a trained model gives the number that matters."]
    for name, found in probes.items():
        quantized = ", ".join(found["quantized"]) or "no"
        lines += ["", f"{name}: Paddle's `cpu_quantize_pass` quantised {quantized} ops; it covers conv2d/fused_conv2d, "
                  "fc, matmul, pool2d, concat and a few more, not conv3d, so every conv3d stays fp32 "
                  f"(oneDNN source types seen: {found['conv_src_types']}). "
                  + (f"Error: `{found['error']}`" if found["error"] else "")]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
