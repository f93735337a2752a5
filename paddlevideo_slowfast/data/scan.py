"""Pre-check every video a config's train/valid/test lists name, on all cores, before a long run meets them.

Each video is opened with the configured decoder, its frame count and fps read, and frames decoded under the
usability rule of `sampling` (the same code test and predict read through): a video only the test list names
gets exactly the frames of its test views; any other the first and last frame (a clip may need any). This
catches missing, empty, non-video, truncated, corrupt and undecodable files, and accepts a stream-copied cut
whose container declares more frames than decode (`frames` is what decodes, `declared` what it claims).
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..config import get
from ..errors import VideoDecodeError
from ..registry import PIPELINES
from .datasets import read_list
from .decoders import open_video
from .sampling import DecodeSampler

MODES = ("train", "valid", "test")


@dataclass
class VideoCheck:
    """What scanning one video found: `reason` is empty when it is fine."""

    path: str
    reason: str = ""
    frames: int = 0
    fps: float = 0.0
    declared: int = 0
    modes: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reason


def check_video(path: str, backend: str = "opencv", views: Optional[Tuple[DecodeSampler, int]] = None) -> VideoCheck:
    """Open `path`, read count and fps, decode the frames of its test views (`views`: sampler, count), else the
    first and last frame."""
    result = VideoCheck(path)
    try:
        with open_video(path, backend) as reader:
            result.frames, result.declared, result.fps = reader.num_frames, reader.declared_frames, reader.fps
            if views is not None:
                views[0].read_views(reader, views[1])
            else:
                reader.read_planned(lambda count: np.array([0, count - 1]))
            result.frames = reader.num_frames
    except VideoDecodeError as exc:
        result.reason = exc.reason
    return result


def _check_many(jobs: Sequence[Tuple[str, str, Optional[Tuple[DecodeSampler, int]]]]) -> List[VideoCheck]:
    import cv2

    cv2.setNumThreads(1)
    return [check_video(*job) for job in jobs]


def videos_of(cfg: Mapping[str, Any], modes: Iterable[str] = MODES) -> Dict[str, List[Tuple[str, int]]]:
    """(path, label) per mode for every mode whose DATASET.<mode>.file_path is set."""
    out = {}
    for mode in modes:
        node = get(cfg, f"DATASET.{mode}", None)
        if isinstance(node, Mapping) and node.get("file_path"):
            prefix = node.get("data_prefix")
            prefix = os.path.realpath(prefix) if prefix and os.path.isdir(prefix) else prefix
            out[mode] = read_list(node["file_path"], prefix, key=f"DATASET.{mode}.file_path")
    return out


def _test_views(cfg: Mapping[str, Any]) -> Optional[Tuple[DecodeSampler, int]]:
    sampler_cfg = get(cfg, "PIPELINE.test.decode_sampler", None)
    if not isinstance(sampler_cfg, Mapping) or sampler_cfg.get("name") != "DecodeSampler":
        return None
    sampler = PIPELINES.build(sampler_cfg, where="PIPELINE.test.decode_sampler")
    return sampler, int(get(cfg, "DATASET.test.num_ensemble_views", 1) or 1)


def scan(cfg: Mapping[str, Any], *, modes: Iterable[str] = MODES, backend: Optional[str] = None,
         workers: Optional[int] = None) -> Tuple[Dict[str, List[Tuple[str, int]]], List[VideoCheck]]:
    """Check each distinct video of the lists once, on `workers` processes (default: all cores)."""
    lists = videos_of(cfg, modes)
    backend = backend or get(cfg, "DATASET.backend", None) or "opencv"
    test_views = _test_views(cfg)
    users: Dict[str, List[str]] = {}
    for mode, items in lists.items():
        for path, _ in items:
            seen = users.setdefault(path, [])
            if mode not in seen:
                seen.append(mode)
    # a video only the test list names needs only the span of its views; any other may need any frame
    ordered = [(path, backend, test_views if seen == ["test"] else None) for path, seen in users.items()]
    workers = max(1, min(workers or os.cpu_count() or 1, len(ordered) or 1))
    if workers == 1:
        checks = _check_many(ordered)
    else:
        chunk = max(1, min(64, len(ordered) // (workers * 4)))
        batches = [ordered[i:i + chunk] for i in range(0, len(ordered), chunk)]
        # fresh processes: forking a process whose FFmpeg/OpenCV threads hold locks can deadlock the children
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            checks = [c for part in pool.map(_check_many, batches) for c in part]
    for check in checks:
        check.modes = users[check.path]
    return lists, checks


def write_report(path: str, checks: Sequence[VideoCheck]) -> int:
    """Write the bad videos as TSV (path, modes, reason); returns how many."""
    bad = [c for c in checks if not c.ok]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("path\tmodes\treason\n")
        for check in bad:
            handle.write(f"{check.path}\t{','.join(check.modes)}\t{check.reason}\n")
    return len(bad)


def summary_lines(lists: Mapping[str, Sequence[Tuple[str, int]]], checks: Sequence[VideoCheck]) -> List[str]:
    """A per-mode table (listed, ok, bad) and the commonest reasons."""
    by_path = {c.path: c for c in checks}
    lines = [f"{'mode':<6} {'listed':>8} {'ok':>8} {'bad':>6}"]
    for mode, items in lists.items():
        bad = sum(1 for p, _ in items if not by_path[p].ok)
        lines.append(f"{mode:<6} {len(items):>8} {len(items) - bad:>8} {bad:>6}")
    good = [c for c in checks if c.ok]
    hours = sum(c.frames / c.fps for c in good if c.fps > 0) / 3600
    lines.append(f"distinct videos: {len(checks)}, readable: {len(good)} ({hours:.2f} h), bad: {len(checks) - len(good)}")
    short = sum(1 for c in good if c.frames < c.declared)
    if short:
        lines.append(f"  {short} readable video(s) decode fewer frames than their container declares (stream-copied "
                     "cuts?): clips use the frames that decode")
    reasons: Dict[str, int] = {}
    for check in checks:
        if not check.ok:
            key = check.reason.split(" (")[0][:80]
            reasons[key] = reasons.get(key, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:10]:
        lines.append(f"  {count:>6} x {reason}")
    return lines
