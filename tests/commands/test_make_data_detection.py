"""`paddlevideo make-data --task detection`: AVA's files that AVA's readers parse, the same bytes per seed, boxes on
the drawn actors, labels the motion shows, proposals in AVA's pickle layout, clips that fit."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.data import open_video
from paddlevideo_slowfast.data.ava.annotations import (proposal_key, read_annotations, read_excluded,
                                                       read_label_map, read_proposals)
from paddlevideo_slowfast.data.ava_scenes import (ACTIONS, CLIP_AFTER, CLIP_BEFORE, actor_masks, flip_action_pairs,
                                                  keyframe_offsets, plan_scene)
from paddlevideo_slowfast.data.ava_synthetic import (TIMESTAMP_START, ensure_embedded_ava, scene_of, scene_proposals,
                                                     video_id)
from paddlevideo_slowfast.errors import ConfigError

TINY = ["--task", "detection", "--size", "48", "--seconds", "5", "--train-videos", "2", "--val-videos", "1"]


def files(root: Path):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ava") / "tiny"
    assert main(["make-data", *TINY, "--seed", "4", "--rawframes", "--workers", "1", "--out", str(out)]) == 0
    return out


def test_files_parse_with_the_ava_readers(tiny, capsys) -> None:
    notes = tiny / "annotations"
    stamp = json.loads((tiny / "dataset.json").read_text())
    assert stamp["timestamp_start"] == TIMESTAMP_START == 900 and stamp["keyframe_timestamps"] == [902, 903]
    assert read_label_map(notes / "ava_action_list.pbtxt") == {i + 1: name for i, name in enumerate(ACTIONS)}
    for split, count in (("train", 2), ("val", 1)):
        rows = read_annotations(notes / f"ava_{split}.csv")
        assert not rows.problems and rows.records
        assert {r.video_id for r in rows.records} <= {video_id(split, k) for k in range(count)}
        assert {r.timestamp for r in rows.records} == {902, 903}
        proposals = read_proposals(notes / f"ava_dense_proposals_{split}.pkl")
        keys = {proposal_key(video_id(split, k), t) for k in range(count) for t in (902, 903)}
        assert set(proposals) == keys and list(proposals)[0] == f"{split}_0000,0902"
        for array in proposals.values():
            assert array.dtype == np.float32 and array.ndim == 2 and array.shape[1] == 5
            assert np.all((array[:, :4] >= 0) & (array[:, :4] <= 1)) and np.all(np.diff(array[:, 4]) <= 0)
        excluded = read_excluded(notes / f"ava_{split}_excluded_timestamps.csv")
        assert len(excluded) == (1 if 2 * count >= 2 else 0)
        assert excluded <= {(r.video_id, r.timestamp) for r in rows.records}  # listed in the CSV too
        assert stamp["counts"][split]["rows"] == len(rows.records)
    first = (notes / "ava_train.csv").read_text().splitlines()[0].split(",")
    assert first[:2] == ["train_0000", "0902"] and len(first) == 8


def test_same_seed_same_bytes(tiny, tmp_path) -> None:
    again = tmp_path / "again"
    assert main(["make-data", *TINY, "--seed", "4", "--rawframes", "--workers", "2", "--out", str(again)]) == 0
    assert files(again) == files(tiny)
    other = tmp_path / "other"
    assert main(["make-data", *TINY, "--seed", "5", "--workers", "1", "--out", str(other)]) == 0
    assert (other / "annotations/ava_train.csv").read_bytes() != (tiny / "annotations/ava_train.csv").read_bytes()
    assert not (other / "rawframes").exists()


def test_boxes_sit_on_the_drawn_actors_in_the_video_and_the_frames(tiny) -> None:
    spec = json.loads((tiny / "dataset.json").read_text())
    size, fps = spec["size"], spec["fps"]
    boxes = {(r.video_id, r.timestamp, r.person_id): r.box
             for r in read_annotations(tiny / "annotations/ava_train.csv").records}
    checked = 0
    for k in range(2):
        scene, vid = scene_of(spec, "train", k), video_id("train", k)
        with open_video(str(tiny / "videos" / f"{vid}.mp4")) as reader:
            assert reader.num_frames == spec["frames"] == 150
            for t in spec["keyframe_timestamps"]:
                frame = (t - spec["timestamp_start"]) * fps
                decoded = reader.read([frame])[0].astype(np.float32)
                jpeg = cv2.imread(str(tiny / "rawframes" / vid / f"img_{frame + 1:05d}.jpg"))[..., ::-1]
                assert np.abs(jpeg.astype(np.float32) - decoded).max() <= 8
                for person, (actor, mask) in enumerate(zip(scene.actors, actor_masks(scene, frame))):
                    x1, y1, x2, y2 = np.array(boxes[vid, t, person]) * size
                    ys, xs = np.nonzero(mask > 127)
                    # the drawn shape's extent (pixel i spans [i, i + 1) in box units) is the box, to a pixel
                    assert abs((xs.min() + xs.max() + 1) / 2 - (x1 + x2) / 2) < 1
                    assert abs((ys.min() + ys.max() + 1) / 2 - (y1 + y2) / 2) < 1
                    assert x1 - 1 <= xs.min() and xs.max() <= x2 and y1 - 1 <= ys.min() and ys.max() <= y2
                    if actor.alpha[frame] == 1.0:   # the shape's own colour is there, in the video and the JPEG
                        inside = mask > 250
                        assert np.abs(decoded[inside] - actor.colour).mean() < 20
                        assert np.abs(jpeg[inside].astype(np.float32) - actor.colour).mean() < 20
                    checked += 1
    assert checked >= 2


def test_each_keyframe_clip_fits_the_video() -> None:
    assert keyframe_offsets(7, 30) == [2, 3, 4, 5] and keyframe_offsets(4, 30) == [2] and not keyframe_offsets(3, 30)
    for seconds, fps in ((4, 30), (7, 30), (9, 25), (6, 24)):
        for j in keyframe_offsets(seconds, fps):
            # SampleAVAFrames(32, 2): 1-based file indices f-33 .. f+30, f = j * fps + 1, all inside 1..frames - 1
            centre = j * fps + 1
            assert centre - 33 >= 1 and centre + 30 <= seconds * fps - 1
            assert CLIP_BEFORE == 33 and CLIP_AFTER == 31


def test_labels_are_what_the_motion_shows() -> None:
    """Over many scenes: one pose and at most one manner per actor and keyframe, and at least 70% of each
    keyframe's clip frames move, turn or blink as its labels say (and stand still / stay solid otherwise)."""
    poses, manners = set(range(1, 6)), set(range(6, 10))
    seen = set()
    for k in range(40):
        scene = plan_scene(np.random.default_rng([7, k]), size=64, seconds=7)
        assert 1 <= len(scene.actors) <= 3
        for actor in scene.actors:
            vx, vy, turn = np.diff(actor.cx), np.diff(actor.cy), np.diff(actor.angle)
            blinking = np.abs(np.diff(actor.alpha)) > 0
            for i, frame in enumerate(scene.keyframes):
                ids = actor.actions(i)
                seen.update(ids)
                assert len(poses & set(ids)) == 1 and len(manners & set(ids)) <= 1
                clip = slice(frame - CLIP_BEFORE, frame + CLIP_AFTER - 1)
                names = {ACTIONS[a - 1] for a in ids}
                moving = {"move_left": vx[clip] < 0, "move_right": vx[clip] > 0, "move_up": vy[clip] < 0,
                          "move_down": vy[clip] > 0, "stand": (vx[clip] == 0) & (vy[clip] == 0)}
                for pose in names & set(moving):
                    assert moving[pose].mean() >= 0.7, (k, pose)
                if "rotate_cw" in names or "rotate_ccw" in names:
                    sign = 1 if "rotate_cw" in names else -1
                    assert (sign * turn[clip] > 0).mean() >= 0.7
                else:
                    assert (turn[clip] == 0).mean() >= 0.7
                window = blinking[clip]
                if "blink_fast" in names:
                    assert window.sum() >= 8   # period 6-10 frames: a change every 3-5 frames
                elif "blink_slow" in names:
                    assert window.sum() >= 2   # period 20-28 frames
                else:
                    assert window.mean() <= 0.3
    assert seen == set(range(1, 10))
    assert flip_action_pairs() == [[2, 3], [6, 7]]


def test_proposals_are_jittered_ground_truth_with_some_missed_and_some_false() -> None:
    spec = {"seed": 0, "size": 128, "seconds": 7, "fps": 30, "max_actors": 3}
    hits, missed, false_scores, hit_scores = 0, 0, [], []
    for k in range(30):
        scene = scene_of(spec, "train", k)
        proposals = scene_proposals(scene, np.random.default_rng([3, k]))
        for frame in scene.keyframes:
            array = proposals[TIMESTAMP_START + frame // 30]
            truth = np.array([actor.box(frame, 128) for actor in scene.actors])
            iou = _iou(array[:, :4], truth)
            for j in range(len(truth)):
                if (iou[:, j] >= 0.5).any():
                    hits += 1
                else:
                    missed += 1
            for row, best in zip(array, iou.max(axis=1)):
                (hit_scores if best >= 0.5 else false_scores).append(row[4])
    assert 0.85 <= hits / (hits + missed) < 1.0 and false_scores
    assert np.mean(np.array(hit_scores) >= 0.9) > 0.95 and np.mean(false_scores) < 0.7  # a false box may land on one


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def test_refusals(tmp_path, capsys) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    assert main(["make-data", *TINY, "--workers", "1", "--out", str(mine)]) == 2
    assert "was not written by make-data" in capsys.readouterr().err and (mine / "notes.txt").is_file()
    assert main(["make-data", *TINY, "--frames", "8", "--out", str(tmp_path / "x")]) == 2
    assert "--frames: only with --task recognition" in capsys.readouterr().err
    assert main(["make-data", "--rawframes", "--out", str(tmp_path / "y")]) == 2
    assert main(["make-data", *TINY, "--seconds", "3", "--out", str(tmp_path / "z")]) == 2
    assert not any(tmp_path.glob("[xyz]"))
    assert main(["make-data", *TINY, "--workers", "1", "--force", "--out", str(mine)]) == 0
    assert not (mine / "notes.txt").exists() and (mine / "annotations/ava_val.csv").is_file()


def test_ensure_generates_once_and_leaves_other_data_alone(tmp_path) -> None:
    options = dict(size=32, seconds=4, train_videos=1, val_videos=1, workers=1)
    root = ensure_embedded_ava(tmp_path / "emb", **options)
    stamp = (root / "dataset.json").stat().st_mtime_ns
    assert ensure_embedded_ava(root, **options) == root and (root / "dataset.json").stat().st_mtime_ns == stamp
    ensure_embedded_ava(root, **dict(options, seed=1))
    assert json.loads((root / "dataset.json").read_text())["seed"] == 1
    theirs = tmp_path / "theirs"
    (theirs / "annotations").mkdir(parents=True)
    assert ensure_embedded_ava(theirs, **options) == theirs and not (theirs / "dataset.json").exists()
    with pytest.raises(ConfigError, match="unknown"):
        ensure_embedded_ava(root, frames=8)
    counts = defaultdict(int)
    for row in read_annotations(root / "annotations/ava_train.csv").records:
        counts[row.timestamp] += 1
    assert set(counts) == {902}


def test_a_config_asks_for_the_detection_dataset_through_dataset_embedded(tmp_path) -> None:
    from paddlevideo_slowfast.data.loader import ensure_embedded
    from paddlevideo_slowfast.errors import ConfigError

    root = tmp_path / "ava"
    ensure_embedded({"task": "detection", "root": str(root), "size": 64, "seconds": 4, "train_videos": 1,
                     "val_videos": 1, "max_actors": 1})
    assert (root / "dataset.json").is_file() and (root / "annotations" / "ava_val.csv").is_file()
    with pytest.raises(ConfigError, match="DATASET.embedded.task"):
        ensure_embedded({"task": "segmentation", "root": str(root)})
