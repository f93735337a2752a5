"""Eager CPU speed of SlowFast R50 4x16 at 224: plain dygraph against each speed option, ratios in one run.

Forward: batch 1, eval mode, no grad. Train step: batch 2, forward + cross-entropy + backward + momentum SGD.
Each option runs in its own process (thread count and MKL's code path are per process), all from the same
seed and inputs, warmed up by one step. `onednn_conv3d` adds the oneDNN conv3d operator (paddlevideo_slowfast/ops;
the other Paddle rows run with it off); `pytorch_eager` runs the same model and weights in PyTorch
(scripts/torch_slowfast.py) under $TORCH_PYTHON (default: this interpreter), or says that torch is missing.
The forward options are timed round-robin, --repeats rounds; for training (a worker holds 3.5-4.5 GB) plain
dygraph stays up and each option alternates with it, so every ratio compares runs made under the same load
from other jobs. Outputs are compared with plain dygraph's
(res5 features and class probabilities; loss and the Fast stem's weight gradient after one step). Prints a
table and replaces the section between <!-- bench_train:start --> and <!-- bench_train:end --> of
docs/benchmarks.md (--no-write to skip). About 9-12 minutes on 2 cores.

    python scripts/bench_train.py [--repeats 3] [--budget 540] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from benchdoc import write_section  # scripts/ is on sys.path when run

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
VARIANT = "slowfast_r50_4x16"
WEIGHTS = Path(tempfile.gettempdir()) / f"bench_train_weights_{os.getpid()}.npz"  # written by the first worker

# name, what it adds, settings: fast_conv (FastConv3D folding), mkl (MKL's AVX2 path on AMD), threads (all
# usable cores instead of Paddle's 1), onednn (the oneDNN conv3d operator), runner (eager | to_static | inference),
# torch (PyTorch eager instead of Paddle)
FORWARD = [
    ("plain", "Paddle defaults: 1 thread, conv3d as vol2col + MKL sgemm", dict()),
    ("threads", "only: configure_cpu_threads(), all usable cores", dict(threads=True)),
    ("mkl_avx2", "only: MKL_DEBUG_CPU_TYPE=5 (AMD)", dict(mkl=True)),
    ("fast_conv", "only: MODEL.backbone.cpu_fast_conv", dict(fast_conv=True)),
    ("eager_best", "all three: configure_cpu_threads() and cpu_fast_conv",
     dict(fast_conv=True, mkl=True, threads=True)),
    ("onednn_conv3d", "eager_best + the oneDNN conv3d operator (paddlevideo_slowfast/ops)",
     dict(fast_conv=True, mkl=True, threads=True, onednn=True)),
    ("pytorch_eager", "PyTorch eager, the same model and weights; all usable cores", dict(threads=True, torch=True)),
    ("to_static_onednn", "backbone to_static with FLAGS_use_onednn, head eager; threads",
     dict(threads=True, runner="to_static")),
    ("accelerate_for_eval", "backbone in a oneDNN Paddle Inference predictor, head eager; threads",
     dict(threads=True, mkl=True, runner="inference")),
]
TRAIN = [
    ("plain", "Paddle defaults", dict()),
    ("threads", "only: all usable cores", dict(threads=True)),
    ("mkl_avx2", "only: MKL's AVX2 path (AMD)", dict(mkl=True)),
    ("fast_conv", "only: cpu_fast_conv", dict(fast_conv=True)),
    ("eager_best", "all three: configure_cpu_threads() and cpu_fast_conv",
     dict(fast_conv=True, mkl=True, threads=True)),
    ("onednn_conv3d", "eager_best + the oneDNN conv3d operator",
     dict(fast_conv=True, mkl=True, threads=True, onednn=True)),
    ("pytorch_eager", "PyTorch eager, the same model; all usable cores", dict(threads=True, torch=True)),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per option (after one warm-up)")
    parser.add_argument("--budget", type=float, default=540.0,
                        help="seconds; past it no further round or option is started")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    parser.add_argument("--only", choices=("forward", "train"), help="run one of the two tables (implies --no-write)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _serve(json.loads(args.worker))

    deadline = time.monotonic() + args.budget
    started, load_before = time.monotonic(), os.getloadavg()
    tables = {}
    if args.only in (None, "forward"):
        tables["forward"] = _interleaved("forward", FORWARD, range(len(FORWARD)), args.repeats, deadline)
    if args.only in (None, "train"):
        # a train worker holds 3.5-4.5 GB: plain stays up, each option is timed in rounds against it
        tables["train"] = _against_plain("train", TRAIN, args.repeats, deadline)
    WEIGHTS.unlink(missing_ok=True)
    text = _render(tables, load_before, os.getloadavg(), time.monotonic() - started, args.repeats)
    print(text)
    if not (args.no_write or args.only):
        write_section("bench_train", text, DOC)
    return 0


def torch_python() -> Optional[str]:
    """$TORCH_PYTHON, else this interpreter, when it can import torch; else None."""
    exe = os.environ.get("TORCH_PYTHON", sys.executable)
    try:
        ok = subprocess.run([exe, "-c", "import torch, numpy"], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return exe if ok else None


TORCH_MISSING = "not measured: torch is not importable here (set TORCH_PYTHON to an interpreter that has it)"


class _Worker:
    """One option in its own interpreter (threads and MKL's path are per process), timed on request."""

    def __init__(self, kind: str, spec: Dict[str, Any]):
        env = {k: v for k, v in os.environ.items() if k not in ("MKL_DEBUG_CPU_TYPE", "OMP_NUM_THREADS")}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        spec = dict(spec, kind=kind)
        if not spec.get("torch") and not WEIGHTS.is_file():
            spec["save_weights"] = str(WEIGHTS)
        command = [sys.executable, __file__, "--worker", json.dumps(spec)]
        if spec.get("torch"):
            exe = torch_python()
            if exe is None:
                self.proc, self.ready, self.walls, self.cpus = None, dict(error=TORCH_MISSING), [], []
                return
            spec.update(threads=_cores(), weights=str(WEIGHTS) if WEIGHTS.is_file() else None)
            command = [exe, str(ROOT / "scripts" / "torch_slowfast.py"), "--worker", json.dumps(spec)]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=ROOT)
        self.ready = self._read()      # threads, check (after the warm-up step) or error
        self.walls: List[float] = []
        self.cpus: List[float] = []

    def time_one(self) -> None:
        if "error" in self.ready:
            return
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        result = self._read()
        if "error" in result:
            self.ready = result
            return
        self.walls.append(result["wall"])
        self.cpus.append(result["cpu"])

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)

    def summary(self) -> Dict[str, Any]:
        if "error" in self.ready or not self.walls:
            return dict(error=self.ready.get("error", "no timed run"))
        return dict(self.ready, wall=statistics.median(self.walls), wall_min=min(self.walls),
                    cpu=statistics.median(self.cpus))

    def _read(self) -> Dict[str, Any]:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read().strip().splitlines() or ["worker exited"]
                return dict(error=err[-1][:200])
            if line.startswith("{"):
                return json.loads(line)


def _interleaved(kind: str, options, indices, repeats: int, deadline: float) -> List[Dict[str, Any]]:
    """Start every option, then time them round-robin so that load from other jobs falls on all alike."""
    workers = {i: _Worker(kind, options[i][2]) for i in indices}
    try:
        for _ in range(repeats):
            if time.monotonic() > deadline and all(w.walls for w in workers.values()):
                break
            for worker in workers.values():
                worker.time_one()
        rows = []
        for i, worker in workers.items():
            rows.append(dict(worker.summary(), name=options[i][0], what=options[i][1]))
            print(f"  {kind:7s} {options[i][0]:20s} {_fmt(rows[-1].get('wall'))} s", file=sys.stderr, flush=True)
        return rows
    finally:
        for worker in workers.values():
            worker.close()


def _against_plain(kind: str, options, repeats: int, deadline: float) -> List[Dict[str, Any]]:
    """Keep plain (options[0]) running; time each other option in rounds alternating with it."""
    plain = _Worker(kind, options[0][2])
    rows = []
    try:
        for name, what, spec in options[1:]:
            if time.monotonic() > deadline:
                rows.append(dict(name=name, what=what, skipped=True))
                continue
            worker = _Worker(kind, spec)
            mark = len(plain.walls)
            try:
                for _ in range(repeats):
                    plain.time_one()
                    worker.time_one()
            finally:
                worker.close()
            row = dict(worker.summary(), name=name, what=what)
            if plain.walls[mark:] and "wall" in row:  # the ratio uses plain's runs of the same rounds
                row["plain_wall"] = statistics.median(plain.walls[mark:])
                row["plain_wall_min"] = min(plain.walls[mark:])
            rows.append(row)
            print(f"  {kind:7s} {name:20s} {_fmt(row.get('wall'))} s", file=sys.stderr, flush=True)
    finally:
        plain.close()
    return [dict(plain.summary(), name=options[0][0], what=options[0][1])] + rows


def _serve(spec: Dict[str, Any]) -> int:
    """Worker: build, warm up, print {threads, check}; then one timed step per 'run' line on stdin."""
    try:
        step, ready = _prepare(spec)
    except Exception as exc:  # reported in the table instead of a traceback
        print(json.dumps(dict(error=f"{type(exc).__name__}: {exc}"[:200])), flush=True)
        return 1
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        print(json.dumps(dict(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu)), flush=True)
    return 0


def _prepare(spec: Dict[str, Any]):
    """The option's step function after one warm-up; the settings precede any MKL routine of Paddle."""
    import numpy as np

    threads = 1
    if spec.get("threads") or spec.get("mkl"):
        from paddlevideo_slowfast.runtime import configure_cpu_threads
        threads = configure_cpu_threads(None if spec.get("threads") else 1, mkl_avx2_on_amd=bool(spec.get("mkl")))
    import paddle

    from paddlevideo_slowfast import ops
    from paddlevideo_slowfast.modeling import create_model

    ops.set_enabled(bool(spec.get("onednn")))
    if spec.get("onednn") and not ops.available():
        raise RuntimeError(ops.status())
    paddle.seed(0)
    model = create_model(VARIANT, {"backbone": {"cpu_fast_conv": bool(spec.get("fast_conv"))}}, seed=0)
    if spec.get("save_weights"):  # for the PyTorch worker: the same weights
        np.savez(spec["save_weights"], **{k: v.numpy() for k, v in model.state_dict().items()})
    rng = np.random.default_rng(0)
    batch = 1 if spec["kind"] == "forward" else 2
    clips = [paddle.to_tensor(rng.standard_normal((batch, 3, t, 224, 224), dtype=np.float32)) for t in (4, 32)]
    if spec["kind"] == "forward":
        step, check = _forward_step(model, clips, spec.get("runner", "eager"))
    else:
        step, check = _train_step(model, clips + [paddle.to_tensor([[1], [2]], dtype="int64")])
    first = step()  # warm-up; also the values compared across options
    return step, dict(threads=threads, check=check(first))


def _forward_step(model, clips, runner: str):
    import paddle

    model.eval()
    if runner == "inference":
        from paddlevideo_slowfast.deploy.eval_predictor import accelerate_for_eval
        net = accelerate_for_eval(model)
        if net is model:
            raise RuntimeError("accelerate_for_eval fell back to dygraph")
        features = net.backbone_features
    elif runner == "to_static":
        paddle.set_flags({"FLAGS_use_onednn": True})  # must be on when converting and when running
        features = paddle.jit.to_static(model.backbone, full_graph=True)
    else:
        features = model.backbone

    def step():
        with paddle.no_grad():
            res5 = features(clips)
            return [f.numpy() for f in res5], model.head(res5).numpy()

    def check(first):
        res5, probs = first
        return dict(probs=probs[0].tolist(), features=[f.ravel()[::97].tolist() for f in res5])
    return step, check


def _train_step(model, batch):
    import paddle

    model.train()
    optimizer = paddle.optimizer.Momentum(learning_rate=0.01, momentum=0.9, parameters=model.parameters())
    stem = model.backbone.s1.pathway1_stem._conv.weight

    def step():
        paddle.seed(1)  # the same dropout mask in every option
        loss = model(batch, mode="train")["loss"]
        loss.backward()
        grad = stem.grad.numpy().copy()
        optimizer.step()
        optimizer.clear_grad()
        return float(loss), grad
    return step, lambda first: dict(loss=first[0], stem_grad=first[1].ravel().tolist())


def _render(tables: Dict[str, List[Dict]], load_before, load_after, elapsed: float, repeats: int) -> str:
    import paddle

    lines = ["## Eager CPU speed: plain dygraph vs the speed options (`scripts/bench_train.py`)", "",
             f"Machine: {_cpu_model()}, {_cores()} usable cores, Python {platform.python_version()}, "
             f"Paddle {paddle.__version__}. Load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
             f"(other work shares these cores: wall times are noisy, CPU time is the steadier column). "
             f"Median and best of {repeats} runs after one warm-up; forward options timed round-robin, each "
             f"train option alternating with plain dygraph, ratios against plain's runs of the same rounds; "
             f"{elapsed:.0f} s in all.", ""]
    titles = {"forward": "Forward, batch 1 (eval, no grad), SlowFast R50 4x16 at 224",
              "train": "Train step, batch 2 (forward + CE + backward + momentum SGD)"}
    for kind, rows in tables.items():
        base = next((r for r in rows if r["name"] == "plain" and "wall" in r), None)
        lines += [f"### {titles[kind]}", "",
                  "| option | what | threads | wall s (median / min) | CPU s | speed-up (median / min wall) "
                  "| same result as plain |",
                  "|---|---|---|---|---|---|---|"]
        for row in rows:
            if row.get("skipped") or "error" in row:
                note = "skipped (time budget)" if row.get("skipped") else f"failed: {row['error']}"
                lines.append(f"| {row['name']} | {row['what']} | | | | | {note} |")
                continue
            ref = (row.get("plain_wall", base["wall"]), row.get("plain_wall_min", base["wall_min"])) if base else None
            ratio = f"{ref[0] / row['wall']:.2f}x / {ref[1] / row['wall_min']:.2f}x" if ref else ""
            lines.append(f"| {row['name']} | {row['what']} | {row['threads']} | {_fmt(row['wall'])} / "
                         f"{_fmt(row['wall_min'])} | {_fmt(row['cpu'])} | {ratio} | {_compare(base, row)} |")
        lines.append("")
    lines += ["The gradient is compared as a whole (relative L2): element-wise, a ReLU input that lies within "
              "float rounding of 0 can flip one element's mask under any change of summation order (threads, "
              "MKL path, conv formulation); one such flip was traced in s5 when checking the fold against "
              "float64, all other elements agreeing to 1.6e-7.", "", versus_pytorch(tables)]
    return "\n".join(lines)


def versus_pytorch(tables: Dict[str, List[Dict]], ours: str = "onednn_conv3d") -> str:
    """One line: our time over PyTorch eager's per table (median wall of the same rounds), or why there is none."""
    parts = []
    for kind, rows in tables.items():
        by_name = {r["name"]: r for r in rows}
        mine, theirs = by_name.get(ours, {}), by_name.get("pytorch_eager", {})
        if "plain_wall" in mine and "plain_wall" in theirs:  # timed in different rounds: each against plain's
            ratio = (mine["wall"] / mine["plain_wall"]) / (theirs["wall"] / theirs["plain_wall"])
            parts.append(f"{kind} {ratio:.2f}x (each against plain dygraph in its own rounds)")
        elif "wall" in mine and "wall" in theirs:
            ratio = mine["wall"] / theirs["wall"]
            parts.append(f"{kind} {mine['wall']:.3f} s vs {theirs['wall']:.3f} s = {ratio:.2f}x")
        elif "error" in theirs:
            parts.append(f"{kind}: PyTorch {theirs['error']}")
    return ("Ours (" + ours + ") over PyTorch eager, median wall time: " + "; ".join(parts) + "."
            if parts else "PyTorch eager: not in this run.")


def _compare(base: Optional[Dict], row: Dict) -> str:
    import numpy as np

    if not base or row is base:
        return "reference" if row is base else ""
    a, b = base["check"], row["check"]
    if "probs" in a:
        p, q = np.array(a["probs"]), np.array(b["probs"])
        feature = max(np.abs(np.array(f) - np.array(g)).max() / np.abs(np.array(f)).max()
                      for f, g in zip(a["features"], b["features"]))
        return (f"res5 features: max diff {feature:.1e} of their max; probabilities: max abs diff "
                f"{np.abs(p - q).max():.1e} (max {p.max():.1e})")
    if "stem_grad" not in b:
        return f"loss {b['loss']:.4f} vs {a['loss']:.4f} (dropout masks differ from Paddle's; forward checks the model)"
    grad_a, grad_b = np.array(a["stem_grad"]), np.array(b["stem_grad"])
    rel = np.linalg.norm(grad_a - grad_b) / max(np.linalg.norm(grad_a), 1e-30)
    return f"loss diff {abs(a['loss'] - b['loss']):.1e}; Fast stem grad: relative L2 diff {rel:.1e}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _fmt(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
