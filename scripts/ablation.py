"""Ablation on the embedded dataset: slow-only, fast-only and SlowFast with each of the paper's three lateral
fusions, trained with the same budget and seeds; writes docs/ablation.md (top-1 per model and per class group).

    python scripts/ablation.py [--epochs N] [--seeds 0 1] [--models ...]   (default: the quickstart's epochs)

Each run is `paddlevideo train` on configs/quickstart.yaml with one override set; the per-class accuracy comes
from the run's own validation (single clip, as during training) of its last epoch.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# model -> overrides of configs/quickstart.yaml
MODELS: Dict[str, List[str]] = {
    "SlowFast, time-strided conv": ["MODEL.backbone.fusion=time_strided_conv"],
    "SlowFast, time-to-channel": ["MODEL.backbone.fusion=time_to_channel"],
    "SlowFast, time-strided sampling": ["MODEL.backbone.fusion=time_strided_sample"],
    "Slow-only": ["MODEL.backbone.name=ResNetSlowOnly"],
    "Fast-only": ["MODEL.backbone.name=ResNetFastOnly"],
}
NOTES = "<!-- notes: kept when the table is rewritten -->"
GROUPS = {
    "direction": ["left", "right", "up", "down"],
    "speed": ["drift_slow", "drift_fast"],
    "rotation": ["rotate_cw", "rotate_ccw"],
    "blink": ["blink_slow", "blink_fast"],
}


def run_one(name: str, overrides: List[str], seed: int, epochs: int, out: Path) -> Dict[str, float]:
    """Train one model; returns top-1 and per-class-group accuracy of its final validation."""
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.engine.evaluator import evaluate
    from paddlevideo_slowfast.engine.trainer import TrainOptions, train_model
    from paddlevideo_slowfast.runtime import configure_cpu_threads, leave_cores_for_workers

    configure_cpu_threads()  # as `paddlevideo train` does: MKL's AVX2 path on AMD, a core per data worker

    cfg = load_config(str(REPO / "configs" / "quickstart.yaml"),
                      overrides + [f"epochs={epochs}", f"OPTIMIZER.learning_rate.max_epoch={epochs}",
                                   f"val_interval={epochs}", f"save_interval={epochs}", "log_interval=1000"])
    leave_cores_for_workers(int(cfg.DATASET.get("num_workers", 0) or 0))
    start = time.time()
    train_model(cfg, TrainOptions(validate=False, seed=seed, output=str(out)))
    seconds = time.time() - start

    from paddlevideo_slowfast.data import build_dataloader
    from paddlevideo_slowfast.interop.weights import load_weights
    from paddlevideo_slowfast.metrics import CenterCropMetric
    from paddlevideo_slowfast.modeling import build_model

    model = build_model(cfg.MODEL)
    load_weights(model, str(out / f"{cfg.model_name}_epoch_{epochs:05d}.pdparams"), allow_head_reinit=False)
    loader = build_dataloader(cfg, "valid", seed=seed)
    metric = CenterCropMetric(label_names=loader.dataset.label_names, log_interval=0)
    result = evaluate(model, loader, mode="valid", metric=metric)
    names = list(loader.dataset.label_names)
    confusion = metric.confusion
    per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    row = {"top1": result["top1"], "seconds": seconds}
    for group, classes in GROUPS.items():
        row[group] = float(np.mean([per_class[names.index(c)] for c in classes]))
    return row


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import paddle
    return f"{cpu}, {len(__import__('os').sched_getaffinity(0))} cores, Python {platform.python_version()}, " \
           f"Paddle {paddle.__version__}"


def write_markdown(results: Dict[str, List[Dict[str, float]]], seeds: List[int], epochs: int, path: Path) -> str:
    cols = ["top1", *GROUPS]
    lines = ["# Ablation on the embedded dataset", "",
             f"Each model trained with configs/quickstart.yaml's recipe for {epochs} epochs, seeds {seeds}, "
             "and evaluated on the 150 validation videos (one clip each, as during training). Numbers are "
             "mean (min-max) over the runs (one per seed: its initial weights, data order, augmentation and "
             "dropout), in %. Class groups: "
             + "; ".join(f"{g}: {', '.join(c)}" for g, c in GROUPS.items()) + ".", "",
             f"Machine: {machine()}. Written by `python scripts/ablation.py --epochs {epochs} --seeds "
             f"{' '.join(map(str, seeds))}` on {time.strftime('%Y-%m-%d')}.", "",
             "| model | runs | " + " | ".join(cols) + " | train s/run |",
             "|---|---|" + "---|" * (len(cols) + 1)]
    for name, rows in results.items():
        cells = []
        for col in cols:
            values = [100 * r[col] for r in rows]
            cells.append(f"{np.mean(values):.1f} ({min(values):.0f}-{max(values):.0f})")
        cells.append(f"{np.mean([r['seconds'] for r in rows]):.0f}")
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    if path.exists() and NOTES in path.read_text():  # hand-written reading of the numbers survives a rerun
        text += "\n" + NOTES + path.read_text().split(NOTES, 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help="default: the quickstart's own (its schedule "
                        "length); another value also stretches the cosine to it")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--out", default="output/ablation")
    parser.add_argument("--doc", default=str(REPO / "docs" / "ablation.md"))
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs is None:
        from paddlevideo_slowfast.config import load_config

        args.epochs = int(load_config(str(REPO / "configs" / "quickstart.yaml")).epochs)
    if args.one:  # one run in a fresh process, so runs never share state
        name, seed = args.one[0], int(args.one[1])
        slug = "".join(c if c.isalnum() else "_" for c in name.lower())
        row = run_one(name, MODELS[name], seed, args.epochs, Path(args.out) / f"{slug}_seed{seed}")
        print("RESULT " + json.dumps(row))
        return 0
    results: Dict[str, List[Dict[str, float]]] = {}
    for name in args.models:
        for seed in args.seeds:
            proc = subprocess.run([sys.executable, __file__, "--one", name, str(seed), "--epochs", str(args.epochs),
                                   "--out", args.out], capture_output=True, text=True)
            line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
            if proc.returncode != 0 or line is None:
                print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
                return 1
            row = json.loads(line[len("RESULT "):])
            results.setdefault(name, []).append(row)
            print(f"{name} seed {seed}: top1 {row['top1']:.3f} "
                  + " ".join(f"{g} {row[g]:.2f}" for g in GROUPS) + f" ({row['seconds']:.0f} s)", flush=True)
            write_markdown(results, args.seeds, args.epochs, Path(args.doc))  # keep what is done so far
    print(write_markdown(results, args.seeds, args.epochs, Path(args.doc)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
