#!/usr/bin/env python
"""Eval-forward speed of the SlowFast 16x8 R101+NL at 224, batch 1: the exported program in Paddle Inference (oneDNN)
against dygraph, in the same run and beside the R50 4x16; and the full-size export check of the 16x8 R101+NL.

Models: configs/slowfast_r101_nl_16x8.yaml and configs/slowfast.yaml with a 224 test crop, seed-0 weights with
trained-like BN statistics (the non-local blocks' BNs too, so their attention counts) and the classifier scaled so
that the export check's clip gets a top probability of 0.9 (neither flat nor one-hot, so the parity bound means
something). Each is exported as `paddlevideo export --format onnx` does:
BN folded, the program run by Paddle Inference against dygraph and the ONNX conversion by onnxruntime (the export's
own checks, on its random clip; too slow for the test suite at this size).
Timing: dygraph (eval, no_grad, the math threads set as the CLI sets them) and the exported program (oneDNN) of each
model, warmed up, then round-robin, one clip each per round, so other processes' load hits all alike; median and
fastest wall seconds and median CPU seconds per clip. Which conv3d CPU eager mode ran (Paddle's, or the oneDNN
operator of paddlevideo_slowfast/ops when present) is recorded: it changes dygraph's column.
Writes its section to docs/benchmarks.md between `<!-- bench_r101:start -->` and `<!-- bench_r101:end -->`.
Usage: python scripts/bench_r101.py [--rounds 3] [--threads 2] [--no-onnx] [--no-r50] [--docs '']
       (about 3 minutes on 2 cores; --quick: the same steps on tiny models in seconds, docs untouched)
"""
from __future__ import annotations

import argparse
import os
import sys

_THREADS = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), "2")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)

import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Optional  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_infer import cpu_description  # noqa: E402  (scripts/ is on sys.path when run)
from benchdoc import publish  # noqa: E402
from benchmodel import trained_like_bn  # noqa: E402

CROP = 224
TOP_PROBABILITY = 0.9  # of the export check's clip, after scaling the classifier
MODELS = {  # label -> config; the R101+NL first: it is the one the section is about
    "SlowFast 16x8 R101+NL": "slowfast_r101_nl_16x8.yaml",
    "SlowFast R50 4x16": "slowfast.yaml",
}
# --quick: depth 18, width 8, 64 px, 8 Fast frames; the R101+NL keeps its family keys at that depth
QUICK_CROP, QUICK_FRAMES = 64, 8
QUICK_NONLOCAL = ["MODEL.backbone.depth=18", "MODEL.backbone.num_block_temp_kernel=[[2, 2], [2, 2], [1, 1], [2, 2]]",
                  "MODEL.backbone.nonlocal_location=[[[], []], [[], []], [[0, 1], []], [[], []]]"]


def overrides(config: str, quick: bool) -> List[str]:
    """The test crop at 224 (the benchmark's size); with `quick`, the tiny model of the smoke run."""
    crop = QUICK_CROP if quick else CROP
    keys = [f"PIPELINE.test.transform.JitterScale.{bound}={crop}" for bound in ("min_size", "max_size")]
    keys += [f"PIPELINE.test.transform.MultiCrop.target_size={crop}", f"INFERENCE.target_size={crop}"]
    if not quick:
        return keys
    keys += ["MODEL.backbone.width_per_group=8", "MODEL.head.width_per_group=8", f"MODEL.head.crop_size={crop}",
             f"MODEL.head.num_frames={QUICK_FRAMES}", f"INFERENCE.num_frames={QUICK_FRAMES}",
             *(f"PIPELINE.{mode}.decode_sampler.num_frames={QUICK_FRAMES}" for mode in ("train", "valid", "test")),
             *(f"PIPELINE.{mode}.transform.MultiCrop.target_size={crop}" for mode in ("train", "valid"))]
    return keys + (QUICK_NONLOCAL if "nl" in config else ["MODEL.backbone.depth=10"])


@dataclass
class Bench:
    """One model: its export, runners and timings."""

    label: str
    config: str
    gmac: float = 0.0
    export_s: float = 0.0
    export: object = None
    model: object = None
    norms: int = 0
    top_probability: float = 0.0
    runs: Dict[str, Callable[[], np.ndarray]] = field(default_factory=dict)
    wall: Dict[str, List[float]] = field(default_factory=dict)
    cpu: Dict[str, List[float]] = field(default_factory=dict)
    clip_gap: float = float("nan")


def prepare(label: str, config: str, work: Path, args) -> Bench:
    """Build, count, export (with the export's parity checks) and make the two runners of one model."""
    import paddle

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.deploy import ExportOptions, export_model
    from paddlevideo_slowfast.deploy.export import example_clips
    from paddlevideo_slowfast.deploy.runtime import PaddleRunner
    from paddlevideo_slowfast.modeling import build_model, count_macs

    bench = Bench(label, config)
    cfg = load_config(str(REPO / "configs" / config), overrides(config, args.quick))
    model = build_model(cfg.MODEL)
    model.eval()
    trained_like_bn(model)
    bench.model = model
    peak_classifier(model, cfg)
    bench.norms = sum(isinstance(layer, paddle.nn.BatchNorm3D) for layer in model.sublayers())
    print(f"{label}: exporting ...", flush=True)
    start = time.perf_counter()
    bench.export = export_model(cfg, None, work / config.replace(".yaml", ""), ExportOptions(onnx=not args.no_onnx),
                                model=model)
    bench.export_s = time.perf_counter() - start
    clip = example_clips(bench.export.info, seed=1)
    tensors = [paddle.to_tensor(x) for x in clip]
    bench.gmac = count_macs(model, tensors, fvcore=True) / 1e9  # also dygraph's warm-up run

    def dygraph() -> np.ndarray:
        with paddle.no_grad():
            return model(tensors, mode="infer").numpy()

    runner = PaddleRunner(bench.export.model_file, bench.export.params_file, onednn=True, threads=args.threads)
    bench.runs = {"dygraph": dygraph, "inference": lambda: runner(*clip)}
    runner(*clip)  # the program's warm-up run
    print(f"  exported in {bench.export_s:.0f} s; Paddle Inference vs dygraph {bench.export.max_abs_diff:.1e}, "
          f"onnxruntime vs dygraph {_maybe(bench.export.onnx_max_abs_diff)} (the export's checks)", flush=True)
    return bench


def peak_classifier(model, cfg, top: float = TOP_PROBABILITY) -> float:
    """Scale the classifier so that the export's check clip gets `top` as its highest probability; returns the scale.

    Probabilities near one-hot (or uniform) would make any parity bound on them hold; the check clip is the one
    `export_model` draws (example_clips, seed 0), of the shapes its INFERENCE section gives."""
    import paddle

    from paddlevideo_slowfast.deploy.export import example_clips

    frames, crop = cfg.INFERENCE.num_frames, cfg.INFERENCE.target_size
    clip = example_clips(SimpleNamespace(num_frames=frames, alpha=model.backbone.alpha, crop_size=crop))
    with paddle.no_grad():
        logits = np.log(model([paddle.to_tensor(x) for x in clip], mode="infer").numpy()[0].astype(np.float64))
    low, high = 0.0, 1e4  # softmax(scale * logits) peaks monotonically in scale: bisect
    for _ in range(60):
        scale = (low + high) / 2
        shifted = scale * (logits - logits.max())
        low, high = (scale, high) if np.exp(shifted).max() / np.exp(shifted).sum() < top else (low, scale)
    for param in (model.head.projection.weight, model.head.projection.bias):
        param.set_value(param.numpy() * scale)
    return scale


def measure(benches: List[Bench], rounds: int) -> None:
    for bench in benches:
        bench.wall = {name: [] for name in bench.runs}
        bench.cpu = {name: [] for name in bench.runs}
    for r in range(rounds):
        spent = []
        for bench in benches:
            outputs = {}
            for name, run in bench.runs.items():
                wall, cpu = time.perf_counter(), time.process_time()
                outputs[name] = run()
                bench.wall[name].append(time.perf_counter() - wall)
                bench.cpu[name].append(time.process_time() - cpu)
                spent.append(f"{bench.label} {name} {bench.wall[name][-1]:.2f}")
            bench.clip_gap = float(np.abs(outputs["inference"] - outputs["dygraph"]).max())
            bench.top_probability = float(outputs["dygraph"].max())
        print(f"  round {r + 1}: " + ", ".join(spent), flush=True)


def _maybe(value: Optional[float]) -> str:
    return "not run" if value is None else f"{value:.1e}"


def conv3d_status(models: List[object]) -> str:
    """Which conv3d CPU eager mode (dygraph) ran: the project's oneDNN operator (on how many conv layers) or Paddle's
    own kernel."""
    try:
        from paddlevideo_slowfast.ops import status
    except ImportError:
        return "Paddle's own conv3d (this checkout has no oneDNN conv3d operator)"
    import paddle

    layers = [layer for model in models for layer in model.sublayers() if isinstance(layer, paddle.nn.Conv3D)]
    swapped = sum(bool(getattr(layer, "onednn", False)) or type(layer).__module__.endswith("ops.conv3d")
                  for layer in layers)
    if not swapped:
        return f"Paddle's own conv3d on all {len(layers)} Conv3D layers (the oneDNN operator: {status()})"
    return f"{status()} on {swapped} of the models' {len(layers)} Conv3D layers"


def table(benches: List[Bench], args, load: List[float], conv3d: str, minutes: float) -> str:
    import paddle

    crop = QUICK_CROP if args.quick else CROP
    lines = [f"## SlowFast 16x8 R101+NL vs R50 (`scripts/bench_r101.py`): eval forward, {crop} px, batch 1, "
             f"{args.threads} threads", "",
             f"Machine: {cpu_description()}. Paddle {paddle.__version__}, Python {platform.python_version()}; "
             f"{time.strftime('%Y-%m-%d')}; 1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the "
             f"end ({minutes:.1f} min in all). Dygraph's conv3d: {conv3d}. Seed-0 weights, trained-like BN "
             "statistics, the classifier scaled so that the export check's clip gets a top probability of "
             f"{TOP_PROBABILITY}; one random clip per model; "
             f"{args.rounds} round-robin rounds after one warm-up run of each, so load from other processes "
             "hits every runtime alike (median and fastest wall time per clip, median CPU time of this process).",
             "",
             "| model | runtime | GMAC | median wall s | fastest wall s | median CPU s | GMAC/s (median) | "
             "max abs vs dygraph |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    names = {"dygraph": "Paddle dygraph (eval, no_grad)", "inference": "**Paddle Inference, oneDNN** (exported)"}
    for bench in benches:
        for name in bench.runs:
            median = statistics.median(bench.wall[name])
            gap = "reference" if name == "dygraph" else f"{bench.clip_gap:.1e}"
            lines.append(f"| {bench.label} | {names[name]} | {bench.gmac:.1f} | {median:.3f} | "
                         f"{min(bench.wall[name]):.3f} | {statistics.median(bench.cpu[name]):.3f} | "
                         f"{bench.gmac / median:.0f} | {gap} |")
    nl = benches[0]
    nl_program, nl_dygraph = (statistics.median(nl.wall[name]) for name in ("inference", "dygraph"))
    lines += ["", f"{nl.label}: Paddle Inference {nl_program:.2f} s per clip against dygraph's {nl_dygraph:.2f} s "
              f"({nl_dygraph / nl_program:.2f}x) in this run."]
    if len(benches) > 1:
        r50 = benches[1]
        lines[-1] += (f" Against the R50 4x16 in Paddle Inference: "
                      f"{nl_program / statistics.median(r50.wall['inference']):.1f}x the time for "
                      f"{nl.gmac / r50.gmac:.1f}x the multiply-adds.")
    onnx = "" if args.no_onnx else " with `--format onnx`"
    lines += ["", f"Export (`export_model`, as `paddlevideo export` does{onnx}; its own checks on its random clip):",
              ""]
    for bench in benches:
        result = bench.export
        lines.append(f"- {bench.label} ({bench.config}, test crop {result.info.crop_size}): {bench.export_s:.0f} s; "
                     f"{result.folded_bn} of {bench.norms} BatchNorms folded; Paddle Inference vs dygraph "
                     f"{_maybe(result.max_abs_diff)}, onnxruntime vs dygraph {_maybe(result.onnx_max_abs_diff)} "
                     f"(max abs, probabilities; dygraph's top probability on the benchmark clip "
                     f"{bench.top_probability:.2f}).")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="math threads of every runtime (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX conversion and its check")
    parser.add_argument("--no-r50", action="store_true", help="time the R101+NL alone")
    parser.add_argument("--quick", action="store_true", help="tiny models, one round, docs untouched (smoke test)")
    parser.add_argument("--docs", default=str(REPO / "docs" / "benchmarks.md"), help="file to update ('' = none)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.docs = 1, ""
        print("QUICK SMOKE RUN: tiny models, numbers meaningless", flush=True)

    from paddlevideo_slowfast.runtime import configure_cpu_threads

    configure_cpu_threads(args.threads, user_choice=True)
    start, load = time.perf_counter(), [os.getloadavg()[0]]
    chosen = list(MODELS.items())[: 1 if args.no_r50 else None]
    with tempfile.TemporaryDirectory(prefix="bench_r101_") as tmp:
        benches = [prepare(label, config, Path(tmp), args) for label, config in chosen]
        conv3d = conv3d_status([bench.model for bench in benches])
        print(f"timing {args.rounds} rounds ...", flush=True)
        measure(benches, args.rounds)
    load.append(os.getloadavg()[0])
    publish("bench_r101", table(benches, args, load, conv3d, (time.perf_counter() - start) / 60), args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
