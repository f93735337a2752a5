"""AVADataset: PaddleVideo's keyframes and 14-entry items (checked against its own dataset from the snapshot), and
bad input that is skipped, counted and named, never silently lost."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from ava_data_helpers import TEST, TRAIN, dataset_kwargs
from paddlevideo_slowfast.data.ava import AVADataset
from paddlevideo_slowfast.errors import ConfigError


def test_items_are_paddlevideo_lists(ava_data) -> None:
    ds = AVADataset(pipeline=TRAIN, mode="train", **dataset_kwargs(ava_data, "png"))
    assert len(ds) == 8 and [i["img_key"] for i in ds.info][:3] == ["vidA,0001", "vidA,0002", "vidA,0003"]
    item = ds[(1, 0)]  # vidA at 2 s: two people, one doing two actions
    assert len(item) == 14
    slow, fast, proposals, gt, labels, scores, persons, shape, idx, *lengths = item
    assert slow.shape == (3, 2, 32, 32) and fast.shape == (3, 8, 32, 32) and fast.dtype == np.float32
    assert proposals.shape == gt.shape == (128, 4) and labels.shape == (128, 81) and scores.shape == (128,)
    assert all(a.dtype == np.float32 for a in (proposals, gt, labels, scores, persons))
    assert shape.tolist() == [32, 32] and shape.dtype == np.int64 and idx == 1
    assert lengths[1] == lengths[2] == lengths[4] and lengths[0] == lengths[3]
    assert not proposals[lengths[0]:].any() and not labels[lengths[2]:].any()
    if lengths[1] == 2:  # neither person cropped away
        assert sorted(np.flatnonzero(labels[0]).tolist() + np.flatnonzero(labels[1]).tolist()) == [12, 17, 80]
    again = ds[(1, 0)]
    assert all(np.array_equal(a, b) for a, b in zip(item, again))  # (seed, epoch, index) fixes the draws
    assert any(not np.array_equal(a, b) for a, b in zip(item, ds[(1, 1)]))


def test_keyframes_and_items_equal_paddlevideo(ava_data, pv_ava, monkeypatch) -> None:
    """PaddleVideo's AVADataset over the same files (pickle read by it, proposals kept by its rule) and its
    test-time stages with no random skip: the same keyframes, boxes, labels, clips and padding."""
    monkeypatch.setattr(np, "int", int, raising=False)  # its SampleAVAFrames names np.int, gone in NumPy 2
    size = lambda *a, **k: np.zeros(k.get("size") or a[2], np.int64)  # noqa: E731 (its skips, drawn as zeros)
    monkeypatch.setattr(np.random, "randint", size)
    aug, sample, pack = pv_ava.aug, pv_ava.sample, pv_ava.pack
    mean, std = TEST["transform"][1]["Normalize"]["mean"], TEST["transform"][1]["Normalize"]["std"]
    stages = [sample.SampleAVAFrames(8, 2), sample.RawFrameDecode(), aug.Rescale("(-1, 40)"),
              aug.Normalize(mean, std), pack.PackOutput(4)]

    def pipeline(results):
        for stage in stages:
            results = stage(results)
        return results

    kwargs = dataset_kwargs(ava_data, "png")
    theirs = pv_ava.dataset.AVADataset(pipeline, file_path=kwargs["file_path"], exclude_file=kwargs["exclude_file"],
                                       label_file=kwargs["label_file"], suffix="img_{:05}.png",
                                       proposal_file=kwargs["proposal_file"], person_det_score_thr=0.5,
                                       data_prefix=kwargs["data_prefix"], timestamp_start=0, timestamp_end=6)
    ours = AVADataset(pipeline=TEST, mode="valid", test_mode=True, **kwargs)
    assert [(i["video_id"], i["timestamp"]) for i in ours.info] == \
           [(i["video_id"], i["timestamp"]) for i in theirs.info]
    for index, (mine, pv) in enumerate(zip(ours.info, theirs.info)):
        np.testing.assert_array_equal(mine["gt_bboxes"], pv["ann"]["gt_bboxes"])
        np.testing.assert_array_equal(mine["gt_labels"], pv["ann"]["gt_labels"])
        np.testing.assert_array_equal(mine["entity_ids"], pv["ann"]["entity_ids"])
        a, b = ours[index], theirs[index]
        for k in (0, 1):
            np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-5)
        for k in range(2, 14):
            np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]).astype(np.asarray(a[k]).dtype))


def test_proposal_rules_are_recorded(ava_data) -> None:
    ds = AVADataset(pipeline=TEST, mode="test", **dataset_kwargs(ava_data, "png"))
    assert ds.no_proposal_keyframes == ["vidA,0005"]  # absent: the whole frame stands in
    assert ds.below_threshold_keyframes == ["vidA,0004"]  # only 0.4 and 0.2 < 0.5: the best one kept
    by_key = {info["img_key"]: info for info in ds.info}
    assert by_key["vidA,0005"]["proposals"].tolist() == [[0, 0, 1, 1]]
    assert by_key["vidA,0004"]["scores"].tolist() == [np.float32(0.4)]
    assert by_key["vidA,0001"]["scores"].tolist() == [np.float32(0.98), np.float32(0.9)]
    assert "vid_B-2,0004" not in by_key and ds.skipped["keyframes_excluded"] == 1
    skip = AVADataset(pipeline=TEST, mode="test", no_proposal="skip", **dataset_kwargs(ava_data, "png"))
    assert len(skip) == len(ds) - 2 and skip.skipped["keyframes_without_proposal"] == 2


def test_bad_lines_missing_videos_and_out_of_range_timestamps(ava_data, tmp_path, caplog) -> None:
    csv = tmp_path / "train.csv"
    csv.write_text(Path(dataset_kwargs(ava_data, "png")["file_path"]).read_text()
                   + "vidA,0003,0.1,0.2,0.5\n"              # wrong column count
                   + "vidA,0003,0.1,0.2,1.5,0.9,12,0\n"     # box outside [0, 1]
                   + "vidA,0003,0.1,0.2,0.5,0.9,99,0\n"     # no such action column
                   + "vidA,0007,0.1,0.2,0.5,0.9,12,0\n"     # after timestamp_end
                   + "ghost,0002,0.1,0.2,0.5,0.9,12,0\n"    # no frames, no video
                   + "ghost,0003,0.1,0.2,0.5,0.9,12,0\n")
    with caplog.at_level(logging.INFO, logger="paddlevideo_slowfast.data"):
        ds = AVADataset(pipeline=TEST, mode="test", **dataset_kwargs(ava_data, "png", file_path=str(csv)))
    assert len(ds) == 8
    assert [p.split(": ")[0] for p in ds.problems] == [f"{csv}:{n}" for n in (12, 13, 14)]
    assert ds.missing_videos == [("ghost", f"no frame folder {ava_data['png'] / 'ghost'}; no video "
                                  f"{ava_data['png'] / 'ghost'}.{{mp4,mkv,webm,avi,mov,m4v}}", 2)]
    assert ds.skipped["keyframes_outside_timestamps"] == 1 and ds.skipped["keyframes_missing_video"] == 2
    assert ds.skipped["bad_csv_lines"] == 2 and ds.skipped["action_out_of_range_rows"] == 1
    logged = caplog.text
    assert f"{csv}:12" in logged and "skipped video ghost (2 keyframes)" in logged
    assert "keyframes_outside_timestamps 1" in logged


def test_unreadable_frames_at_run_time(ava_data, tmp_path) -> None:
    frames = tmp_path / "frames"
    shutil.copytree(ava_data["png"], frames)
    (frames / "vidA" / "img_00061.png").unlink()  # the keyframe of vidA at 2 s
    kwargs = dataset_kwargs(ava_data, "png", data_prefix=str(frames))
    test = AVADataset(pipeline=TEST, mode="test", **kwargs)
    item = test[1]
    assert item[9:] == [0, 0, 0, 0, 0] and not item[2].any() and item[0].shape[1:] == (2, 40, 53)
    assert test.unscored == [1] and test.bad_videos == [(str(frames / "vidA" / "img_00061.png"), "no such frame")]
    train = AVADataset(pipeline=TRAIN, mode="train", **kwargs)
    item = train[(1, 0)]
    assert item[8] != 1 and train.substitutions == 1 and len(item) == 14


def test_custom_classes_and_config_checks(ava_data) -> None:
    ds = AVADataset(pipeline=TEST, mode="test", custom_classes=[17, 80], **dataset_kwargs(ava_data, "png"))
    assert ds.num_classes == 3 and [i["img_key"] for i in ds.info] == ["vidA,0002"]
    assert ds.info[0]["gt_labels"].tolist() == [[0, 0, 1], [0, 1, 0]]  # 80 -> column 2, 17 -> column 1
    assert ds.skipped["rows_not_in_custom_classes"] == 9
    with pytest.raises(ConfigError, match="num_classes.*custom_classes"):
        AVADataset(pipeline=TEST, mode="test", custom_classes=[17, 80], num_classes=81,
                   **dataset_kwargs(ava_data, "png"))
    with pytest.raises(ConfigError, match="person_det_score_thr"):
        AVADataset(pipeline=TEST, mode="test", **dataset_kwargs(ava_data, "png", person_det_score_thr=1.5))
    with pytest.raises(ConfigError, match="source"):
        AVADataset(pipeline=TEST, mode="test", source="http", **dataset_kwargs(ava_data, "png"))


def test_padding_length_caps_proposals(ava_data) -> None:
    ds = AVADataset(pipeline=TEST, mode="test", padding_len=1, **dataset_kwargs(ava_data, "png"))
    assert ds.skipped["keyframes_proposals_capped"] == 3 and ds.skipped["keyframes_gt_capped"] == 1
    item = ds[0]
    assert item[2].shape == (1, 4) and item[5].tolist() == [np.float32(0.98)]
