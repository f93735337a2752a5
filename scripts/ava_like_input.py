"""AVA-like input for scripts/bench_ava.py: videos standing for AVA's 15-minute cuts, their rawframes, and AVA's
annotation files, generated once per spec and cached.

Under `<cache>/<spec.name>/`: `videos_15min/<id>.mp4` (H.264, a keyframe every 250 frames as x264's default
interval, which ffmpeg's cuts keep), `videos_gop32/<id>.mp4` (the same frames with one every 32),
`rawframes/<id>/img_{:05}.jpg` (the decoded frames as JPEG, PaddleVideo's layout; quality 98, near the `-q:v 1` of
the extraction scripts AVA users run), and `annotations/` (annotation CSV, excluded timestamps, label map, proposal
pickle, written by data/ava/annotations.py). Each video is a panning textured scene with 2-3 textured person-sized
actors walking or standing; its first frame is second 900, as in the cuts. `stats.json` is written last.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paddlevideo_slowfast.data.ava.annotations import (AVABox, proposal_key, write_annotations,  # noqa: E402
                                                       write_excluded, write_label_map, write_proposals)
from paddlevideo_slowfast.data.decoders import open_video  # noqa: E402
from paddlevideo_slowfast.data.video_writer import write_video  # noqa: E402

from bench_data import _texture  # noqa: E402  (scripts/ is on sys.path when run)

CUT_START = 900            # AVA's 15-minute cuts start at second 900 of the movie
GOP = 250                  # x264's default keyint, which the ffmpeg cuts keep
SHORT_GOP = 32             # a re-encode that seeks at most 31 frames before a clip
FOLDERS = {"frames": "rawframes", "video": "videos_15min", "short_gop": f"videos_gop{SHORT_GOP}"}
LABELS = {11: "sit", 12: "stand", 14: "walk", 17: "carry/hold (an object)", 74: "listen to (a person)",
          79: "talk to (e.g., self, a person, a group)", 80: "watch (a person)"}


@dataclass(frozen=True)
class InputSpec:
    """What to generate; its `name` keys the cache."""

    videos: int = 3
    seconds: int = 24
    width: int = 480
    height: int = 360
    fps: int = 30
    bit_rate: int = 800_000
    jpeg_quality: int = 98

    @property
    def name(self) -> str:
        return (f"ava_like_{self.videos}x{self.seconds}s_{self.width}x{self.height}_{self.fps}fps_"
                f"{self.bit_rate // 1000}k_q{self.jpeg_quality}")

    def timestamps(self) -> List[int]:
        """Keyframe seconds whose 64-frame clip lies inside the video, as AVA's 902..1798 do in the cut."""
        return list(range(CUT_START + 2, CUT_START + self.seconds - 1))


class Scene:
    """A panning textured background with 2-3 textured person-sized actors walking or standing; boxes known."""

    def __init__(self, seed: int, spec: InputSpec):
        rng = np.random.default_rng([seed, 15])
        self.spec, self.rng = spec, rng
        w, h = spec.width, spec.height
        self.background = _texture(rng, h + 80, w + 160)
        count = 2 + seed % 2
        self.actors = []
        for k in range(count):
            aw, ah = int(w * rng.uniform(0.12, 0.2)), int(h * rng.uniform(0.45, 0.8))
            self.actors.append(dict(
                patch=_texture(rng, ah, aw), bottom=int(h * rng.uniform(0.85, 0.98)),
                centre=w * (0.15 + 0.7 * (k + 0.5) / count), amplitude=w * rng.uniform(0.0, 0.15),
                period=rng.uniform(6, 12) * spec.fps, phase=rng.uniform(0, 2 * np.pi),
                extra=[a for a in (17, 74, 79, 80) if rng.random() < 0.4]))

    def _origin(self, actor: Dict[str, Any], i: int) -> Tuple[int, int]:
        """Top-left pixel of `actor` in frame `i` (0-based), before clipping to the frame."""
        cx = actor["centre"] + actor["amplitude"] * np.sin(2 * np.pi * i / actor["period"] + actor["phase"])
        return int(round(cx - actor["patch"].shape[1] / 2)), actor["bottom"] - actor["patch"].shape[0]

    def box(self, actor: Dict[str, Any], i: int) -> Tuple[int, int, int, int]:
        """Pixel box (x1, y1, x2, y2) of `actor` in frame `i`, clipped to the frame."""
        x, y = self._origin(actor, i)
        ah, aw = actor["patch"].shape[:2]
        return max(0, x), max(0, y), min(self.spec.width, x + aw), min(self.spec.height, y + ah)

    def frames(self) -> Iterator[np.ndarray]:
        import cv2

        w, h = self.spec.width, self.spec.height
        noise = np.random.default_rng(self.rng.integers(1 << 31))
        for i in range(self.spec.seconds * self.spec.fps):
            x, y = int(80 + 80 * np.sin(i / 90)), int(40 + 40 * np.cos(i / 120))  # the camera pans
            frame = self.background[y:y + h, x:x + w].copy()
            for actor in self.actors:
                x1, y1, x2, y2 = self.box(actor, i)
                ox, oy = self._origin(actor, i)
                frame[y1:y2, x1:x2] = actor["patch"][y1 - oy:y2 - oy, x1 - ox:x2 - ox]
            yield cv2.add(frame, noise.integers(0, 6, frame.shape, dtype=np.uint8))

    def actions(self, actor: Dict[str, Any], i: int) -> List[int]:
        """Walk when the actor moves faster than 5% of the frame width a second, else stand; plus its extras."""
        speed = abs(actor["amplitude"] * 2 * np.pi / actor["period"] *
                    np.cos(2 * np.pi * i / actor["period"] + actor["phase"])) * self.spec.fps
        return [14 if speed > 0.05 * self.spec.width else 12] + actor["extra"]


def _annotate(scene: Scene, seed: int, video_id: str, spec: InputSpec, rows: List[AVABox],
              proposals: Dict[str, np.ndarray]) -> None:
    """Ground-truth rows and proposals (jittered boxes scoring 0.9-1, a few missed, false ones scoring lower)."""
    rng = np.random.default_rng([seed, 7])
    scale = np.array([spec.width, spec.height] * 2, np.float64)
    for t in spec.timestamps():
        i = (t - CUT_START) * spec.fps
        found = []
        for person, actor in enumerate(scene.actors):
            box = np.array(scene.box(actor, i), np.float64) / scale
            rows.extend(AVABox(video_id, t, tuple(box.tolist()), a, person) for a in scene.actions(actor, i))
            if rng.random() > 0.05:
                side = np.array([box[2] - box[0], box[3] - box[1]] * 2)
                found.append([*np.clip(box + rng.normal(0, 0.03, 4) * side, 0, 1), rng.uniform(0.9, 1.0)])
        if rng.random() < 0.5:
            x, y = rng.uniform(0, 0.8, 2)
            found.append([x, y, x + 0.15, min(1.0, y + 0.4), rng.uniform(0.3, 0.95)])
        proposals[proposal_key(video_id, t)] = np.array(found, np.float64).reshape(-1, 5)


def _extract_frames(video: Path, folder: Path, quality: int) -> int:
    """The video's frames as rawframes JPEGs img_00001.jpg ...; returns their bytes."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    with open_video(str(video)) as reader:
        total = reader.num_frames
        for start in range(0, total, 150):
            for k, frame in enumerate(reader.read(range(start, min(total, start + 150)))):
                cv2.imwrite(str(folder / f"img_{start + k + 1:05d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    return sum(p.stat().st_size for p in folder.iterdir())


def make_input(cache: Path, spec: InputSpec) -> Tuple[Path, Dict[str, Any]]:
    """The generated input under cache/spec.name (kept across runs; `stats.json` is written last)."""
    root = cache / spec.name
    stats_file = root / "stats.json"
    if stats_file.is_file():
        return root, json.loads(stats_file.read_text())
    rows: List[AVABox] = []
    proposals: Dict[str, np.ndarray] = {}
    video_bytes = jpeg_bytes = 0
    excluded = []
    for k in range(spec.videos):
        video_id = f"ava_like_{k:02d}"
        scene = Scene(k, spec)
        path = write_video(root / FOLDERS["video"] / f"{video_id}.mp4", scene.frames(), fps=spec.fps,
                           bit_rate=spec.bit_rate, preset="medium", gop=GOP)
        write_video(root / FOLDERS["short_gop"] / f"{video_id}.mp4", Scene(k, spec).frames(), fps=spec.fps,
                    bit_rate=spec.bit_rate, preset="medium", gop=SHORT_GOP)
        video_bytes += path.stat().st_size
        jpeg_bytes += _extract_frames(path, root / FOLDERS["frames"] / video_id, spec.jpeg_quality)
        _annotate(scene, k, video_id, spec, rows, proposals)
        excluded.append((video_id, spec.timestamps()[len(spec.timestamps()) // 2]))
    ann = root / "annotations"
    write_annotations(ann / "ava_train.csv", rows)
    write_excluded(ann / "ava_train_excluded_timestamps.csv", excluded)
    write_label_map(ann / "ava_action_list.pbtxt", LABELS)
    write_proposals(ann / "ava_dense_proposals_train.pkl", proposals)
    seconds = spec.videos * spec.seconds
    stats = dict(spec=asdict(spec), rows=len(rows), keyframes=len(proposals) - len(excluded),
                 video_kb_s=video_bytes / 1024 / seconds, jpeg_kb_s=jpeg_bytes / 1024 / seconds)
    stats_file.write_text(json.dumps(stats, indent=1))
    return root, stats
