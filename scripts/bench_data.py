#!/usr/bin/env python
"""Data pipeline benchmark on Kinetics-like videos it generates itself (10 s, 340x256, 30 fps, H.264, GOP 250).

1. Training clips/s of the full SlowFast 4x16 train pipeline (configs/slowfast.yaml: decode 32 frames at stride 2,
   scale 256-320, crop 224, flip, normalise, PackOutput) per decoder, beside the decode-only ceiling for the
   same clips in the same run (each clip is timed every way, interleaved in a shuffled order). One process per
   core, one decode thread each; rates come from each process's CPU time, so other jobs on a shared machine do
   not distort them (wall-clock ratios are printed beside). The unfused stages are timed too, to show what
   fusing buys.
2. Multi-view test (10 temporal x 3 spatial views): decode CPU-seconds per video when every view decodes its own
   clip (PaddleVideo/PySlowFast) and when the video is decoded once.

Prints a table and writes it to docs/benchmarks.md between `<!-- bench_data:start -->` and
`<!-- bench_data:end -->` (the rest of that file is kept). Usage: python scripts/bench_data.py [--quick]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from paddlevideo_slowfast.config import load_config  # noqa: E402
from paddlevideo_slowfast.data import build_pipeline  # noqa: E402
from paddlevideo_slowfast.data.decoders import open_video  # noqa: E402
from paddlevideo_slowfast.data.rng import item_rng  # noqa: E402
from paddlevideo_slowfast.data.video_writer import write_video  # noqa: E402

from benchdoc import publish  # noqa: E402  (scripts/ is on sys.path when run)

BACKENDS = ("opencv", "pyav", "decord")


# ---- Kinetics-like videos ----------------------------------------------------------------------------------
def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A natural-image-like texture: noise with a roughly 1/f spectrum, as uint8 RGB."""
    import cv2

    image = np.zeros((height, width, 3), np.float32)
    for scale in (4, 8, 16, 32, 64, 128):
        small = rng.standard_normal((max(2, height * scale // 256), max(2, width * scale // 256), 3))
        image += cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC) / scale ** 0.5
    image -= image.min()
    return (image / image.max() * 255).astype(np.uint8)


def kinetics_like_frames(seed: int, seconds: float = 10.0, fps: int = 30, width: int = 340, height: int = 256):
    """A panning textured scene with three textured objects moving across it, and sensor noise."""
    import cv2

    rng = np.random.default_rng(seed)
    scene = _texture(rng, height + 120, width + 240)
    objects = [_texture(rng, 60, 60) for _ in range(3)]
    for i in range(int(seconds * fps)):
        x, y = int(120 + 100 * np.sin(i / 40)), int(60 + 50 * np.cos(i / 50))
        frame = scene[y:y + height, x:x + width].copy()
        for k, patch in enumerate(objects):
            px = int((width - 60) * (0.5 + 0.45 * np.sin(i / (15 + 7 * k) + k)))
            py = int((height - 60) * (0.5 + 0.45 * np.cos(i / (20 + 5 * k))))
            frame[py:py + 60, px:px + 60] = patch
        yield cv2.add(frame, rng.integers(0, 6, frame.shape, dtype=np.uint8))


def make_videos(folder: Path, count: int, bit_rate: int) -> List[Path]:
    """`count` videos (cached in `folder` across runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(count):
        path = folder / f"kinetics_like_{seed:02d}_{bit_rate // 1000}k.mp4"
        if not path.is_file():
            write_video(path, kinetics_like_frames(seed), fps=30, bit_rate=bit_rate, gop=250, preset="fast")
        paths.append(path)
    return paths


# ---- training clips/s --------------------------------------------------------------------------------------
def _train_worker(job: Tuple[str, str, List[Tuple[str, int]]]) -> Dict[str, float]:
    """Time each clip decode-only, fused and unfused, interleaved; returns CPU and wall seconds per variant."""
    import cv2

    cv2.setNumThreads(1)
    config, backend, clips = job
    cfg = load_config(config)
    node = dict(cfg.PIPELINE.train)
    node["decode_sampler"] = dict(node["decode_sampler"], backend=backend)
    fused, unfused = build_pipeline(node), build_pipeline(node, fuse=False)
    sampler = fused.sampler
    variants = [("decode", sampler), ("full", fused), ("unfused", unfused)]
    seconds = {f"{clock}_{v}": 0.0 for clock in ("cpu", "wall") for v, _ in variants}
    order = np.random.default_rng(len(clips))
    for n, (path, index) in enumerate([clips[0]] + list(clips)):       # the first clip warms up
        timings = {}
        for k in order.permutation(len(variants)):                      # no variant always goes first
            variant, run = variants[k]
            cpu, wall = time.process_time(), time.perf_counter()
            out = run({"filename": path, "labels": 0, "rng": item_rng(0, 0, index)})
            timings[f"cpu_{variant}"] = time.process_time() - cpu
            timings[f"wall_{variant}"] = time.perf_counter() - wall
            assert out["imgs"] is not None
        if n:
            for variant, value in timings.items():
                seconds[variant] += value
    return seconds


def bench_train(videos: Sequence[Path], backends: Sequence[str], clips: int, workers: int) -> Dict[str, Dict]:
    config = str(REPO / "configs" / "slowfast.yaml")
    plan = [(str(videos[i % len(videos)]), i) for i in range(clips)]
    out = {}
    # fresh processes: a fork after this process encoded videos deadlocked its children here
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for backend in backends:
            shares = [plan[w::workers] for w in range(workers)]
            parts = list(pool.map(_train_worker, [(config, backend, share) for share in shares]))
            # clips/s of `workers` processes, each on a core of its own: clips / CPU seconds, summed
            rate = {k: sum(len(s) / p[k] for s, p in zip(shares, parts)) for k in parts[0]}
            out[backend] = rate
            print(f"  {backend:7s} decode-only {rate['cpu_decode']:6.1f} clips/s, full {rate['cpu_full']:6.1f} "
                  f"({rate['cpu_full'] / rate['cpu_decode']:.0%}), unfused stages {rate['cpu_unfused']:6.1f} "
                  f"({rate['cpu_unfused'] / rate['cpu_decode']:.0%}); by wall clock: full/ceiling "
                  f"{rate['wall_full'] / rate['wall_decode']:.0%}", flush=True)
    return out


# ---- multi-view test decode-seconds ------------------------------------------------------------------------
def _decode_per_view(pipeline, path: str, views: int, crops: int) -> float:
    """CPU seconds to decode every view's clip separately, as PaddleVideo does."""
    sampler = pipeline.sampler
    start = time.process_time()
    for t in range(views):
        for s in range(crops):
            sampler({"filename": path, "temporal_sample_index": t, "temporal_num_clips": views,
                     "spatial_sample_index": s, "spatial_num_clips": crops})
    return time.process_time() - start


def _decode_once(pipeline, path: str, views: int) -> float:
    """CPU seconds to decode the union of all windows in one pass."""
    sampler = pipeline.sampler
    start = time.process_time()
    with open_video(path, sampler.backend_for({})) as reader:
        windows = sampler.view_indices(reader.num_frames, reader.fps, views)
        reader.read(np.unique(np.concatenate(windows)))
    return time.process_time() - start


def bench_test(videos: Sequence[Path], backends: Sequence[str]) -> Dict[str, Dict]:
    import cv2

    cv2.setNumThreads(1)
    cfg = load_config(str(REPO / "configs" / "slowfast.yaml"))
    views, crops = int(cfg.DATASET.test.num_ensemble_views), int(cfg.DATASET.test.num_spatial_crops)
    out = {}
    for backend in backends:
        node = dict(cfg.PIPELINE.test)
        node["decode_sampler"] = dict(node["decode_sampler"], backend=backend)
        pipeline = build_pipeline(node)
        per_view = once = 0.0
        for path in videos:
            per_view += _decode_per_view(pipeline, str(path), views, crops)
            once += _decode_once(pipeline, str(path), views)
        out[backend] = {"per_view": per_view / len(videos), "once": once / len(videos)}
        print(f"  {backend:7s} {views}x{crops} views: per-view decoding {out[backend]['per_view']:.2f} s/video, "
              f"decode-once {out[backend]['once']:.2f} s/video ({out[backend]['per_view'] / out[backend]['once']:.1f}x"
              f" fewer)", flush=True)
    return out


# ---- report ------------------------------------------------------------------------------------------------
def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for name in ("numpy", "cv2", "av", "decord"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except Exception:  # an optional decoder may be missing
            versions.append(f"{name} -")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores; Python {platform.python_version()}; " + ", ".join(versions)


def table(train: Dict, test: Dict, args, videos: Sequence[Path], load: Tuple[float, float]) -> str:
    size_kb = np.mean([p.stat().st_size for p in videos]) / 1024
    lines = [
        "## Data pipeline (`scripts/bench_data.py`)", "",
        f"Machine: {machine()}. Run {time.strftime('%Y-%m-%d')}, {args.workers} worker processes with one decode "
        f"thread each; 1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the end (other jobs "
        "running raise it above the worker count; every ratio compares timings of the same clips interleaved).",
        f"Videos: {len(videos)} generated Kinetics-like clips, 10 s, 340x256, 30 fps, H.264 at "
        f"{args.bitrate // 1000} kb/s ({size_kb:.0f} kB each), keyframe every 250 frames.", "",
        "Training clips/s (SlowFast 4x16 train pipeline of `configs/slowfast.yaml`: 32 frames at stride 2, "
        f"scale 256-320, crop 224, flip, normalise, PackOutput; {args.clips} clips, the same clips for every "
        f"column). Rates are what {args.workers} workers with a core each deliver: clips per CPU second of each "
        "worker, summed (on an idle machine CPU time equals wall time at one thread per worker; on a shared one it "
        "leaves out the time other jobs hold the cores). The last column is the full/ceiling ratio by wall clock.",
        "", "| decoder | decode only (ceiling) | full pipeline | full / ceiling | unfused stages | unfused / ceiling "
        "| full / ceiling, wall |", "|---|---|---|---|---|---|---|",
    ]
    for backend, r in train.items():
        lines.append(f"| {backend} | {r['cpu_decode']:.1f} | {r['cpu_full']:.1f} | "
                     f"{r['cpu_full'] / r['cpu_decode']:.1%} | {r['cpu_unfused']:.1f} | "
                     f"{r['cpu_unfused'] / r['cpu_decode']:.0%} | {r['wall_full'] / r['wall_decode']:.0%} |")
    lines += ["", "Multi-view test, 10 temporal x 3 spatial views at 256 px, decode CPU-seconds per video (one "
              "process, one thread):", "",
              "| decoder | per-view decoding (30 decodes) | decode once | fewer decode-seconds |", "|---|---|---|---|"]
    for backend, r in test.items():
        lines.append(f"| {backend} | {r['per_view']:.2f} s | {r['once']:.2f} s | {r['per_view'] / r['once']:.1f}x |")
    opencv = train.get("opencv", {})
    opencv_ratio = opencv.get("cpu_full", 0) / max(opencv.get("cpu_decode", 1e-9), 1e-9)
    once = test.get("opencv")
    lines += ["", f"Targets: full pipeline >= 90% of the decode-only ceiling with OpenCV: {opencv_ratio:.1%} "
              f"({'met' if opencv_ratio >= 0.9 else 'missed'}); decode-once >= 4x fewer decode-seconds: "
              + (f"{once['per_view'] / once['once']:.1f}x ({'met' if once['per_view'] / once['once'] >= 4 else 'missed'})"
                 if once else "not measured") + "."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=6, help="generated videos (default 6)")
    parser.add_argument("--clips", type=int, default=240, help="training clips per decoder (default 240)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="processes (default: cores)")
    parser.add_argument("--bitrate", type=int, default=450_000, help="H.264 bit rate, bits/s (default 450k)")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--cache", default="/tmp/paddlevideo_bench_data", help="where the videos are kept")
    parser.add_argument("--docs", default=str(REPO / "docs" / "benchmarks.md"), help="file to update ('' = none)")
    parser.add_argument("--quick", action="store_true", help="2 videos, 16 clips: a smoke run, docs untouched")
    args = parser.parse_args()
    if args.quick:
        args.videos, args.clips, args.docs = 2, 16, ""
    print(f"generating/reusing {args.videos} Kinetics-like videos in {args.cache} ...", flush=True)
    videos = make_videos(Path(args.cache), args.videos, args.bitrate)
    load_start = os.getloadavg()[0]
    print(f"training clips/s, {args.workers} processes:", flush=True)
    train = bench_train(videos, args.backends, args.clips, args.workers)
    print("multi-view test decode-seconds:", flush=True)
    test = bench_test(videos, args.backends)
    section = table(train, test, args, videos, (load_start, os.getloadavg()[0]))
    publish("bench_data", section, args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
