#!/usr/bin/env python
"""AVA detection benchmark on AVA-like input it generates itself (15-minute-cut-like videos and their frames).

Input (scripts/ava_like_input.py): a few videos standing for AVA's 15-minute cuts (480x360, 30 fps, H.264 at
800 kb/s, preset medium, a keyframe every 250 frames as ffmpeg's cuts have), the same with a keyframe every 32
frames, their frames as JPEG in PaddleVideo's rawframes layout, and AVA's CSV/pbtxt/pickle annotation files.

1. Training clips/s of the AVA train pipeline of configs/ava_slowfast_r50_8x8.yaml (SampleAVAFrames 32x2,
   RandomRescale 256-320, RandomCrop_v2 256, Flip, Normalize, PackOutput, padded to AVADataset's 14-entry item)
   from the frames and from the video with each decoder that works (and with OpenCV from the short-GOP copy,
   which shows what seeking to the keyframe before each clip costs). One process per core, one decode thread
   each; every clip is read every way, in a shuffled order per clip; rates are clips per CPU second of each
   process (others' jobs on a shared machine do not count), wall-clock ratios beside.
2. Where a training step of the R50 8x8 FastRCNN goes: backbone forward + backward against the RoI head
   (RoIAlign extractor, bbox head, loss) forward + backward, in the same steps: the graph is cut after the
   backbone and after the extractor (detached leaves), and each backward runs from its cut, so the parts add up
   to one ordinary step. Then the same split of an evaluation keyframe (data, backbone, RoI head, detections).

Prints a table and writes it to docs/benchmarks.md between `<!-- bench_ava:start -->` and `<!-- bench_ava:end -->`.
Usage: python scripts/bench_ava.py [--quick]   (about 10 minutes on 2 cores; --quick: tiny sizes, docs untouched)
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from paddlevideo_slowfast.config import load_config  # noqa: E402

from ava_like_input import CUT_START, FOLDERS, GOP, SHORT_GOP, InputSpec, make_input  # noqa: E402  (scripts/)
from bench_data import machine  # noqa: E402
from benchdoc import publish  # noqa: E402

CONFIG = REPO / "configs" / "ava_slowfast_r50_8x8.yaml"
BACKENDS = ("opencv", "pyav", "decord")
AVA_V21_HOURS = 299 * 901 / 3600   # 235 train + 64 val cuts of 901 s


# ---- configs over the input --------------------------------------------------------------------------------
def bench_config(root: Path, kind: str, backend: Optional[str], quick: bool):
    """configs/ava_slowfast_r50_8x8.yaml read from the generated input (`kind`: a key of FOLDERS)."""
    cfg = load_config(str(CONFIG))
    ann = root / "annotations"
    paths = dict(file_path=str(ann / "ava_train.csv"), exclude_file=str(ann / "ava_train_excluded_timestamps.csv"),
                 proposal_file=str(ann / "ava_dense_proposals_train.pkl"),
                 label_file=str(ann / "ava_action_list.pbtxt"), video_start=CUT_START,
                 source="frames" if kind == "frames" else "video", data_prefix=str(root / FOLDERS[kind]))
    for mode in ("train", "test"):
        cfg.DATASET[mode].update(paths)
    cfg.DATASET["backend"] = backend
    if quick:  # a smoke run: 8-frame clips at 64 px through the same stages
        sizes = {"RandomRescale": {"scale_range": [64, 80]}, "RandomCrop_v2": {"size": 64},
                 "Rescale": {"scale_range": [-1, 64]}}
        for mode in ("train", "test"):
            cfg.PIPELINE[mode]["sampler"]["clip_len"] = 8
            for entry in cfg.PIPELINE[mode]["transform"]:
                for name, args in entry.items():
                    args.update(sizes.get(name, {}))
    return cfg


def dataset(root: Path, kind: str, backend: Optional[str], mode: str, quick: bool):
    """The config's AVADataset over the generated input."""
    from paddlevideo_slowfast.data.loader import build_dataset

    return build_dataset(bench_config(root, kind, backend, quick), mode, seed=0)


def variants(backends: Sequence[str]) -> List[Tuple[str, str, Optional[str]]]:
    """(label, kind, backend) of every way to read a clip."""
    ways = [("frames (JPEG)", "frames", None)] + [(f"video, {b}", "video", b) for b in backends]
    return ways + [(f"video, {b}, keyframe every {SHORT_GOP} frames", "short_gop", b) for b in backends[:1]]


# ---- 1. training clips/s -----------------------------------------------------------------------------------
class _Timed:
    """A pipeline stage that adds its CPU seconds to `sink[name]`."""

    def __init__(self, stage, sink: Dict[str, float]):
        self.stage, self.sink, self.name = stage, sink, type(stage).__name__

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        start = time.process_time()
        out = self.stage(results)
        self.sink[self.name] += time.process_time() - start
        return out


def _pipeline_worker(job: Tuple[str, List[Tuple[str, str, Optional[str]]], List[int], bool]) -> Dict[str, Any]:
    """Read each clip every way (shuffled per clip); CPU and wall seconds, per-stage CPU seconds, bad reads."""
    import cv2
    import logging

    cv2.setNumThreads(1)
    logging.getLogger("paddlevideo_slowfast").setLevel(logging.WARNING)
    root, ways, plan, quick = job
    sets, stages = {}, {}
    for label, kind, backend in ways:
        sets[label] = dataset(Path(root), kind, backend, "train", quick)
        stages[label] = defaultdict(float)
        sets[label].pipeline.fused = [_Timed(s, stages[label]) for s in sets[label].pipeline.fused]
    seconds = {label: {"cpu": 0.0, "wall": 0.0} for label in sets}
    order = np.random.default_rng(len(plan))
    for n, index in enumerate([plan[0]] + list(plan)):  # the first clip warms up
        for k in order.permutation(len(ways)):
            label = ways[k][0]
            cpu, wall = time.process_time(), time.perf_counter()
            item = sets[label][(index, 0)]
            if n:
                seconds[label]["cpu"] += time.process_time() - cpu
                seconds[label]["wall"] += time.perf_counter() - wall
            assert np.asarray(item[1]).ndim == 4  # the Fast pathway (3, T, H, W)
        if n == 0:
            for sink in stages.values():
                sink.clear()
    return {label: dict(seconds[label], stages=dict(stages[label]), bad=sets[label].bad.events)
            for label in sets}


def working_ways(root: Path, backends: Sequence[str], quick: bool) -> Tuple[List, Dict[str, str]]:
    """The ways whose first clip reads, and why the others fail."""
    ways, failed = [], {}
    for way in variants(backends):
        try:
            ds = dataset(root, way[1], way[2], "train", quick)
            ds[(0, 0)]
            if ds.bad.events:
                raise RuntimeError(ds.bad.videos[0][1])
            ways.append(way)
        except Exception as exc:  # a decoder missing or failing here is reported, not fatal
            failed[way[0]] = f"{type(exc).__name__}: {exc}"[:160]
    return ways, failed


def bench_pipeline(root: Path, ways: List, clips: int, workers: int, quick: bool) -> Dict[str, Dict]:
    """Clips/s of `workers` processes (clips per CPU second of each, summed), per way, and per-stage shares."""
    count = len(dataset(root, "frames", None, "train", quick))
    plan = np.random.default_rng(0).permutation(np.resize(np.arange(count), clips)).tolist()
    shares = [plan[w::workers] for w in range(workers)]
    # fresh processes: a fork after this process encoded videos deadlocked children in bench_data.py
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_pipeline_worker, [(str(root), ways, share, quick) for share in shares]))
    out = {}
    for label, *_ in ways:
        cpu = [p[label]["cpu"] for p in parts]
        stage = defaultdict(float)
        for p in parts:
            for name, value in p[label]["stages"].items():
                stage[name] += value
        decode = stage.get("SampleAVAFrames", 0.0) + stage.get("RawFrameDecode", 0.0)
        out[label] = dict(cpu_rate=sum(len(s) / c for s, c in zip(shares, cpu)),
                          wall_rate=sum(len(s) / p[label]["wall"] for s, p in zip(shares, parts)),
                          decode_share=decode / sum(cpu), bad=sum(p[label]["bad"] for p in parts))
        print(f"  {label:15s} {out[label]['cpu_rate']:6.1f} clips/s by CPU time, {out[label]['wall_rate']:6.1f} "
              f"by wall clock; decode {out[label]['decode_share']:.0%} of the CPU", flush=True)
    return out


# ---- 2. where a step goes ----------------------------------------------------------------------------------
class Clock:
    """CPU and wall seconds per named part, added up over start/stop pairs."""

    def __init__(self):
        self.cpu: Dict[str, float] = defaultdict(float)
        self.wall: Dict[str, float] = defaultdict(float)
        self._open: Dict[str, Tuple[float, float]] = {}

    def start(self, name: str) -> None:
        self._open[name] = (time.process_time(), time.perf_counter())

    def stop(self, name: str) -> None:
        cpu, wall = self._open.pop(name)
        self.cpu[name] += time.process_time() - cpu
        self.wall[name] += time.perf_counter() - wall

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.start(name)
        yield
        self.stop(name)


def _leaf(tensor):
    """A detached copy of `tensor` that collects its gradient: where a backward stops."""
    leaf = tensor.detach()
    leaf.stop_gradient = False
    return leaf


class ExtractorCut:
    """Hooks on the RoI extractor: time its forward, count its RoIs and cut the graph after it."""

    def __init__(self, extractor, clock: Clock):
        self.clock, self.output, self.leaf, self.rois = clock, None, None, []
        self.handles = [extractor.register_forward_pre_hook(self._pre),
                        extractor.register_forward_post_hook(self._post)]

    def _pre(self, layer, inputs):
        self.rois.append(int(inputs[1].shape[0]))
        self.clock.start("extractor_fwd")

    def _post(self, layer, inputs, output):
        self.clock.stop("extractor_fwd")
        self.output, self.leaf = output, _leaf(output)
        return self.leaf

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def collate(items: Sequence[List[Any]]):
    """AVADataset items stacked into the detector's 14-entry batch of tensors, as the default collate does."""
    import paddle

    return [paddle.to_tensor(np.stack([np.asarray(item[k]) for item in items])) for k in range(len(items[0]))]


def split_train_step(model, batch, clock: Clock) -> None:
    """One training step timed in parts: backbone, RoI extractor, bbox head + loss, each forward and backward."""
    import paddle

    from paddlevideo_slowfast.modeling.detection.batch import FAST, SLOW, unpad

    clips = unpad(batch)
    cut = ExtractorCut(model.roi_head.bbox_roi_extractor, clock)
    try:
        with clock("backbone_fwd"):
            features = model.backbone([batch[SLOW], batch[FAST]])
        leaves = [_leaf(f) for f in features]
        with clock("roi_fwd"):
            losses = model.roi_head.train_step(leaves, [c.proposals for c in clips], [c.gt_bboxes for c in clips],
                                               [c.gt_labels for c in clips])
        with clock("head_bwd"):
            losses["loss"].backward()
        with clock("extractor_bwd"):
            paddle.autograd.backward([cut.output], [cut.leaf.grad])
        with clock("backbone_bwd"):
            grads = [leaf.grad if leaf.grad is not None else paddle.zeros_like(leaf) for leaf in leaves]
            paddle.autograd.backward(list(features), grads)
    finally:
        cut.remove()
    clock.cpu["rois"] += sum(cut.rois)
    model.clear_gradients()


def bench_train_step(model, items: List[List[Any]], batch: int, steps: int) -> Dict[str, Any]:
    """Median per-part CPU and wall seconds of `steps` split training steps after one warm-up."""
    model.train()
    runs = []
    for step in range(steps + 1):
        chunk = [items[(step * batch + k) % len(items)] for k in range(batch)]
        clock = Clock()
        split_train_step(model, collate(chunk), clock)
        if step:
            runs.append(clock)
        print(f"  train step {step}{' (warm-up)' if not step else ''}: "
              f"{sum(v for k, v in clock.cpu.items() if k != 'rois'):.2f} CPU s", flush=True)
    parts = {"backbone": ("backbone_fwd", "backbone_bwd"), "extractor": ("extractor_fwd", "extractor_bwd"),
             "head": ("head_fwd", "head_bwd")}
    for clock in runs:
        for table in (clock.cpu, clock.wall):
            table["head_fwd"] = table["roi_fwd"] - table["extractor_fwd"]
    out = {"rois": statistics.mean(c.cpu["rois"] for c in runs) / batch}
    for clock_kind in ("cpu", "wall"):
        for part, (fwd, bwd) in parts.items():
            for name, key in (("fwd", fwd), ("bwd", bwd)):
                out[f"{clock_kind}_{part}_{name}"] = statistics.median(getattr(c, clock_kind)[key] for c in runs)
    return out


def max_pool_gradient(rois: int, channels: int, size: int, repeats: int = 3) -> Dict[str, float]:
    """Backward CPU seconds of BBoxHeadAVA's spatial max (`max(axis=[2, 3])`) and of adaptive_max_pool2d, same
    input [rois, channels, size, size] (the same forward values, checked)."""
    import paddle
    import paddle.nn.functional as F

    x = paddle.to_tensor(np.random.default_rng(0).standard_normal((rois, channels, size, size), np.float32))
    x.stop_gradient = False
    ways = {"max_axes": lambda t: t.max(axis=[2, 3]), "adaptive": lambda t: F.adaptive_max_pool2d(t, 1).flatten(1)}
    np.testing.assert_array_equal(ways["max_axes"](x).numpy(), ways["adaptive"](x).numpy())
    out = {}
    for name, way in ways.items():
        times = []
        for _ in range(repeats):
            y = way(x).sum()
            start = time.process_time()
            y.backward()
            times.append(time.process_time() - start)
            x.clear_gradient()
        out[name] = statistics.median(times)
    return out


def bench_eval(model, test_set, keyframes: int) -> Dict[str, Any]:
    """Median per-keyframe CPU and wall seconds of data, backbone, RoI head and detections (after a warm-up)."""
    import paddle
    import paddle.nn.functional as F

    from paddlevideo_slowfast.modeling.detection.batch import FAST, SLOW, unpad

    model.eval()
    runs = []
    indices = np.linspace(0, len(test_set) - 1, keyframes + 1).astype(int).tolist()
    for n, index in enumerate(indices):
        clock = Clock()
        with clock("data"):
            batch = collate([test_set[index]])
        clip = unpad(batch)[0]
        rois = paddle.to_tensor(clip.proposals)
        rois_num = paddle.to_tensor(np.array([len(clip.proposals)], np.int32))
        with paddle.no_grad():
            with clock("backbone"):
                features = model.backbone([batch[SLOW], batch[FAST]])
            with clock("roi_head"):
                probabilities = F.sigmoid(model.roi_head.scores(features, rois, rois_num)).numpy()
        with clock("detections"):
            model.roi_head.detections(probabilities, clip.proposals, [len(clip.proposals)], clip.img_shape[None])
        clock.cpu["rois"] = len(clip.proposals)
        if n:
            runs.append(clock)
    out = {"rois": statistics.mean(c.cpu["rois"] for c in runs),
           "shape": [int(v) for v in clip.img_shape]}
    for kind in ("cpu", "wall"):
        for part in ("data", "backbone", "roi_head", "detections"):
            out[f"{kind}_{part}"] = statistics.median(getattr(c, kind)[part] for c in runs)
    return out


def bench_model(root: Path, batch: int, steps: int, keyframes: int, quick: bool) -> Dict[str, Any]:
    """Train-step and eval splits of the config's FastRCNN on clips of the generated frames."""
    import cv2

    from paddlevideo_slowfast.runtime import configure_cpu_threads

    threads = configure_cpu_threads()  # as the CLI does: every usable core, MKL's AVX2 path on AMD; before paddle
    cv2.setNumThreads(1)
    import paddle

    from paddlevideo_slowfast.modeling import build_model

    paddle.seed(0)
    model = build_model(bench_config(root, "frames", None, quick).MODEL, seed=0)
    train_set = dataset(root, "frames", None, "train", quick)
    picks = np.random.default_rng(1).permutation(len(train_set))[:batch * (steps + 1)]
    items = [train_set[(int(i), 0)] for i in picks]
    train = bench_train_step(model, items, batch, steps)
    channels = model.roi_head.bbox_head.in_channels
    size = model.roi_head.bbox_roi_extractor.output_size
    pool = max_pool_gradient(max(1, round(train["rois"] * batch)), channels, size, repeats=min(3, steps))
    evaluation = bench_eval(model, dataset(root, "frames", None, "test", quick), keyframes)
    return dict(threads=threads, paddle=paddle.__version__, train=train, pool=pool, eval=evaluation,
                crop=int(items[0][1].shape[-1]), frames=int(items[0][1].shape[1]))


# ---- report ------------------------------------------------------------------------------------------------
def _pipeline_table(pipeline: Dict[str, Dict], failed: Dict[str, str]) -> List[str]:
    base = pipeline.get("frames (JPEG)") or next(iter(pipeline.values()))
    lines = ["| source | clips/s (CPU time) | vs frames | decode share of the CPU | clips/s (wall) | vs frames "
             "(wall) |", "|---|---|---|---|---|---|"]
    for label, r in pipeline.items():
        lines.append(f"| {label} | {r['cpu_rate']:.1f} | {r['cpu_rate'] / base['cpu_rate']:.2f}x | "
                     f"{r['decode_share']:.0%} | {r['wall_rate']:.1f} | {r['wall_rate'] / base['wall_rate']:.2f}x |"
                     + ("" if not r["bad"] else f" {r['bad']} unreadable clips |"))
    lines += [f"| {label} | fails: `{why}` | | | | |" for label, why in failed.items()]
    return lines


def _step_table(model: Dict[str, Any]) -> List[str]:
    t = model["train"]
    rows = [("backbone (ResNetSlowFast R50 8x8, res5 at stride 16)", ["backbone"]),
            ("RoI extractor (temporal mean, RoIAlign 8x8)", ["extractor"]),
            ("bbox head + loss (assign, sample, dropout, pools, FC 2304->81, BCE)", ["head"]),
            ("**RoI head: extractor + bbox head + loss**", ["extractor", "head"])]
    total = sum(t[f"cpu_{p}_{d}"] for p in ("backbone", "extractor", "head") for d in ("fwd", "bwd"))
    lines = ["| part | forward CPU s | backward CPU s | fwd + bwd CPU s | share of the step | fwd + bwd wall s |",
             "|---|---|---|---|---|---|"]
    for label, parts in rows:
        fwd, bwd = (sum(t[f"cpu_{p}_{d}"] for p in parts) for d in ("fwd", "bwd"))
        wall = sum(t[f"wall_{p}_{d}"] for p in parts for d in ("fwd", "bwd"))
        lines.append(f"| {label} | {fwd:.3f} | {bwd:.3f} | {fwd + bwd:.3f} | {(fwd + bwd) / total:.1%} | "
                     f"{wall:.3f} |")
    return lines


def _eval_table(model: Dict[str, Any]) -> List[str]:
    e = model["eval"]
    rows = [("data: test pipeline from frames (SampleAVAFrames, decode, Rescale short side 256, Normalize, "
             "PackOutput, padding)", "data"), ("backbone forward", "backbone"),
            ("RoI head forward (RoIAlign, bbox head, sigmoid)", "roi_head"),
            ("detections in AVA's layout (bbox2result)", "detections")]
    total = sum(e[f"cpu_{key}"] for _, key in rows)
    lines = ["| part | CPU s | share | wall s |", "|---|---|---|---|"]
    lines += [f"| {label} | {e[f'cpu_{key}']:.3f} | {e[f'cpu_{key}'] / total:.1%} | {e[f'wall_{key}']:.3f} |"
              for label, key in rows]
    return lines + [f"| total | {total:.3f} | | {sum(e[f'wall_{key}'] for _, key in rows):.3f} |"]


def table(args, stats: Dict[str, Any], pipeline: Dict, failed: Dict, model: Dict, load: Tuple[float, float],
          elapsed: float) -> str:
    spec, t, e = stats["spec"], model["train"], model["eval"]
    backbone = t["cpu_backbone_fwd"] + t["cpu_backbone_bwd"]
    roi = sum(t[f"cpu_{p}_{d}"] for p in ("extractor", "head") for d in ("fwd", "bwd"))
    wall_backbone = t["wall_backbone_fwd"] + t["wall_backbone_bwd"]
    wall_roi = sum(t[f"wall_{p}_{d}"] for p in ("extractor", "head") for d in ("fwd", "bwd"))
    pool = model["pool"]
    roi_fast = roi - pool["max_axes"] + pool["adaptive"]
    ratio = stats["jpeg_kb_s"] / stats["video_kb_s"]

    def gigabytes(kb_per_second: float) -> float:
        return kb_per_second * AVA_V21_HOURS * 3600 / 1024 ** 2
    lines = [
        "## AVA detection (`scripts/bench_ava.py`): data from frames vs video, and the RoI head's share", "",
        f"Machine: {machine()}; Paddle {model['paddle']}. Run {time.strftime('%Y-%m-%d')}, {elapsed / 60:.0f} min; "
        f"1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the end. The machine was shared with "
        "another job: rates and times below are CPU time of the measuring processes (what other jobs take is left "
        "out), every comparison is between timings interleaved in the same run, and wall-clock figures are given "
        "beside for reference only.",
        f"Input (generated, cached): {spec['videos']} AVA-like videos standing for 15-minute cuts, "
        f"{spec['seconds']} s each, {spec['width']}x{spec['height']}, {spec['fps']} fps, H.264 at "
        f"{spec['bit_rate'] // 1000} kb/s, preset medium, a keyframe every {GOP} frames (x264's default interval, "
        f"which the ffmpeg cuts keep; a copy re-encoded with one every {SHORT_GOP} frames): "
        f"{stats['video_kb_s']:.0f} kB per second of video; the same frames as rawframes JPEG (quality "
        f"{spec['jpeg_quality']}): {stats['jpeg_kb_s']:.0f} kB per second, {ratio:.0f}x the video (at these rates "
        f"AVA v2.1's 299 cuts would take {gigabytes(stats['jpeg_kb_s']):.0f} GB as frames, "
        f"{gigabytes(stats['video_kb_s']):.0f} GB as video); {stats['keyframes']} "
        "keyframes (1 a second, one per video excluded) with 2-3 people each, AVA's CSV, excluded-timestamps CSV, "
        "label map and proposal pickle written by `data/ava/annotations.py`.", "",
        f"### Training clips/s ({args.clips} clips, {args.workers} processes)", "",
        "The AVA train pipeline of `configs/ava_slowfast_r50_8x8.yaml` through `AVADataset` (SampleAVAFrames 32 x 2, "
        "decode, RandomRescale 256-320, RandomCrop_v2 256, Flip, Normalize, PackOutput, padding to the 14-entry "
        f"item), the same clips and random draws for every source. {args.workers} processes with one decode thread "
        "each; each clip is read every way in a shuffled order; rates are clips per CPU second of each process, "
        "summed (what that many cores deliver when the pipeline has them to itself). Decode share: "
        "SampleAVAFrames + RawFrameDecode (file reads, JPEG or video decoding, seeking) of the item's CPU time. "
        f"A video decoder starts at the keyframe before the clip: with one every {GOP} frames it decodes up to "
        f"{GOP - 1} frames (about {(GOP - 1) / 2:.0f} on average) besides the clip's 64, with one every {SHORT_GOP} "
        f"at most {SHORT_GOP - 1}. "
        "The JPEGs are read from the page cache here; from a disk the frames source also reads "
        f"{ratio:.0f}x the bytes.", "",
        *_pipeline_table(pipeline, failed), "",
        f"### A training step: backbone vs RoI head (batch {args.batch}, {model['frames']}-frame clips cropped to "
        f"{model['crop']}, {t['rois']:.1f} RoIs a clip)", "",
        f"FastRCNN of `configs/ava_slowfast_r50_8x8.yaml`, {model['threads']} math threads (as the CLI sets them), "
        f"median of {args.steps} steps after a warm-up, batches from the frames dataset above. The graph is cut "
        "after the backbone and after the extractor, and each backward runs from its cut, so the parts add up to "
        "one step (optimizer update not included).", "",
        *_step_table(model), "",
        f"RoI head : backbone = {roi / backbone:.3f} by CPU time (the RoI head is {roi / (roi + backbone):.1%} of "
        f"the step), {wall_roi / wall_backbone:.3f} by wall clock. Of the bbox head's backward, the gradient of its "
        f"spatial max (`max(axis=[2, 3])` over [{max(1, round(t['rois'] * args.batch))}, 2304, 8, 8]) takes "
        f"{pool['max_axes'] * 1000:.0f} ms of CPU here; `F.adaptive_max_pool2d(x, 1)` gives the same forward "
        f"values and differentiates in {pool['adaptive'] * 1000:.1f} ms "
        f"({pool['max_axes'] / max(pool['adaptive'], 1e-9):.0f}x less; measured in the same run); with "
        f"adaptive_max_pool2d's gradient the RoI head would be {roi_fast / backbone:.3f} of the backbone "
        f"({roi_fast / (roi_fast + backbone):.1%} of the step).", "",
        f"### Evaluation, per keyframe (batch 1, {e['shape'][0]}x{e['shape'][1]} clip, {e['rois']:.1f} proposals "
        f"above the score threshold; median of {args.eval_keyframes} keyframes after a warm-up)", "",
        *_eval_table(model),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=3, help="generated videos (default 3)")
    parser.add_argument("--seconds", type=int, default=24, help="seconds per video (default 24)")
    parser.add_argument("--clips", type=int, default=160, help="training clips per source (default 160)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="processes (default: cores)")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--batch", type=int, default=2, help="clips per training step (default 2)")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps (default 3)")
    parser.add_argument("--eval-keyframes", type=int, default=4, help="timed evaluation keyframes (default 4)")
    parser.add_argument("--cache", default="/tmp/paddlevideo_bench_ava", help="where the generated input is kept")
    parser.add_argument("--docs", default=str(REPO / "docs" / "benchmarks.md"), help="file to update ('' = none)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 tiny videos, 8-frame 64 px clips, 1 step, docs untouched")
    args = parser.parse_args()
    spec = InputSpec(videos=args.videos, seconds=args.seconds)
    if args.quick:
        spec = InputSpec(videos=2, seconds=6, width=160, height=120, bit_rate=200_000)
        args.clips, args.workers, args.batch, args.steps, args.eval_keyframes, args.docs = 4, 1, 1, 1, 1, ""
    started, load_start = time.monotonic(), os.getloadavg()[0]
    print(f"generating/reusing the AVA-like input in {args.cache}/{spec.name} ...", flush=True)
    root, stats = make_input(Path(args.cache), spec)
    print(f"training clips/s, {args.workers} processes:", flush=True)
    ways, failed = working_ways(root, args.backends, args.quick)
    for label, why in failed.items():
        print(f"  {label}: fails ({why})", flush=True)
    pipeline = bench_pipeline(root, ways, args.clips, args.workers, args.quick)
    print("training step and evaluation splits:", flush=True)
    model = bench_model(root, args.batch, args.steps, args.eval_keyframes, args.quick)
    section = table(args, stats, pipeline, failed, model, (load_start, os.getloadavg()[0]),
                    time.monotonic() - started)
    publish("bench_ava", section, args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
