#!/usr/bin/env python
"""1 vs 2 training processes on this machine at the same global batch (clips/s), and the time of one step's
gradient all-reduce, through Paddle's own launcher (gloo on CPU).

Trains configs/quickstart.yaml for one epoch on the first `--clips` training videos of the embedded dataset,
PreciseBN off, every iteration logged: once as one process (batch 16, every core) and once as
`python -m paddle.distributed.launch --nproc_per_node 2` (batch 8 per process, the cores split between them by the
CLI). clips/s = 16 / the median iteration time of rank 0's log after the first `--skip` iterations (data wait
included). The all-reduce: the launcher runs this script again as a worker in 2 processes, which builds the same
model and times `paddle.distributed.all_reduce` of one float32 tensor as long as all its trainable weights (the
gradient one optimizer step exchanges), after a barrier each time so that no rank's lateness is counted; median of
`--repeats`. Writes the section between `<!-- bench_distributed:start -->` and `<!-- bench_distributed:end -->` of
docs/benchmarks.md. About 3 minutes on 2 idle cores.

    python scripts/bench_distributed.py [--clips 480] [--work output/bench_distributed] [--docs docs/benchmarks.md]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from paddlevideo_slowfast.config import load_config  # noqa: E402

from bench_data import machine  # noqa: E402  (scripts/)
from benchdoc import publish  # noqa: E402

CONFIG = REPO / "configs" / "quickstart.yaml"
GLOBAL_BATCH = 16
ITER = re.compile(r"epoch 1/1 iter (\d+)/\d+ .* batch ([\d.]+)s data ([\d.]+)s")


def subset_list(work: Path, clips: int) -> Path:
    """The first `clips` lines of the quickstart's training list (the same videos for both runs)."""
    cfg = load_config(str(CONFIG))
    lines = (REPO / cfg.DATASET.train.file_path).read_text().splitlines()[:clips]
    path = work / "train_subset.list"
    path.write_text("\n".join(lines) + "\n")
    return path


def train(work: Path, processes: int, train_list: Path) -> Dict[str, float]:
    """One epoch on `train_list` with `processes` processes; median iteration and data times of rank 0."""
    out = work / f"{processes}proc"
    args = ["-c", str(CONFIG), "-o", "epochs=1", "log_interval=1", "PRECISEBN.num_iters_preciseBN=0",
            f"DATASET.batch_size={GLOBAL_BATCH // processes}", f"DATASET.train.file_path={train_list}",
            "--output", str(out)]
    entry = [sys.executable, "-m", "paddlevideo_slowfast", "train"]
    if processes > 1:
        entry = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(processes),
                 "--log_dir", str(work / "launch_logs"), str(Path(sys.executable).parent / "paddlevideo"), "train"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("OMP_NUM_THREADS", None)  # the CLI gives each process its share of the cores
    start = time.monotonic()
    subprocess.run([*entry, *args], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    rows = [(int(i), float(b), float(d)) for i, b, d in ITER.findall((out / "train.log").read_text())]
    return {"rows": rows, "wall": time.monotonic() - start}


def allreduce(work: Path, repeats: int) -> Dict[str, float]:
    """Run this script as the 2-process all-reduce worker; what rank 0 measured."""
    result = work / "allreduce.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                    str(work / "allreduce_logs"), str(Path(__file__).resolve()), "--worker", str(result),
                    "--repeats", str(repeats)], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return json.loads(result.read_text())


def worker(result: Path, repeats: int) -> int:
    """In each launched process: time all_reduce of a tensor the size of the quickstart model's gradient."""
    import paddle
    import paddle.distributed as dist

    from paddlevideo_slowfast.engine.distributed import init_distributed, rank
    from paddlevideo_slowfast.modeling import build_model

    init_distributed()
    model = build_model(load_config(str(CONFIG)).MODEL, seed=0)
    numel = sum(int(p.numel()) for p in model.parameters() if not p.stop_gradient)
    grad = paddle.ones([numel], dtype="float32")
    times: List[float] = []
    for i in range(repeats + 3):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(grad)
        if i >= 3:
            times.append(time.perf_counter() - start)
    if rank() == 0:
        result.write_text(json.dumps({"numel": numel, "median_s": statistics.median(times),
                                      "min_s": min(times), "max_s": max(times)}))
    return 0


def render(runs: Dict[int, dict], reduce: dict, clips: int, skip: int, load: tuple) -> str:
    lines = ["## Data-parallel training, 1 vs 2 processes (`scripts/bench_distributed.py`)", "",
             f"{machine()}. configs/quickstart.yaml, one epoch on the first {clips} training videos (global batch "
             f"{GLOBAL_BATCH}, PreciseBN off), Paddle's launcher with gloo for 2 processes, each given half the "
             f"cores by the CLI. Medians over iterations {skip + 1} and later of rank 0's log (data wait included). "
             f"Load average {load[0]:.1f} before, {load[1]:.1f} after"
             + (" (the machine was shared: ratios only)." if max(load) > 1.5 else "."), "",
             "| processes | batch per process | iteration | data wait | clips/s | epoch wall (process start to exit) |",
             "|---|---|---|---|---|---|"]
    speed = {}
    for processes, run in runs.items():
        rows = [r for r in run["rows"] if r[0] > skip]
        step = statistics.median(r[1] for r in rows)
        speed[processes] = GLOBAL_BATCH / step
        lines.append(f"| {processes} | {GLOBAL_BATCH // processes} | {step * 1000:.0f} ms | "
                     f"{statistics.median(r[2] for r in rows) * 1000:.0f} ms | {speed[processes]:.1f} | "
                     f"{run['wall']:.0f} s |")
    step2 = GLOBAL_BATCH / speed[2]
    lines += ["", f"2 processes reach **{speed[2] / speed[1]:.2f}x** the clips/s of one.", "",
              f"One step's gradient all-reduce between the 2 processes ({reduce['numel']:,} float32 values, "
              f"{reduce['numel'] * 4 / 2**20:.1f} MiB, one tensor, after a barrier): median "
              f"**{reduce['median_s'] * 1000:.1f} ms** (min {reduce['min_s'] * 1000:.1f}, max "
              f"{reduce['max_s'] * 1000:.1f}), {reduce['median_s'] / step2:.1%} of the 2-process iteration."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=480, help="training videos used (a multiple of 16)")
    parser.add_argument("--skip", type=int, default=3, help="first iterations left out of the medians")
    parser.add_argument("--repeats", type=int, default=30, help="timed all-reduces")
    parser.add_argument("--work", default=str(REPO / "output" / "bench_distributed"))
    parser.add_argument("--docs", default=str(REPO / "docs" / "benchmarks.md"), help="file to update ('' = none)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # set when the launcher runs this script
    args = parser.parse_args()
    if args.worker:
        return worker(Path(args.worker), args.repeats)
    from paddlevideo_slowfast.data.loader import ensure_embedded

    os.chdir(REPO)
    ensure_embedded(dict(load_config(str(CONFIG)).DATASET.embedded))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    train_list = subset_list(work, args.clips)
    runs = {processes: train(work, processes, train_list) for processes in (1, 2)}
    section = render(runs, allreduce(work, args.repeats), args.clips, args.skip, (load_start, os.getloadavg()[0]))
    publish("bench_distributed", section, args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
