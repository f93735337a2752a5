#!/usr/bin/env python
"""Peak memory of `paddlevideo detect` on a 2-minute video against a 10-second one (generated, same frame size).

Makes two one-video detection sets with `make_embedded_ava` (256x256, 30 fps; 10 s and 120 s), exports the small
detector of configs/ava_quickstart.yaml (seed-0 weights: memory does not depend on what it learnt), and runs
`paddlevideo detect --boxes <val proposals> --video-start 900 --json` on each video, then the same with `--out`
(every frame decoded and drawn), each in a fresh process whose peak resident set size (ru_maxrss) is read by its
parent. Prints a Markdown table for docs/deployment.md. Usage: python scripts/detect_memory.py [--size 256]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PEAK_RSS = ("import resource, subprocess, sys; "
            "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
            "sys.stderr.write(done.stderr); "
            "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def make_video(root: Path, seconds: int, size: int) -> Path:
    from paddlevideo_slowfast.data.ava_synthetic import make_embedded_ava

    return make_embedded_ava(root / f"{seconds}s", seed=0, size=size, seconds=seconds, train_videos=0,
                             val_videos=1, max_actors=3, workers=1)


def export(root: Path, label_map: Path) -> Path:
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.deploy import ExportOptions, export_model

    cfg = load_config(str(REPO / "configs" / "ava_quickstart.yaml"), [f"DATASET.test.label_file={label_map}"])
    return export_model(cfg, None, root / "model", ExportOptions()).model_dir


def peak(command: List[str]) -> Dict[str, float]:
    """Peak RSS (MiB), wall seconds and the frames-held count `detect` reports, of one fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *command], capture_output=True, text=True)
    code, kilobytes = done.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    held = re.search(r"at most (\d+) frames held", done.stderr)
    keyframes = re.search(r"(\d+) keyframes, (\d+) with person boxes", done.stderr)
    return {"rss": int(kilobytes) / 1024, "seconds": time.perf_counter() - start,
            "held": int(held.group(1)) if held else -1, "scored": int(keyframes.group(2)) if keyframes else -1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="frame width and height (default 256)")
    parser.add_argument("--threads", type=int, default=2, help="math threads of detect (default 2)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="detect_memory_") as tmp:
        root = Path(tmp)
        sets = {seconds: make_video(root, seconds, args.size) for seconds in (10, 120)}
        model = export(root, sets[10] / "annotations" / "ava_action_list.pbtxt")
        for drawn in (False, True):
            for seconds, data in sets.items():
                command = ["paddlevideo", "detect", "--model", str(model), "--video",
                           str(data / "videos" / "val_0000.mp4"), "--boxes",
                           str(data / "annotations" / "ava_dense_proposals_val.pkl"), "--video-start", "900",
                           "--det-threshold", "0.9", "--threads", str(args.threads), "--json"]
                if drawn:
                    command += ["--out", str(root / f"annotated_{seconds}.mp4")]
                rows.append((seconds, drawn, peak(command)))
                print(rows[-1], flush=True)
    lines = [f"| video ({args.size}x{args.size}, 30 fps) | --out | keyframes scored | frames held at most | "
             "peak RSS MiB | wall s |", "|---|---|---:|---:|---:|---:|"]
    for seconds, drawn, m in rows:
        lines.append(f"| {seconds} s | {'yes' if drawn else 'no'} | {m['scored']} | {m['held']} | {m['rss']:.0f} | "
                     f"{m['seconds']:.1f} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
