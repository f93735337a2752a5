"""The embedded dataset: deterministic from its seed, PaddleVideo lists, each class's motion as documented."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.data import ensure_embedded_dataset, make_embedded_dataset, open_video, read_list
from paddlevideo_slowfast.data.synthetic import CLASSES, _motion, flip_label_pairs, render_video
from paddlevideo_slowfast.errors import ConfigError

TINY = dict(size=32, frames=16, train_per_class=2, val_per_class=1)


def files(root: Path):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_videos(tmp_path) -> None:
    one = files(make_embedded_dataset(tmp_path / "a", seed=5, workers=1, **TINY))
    two = files(make_embedded_dataset(tmp_path / "b", seed=5, workers=2, **TINY))   # a process pool: same bytes
    assert one == two
    other = files(make_embedded_dataset(tmp_path / "c", seed=6, workers=1, **TINY))
    assert other["train/left/0000.mp4"] != one["train/left/0000.mp4"]
    assert len([k for k in one if k.endswith(".mp4")]) == 10 * 3


def test_lists_names_and_videos(tmp_path) -> None:
    root = make_embedded_dataset(tmp_path / "d", workers=1, **TINY)
    train = read_list(str(root / "train.list"), str(root))
    assert len(train) == 20 and {label for _, label in train} == set(range(10))
    assert (root / "train.list").read_text().splitlines()[0] == "train/left/0000.mp4 0"
    assert (root / "label_names.txt").read_text().split() == list(CLASSES)
    assert json.loads((root / "dataset.json").read_text())["frames"] == 16
    with open_video(train[-1][0]) as reader:
        assert reader.num_frames == 16 and reader.fps == pytest.approx(30)
        assert reader.read(range(16)).shape == (16, 32, 32, 3)


def test_class_subset_keeps_each_class_video(tmp_path) -> None:
    full = make_embedded_dataset(tmp_path / "full", workers=1, **TINY)
    part = make_embedded_dataset(tmp_path / "part", classes=["blink_fast", "up"], workers=1, **TINY)
    assert (part / "train.list").read_text().splitlines()[0] == "train/blink_fast/0000.mp4 0"
    assert (part / "train/up/0001.mp4").read_bytes() == (full / "train/up/0001.mp4").read_bytes()
    with pytest.raises(ConfigError, match="unknown"):
        make_embedded_dataset(tmp_path / "x", classes=["sideways"], **TINY)


def test_ensure_generates_once_and_respects_other_data(tmp_path) -> None:
    root = tmp_path / "emb"
    ensure_embedded_dataset(root, workers=1, **TINY)
    stamp = (root / "dataset.json").stat().st_mtime_ns
    ensure_embedded_dataset(root, workers=1, **TINY)
    assert (root / "dataset.json").stat().st_mtime_ns == stamp
    ensure_embedded_dataset(root, workers=1, **dict(TINY, frames=12))     # another spec: regenerated
    assert json.loads((root / "dataset.json").read_text())["frames"] == 12
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "train.list").write_text("x.mp4 0\n")
    ensure_embedded_dataset(mine, **TINY)
    assert sorted(p.name for p in mine.iterdir()) == ["train.list"]
    with pytest.raises(ConfigError, match="unknown embedded dataset option"):
        ensure_embedded_dataset(root, colour="red")


def test_each_class_moves_as_documented() -> None:
    def motion(name):
        return _motion(name, np.random.default_rng(0), 48, 64)

    cx, cy, _, _ = motion("left")
    assert np.all(np.diff(cx) < -0.4) and np.ptp(cy) == 0
    cx, _, _, _ = motion("right")
    assert np.all(np.diff(cx) > 0.4)
    _, cy, _, _ = motion("up")
    assert np.all(np.diff(cy) < -0.4)
    _, cy, _, _ = motion("down")
    assert np.all(np.diff(cy) > 0.4)
    assert np.all(np.diff(motion("rotate_cw")[2]) >= 5) and np.all(np.diff(motion("rotate_ccw")[2]) <= -5)
    for name, (low, high) in (("blink_slow", (20, 28)), ("blink_fast", (6, 10))):
        alpha = motion(name)[3]
        changes = np.flatnonzero(np.diff(alpha))
        assert set(np.round(alpha, 3)) == {0.2, 1.0} and low / 2 - 1 <= np.diff(changes).mean() <= high / 2 + 1
    for name, (low, high) in (("drift_slow", (0.15, 0.3)), ("drift_fast", (0.8, 1.1))):
        cx, cy, _, _ = motion(name)
        step = np.hypot(np.diff(cx), np.diff(cy))
        assert low - 1e-9 <= step.mean() <= high + 1e-9 and abs(abs(cx[-1] - cx[0]) - abs(cy[-1] - cy[0])) < 1e-9


def test_render_video_frames() -> None:
    frames = render_video("blink_fast", np.random.default_rng(1), 64, 8)
    assert frames.shape == (8, 64, 64, 3) and frames.dtype == np.uint8
    assert 40 < frames.mean() < 200 and len({f.tobytes() for f in frames}) == 8   # fresh noise in every frame


def test_flip_pairs() -> None:
    assert flip_label_pairs() == [[0, 1], [4, 5]]
    assert flip_label_pairs(["rotate_ccw", "up", "rotate_cw"]) == [[2, 0]]
