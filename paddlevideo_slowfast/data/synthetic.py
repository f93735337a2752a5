"""The embedded dataset: seeded, generated H.264 videos whose class only motion tells (the zero-download default).

Every video shows one shape (triangle, square, pentagon or arrow; 22-32 px across at 64 px; random colour and
orientation) on a static, smoothly textured background with fresh pixel noise in every frame. Shape, colour,
size, position and background are drawn from the same distributions for every class, so one frame says
nothing about the class; only the motion does:

| label | class       | motion                                                                              |
|-------|-------------|-------------------------------------------------------------------------------------|
| 0     | left        | slides left, 0.5-0.8 px/frame                                                        |
| 1     | right       | slides right, 0.5-0.8 px/frame                                                       |
| 2     | up          | slides up, 0.5-0.8 px/frame                                                          |
| 3     | down        | slides down, 0.5-0.8 px/frame                                                        |
| 4     | rotate_cw   | turns clockwise on screen, 5-9 degrees/frame, in place                               |
| 5     | rotate_ccw  | turns anticlockwise, 5-9 degrees/frame, in place                                     |
| 6     | blink_slow  | in place, alternates bright/dim (20% opacity) with a period of 20-28 frames          |
| 7     | blink_fast  | the same with a period of 6-10 frames                                                |
| 8     | drift_slow  | drifts along a random diagonal at 0.15-0.3 px/frame                                  |
| 9     | drift_fast  | drifts along a random diagonal at 0.8-1.1 px/frame                                   |

Speeds scale with the frame size (quoted at 64 px). The speed and rate pairs (blink, drift) and the rotation
pair are where a Slow-only model, seeing a few frames far apart, falls behind SlowFast: a fast blink or a turn
aliases at a large frame stride. A left-right mirror turns left into right and clockwise into anticlockwise
(`FLIP_LABEL_PAIRS`, for RandomFlip's `label_pairs`); the other classes are mirror-invariant.

Layout under the root: `train/<class>/NNNN.mp4`, `val/<class>/NNNN.mp4`, PaddleVideo lists `train.list` and
`val.list` (`train/left/0000.mp4 0`, data_prefix = the root), `label_names.txt` (one name per line) and
`dataset.json` (the generation parameters). Video k of class c in a split is drawn from its own generator
seeded by (seed, c, split, k): the same seed gives the same frames (the same bytes with one encoder thread),
whatever the number of processes.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..errors import ConfigError
from .video_writer import write_video

CLASSES: Tuple[str, ...] = ("left", "right", "up", "down", "rotate_cw", "rotate_ccw", "blink_slow", "blink_fast",
                            "drift_slow", "drift_fast")
FLIP_LABEL_PAIRS: Tuple[Tuple[str, str], ...] = (("left", "right"), ("rotate_cw", "rotate_ccw"))
SPLITS = {"train": 0, "val": 1}
FORMAT_VERSION = 1

SHAPES: Dict[str, np.ndarray] = {
    "triangle": np.array([[math.cos(a), math.sin(a)] for a in np.radians([-90, 30, 150])]),
    "square": np.array([[math.cos(a), math.sin(a)] for a in np.radians([45, 135, 225, 315])]),
    "pentagon": np.array([[math.cos(a), math.sin(a)] for a in np.radians([-90, -18, 54, 126, 198])]),
    "arrow": np.array([[1.0, 0.0], [0.15, 0.75], [0.15, 0.3], [-0.95, 0.3], [-0.95, -0.3], [0.15, -0.3],
                       [0.15, -0.75]]),
}
_DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}


@dataclass(frozen=True)
class EmbeddedSpec:
    """What to generate; `dataset.json` stores it, and a different spec regenerates."""

    seed: int = 0
    classes: Tuple[str, ...] = CLASSES
    size: int = 64
    frames: int = 48
    fps: int = 30
    train_per_class: int = 60
    val_per_class: int = 15
    crf: int = 20
    version: int = field(default=FORMAT_VERSION)

    def to_dict(self) -> Dict:
        out = asdict(self)
        out["classes"] = list(self.classes)
        return out


def flip_label_pairs(classes: Sequence[str] = CLASSES) -> List[List[int]]:
    """Label pairs a mirror swaps, as RandomFlip's `label_pairs`, for the classes present."""
    index = {name: i for i, name in enumerate(classes)}
    return [[index[a], index[b]] for a, b in FLIP_LABEL_PAIRS if a in index and b in index]


def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upsampling of a (g, g, 3) grid to (size, size, 3) in float64 numpy (bit-reproducible, unlike
    SIMD resizes whose rounding can depend on memory alignment)."""
    cells = grid.shape[0]
    pos = np.linspace(0.0, cells - 1.0, size)
    i0 = np.minimum(pos.astype(np.int64), cells - 2)
    f = pos - i0
    rows = grid[i0] * (1 - f)[:, None, None] + grid[i0 + 1] * f[:, None, None]
    return rows[:, i0] * (1 - f)[None, :, None] + rows[:, i0 + 1] * f[None, :, None]


def background_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random colour texture in 40..170 (float32, H x W x 3)."""
    texture = np.zeros((size, size, 3))
    for cells, weight in ((4, 1.0), (7, 0.6), (13, 0.35)):
        texture += weight * _upsample(rng.standard_normal((cells, cells, 3)), size)
    texture -= texture.min()
    texture /= max(float(texture.max()), 1e-6)
    return (40.0 + 130.0 * texture).astype(np.float32)


def bright_colour(rng: np.random.Generator) -> np.ndarray:
    """A bright saturated RGB colour."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(130, 255), rng.uniform(210, 255)]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _motion(name: str, rng: np.random.Generator, frames: int, size: int):
    """Per-frame (centre x, centre y, angle in degrees, opacity) of class `name`."""
    k = size / 64.0
    t = np.arange(frames, dtype=np.float64) - (frames - 1) / 2.0
    middle = (size - 1) / 2.0
    theta0 = rng.uniform(0, 360)
    cx = np.full(frames, middle + rng.uniform(-8, 8) * k)
    cy = np.full(frames, middle + rng.uniform(-8, 8) * k)
    angle = np.full(frames, theta0)
    alpha = np.ones(frames)
    if name in _DIRECTIONS:
        dx, dy = _DIRECTIONS[name]
        speed = rng.uniform(0.5, 0.8) * k
        cx = middle + rng.uniform(-4, 4) * k + dx * speed * t
        cy = middle + rng.uniform(-4, 4) * k + dy * speed * t
    elif name in ("rotate_cw", "rotate_ccw"):
        # image y points down, so a growing angle turns clockwise on screen
        sign = 1.0 if name == "rotate_cw" else -1.0
        angle = theta0 + sign * rng.uniform(5, 9) * t
    elif name in ("blink_slow", "blink_fast"):
        period = rng.uniform(20, 28) if name == "blink_slow" else rng.uniform(6, 10)
        phase = rng.uniform(0, period)
        alpha = np.where(((np.arange(frames) + phase) % period) < period / 2, 1.0, 0.2)
    elif name in ("drift_slow", "drift_fast"):
        speed = (rng.uniform(0.15, 0.3) if name == "drift_slow" else rng.uniform(0.8, 1.1)) * k
        dx, dy = rng.choice([-1.0, 1.0], size=2) / math.sqrt(2)
        cx = middle + rng.uniform(-4, 4) * k + dx * speed * t
        cy = middle + rng.uniform(-4, 4) * k + dy * speed * t
    else:
        raise ConfigError(f"unknown embedded class '{name}'", key="classes", expected=", ".join(CLASSES))
    return cx, cy, angle, alpha


def shape_points(shape: np.ndarray, radius: float, cx: float, cy: float, angle: float) -> np.ndarray:
    """The polygon `shape` (unit vertices) scaled to `radius`, turned by `angle` degrees, centred at (cx, cy)."""
    a = math.radians(angle)
    rotation = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return shape @ rotation.T * radius + (cx, cy)


def fill_polygon(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`mask` (H x W uint8) set to the anti-aliased coverage (0-255) of the polygon `points`, at 1/16 px."""
    mask.fill(0)
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return mask


def paint_shape(frame: np.ndarray, mask: np.ndarray, points: np.ndarray, colour: np.ndarray,
                alpha: float) -> np.ndarray:
    """`frame` (float32 H x W x 3) with the anti-aliased polygon `points` blended in at opacity `alpha`; `mask` is
    an H x W uint8 scratch buffer (left holding the polygon's coverage)."""
    fill_polygon(mask, points)
    cover = (mask.astype(np.float32) * (alpha / 255.0))[..., None]
    return frame + (colour - frame) * cover


@dataclass
class VideoPlan:
    """What one video shows before its pixel noise: background, shape, size, colour and per-frame motion."""

    background: np.ndarray   # (size, size, 3) float32
    shape: np.ndarray        # unit polygon vertices (n, 2)
    radius: float
    colour: np.ndarray
    cx: np.ndarray           # (frames,) centre x, px
    cy: np.ndarray
    angle: np.ndarray        # degrees
    alpha: np.ndarray        # opacity

    def points(self, i: int) -> np.ndarray:
        """The polygon of frame `i` in pixel coordinates."""
        return shape_points(self.shape, self.radius, self.cx[i], self.cy[i], self.angle[i])


def video_plan(name: str, rng: np.random.Generator, size: int = 64, frames: int = 48) -> VideoPlan:
    """The draws of `render_video` before its noise, in its order (so `rng` then holds the noise draw)."""
    background = background_texture(rng, size)
    shape = SHAPES[list(SHAPES)[int(rng.integers(len(SHAPES)))]]
    radius = rng.uniform(22, 32) * size / 64.0 / 2.0
    colour = bright_colour(rng)
    return VideoPlan(background, shape, radius, colour, *_motion(name, rng, frames, size))


def shape_boxes(name: str, rng: np.random.Generator, size: int = 64, frames: int = 48) -> np.ndarray:
    """(frames, 4) float boxes x1, y1, x2, y2 in pixels: the shape's bounding box in each frame of the video
    `render_video(name, rng, size, frames)` draws from a generator in the same state (the frame's own box, also
    where the shape is dim or partly outside the frame)."""
    plan = video_plan(name, rng, size, frames)
    boxes = np.empty((frames, 4))
    for i in range(frames):
        points = plan.points(i)
        boxes[i] = (*points.min(axis=0), *points.max(axis=0))
    return boxes


def render_video(name: str, rng: np.random.Generator, size: int = 64, frames: int = 48) -> np.ndarray:
    """The uint8 RGB frames (frames, size, size, 3) of one video of class `name`."""
    plan = video_plan(name, rng, size, frames)
    background, colour = plan.background, plan.colour
    out = np.empty((frames, size, size, 3), np.uint8)
    mask = np.empty((size, size), np.uint8)
    noise = rng.standard_normal((frames, size, size, 3), dtype=np.float32)
    noise *= 6.0
    for i in range(frames):
        frame = paint_shape(background, mask, plan.points(i), colour, plan.alpha[i])
        frame += noise[i]
        np.clip(frame, 0, 255, out=frame)
        out[i] = frame
    return out


def _video_rng(seed: int, label_in_table: int, split: str, k: int) -> np.random.Generator:
    return np.random.default_rng([seed, label_in_table, SPLITS[split], k])


def embedded_video_boxes(root: Union[str, Path], relative: str) -> np.ndarray:
    """(frames, 4) shape boxes x1, y1, x2, y2 in pixels of the video `relative` (`val/left/0003.mp4`) of the
    embedded dataset at `root`, from its `dataset.json`: the boxes of the frames it was generated with."""
    stamp = Path(root) / "dataset.json"
    try:
        spec = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the embedded dataset's parameters: {exc}", file=str(stamp),
                          expected="a folder written by `paddlevideo make-data`") from None
    parts = Path(relative).parts
    known = len(parts) == 3 and parts[0] in SPLITS and parts[1] in spec["classes"]
    if not known or not Path(parts[2]).stem.isdigit():
        raise ConfigError(f"'{relative}' is not a video of the embedded dataset", file=str(stamp),
                          expected="<train|val>/<class>/NNNN.mp4")
    split, name, k = parts[0], parts[1], int(Path(parts[2]).stem)
    return shape_boxes(name, _video_rng(spec["seed"], CLASSES.index(name), split, k), spec["size"], spec["frames"])


def _write_batch(jobs: List[Tuple[str, str, int, int]], spec: Dict, root: str) -> int:
    """Render and encode a batch of (relative path, class, split code, k) into `root`."""
    cv2.setNumThreads(1)
    for rel, name, split_code, k in jobs:
        split = [s for s, code in SPLITS.items() if code == split_code][0]
        frames = render_video(name, _video_rng(spec["seed"], CLASSES.index(name), split, k), spec["size"],
                              spec["frames"])
        write_video(os.path.join(root, rel), frames, fps=spec["fps"], crf=spec["crf"], threads=1)
    return len(jobs)


def make_embedded_dataset(out: Union[str, Path], *, seed: int = 0, classes: Optional[Sequence[str]] = None,
                          size: int = 64, frames: int = 48, fps: int = 30, train_per_class: int = 60,
                          val_per_class: int = 15, crf: int = 20, workers: Optional[int] = None,
                          force: bool = False) -> Path:
    """Generate the dataset into `out` (written to a temporary sibling, then renamed into place).

    An existing `out` is replaced only when it is empty or was written here (its `dataset.json` is ours), or with
    `force`: a folder of someone's own files is never deleted by mistake."""
    spec = _spec(seed, classes, size, frames, fps, train_per_class, val_per_class, crf)

    def fill(staging: Path) -> None:
        jobs, lists = [], {"train": [], "val": []}
        for label, name in enumerate(spec.classes):
            for split, count in (("train", spec.train_per_class), ("val", spec.val_per_class)):
                for k in range(count):
                    rel = f"{split}/{name}/{k:04d}.mp4"
                    jobs.append((rel, name, SPLITS[split], k))
                    lists[split].append(f"{rel} {label}")
        run_jobs(jobs, spec.to_dict(), str(staging), workers)
        for split, lines in lists.items():
            (staging / f"{split}.list").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (staging / "label_names.txt").write_text("\n".join(spec.classes) + "\n", encoding="utf-8")
        (staging / "dataset.json").write_text(json.dumps(spec.to_dict(), indent=2) + "\n", encoding="utf-8")

    return staged_replace(out, fill, force=force)


def staged_replace(out: Union[str, Path], fill: Callable[[Path], None], *, force: bool = False) -> Path:
    """Run `fill` on a temporary sibling of `out`, then swap it into place; a non-empty `out` that make-data did
    not write (no `dataset.json` of ours) is refused unless `force`, so nobody's own files are deleted by mistake."""
    out = Path(out).expanduser().resolve()
    if not force and (out.exists() or out.is_symlink()) and not _replaceable(out):
        raise ConfigError(f"{out} exists and was not written by make-data: refusing to replace it", key="--out",
                          expected="a new or empty folder, one written by make-data, or --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        fill(staging)
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)
        elif out.exists() or out.is_symlink():
            out.unlink()
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


def _replaceable(folder: Path) -> bool:
    """An empty folder, or one whose `dataset.json` is a spec written by `make_embedded_dataset` (the mark)."""
    if not folder.is_dir() or folder.is_symlink():
        return False
    if not any(folder.iterdir()):
        return True
    try:
        stamp = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stamp, dict) and {"seed", "classes", "size", "frames", "version"} <= set(stamp)


def _spec(seed, classes, size, frames, fps, train_per_class, val_per_class, crf) -> EmbeddedSpec:
    classes = tuple(classes) if classes else CLASSES
    unknown = [c for c in classes if c not in CLASSES]
    if unknown or len(set(classes)) != len(classes):
        raise ConfigError(f"embedded classes {unknown or list(classes)} are unknown or repeated", key="classes",
                          expected=", ".join(CLASSES))
    if size < 16 or size % 2 or frames < 2:
        raise ConfigError(f"embedded size {size} / frames {frames}", key="size",
                          expected="an even size >= 16 and at least 2 frames")
    return EmbeddedSpec(int(seed), classes, int(size), int(frames), int(fps), int(train_per_class),
                        int(val_per_class), int(crf))


def run_jobs(jobs: List, spec: Dict, root: str, workers: Optional[int],
              write_batch: Callable[[List, Dict, str], int] = _write_batch) -> None:
    """`write_batch(batch, spec, root)` over `jobs`, on `workers` spawned processes (a top-level function)."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        write_batch(jobs, spec, root)
        return
    chunk = max(1, len(jobs) // (workers * 8))
    batches = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
    # fresh processes: forking a process whose FFmpeg/OpenCV threads hold locks can deadlock the children
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for future in [pool.submit(write_batch, batch, spec, root) for batch in batches]:
            future.result()


def ensure_embedded_dataset(root: Union[str, Path] = "data/embedded", **options) -> Path:
    """Generate the embedded dataset into `root` unless the same one (by `dataset.json`) is already there.

    A folder with list files but no `dataset.json` is someone's own data and is left alone.
    """
    known = {"seed", "classes", "size", "frames", "fps", "train_per_class", "val_per_class", "crf", "workers"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown embedded dataset option(s) {unknown}", key="DATASET.embedded",
                          expected=", ".join(sorted(known | {"root"})))
    root = Path(root).expanduser()
    spec = _spec(options.get("seed", 0), options.get("classes"), options.get("size", 64), options.get("frames", 48),
                 options.get("fps", 30), options.get("train_per_class", 60), options.get("val_per_class", 15),
                 options.get("crf", 20))
    stamp = root / "dataset.json"
    if stamp.is_file():
        try:
            if json.loads(stamp.read_text(encoding="utf-8")) == spec.to_dict():
                return root
        except ValueError:
            pass
    elif (root / "train.list").is_file():
        return root
    return make_embedded_dataset(root, workers=options.get("workers"), **spec_kwargs(spec))


def spec_kwargs(spec: EmbeddedSpec) -> Dict:
    """`make_embedded_dataset` keyword arguments of a spec."""
    return {k: v for k, v in spec.to_dict().items() if k != "version"}
