#!/usr/bin/env python
"""Detection deployment benchmark: latency per keyframe of the exported R50 8x8 AVA detector against dygraph.

The FastRCNN of configs/ava_slowfast_r50_8x8.yaml (seed-0 weights, BN statistics drawn so that folding matters) is
exported as `paddlevideo export` does (BN folded, inputs slow/fast/proposals/rois_num) and timed per keyframe on one
32-frame clip at short side 256 (256x341, a 4:3 source) with 5 person boxes, all at `--threads` math threads:
- Paddle dygraph: the whole forward (`forward_rois`), its backbone alone and its RoI head alone (on the features);
- Paddle Inference (oneDNN): the exported program, a BN-folded backbone-only program (the one `paddlevideo test`
  uses) and a head-only program on the backbone's features;
- `Detector.score_clip`: the test pipeline (Rescale, Normalize, PackOutput) on a decoded 480x360 clip plus the
  Paddle Inference run: what `paddlevideo detect` spends per keyframe after decoding.
Each is warmed up, then all run round-robin, one keyframe
each per round, so the load of other processes hits them alike; medians are compared (the fastest round and the
median CPU seconds beside). Writes its section to docs/benchmarks.md between
`<!-- bench_detect:start -->` and `<!-- bench_detect:end -->`.
Usage: python scripts/bench_detect.py [--rounds 7] [--threads 2] [--docs '']   (about 6 minutes on 2 cores)
"""
from __future__ import annotations

import argparse
import os
import sys

_THREADS = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), "2")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)

import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Tuple  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_data import machine  # noqa: E402  (scripts/ is on sys.path when run)
from benchdoc import publish  # noqa: E402
from benchmodel import trained_like_bn  # noqa: E402

CONFIG = REPO / "configs" / "ava_slowfast_r50_8x8.yaml"
SOURCE = (360, 480)   # a 4:3 frame; Rescale (-1, 256) makes the clip 256x341
BOXES = 5


def build(work: Path, threads: int):
    """(dygraph model, export result, Detector) of the R50 8x8 detector."""
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.deploy import Detector, ExportOptions, export_model
    from paddlevideo_slowfast.modeling import build_model

    cfg = load_config(str(CONFIG), ["DATASET.test.label_file=null"])  # no AVA download: numbered classes
    model = build_model(cfg.MODEL)
    model.eval()
    trained_like_bn(model)
    result = export_model(cfg, None, work / "r50_det", ExportOptions(), model=model)
    return model, result, Detector(result.model_dir, threads=threads)


def keyframe(seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """A decoded-like 32-frame clip (T, 360, 480, 3) uint8 and 5 person boxes (normalised)."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (32, *SOURCE, 3), dtype=np.uint8)
    corners = rng.random((BOXES, 2, 2)) * 0.8 + 0.1
    boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1) + 0.05], axis=1).clip(0, 1)
    return frames, boxes


def head_program(model, work: Path, features, threads: int):
    """The RoI head alone (features, rois, rois_num -> probabilities) as a Paddle Inference program."""
    import paddle

    from paddlevideo_slowfast.deploy.runtime import PaddleRunner

    class Head(paddle.nn.Layer):
        def __init__(self, roi_head):
            super().__init__()
            self.roi_head = roi_head

        def forward(self, slow_features, fast_features, proposals, rois_num):
            return paddle.nn.functional.sigmoid(self.roi_head.scores([slow_features, fast_features], proposals,
                                                                     rois_num))

    specs = [paddle.static.InputSpec([None, f.shape[1], f.shape[2], None, None], "float32", name)
             for f, name in zip(features, ("slow_features", "fast_features"))]
    specs += [paddle.static.InputSpec([None, 4], "float32", "proposals"),
              paddle.static.InputSpec([None], "int32", "rois_num")]
    head = Head(model.roi_head)
    head.eval()
    paddle.jit.save(paddle.jit.to_static(head, input_spec=specs, full_graph=True), str(work / "head" / "model"))
    return PaddleRunner(work / "head" / "model.json", work / "head" / "model.pdiparams",
                        input_names=[s.name for s in specs], threads=threads)


def runners(model, detector, work: Path, threads: int, frames: np.ndarray,
            boxes: np.ndarray) -> Dict[str, Callable[[], object]]:
    import paddle

    from paddlevideo_slowfast.deploy.eval_predictor import EvalAccelerated

    inputs = detector.inputs(frames, boxes)
    tensors = [paddle.to_tensor(x) for x in inputs]
    backbone = EvalAccelerated(model, num_threads=threads)  # a BN-folded backbone-only oneDNN predictor
    with paddle.no_grad():
        features = model.backbone(tensors[:2])
    arrays = [f.numpy() for f in features]
    head = head_program(model, work, arrays, threads)

    def dygraph():
        with paddle.no_grad():
            return model.forward_rois(*tensors).numpy()

    def dygraph_backbone():
        with paddle.no_grad():
            return [x.numpy() for x in model.backbone(tensors[:2])]

    def dygraph_head():
        with paddle.no_grad():
            return paddle.nn.functional.sigmoid(model.roi_head.scores(features, *tensors[2:])).numpy()

    return {"dygraph": dygraph, "inference": lambda: detector.runner(*inputs),
            "dygraph_backbone": dygraph_backbone, "inference_backbone": lambda: backbone.backbone_features(inputs[:2]),
            "dygraph_head": dygraph_head, "inference_head": lambda: head(*arrays, *inputs[2:]),
            "detect": lambda: detector.score_clip(frames, boxes)}


def measure(runs: Dict[str, Callable[[], object]], rounds: int, warmup: int) -> Dict[str, Dict[str, List[float]]]:
    times = {name: {"wall": [], "cpu": []} for name in runs}
    for _ in range(warmup):
        for run in runs.values():
            run()
    for r in range(rounds):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[name]["wall"].append(time.perf_counter() - wall)
            times[name]["cpu"].append(time.process_time() - cpu)
        print(f"  round {r + 1}: " + ", ".join(f"{n} {t['wall'][-1]:.2f}" for n, t in times.items()), flush=True)
    return times


def table(times, parity: float, folded: int, shape: Tuple[int, int], args, load: Tuple[float, float]) -> str:
    import paddle

    best = {name: min(t["wall"]) for name, t in times.items()}
    med = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
    wall = {name: m["wall"] for name, m in med.items()}

    def row(label: str, name: str, whole: str, note: str = "") -> str:
        share = f"{100 * wall[name] / wall[whole]:.1f}%" if name != whole else ""
        return f"| {label} | {wall[name]:.3f} | {best[name]:.3f} | {med[name]['cpu']:.3f} | {share} | {note} |"

    speed = wall["dygraph"] / wall["inference"]
    lines = [f"## Detection deployment (`scripts/bench_detect.py`): R50 8x8 AVA detector per keyframe, "
             f"{args.threads} threads", "",
             f"Machine: {machine()}; Paddle {paddle.__version__}. Run {time.strftime('%Y-%m-%d')}; 1-minute load "
             f"average {load[0]:.1f} at the start, {load[1]:.1f} at the end on {os.cpu_count()} cores: other jobs "
             "shared the machine, so each part is timed round-robin with the others and their medians are compared "
             "(the fastest round beside). FastRCNN of `configs/ava_slowfast_r50_8x8.yaml` (seed-0 "
             f"weights, trained-like BN statistics), one 32-frame clip at short side 256 ({shape[0]}x{shape[1]}), "
             f"{BOXES} person boxes, batch 1; {args.rounds} rounds after {args.warmup} warm-up run(s) of each. "
             f"Exported with {folded} BatchNorms folded; the program agrees with dygraph to {parity:.1e} (max abs, "
             "probabilities). Backbone and RoI head are each timed alone (the head on the backbone's features; in "
             "Paddle Inference a BN-folded backbone-only program, as `paddlevideo test` uses, and a head-only "
             "program).", "",
             "| per keyframe | median wall s | fastest wall s | median CPU s | share of the whole | notes |",
             "|---|---:|---:|---:|---:|---|",
             row("Paddle dygraph, whole forward", "dygraph", "dygraph", "`FastRCNN.forward_rois`, eval, no_grad"),
             row("  backbone", "dygraph_backbone", "dygraph"),
             row("  RoI head", "dygraph_head", "dygraph", "RoIAlign, pools, FC, sigmoid"),
             row("**Paddle Inference, oneDNN** (the exported program)", "inference", "inference",
                 f"{speed:.2f}x faster than dygraph"),
             row("  backbone", "inference_backbone", "inference"),
             row("  RoI head", "inference_head", "inference"),
             row("`Detector.score_clip`: pipeline + Paddle Inference", "detect", "detect",
                 f"Rescale, Normalize, PackOutput of a decoded {SOURCE[1]}x{SOURCE[0]} clip, then the program"),
             "", f"Per keyframe Paddle Inference takes {wall['inference']:.2f} s against dygraph's "
             f"{wall['dygraph']:.2f} s ({speed:.2f}x) in this run; the backbone is "
             f"{100 * wall['inference_backbone'] / wall['inference']:.0f}% of it and the RoI head "
             f"{100 * wall['inference_head'] / wall['inference']:.1f}% (dygraph "
             f"{100 * wall['dygraph_backbone'] / wall['dygraph']:.0f}% / "
             f"{100 * wall['dygraph_head'] / wall['dygraph']:.1f}%). Decoding is not included: `detect` reads each "
             "frame once (docs/deployment.md)."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="math threads of every runtime (default 2)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each first (default 1)")
    parser.add_argument("--docs", default=str(REPO / "docs" / "benchmarks.md"), help="file to update ('' = none)")
    args = parser.parse_args()

    from paddlevideo_slowfast.runtime import configure_cpu_threads

    configure_cpu_threads(args.threads, user_choice=True)
    load = [os.getloadavg()[0]]
    frames, boxes = keyframe()
    with tempfile.TemporaryDirectory(prefix="bench_detect_") as tmp:
        print("exporting the R50 8x8 detector ...", flush=True)
        model, result, detector = build(Path(tmp), args.threads)
        runs = runners(model, detector, Path(tmp), args.threads, frames, boxes)
        shape = tuple(detector.inputs(frames, boxes)[1].shape[-2:])
        gap = float(np.abs(runs["inference"]() - runs["dygraph"]()).max())
        print(f"Paddle Inference vs dygraph on the benchmark keyframe: {gap:.1e}", flush=True)
        times = measure(runs, args.rounds, args.warmup)
    load.append(os.getloadavg()[0])
    publish("bench_detect", table(times, max(gap, result.max_abs_diff or 0.0), result.folded_bn, shape, args,
                                  tuple(load)), args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
