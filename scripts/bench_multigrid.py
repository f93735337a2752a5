#!/usr/bin/env python
"""Multigrid against the plain quickstart on the embedded dataset: time to the same validation top-1, and step
time and clips/s of every multigrid shape, from the two training runs themselves.

Trains configs/quickstart.yaml and configs/quickstart_multigrid.yaml one after the other, each in its own
`paddlevideo train --validate` process, with validation after every epoch and every iteration logged
(`-o val_interval=1 log_interval=1`; neither changes what is trained: each epoch reseeds). From each run's
train.log and metrics.jsonl:
- time to accuracy: the target is the plain run's best validation top-1 less 1 point; a run's time to it is the
  summed train-loop time of its epochs up to the first validation at or above it. Train-loop time is what the
  log's "epoch N done in Xs" measures (data loading included, PreciseBN and validation not, for both runs);
  the whole process's wall time is beside it.
- per shape: each iteration's time ("batch", data wait included) and data wait, grouped by what it trained:
  clips x frames x crop (the multigrid run's long-cycle phase and short-cycle position, from its schedule);
  medians, and clips/s = clips / median time.
With `--seeds`, both runs train under each seed (in WORK/seed_N/); the tables then hold the per-epoch means over
the seeds (validation top-1 and train-loop time), the time to accuracy is read off those mean curves, and a
per-seed table sits beside them: one seed's time to accuracy swings with where the plain run's plateau happens
to peak. Writes the section between `<!-- bench_multigrid:start -->` and `<!-- bench_multigrid:end -->` of
docs/benchmarks.md. About 12-15 minutes on 2 idle cores (the quickstart's training alone is about 4.5 minutes).

    python scripts/bench_multigrid.py [--reuse] [--work output/bench_multigrid] [--docs docs/benchmarks.md]
    python scripts/bench_multigrid.py --seeds 1234 7 11 [--reuse]   # both runs under each seed, curves averaged
    python scripts/bench_multigrid.py --quick     # smoke run: tiny data and model, 2 epochs each, docs untouched
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
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from paddlevideo_slowfast.config import load_config  # noqa: E402
from paddlevideo_slowfast.engine.multigrid import Plan, build_plan  # noqa: E402

from bench_data import machine  # noqa: E402  (scripts/)
from benchdoc import publish  # noqa: E402

PLAIN = REPO / "configs" / "quickstart.yaml"
MULTIGRID = REPO / "configs" / "quickstart_multigrid.yaml"
EVERY_EPOCH = ["val_interval=1", "log_interval=1"]
TOLERANCE = 0.01  # "the same accuracy": within 1 point of the plain run's best

ITER = re.compile(r"epoch (\d+)/\d+ iter (\d+)/\d+ loss .* batch ([\d.]+)s data ([\d.]+)s")
EPOCH = re.compile(r"epoch (\d+) done in ([\d.]+)s")


@dataclass
class Run:
    """What one training run's log says."""

    name: str
    config: Path
    wall: float = 0.0
    epoch_seconds: Dict[int, float] = field(default_factory=dict)
    top1: Dict[int, float] = field(default_factory=dict)
    iterations: List[Tuple[int, int, float, float]] = field(default_factory=list)  # epoch, iter, time, data wait

    def train_time(self, epoch: int) -> float:
        """Train-loop seconds of epochs 1..epoch."""
        return sum(s for e, s in self.epoch_seconds.items() if e <= epoch)

    def best(self) -> Tuple[float, int]:
        epoch = max(self.top1, key=lambda e: (self.top1[e], -e))
        return self.top1[epoch], epoch

    def reaches(self, target: float) -> Optional[int]:
        """The first validated epoch at or above `target`."""
        return next((e for e in sorted(self.top1) if self.top1[e] >= target - 1e-9), None)

    def time_to(self, target: float) -> Optional[float]:
        """Train-loop seconds up to the first validation at or above `target`; None if none reaches it."""
        epoch = self.reaches(target)
        return self.train_time(epoch) if epoch else None


def mean_run(runs: Sequence[Run]) -> Run:
    """One Run whose epoch times, validation top-1 and wall time are the means of `runs` (the epochs all of them
    have) and whose iterations are all of theirs."""
    first = runs[0]
    epochs = set.intersection(*(set(r.epoch_seconds) for r in runs))
    validated = set.intersection(*(set(r.top1) for r in runs))
    return Run(first.name, first.config, wall=statistics.mean(r.wall for r in runs),
               epoch_seconds={e: statistics.mean(r.epoch_seconds[e] for r in runs) for e in sorted(epochs)},
               top1={e: statistics.mean(r.top1[e] for r in runs) for e in sorted(validated)},
               iterations=[i for r in runs for i in r.iterations])


# ---- running --------------------------------------------------------------------------------------------------
def quick_data(work: Path, val_per_class: int = 1) -> Path:
    """A tiny embedded dataset (10 classes, 32 px, 24 frames, 2 training and `val_per_class` validation videos a
    class)."""
    from paddlevideo_slowfast.data.synthetic import ensure_embedded_dataset

    return ensure_embedded_dataset(work / "quick_data", seed=0, size=32, frames=24, train_per_class=2,
                                   val_per_class=val_per_class, workers=2)


def larger_validation(val_per_class: int) -> Tuple[Path, List[str]]:
    """The quickstart's embedded dataset with `val_per_class` validation videos a class, in a folder of its own
    (the training videos are the same ones: each video's content depends only on the seed, class, split and
    index), and the overrides that point both runs at it."""
    from paddlevideo_slowfast.data.loader import ensure_embedded

    options = dict(load_config(str(PLAIN)).DATASET.embedded)
    options.update(root=f"{options['root']}_val{val_per_class}", val_per_class=val_per_class)
    ensure_embedded(dict(options))
    return Path(options["root"]), data_overrides(REPO / options["root"])


def data_overrides(data: Path) -> List[str]:
    """Train on `data`/train.list and validate and test on `data`/val.list (an embedded dataset already made)."""
    items = ["DATASET.embedded=null", f"METRIC.label_names={data / 'label_names.txt'}"]
    for mode, name in (("train", "train"), ("valid", "val"), ("test", "val")):
        items += [f"DATASET.{mode}.data_prefix={data}", f"DATASET.{mode}.file_path={data / (name + '.list')}",
                  f"DATASET.{mode}.label_file={data / 'label_names.txt'}"]
    return items


def quick_overrides(data: Path, multigrid: bool) -> List[str]:
    """Shrink either quickstart to width 8 on 32 px clips of the tiny dataset, 2 epochs, no loader workers."""
    items = ["epochs=2", "DATASET.num_workers=0", "MODEL.backbone.width_per_group=8",
             "MODEL.head.width_per_group=8", "MODEL.head.crop_size=32", "INFERENCE.target_size=32",
             "PRECISEBN.num_iters_preciseBN=1", "OPTIMIZER.learning_rate.max_epoch=2", *data_overrides(data)]
    for mode in ("train", "valid", "test"):
        items += [f"PIPELINE.{mode}.transform.JitterScale.min_size=32",
                  f"PIPELINE.{mode}.transform.JitterScale.max_size={36 if mode == 'train' else 32}",
                  f"PIPELINE.{mode}.transform.MultiCrop.target_size=32"]
    if multigrid:  # batch 1: a step of the first long-cycle shape takes 4 of the 20 training videos
        items += ["DATASET.batch_size=1", "MULTIGRID.bn_base_size=2", "MULTIGRID.epoch_factor=1.0",
                  "OPTIMIZER.learning_rate.steps=[0, 1]"]
    return items


def train(run: Run, overrides: Sequence[str], out: Path, reuse: bool) -> None:
    """Train `run.config` into `out` in its own process (unless `reuse` finds a finished run there)."""
    done = out / "wall_seconds.txt"
    if reuse and done.is_file():
        run.wall = float(done.read_text())
        print(f"{run.name}: reusing {out}", flush=True)
        return
    print(f"{run.name}: training {run.config.name} into {out} ...", flush=True)
    for stale in ("train.log", "metrics.jsonl"):
        (out / stale).unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "paddlevideo_slowfast", "train", "-c", str(run.config),
                           "--validate", "--output", str(out), "-o", *EVERY_EPOCH, *overrides],
                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run.wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{run.name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    done.write_text(f"{run.wall:.1f}\n")


def read(run: Run, out: Path) -> Run:
    """Epoch times and iterations from train.log, validation top-1 per epoch from metrics.jsonl."""
    for line in (out / "train.log").read_text(encoding="utf-8").splitlines():
        if (m := ITER.search(line)):
            run.iterations.append((int(m[1]), int(m[2]), float(m[3]), float(m[4])))
        elif (m := EPOCH.search(line)):
            run.epoch_seconds[int(m[1])] = float(m[2])
    for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("kind") == "valid" and "top1" in row:
            run.top1[int(row["epoch"])] = float(row["top1"])
    return run


# ---- tables ---------------------------------------------------------------------------------------------------
def per_shape(run: Run, plan: Optional[Plan], batch: int, frames: int, crop: int) -> List[Tuple]:
    """(clips, frames, crop, what, iterations, median s, median data wait, clips/s) per trained shape."""
    groups: Dict[Tuple, List[Tuple[float, float]]] = defaultdict(list)
    for epoch, i, seconds, wait in run.iterations:
        if plan is None:
            key = (batch, frames, crop, "plain")
        else:
            shape = plan.epoch_shape(epoch - 1)
            position = (i - 1) % len(shape.batch_sizes)
            what = "base" if position == len(shape.batch_sizes) - 1 else f"short cycle {position}"
            key = (shape.batch_sizes[position], shape.shape.frames, shape.crops[position], what)
        groups[key].append((seconds, wait))
    rows = []
    for key, times in sorted(groups.items(), key=lambda kv: (kv[0][1] * kv[0][2] ** 2, kv[0][2])):
        seconds = statistics.median(t for t, _ in times)
        rows.append((*key, len(times), seconds, statistics.median(w for _, w in times), key[0] / seconds))
    return rows


def render(plain: Run, mg: Run, plan: Plan, quick: bool, load: Tuple[float, float], elapsed: float,
           val_clips: int, seeds: Sequence[Tuple[int, Run, Run]] = ()) -> str:
    """The docs section; with `seeds` (seed, plain run, multigrid run), `plain` and `mg` are their means."""
    cfg = load_config(str(PLAIN))
    batch, frames = int(cfg.DATASET.batch_size), int(cfg.PIPELINE.train.decode_sampler.num_frames)
    crop = plan.settings.crop
    best, best_epoch = plain.best()
    target = best - TOLERANCE
    lines = ["## Multigrid training (`scripts/bench_multigrid.py`)", "",
             f"Machine: {machine()}. Run {time.strftime('%Y-%m-%d')}, {elapsed / 60:.0f} min; 1-minute load "
             f"average {load[0]:.1f} at the start, {load[1]:.1f} at the end." + (" QUICK SMOKE RUN: tiny data and "
                                                                                 "model, numbers meaningless." if quick else ""),
             f"`configs/quickstart.yaml` (AdamW, cosine, {len(plain.epoch_seconds)} epochs of batch {batch} at "
             f"{frames}x{crop}) against `configs/quickstart_multigrid.yaml` (AdamW, the anchors' multigrid "
             f"piecewise schedule with {plan.settings.lr_scaling} LR scaling, {plan.epochs} epochs: "
             f"{', '.join(_phase_text(plan))}), both validated after every "
             f"epoch on the same {val_clips} clips (1 point = {val_clips / 100:g} clips). Train-loop time: the "
             "epochs' own time (data loading included; PreciseBN and validation not, for either run)." + _seed_text(seeds), "",
             f"### Time to the {'mean plain curve' if len(seeds) > 1 else 'plain run'}'s best validation top-1 less 1 "
             f"point ({100 * target:.1f}%)", "",
             "| run | best val top-1 (epoch) | reached at epoch | train-loop time to it | whole run: train loop / "
             "process wall |", "|---|---|---|---|---|"]
    times = {}
    for run in (plain, mg):
        top, epoch = run.best()
        hit = run.reaches(target)
        times[run.name] = run.time_to(target)
        reached = f"{hit}" if hit else "not reached"
        to_it = f"{times[run.name]:.0f} s" if hit else "-"
        lines.append(f"| {run.name} | {100 * top:.1f}% ({epoch}) | {reached} | {to_it} | "
                     f"{run.train_time(max(run.epoch_seconds)):.0f} s / {run.wall:.0f} s |")
    if times[plain.name] and times[mg.name]:
        lines += ["", f"Multigrid reaches it in **{times[plain.name] / times[mg.name]:.2f}x** less train-loop time "
                  "(target: >= 1.5x)."]
    else:
        lines += ["", f"Multigrid does not reach {100 * target:.1f}% in this run (target: the same accuracy in "
                  ">= 1.5x less time): **not met**."]
    lines += ["", _own_accuracy_text(plain, mg)]
    if len(seeds) > 1:
        lines += ["", "Each seed alone (its own plain run's best less 1 point):", "",
                  "| seed | quickstart best (epoch) | multigrid best (epoch) | target | quickstart reaches it | "
                  "multigrid reaches it | less time |", "|---|---|---|---|---|---|---|"]
        for seed, p, m in seeds:
            (pb, pe), (mb, me) = p.best(), m.best()
            goal = pb - TOLERANCE
            cells = [f"epoch {r.reaches(goal)}, {r.time_to(goal):.0f} s" if r.reaches(goal) else "not reached"
                     for r in (p, m)]
            ratio = f"{p.time_to(goal) / m.time_to(goal):.2f}x" if p.time_to(goal) and m.time_to(goal) else "-"
            lines.append(f"| {seed} | {100 * pb:.1f}% ({pe}) | {100 * mb:.1f}% ({me}) | {100 * goal:.1f}% | "
                         f"{cells[0]} | {cells[1]} | {ratio} |")
    lines += ["", "Validation top-1 after each epoch (cumulative train-loop time):", "",
              "| epoch | " + " | ".join(r.name for r in (plain, mg)) + " |", "|---|---|---|"]
    for epoch in range(1, max(max(plain.top1), max(mg.top1)) + 1):
        cells = [f"{100 * r.top1[epoch]:.1f}% ({r.train_time(epoch):.0f} s)" if epoch in r.top1 else ""
                 for r in (plain, mg)]
        lines.append(f"| {epoch} | " + " | ".join(cells) + " |")
    lines += ["", "### Step time and clips/s per shape, from the runs", "",
              "Each iteration's time as the trainer logs it (from the end of the previous step: data wait "
              "included), medians over the iterations of that shape.", "",
              "| run | clips x frames x crop | iteration | iterations | s / iteration | of which data wait | clips/s |",
              "|---|---|---|---|---|---|---|"]
    for run, run_plan in ((plain, None), (mg, plan)):
        for clips, t, s, what, n, seconds, wait, rate in per_shape(run, run_plan, batch, frames, crop):
            lines.append(f"| {run.name} | {clips} x {t} x {s} | {what} | {n} | {seconds:.3f} | {wait:.3f} | "
                         f"{rate:.0f} |")
    return "\n".join(lines)


def _own_accuracy_text(plain: Run, mg: Run) -> str:
    """The comparison the other way round: time to multigrid's own best, which the plain curve may pass first."""
    top, _ = mg.best()
    mg_time, plain_time = mg.time_to(top), plain.time_to(top)
    head = f"At multigrid's own best ({100 * top:.1f}%, reached after {mg_time:.0f} s of train loop)"
    if plain_time is None:
        return f"{head}: the plain curve never gets there."
    return (f"{head}: the plain curve first passes it at epoch {plain.reaches(top)}, after {plain_time:.0f} s, "
            f"so multigrid takes **{plain_time / mg_time:.2f}x** less time to that accuracy.")


def _seed_text(seeds: Sequence[Tuple[int, Run, Run]]) -> str:
    if not seeds:
        return ""
    if len(seeds) == 1:
        return f" Seed {seeds[0][0]} for both runs."
    return (f" Seeds {', '.join(str(n) for n, _, _ in seeds)}: every run trained under each, and the tables below "
            "the per-seed one give the means over the seeds (validation top-1, epoch and process times) and all "
            "their iterations.")


def _phase_text(plan: Plan) -> List[str]:
    out, start = [], 0
    for phase in plan.phases or []:
        if phase.end_epoch > start:
            shape = plan.epoch_shape(start)
            out.append(f"{phase.end_epoch - start} at {shape.batch}x{shape.shape.frames}x{shape.shape.crop}")
        start = max(start, phase.end_epoch)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default=str(REPO / "output" / "bench_multigrid"), help="where the two runs go")
    parser.add_argument("--reuse", action="store_true", help="read finished runs in --work instead of training")
    parser.add_argument("--docs", default=str(REPO / "docs" / "benchmarks.md"), help="file to update ('' = none)")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny data and model, docs untouched")
    parser.add_argument("--multigrid-override", nargs="*", default=[], metavar="KEY=VALUE",
                        help="extra -o overrides of the multigrid run (to try another schedule)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="N",
                        help="train both runs under each seed (default: once, under the configs' own seed)")
    parser.add_argument("--val-per-class", type=int, default=None, metavar="N",
                        help="validate both runs on N generated videos a class (the quickstart's own 15 gives 150 "
                             "clips, so 1 point is 1.5 clips); the training videos stay the same")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    started, load_start = time.monotonic(), os.getloadavg()[0]
    plain_extra, mg_extra = [], list(args.multigrid_override)
    if args.quick:
        data = quick_data(work, args.val_per_class or 1)
        plain_extra, mg_extra = quick_overrides(data, False), quick_overrides(data, True) + mg_extra
        args.docs = ""
    else:  # the embedded dataset first, so that neither run's time includes making it
        from paddlevideo_slowfast.data.loader import ensure_embedded

        os.chdir(REPO)
        if args.val_per_class:
            data, extra = larger_validation(args.val_per_class)
            plain_extra, mg_extra = extra, extra + mg_extra
        else:
            ensure_embedded(dict(load_config(str(PLAIN)).DATASET.embedded))
            data = Path(load_config(str(PLAIN)).DATASET.embedded.root)
    clips = len((REPO / data / "val.list").read_text(encoding="utf-8").splitlines())
    pairs: List[Tuple[int, Run, Run]] = []
    for seed in args.seeds or [None]:
        folder, extra = (work, []) if seed is None else (work / f"seed_{seed}", [f"seed={seed}"])
        plain, mg = Run("quickstart", PLAIN), Run("quickstart_multigrid", MULTIGRID)
        for run, run_extra in ((plain, plain_extra), (mg, mg_extra)):
            train(run, [*run_extra, *extra], folder / run.name, args.reuse)
            read(run, folder / run.name)
        if seed is not None:
            pairs.append((seed, plain, mg))
    if pairs:
        plain, mg = mean_run([p for _, p, _ in pairs]), mean_run([m for _, _, m in pairs])
    plan = build_plan(load_config(str(MULTIGRID), [*EVERY_EPOCH, *mg_extra]))[0]
    section = render(plain, mg, plan, args.quick, (load_start, os.getloadavg()[0]), time.monotonic() - started,
                     clips, pairs)
    publish("bench_multigrid", section, args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
