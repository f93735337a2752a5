"""Same clips either way: a video and the frames extracted from it (with our decoder) give the same items.

PNG frames are lossless, so every entry of every item must be equal bit for bit, in training (random rescale,
crop, flip) and test alike. JPEG frames (quality 95) are not: for them the decoded clips must equal the video's
clip after the same JPEG encode and decode, which proves the same source frames were chosen, and the items may
differ by the JPEG error alone (checked: the boxes exactly; the pixels within a mean of 4 grey levels, 3.0 measured
on these sharp-edged 64 px frames).
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from ava_data_helpers import TEST, TRAIN, dataset_kwargs
from paddlevideo_slowfast.data.ava import AVADataset
from paddlevideo_slowfast.data.ava.decode import RawFrameDecode
from paddlevideo_slowfast.data.ava.sampling import SampleAVAFrames


@pytest.mark.parametrize("mode", ["train", "test"])
def test_png_frames_and_video_give_equal_items(ava_data, mode) -> None:
    pipeline = TRAIN if mode == "train" else TEST
    frames = AVADataset(pipeline=pipeline, mode=mode, **dataset_kwargs(ava_data, "png"))
    videos = AVADataset(pipeline=pipeline, mode=mode, **dataset_kwargs(ava_data, "videos"))
    assert [i["img_key"] for i in frames.info] == [i["img_key"] for i in videos.info]
    assert "frame_dir" in frames.info[0] and videos.info[-1]["filename"].endswith("vid_B-2.mkv")
    for index in range(len(frames)):
        a, b = frames[(index, 2)], videos[(index, 2)]
        for k, (x, y) in enumerate(zip(a, b)):
            assert np.array_equal(np.asarray(x), np.asarray(y)), (index, k)


def test_video_decodes_only_the_clip(ava_data) -> None:
    ds = AVADataset(pipeline=TEST, mode="test", **dataset_kwargs(ava_data, "videos"))
    results = ds.pipeline.stages[1](ds.pipeline.stages[0](ds._results(2, 0, 0)))  # vidA at 3 s
    assert results["frame_inds"].tolist() == list(range(83, 99, 2))  # keyframe 91, 4 before it
    assert results["video_frame_inds"].tolist() == list(range(82, 98, 2))  # the same frames, 0-based


def jpeg_round_trip(frames: np.ndarray) -> np.ndarray:
    out = []
    for frame in frames:
        ok, data = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.append(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
    return np.stack(out)


def test_jpeg_frames_are_the_video_frames_through_jpeg(ava_data) -> None:
    frames = AVADataset(pipeline=TEST, mode="test", **dataset_kwargs(ava_data, "jpg"))
    videos = AVADataset(pipeline=TEST, mode="test", **dataset_kwargs(ava_data, "videos"))
    assert frames.info[0]["suffix"] == "img_{:05}.jpg"
    sample, decode = SampleAVAFrames(8, 2), RawFrameDecode()
    for index in range(len(frames)):
        a = decode(sample(frames._results(index, 0, 0)))
        b = decode(sample(videos._results(index, 0, 0)))
        np.testing.assert_array_equal(a["imgs"], jpeg_round_trip(b["imgs"]))
        x, y = frames[index], videos[index]
        for k in range(2, 14):
            assert np.array_equal(np.asarray(x[k]), np.asarray(y[k])), (index, k)
        assert np.abs(x[1] - y[1]).mean() < 4 / 57.12  # grey levels / the smallest std of Normalize
