"""The oneDNN conv3d operator (paddlevideo_slowfast/ops) against Paddle's eager conv3d and PyTorch eager, in one run.

SlowFast R50 4x16 at 224 with every speed option of bench_train.py on (all usable cores, MKL's AVX2 path, the
Fast-pathway fold): forward (batch 1, eval, no grad) and train step (batch 2: forward, CE, backward, momentum
SGD), each of the three runs in its own process, timed round-robin after a warm-up so that load from other
jobs falls on all alike. PyTorch runs the same model and weights (scripts/torch_slowfast.py) under
$TORCH_PYTHON, or the table says torch is missing. Then the quickstart model's training step (batch 16,
56 px, one math thread as `paddlevideo train` gives it beside 2 data workers), operator off and on in turns,
and where the time goes: each conv layer's forward + backward at batch 2, Paddle's path and ours, summed by
kind. Replaces the section between <!-- bench_conv3d:start --> and <!-- bench_conv3d:end --> of
docs/benchmarks.md (--no-write to skip). About 5-7 minutes on 2 cores.

    python scripts/bench_conv3d.py [--repeats 3] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List

import bench_train as bt  # scripts/ is on sys.path when run
from benchdoc import write_section

ROWS = ("eager_best", "onednn_conv3d", "pytorch_eager")
QUICKSTART_STEPS = 6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per row (after one warm-up)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _serve(args.worker)
    started, load_before = time.monotonic(), os.getloadavg()
    tables = {}
    for kind, options in (("forward", bt.FORWARD), ("train", bt.TRAIN)):
        picked = [o for o in options if o[0] in ROWS]
        tables[kind] = bt._interleaved(kind, picked, range(len(picked)), args.repeats, float("inf"))
    bt.WEIGHTS.unlink(missing_ok=True)
    quickstart = _run_worker("quickstart")
    layers = _run_worker("layers")
    text = _render(tables, quickstart, layers, load_before, os.getloadavg(), time.monotonic() - started,
                   args.repeats)
    print(text)
    if not args.no_write:
        write_section("bench_conv3d", text, bt.DOC)
    return 0


def _run_worker(mode: str) -> Dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_DEBUG_CPU_TYPE", "OMP_NUM_THREADS")}
    env["PYTHONPATH"] = str(bt.ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, "--worker", mode], capture_output=True, text=True, env=env,
                          cwd=bt.ROOT)
    line = next((l for l in reversed(proc.stdout.splitlines()) if l.startswith("{")), None)
    if line is None:
        return dict(error=(proc.stderr.strip().splitlines() or ["worker exited"])[-1][:200])
    print(f"  {mode} done", file=sys.stderr, flush=True)
    return json.loads(line)


def _serve(mode: str) -> int:
    from paddlevideo_slowfast.runtime import configure_cpu_threads

    configure_cpu_threads(1 if mode == "quickstart" else None)
    result = _quickstart_steps() if mode == "quickstart" else _layer_times()
    print(json.dumps(result), flush=True)
    return 0


def _quickstart_steps() -> Dict[str, Any]:
    """The quickstart model's training step, operator off and on in turns (one process, one math thread)."""
    import numpy as np
    import paddle

    from paddlevideo_slowfast import ops
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.modeling import build_model

    cfg = load_config(str(bt.ROOT / "configs" / "quickstart.yaml"))
    model = build_model(cfg.MODEL, seed=0)
    model.train()
    optimizer = paddle.optimizer.Momentum(learning_rate=0.01, momentum=0.9, parameters=model.parameters())
    rng = np.random.default_rng(0)
    head = cfg.MODEL.head
    batch = [paddle.to_tensor(rng.standard_normal((16, 3, t, head.crop_size, head.crop_size), dtype=np.float32))
             for t in (head.num_frames // head.alpha, head.num_frames)]
    batch.append(paddle.to_tensor(rng.integers(0, head.num_classes, (16, 1))))

    def step() -> float:
        paddle.seed(1)
        loss = model(batch, mode="train")["loss"]
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        return float(loss)

    times: Dict[str, List[float]] = {"off": [], "on": []}
    losses, grads = {}, {}
    for name in times:  # warm-up: loss and gradients of each from the same weights, no update
        ops.set_enabled(name == "on")
        paddle.seed(1)
        loss = model(batch, mode="train")["loss"]
        loss.backward()
        losses[name] = float(loss)
        grads[name] = np.concatenate([p.grad.numpy().ravel() for p in model.parameters() if p.grad is not None])
        optimizer.clear_grad()
    for _ in range(QUICKSTART_STEPS):
        for name in times:
            ops.set_enabled(name == "on")
            wall = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - wall)
    grad_diff = float(np.linalg.norm(grads["on"] - grads["off"]) / np.linalg.norm(grads["off"]))
    return dict(off=statistics.median(times["off"]), on=statistics.median(times["on"]),
                off_min=min(times["off"]), on_min=min(times["on"]), loss_off=losses["off"], loss_on=losses["on"],
                grad_diff=grad_diff)


def _layer_times() -> Dict[str, Any]:
    """Forward + backward of each conv layer of the R50 at batch 2 (train mode), Paddle's path and ours, by kind."""
    import paddle
    from paddle import nn

    from paddlevideo_slowfast import ops
    from paddlevideo_slowfast.modeling import create_model

    model = create_model(bt.VARIANT, seed=0)
    model.train()
    inputs = {}

    def record(layer, x):  # returns None: the layer's inputs stay as they are
        inputs.setdefault(id(layer), (layer, x[0].shape, x[0].stop_gradient))

    hooks = [layer.register_forward_pre_hook(record) for layer in model.sublayers() if isinstance(layer, nn.Conv3D)]
    with paddle.no_grad():
        model.backbone([paddle.zeros([2, 3, t, 224, 224]) for t in (4, 32)])
    for hook in hooks:
        hook.remove()
    totals: Dict[str, Dict[str, float]] = {}
    for layer, shape, frozen in inputs.values():
        x = paddle.randn(shape)
        x.stop_gradient = frozen
        kind = _kind(layer, shape)
        for name, on in (("paddle", False), ("ours", True)):
            ops.set_enabled(on)
            best = float("inf")
            for _ in range(3):
                wall = time.perf_counter()
                out = layer(x)
                out.backward(paddle.ones_like(out))
                best = min(best, time.perf_counter() - wall)
                layer.clear_gradients()
            totals.setdefault(kind, {"layers": 0, "paddle": 0.0, "ours": 0.0})[name] += best
        totals[kind]["layers"] += 1
    return dict(kinds=totals)


def _kind(layer, shape) -> str:
    k = list(layer.weight.shape[2:])
    if shape[1] < 8:
        return "stems (1x7x7, 5x7x7)"
    if k == [1, 1, 1]:
        return "1x1x1 (Paddle's GEMM in both)"
    if k[1:] == [1, 1] and layer._stride not in (1, [1, 1, 1]) and k[0] > 1:
        return "Fast->Slow laterals (5x1x1, stride alpha)"
    if k[1:] == [1, 1]:
        return "temporal Tx1x1"
    return "spatial 1x3x3"


def _render(tables, quickstart, layers, load_before, load_after, elapsed: float, repeats: int) -> str:
    import paddle

    from paddlevideo_slowfast import ops

    lines = ["## The oneDNN conv3d operator vs Paddle's eager conv3d and PyTorch eager (`scripts/bench_conv3d.py`)", "",
             f"Machine: {bt._cpu_model()}, {bt._cores()} usable cores ({_isa()}), Python {platform.python_version()}, "
             f"Paddle {paddle.__version__}; {_torch_version()}. Load average {load_before[0]:.1f} before, "
             f"{load_after[0]:.1f} after: other jobs shared these cores, so every comparison is within one run, "
             f"round-robin. Median and best of {repeats} rounds after a warm-up; {elapsed:.0f} s in all. Operator: "
             f"{ops.status()}.", ""]
    titles = {"forward": "Forward, batch 1 (eval, no grad), SlowFast R50 4x16 at 224",
              "train": "Train step, batch 2 (forward + CE + backward + momentum SGD)"}
    for kind, rows in tables.items():
        base = next((r for r in rows if r["name"] == "eager_best" and "wall" in r), None)
        lines += [f"### {titles[kind]}", "", "| row | what | threads | wall s (median / min) | CPU s | "
                  "time vs eager_best (median) | same result as eager_best |", "|---|---|---|---|---|---|---|"]
        for row in rows:
            if "error" in row:
                lines.append(f"| {row['name']} | {row['what']} | | | | | {row['error']} |")
                continue
            ratio = f"{row['wall'] / base['wall']:.2f}x" if base else ""
            lines.append(f"| {row['name']} | {row['what']} | {row['threads']} | {bt._fmt(row['wall'])} / "
                         f"{bt._fmt(row['wall_min'])} | {bt._fmt(row['cpu'])} | {ratio} | {bt._compare(base, row)} |")
        lines.append("")
    lines += [bt.versus_pytorch(tables), ""]
    lines += ["### The quickstart's training step (configs/quickstart.yaml: depth 10, width 16, batch 16, 56 px, "
              "1 math thread)", ""]
    if "error" in quickstart:
        lines.append(f"failed: {quickstart['error']}")
    else:
        lines += ["| conv3d | wall s per step (median / min) | loss, same weights and batch |", "|---|---|---|",
                  f"| Paddle's | {quickstart['off']:.3f} / {quickstart['off_min']:.3f} | "
                  f"{quickstart['loss_off']:.7f} |",
                  f"| oneDNN operator | {quickstart['on']:.3f} / {quickstart['on_min']:.3f} | "
                  f"{quickstart['loss_on']:.7f} |", "",
                  f"Operator on: {quickstart['off'] / quickstart['on']:.2f}x faster per step (medians, the two "
                  f"alternating in one process, {QUICKSTART_STEPS} steps each); all parameter gradients of that first "
                  f"batch agree to {quickstart['grad_diff']:.1e} (relative L2)."]
    lines += ["", "### Where the time goes: each conv layer's forward + backward, R50 4x16 at batch 2, all cores", ""]
    if "error" in layers:
        lines.append(f"failed: {layers['error']}")
    else:
        lines += ["| kind | layers | Paddle's path ms | ours ms | speed-up |", "|---|---:|---:|---:|---:|"]
        kinds = layers["kinds"]
        for kind, t in sorted(kinds.items(), key=lambda kv: -kv[1]["paddle"]):
            lines.append(f"| {kind} | {t['layers']} | {t['paddle'] * 1e3:.0f} | {t['ours'] * 1e3:.0f} | "
                         f"{t['paddle'] / t['ours']:.2f}x |")
        paddle_total = sum(t["paddle"] for t in kinds.values())
        ours_total = sum(t["ours"] for t in kinds.values())
        lines += [f"| all conv layers | {sum(t['layers'] for t in kinds.values())} | {paddle_total * 1e3:.0f} | "
                  f"{ours_total * 1e3:.0f} | {paddle_total / ours_total:.2f}x |", "",
                  "Best of 3 per layer, timed alone (the step's other ops, BN, ReLU, adds, pools, optimizer, "
                  "are not in these sums). Paddle's path is the eager_best row's: vol2col + MKL sgemm, the "
                  "Fast pathway's temporal convs folded; ours sends every conv but the 1x1x1 ones to oneDNN and "
                  "keeps the Fast stem's fold for its weight gradient (paddlevideo_slowfast/ops/conv3d.py)."]
    return "\n".join(lines)


def _isa() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return "ISA unknown"
    return "AVX-512" if "avx512f" in flags else "AVX2, no AVX-512" if "avx2" in flags else "no AVX2"


def _torch_version() -> str:
    exe = bt.torch_python()
    if exe is None:
        return "PyTorch: not importable (set TORCH_PYTHON)"
    out = subprocess.run([exe, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    return f"PyTorch {out.stdout.strip()} ({exe})"


if __name__ == "__main__":
    sys.exit(main())
