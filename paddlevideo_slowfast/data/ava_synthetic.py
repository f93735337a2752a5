"""The embedded AVA dataset: generated, seeded videos of 1-3 moving shapes with AVA's annotation files, so action
detection can be trained and evaluated with no download (docs/embedded_ava.md).

Layout under the root (AVA's file formats, written by `data.ava.annotations`):

    dataset.json                              the generation parameters, timing convention and counts
    videos/<video_id>.mp4                     H.264, 30 fps; video_id is train_NNNN or val_NNNN
    rawframes/<video_id>/img_00001.jpg ...    only with `rawframes=True`: frames decoded from the MP4
    annotations/ava_{train,val}.csv           video_id,timestamp,x1,y1,x2,y2,action_id,person_id
    annotations/ava_{train,val}_excluded_timestamps.csv
    annotations/ava_action_list.pbtxt         the action classes (ids 1..9)
    annotations/ava_dense_proposals_{train,val}.pkl   "video_id,%04d" -> [n, 5] person boxes + score

Timestamps follow AVA: a video's first frame is second `TIMESTAMP_START` (900, as in AVA's 15-minute cuts and
PaddleVideo's `timestamp_start`), the keyframe of timestamp t is frame (t - 900) * fps (0-based; rawframe
img_{(t - 900) * fps + 1:05}.jpg), and keyframes sit where the 64-frame clip around them fits.

Video k of a split is drawn from generators seeded by (seed, split, k): its plan, pixels and proposals do not
depend on the other videos or on the number of processes, and the same seed gives the same bytes.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import cv2
import numpy as np

from ..errors import ConfigError
from .ava.annotations import (AVABox, proposal_key, write_annotations, write_excluded, write_label_map,
                              write_proposals)
from .ava_scenes import ACTIONS, Scene, keyframe_offsets, plan_scene, render_scene
from .synthetic import SPLITS, run_jobs, staged_replace
from .video_writer import write_video

FORMAT_VERSION = 1
TIMESTAMP_START = 900
_TAG = 15  # keeps these generators apart from the recognition set's
_STREAMS = {"plan": 0, "pixels": 1, "proposals": 2}
# proposals: ground truth jittered (sigma per side, as a fraction of the box side), some missed, a few false
PROPOSALS = {"jitter": 0.05, "miss": 0.05, "score": [0.9, 1.0], "false_per_keyframe": 0.5,
             "false_score": [0.3, 0.95], "false_side": [0.2, 0.35]}
EXCLUDED_FRACTION = 0.04
# rawframes as close to the decoded video as JPEG gets (mean error 0.4, max 4 grey levels, measured here; 4:2:0 at
# quality 95 errs 2.1 on average and up to 48 on these noisy frames), so both frame sources give near-equal clips
JPEG_PARAMS = (cv2.IMWRITE_JPEG_QUALITY, 100, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)


@dataclass(frozen=True)
class DetectionSpec:
    """What to generate; `dataset.json` stores it (with the derived timing), and a different spec regenerates."""

    seed: int = 0
    size: int = 128
    seconds: int = 7
    fps: int = 30
    train_videos: int = 100
    val_videos: int = 25
    max_actors: int = 3
    rawframes: bool = False
    crf: int = 20
    task: str = "detection"
    classes: Tuple[str, ...] = ACTIONS
    version: int = field(default=FORMAT_VERSION)

    def to_dict(self) -> Dict:
        out = asdict(self)
        out["classes"] = list(self.classes)
        out["frames"] = self.seconds * self.fps
        out["timestamp_start"] = TIMESTAMP_START
        out["timestamp_end"] = TIMESTAMP_START + self.seconds
        out["keyframe_timestamps"] = [TIMESTAMP_START + j for j in keyframe_offsets(self.seconds, self.fps)]
        out["keyframe_frame"] = ("(timestamp - timestamp_start) * fps, 0-based; "
                                 "rawframes/<video_id>/img_{:05}.jpg of it + 1")
        out["proposals"] = dict(PROPOSALS)
        out["excluded_fraction"] = EXCLUDED_FRACTION
        return out


def dataset_files(split: str) -> Dict[str, str]:
    """The annotation files of `split` ("train" or "val"), relative to the root."""
    return {"file_path": f"annotations/ava_{split}.csv",
            "exclude_file": f"annotations/ava_{split}_excluded_timestamps.csv",
            "proposal_file": f"annotations/ava_dense_proposals_{split}.pkl",
            "label_file": "annotations/ava_action_list.pbtxt"}


def video_id(split: str, k: int) -> str:
    """The AVA video id of video k of `split`."""
    return f"{split}_{k:04d}"


def _rng(spec: Dict, split: str, k: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([spec["seed"], _TAG, SPLITS[split], k, _STREAMS[stream]])


def scene_of(spec: Dict, split: str, k: int) -> Scene:
    """The planned scene of video k of `split` under `spec` (a `DetectionSpec.to_dict()`)."""
    return plan_scene(_rng(spec, split, k, "plan"), size=spec["size"], seconds=spec["seconds"], fps=spec["fps"],
                      max_actors=spec["max_actors"])


def scene_boxes(scene: Scene, vid: str) -> List[AVABox]:
    """The annotation rows of a scene: one per actor and action at each keyframe (person_id = actor index)."""
    rows = []
    for i, frame in enumerate(scene.keyframes):
        timestamp = TIMESTAMP_START + frame // scene.fps
        for person, actor in enumerate(scene.actors):
            box = actor.box(frame, scene.size)
            rows.extend(AVABox(vid, timestamp, box, action, person) for action in actor.actions(i))
    return rows


def scene_proposals(scene: Scene, rng: np.random.Generator) -> Dict[int, np.ndarray]:
    """Person proposals per keyframe timestamp, [n, 5] float32 (x1, y1, x2, y2 normalised, score) by falling
    score: each actor's box jittered (or, now and then, missed) and a few lower-scored boxes on no actor."""
    out = {}
    p = PROPOSALS
    for frame in scene.keyframes:
        rows = []
        for actor in scene.actors:
            box = np.array(actor.box(frame, scene.size))
            if rng.random() < p["miss"]:
                continue
            side = np.tile(box[2:] - box[:2], 2)
            rows.append([*(box + rng.normal(0.0, p["jitter"], 4) * side), rng.uniform(*p["score"])])
        for _ in range(int(rng.poisson(p["false_per_keyframe"]))):
            w, h = rng.uniform(*p["false_side"], 2)
            x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
            rows.append([x, y, x + w, y + h, rng.uniform(*p["false_score"])])
        array = np.array(rows, np.float64).reshape(-1, 5)
        array[:, :4] = np.clip(array[:, :4], 0.0, 1.0)
        array = array[np.argsort(-array[:, 4], kind="stable")]
        out[TIMESTAMP_START + frame // scene.fps] = array.astype(np.float32)
    return out


def _excluded(spec: Dict, split: str, keys: List[Tuple[str, int]]) -> List[Tuple[str, int]]:
    """A seeded few of the split's keyframes (at least one when it has two), listed as AVA's excluded timestamps."""
    if len(keys) < 2:
        return []
    rng = np.random.default_rng([spec["seed"], _TAG, SPLITS[split], 1 << 20])
    count = max(1, int(round(EXCLUDED_FRACTION * len(keys))))
    return [keys[i] for i in sorted(rng.choice(len(keys), size=count, replace=False))]


def _write_videos(jobs: List[Tuple[str, int]], spec: Dict, root: str) -> int:
    """Render and encode the videos (split, k) into `root`, and with `spec["rawframes"]` their decoded JPEGs."""
    from .decoders import open_video

    cv2.setNumThreads(1)
    for split, k in jobs:
        vid = video_id(split, k)
        frames = render_scene(scene_of(spec, split, k), _rng(spec, split, k, "pixels"))
        path = write_video(Path(root) / "videos" / f"{vid}.mp4", frames, fps=spec["fps"], crf=spec["crf"],
                           gop=spec["fps"], threads=1)
        if spec["rawframes"]:
            folder = Path(root) / "rawframes" / vid
            folder.mkdir(parents=True, exist_ok=True)
            with open_video(str(path)) as reader:
                decoded = reader.read(np.arange(reader.num_frames))
            for i, rgb in enumerate(decoded):
                cv2.imwrite(str(folder / f"img_{i + 1:05d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            list(JPEG_PARAMS))
    return len(jobs)


def _write_annotations(spec: Dict, root: Path) -> Dict[str, Dict[str, int]]:
    """The CSVs, label map and proposal pickles of both splits; returns per-split counts."""
    notes = root / "annotations"
    notes.mkdir(parents=True, exist_ok=True)
    write_label_map(notes / "ava_action_list.pbtxt", {i + 1: name for i, name in enumerate(spec["classes"])})
    counts = {}
    for split in SPLITS:
        rows: List[AVABox] = []
        proposals: Dict[str, np.ndarray] = {}
        keys: List[Tuple[str, int]] = []
        for k in range(spec[f"{split}_videos"]):
            vid = video_id(split, k)
            scene = scene_of(spec, split, k)
            rows.extend(scene_boxes(scene, vid))
            for timestamp, array in scene_proposals(scene, _rng(spec, split, k, "proposals")).items():
                proposals[proposal_key(vid, timestamp)] = array
                keys.append((vid, timestamp))
        files = dataset_files(split)
        excluded = _excluded(spec, split, keys)
        write_annotations(root / files["file_path"], rows)
        write_excluded(root / files["exclude_file"], excluded)
        write_proposals(root / files["proposal_file"], proposals)
        counts[split] = {"videos": spec[f"{split}_videos"], "keyframes": len(keys), "excluded": len(excluded),
                         "actor_boxes": len({(r.video_id, r.timestamp, r.person_id) for r in rows}),
                         "rows": len(rows), **{f"rows_{name}": sum(r.action_id == i + 1 for r in rows)
                                              for i, name in enumerate(spec["classes"])}}
    return counts


def make_embedded_ava(out: Union[str, Path], *, seed: int = 0, size: int = 128, seconds: int = 7, fps: int = 30,
                      train_videos: int = 100, val_videos: int = 25, max_actors: int = 3, rawframes: bool = False,
                      crf: int = 20, workers: Optional[int] = None, force: bool = False) -> Path:
    """Generate the detection dataset into `out` (a temporary sibling renamed into place); an existing `out` is
    replaced only when it is empty or make-data wrote it, or with `force`."""
    spec = _spec(seed, size, seconds, fps, train_videos, val_videos, max_actors, rawframes, crf)
    stamp = spec.to_dict()

    def fill(staging: Path) -> None:
        jobs = [(split, k) for split in SPLITS for k in range(stamp[f"{split}_videos"])]
        if jobs:
            run_jobs(jobs, stamp, str(staging), workers, write_batch=_write_videos)
        counts = _write_annotations(stamp, staging)
        record = dict(stamp, files={split: dataset_files(split) for split in SPLITS}, counts=counts)
        (staging / "dataset.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    return staged_replace(out, fill, force=force)


def _spec(seed, size, seconds, fps, train_videos, val_videos, max_actors, rawframes, crf) -> DetectionSpec:
    if size < 32 or size % 2:
        raise ConfigError(f"detection frame size {size}", key="size", expected="an even size >= 32")
    if fps < 1 or not keyframe_offsets(int(seconds), int(fps)):
        raise ConfigError(f"{seconds} s at {fps} fps leave no keyframe whose 64-frame clip fits", key="seconds",
                          expected="at least 4 seconds at 30 fps (keyframes from second 2 to seconds - 2)")
    if not 1 <= max_actors <= 3:
        raise ConfigError(f"max_actors {max_actors}", key="max_actors", expected="1, 2 or 3")
    if train_videos < 0 or val_videos < 0:
        raise ConfigError(f"video counts {train_videos}/{val_videos}", key="train_videos",
                          expected="non-negative counts")
    return DetectionSpec(int(seed), int(size), int(seconds), int(fps), int(train_videos), int(val_videos),
                         int(max_actors), bool(rawframes), int(crf))


def ensure_embedded_ava(root: Union[str, Path] = "data/embedded_ava", **options) -> Path:
    """Generate the detection dataset into `root` unless the same one (by `dataset.json`) is already there; a
    folder with annotations but no `dataset.json` is someone's own data and is left alone."""
    known = {"seed", "size", "seconds", "fps", "train_videos", "val_videos", "max_actors", "rawframes", "crf"}
    unknown = sorted(set(options) - known - {"workers"})
    if unknown:
        raise ConfigError(f"unknown embedded AVA option(s) {unknown}", key="DATASET.embedded",
                          expected=", ".join(sorted(known | {"root", "workers"})))
    root = Path(root).expanduser()
    defaults = {k: v for k, v in asdict(DetectionSpec()).items() if k in known}
    spec = _spec(**{**defaults, **{k: v for k, v in options.items() if k in known}})
    stamp = root / "dataset.json"
    if stamp.is_file():
        try:
            found = json.loads(stamp.read_text(encoding="utf-8"))
            if {k: found.get(k) for k in spec.to_dict()} == spec.to_dict():
                return root
        except ValueError:
            pass
    elif (root / "annotations").is_dir():
        return root
    kwargs = {k: getattr(spec, k) for k in known}
    return make_embedded_ava(root, workers=options.get("workers"), **kwargs)

