"""AVA's pipeline stages: frame numbers, decoding, and transforms that move boxes with the frames, checked by hand
and against PaddleVideo's own stages (from the snapshot) on the same random draws. Pure numpy, no Paddle."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo_slowfast.data.ava.decode import RawFrameDecode, read_frame_clip, video_frame_index
from paddlevideo_slowfast.data.ava.sampling import SampleAVAFrames, ava_clip_numbers
from paddlevideo_slowfast.data.ava.transforms import (Flip, Normalize, RandomCrop_v2, RandomRescale, Rescale,
                                                      flip_boxes, has_area, parse_pair, rescaled_size)
from paddlevideo_slowfast.data.pack import PackOutput
from paddlevideo_slowfast.errors import ConfigError, VideoDecodeError


class Draws:
    """Stands in for an item's generator: hands out the given numbers in order, checking each is in range."""

    def __init__(self, *values):
        self.values = list(values)

    def integers(self, low, high=None, size=None):
        value = self.values.pop(0)
        assert np.all(low <= np.asarray(value)) and np.all(np.asarray(value) < high), (value, low, high)
        return value

    def random(self):
        return self.values.pop(0)


def queue(monkeypatch, name, values):
    """numpy.random.<name> returns `values` in order (PaddleVideo's stages draw from NumPy's global state)."""
    values = list(values)
    monkeypatch.setattr(np.random, name, lambda *a, **k: values.pop(0))


def clip(rng_seed=0, frames=4, height=48, width=64):
    rng = np.random.default_rng(rng_seed)
    return {"imgs": rng.integers(0, 256, (frames, height, width, 3), dtype=np.uint8), "img_shape": (height, width),
            "gt_bboxes": np.array([[6.4, 9.6, 32.0, 43.2], [40.0, 4.8, 60.8, 38.4]], np.float32),
            "gt_labels": np.eye(3, dtype=np.float32)[[1, 2]], "entity_ids": np.array([0, 1]),
            "proposals": np.array([[7.0, 9.0, 31.0, 42.0], [55.0, 1.0, 63.0, 9.0], [41.0, 5.0, 60.0, 38.0]],
                                  np.float32),
            "scores": np.array([0.9, 0.3, 0.8], np.float32)}


# ---- SampleAVAFrames --------------------------------------------------------------------------------------------
def test_clip_numbers_centred_on_the_keyframe() -> None:
    results = {"fps": 30, "timestamp": 902, "timestamp_start": 900, "timestamp_end": 1800, "test_mode": True}
    numbers = SampleAVAFrames(32, 2)(dict(results))["frame_inds"]
    assert numbers.tolist() == list(range(29, 93, 2))  # keyframe 61 = 30 * 2 + 1, 16 before it
    assert numbers[16] == 61
    edge = SampleAVAFrames(32, 2)(dict(results, timestamp=900))["frame_inds"]
    assert edge.min() == 1 and edge[16] == 1 and edge[-1] == 31
    end = SampleAVAFrames(32, 2)(dict(results, timestamp=1800))["frame_inds"]
    assert end.max() == 26999  # shot (0, 27000) less one, as PaddleVideo


def test_training_skips_from_the_item_generator() -> None:
    results = {"fps": 30, "timestamp": 905, "timestamp_start": 900, "timestamp_end": 1800,
               "rng": np.random.default_rng(3)}
    numbers = SampleAVAFrames(32, 2)(results)["frame_inds"]
    skips = numbers - (151 - 32 + 2 * np.arange(32))
    assert set(skips.tolist()) <= {-1, 0} and len(set(skips.tolist())) == 2


def test_clip_numbers_match_paddlevideo(pv_ava) -> None:
    theirs = pv_ava.sample.SampleAVAFrames(32, 2)
    skips = np.random.default_rng(0).integers(-1, 1, 32)
    for center, shot in ((61, (0, 27000)), (26941, (0, 27000)), (100, (0, 120))):
        expected = theirs._get_clips(center, skips, shot)
        assert ava_clip_numbers(center, 32, 2, shot, skips).tolist() == expected.tolist()


# ---- RawFrameDecode ---------------------------------------------------------------------------------------------
def test_frames_read_once_clamped_and_named(tmp_path) -> None:
    import cv2

    for number in range(1, 6):
        cv2.imwrite(str(tmp_path / f"img_{number:05d}.png"), np.full((4, 6, 3), number * 10, np.uint8))
    frames = read_frame_clip(str(tmp_path), "img_{:05}.png", np.array([1, 3, 3, 9]), total_frames=5)
    assert frames.shape == (4, 4, 6, 3) and frames[:, 0, 0, 0].tolist() == [10, 30, 30, 50]
    with pytest.raises(VideoDecodeError, match="img_00009.png: no such frame"):
        read_frame_clip(str(tmp_path), "img_{:05}.png", np.array([9]))


def test_decode_puts_boxes_in_pixels(tmp_path) -> None:
    import cv2

    cv2.imwrite(str(tmp_path / "img_00001.png"), np.zeros((40, 80, 3), np.uint8))
    results = RawFrameDecode()({"frame_inds": np.array([1, 1]), "frame_dir": str(tmp_path),
                                "suffix": "img_{:05}.png", "gt_bboxes": np.array([[0.1, 0.25, 0.5, 1.0]]),
                                "proposals": np.array([[0, 0, 1, 1]])})
    assert results["img_shape"] == (40, 80) and results["imgs"].shape == (2, 40, 80, 3)
    assert results["gt_bboxes"].tolist() == [[8.0, 10.0, 40.0, 40.0]] and results["gt_bboxes"].dtype == np.float32
    assert results["proposals"].tolist() == [[0.0, 0.0, 80.0, 40.0]]


def test_video_frame_of_each_number() -> None:
    numbers = np.array([1, 2, 31, 61])
    assert video_frame_index(numbers, 30, 30, 0.0, 1000).tolist() == [0, 1, 30, 60]  # frame k - 1
    assert video_frame_index(numbers, 30, 25, 0.0, 1000).tolist() == [0, 1, 25, 50]  # nearest at 25 fps
    assert video_frame_index(numbers, 30, 30, 900.0, 1000).tolist() == [999] * 4  # a full movie, clamped
    assert video_frame_index(numbers, 30, 30, 1.0, 1000).tolist() == [30, 31, 60, 90]


# ---- transforms -------------------------------------------------------------------------------------------------
def test_rescaled_size_matches_paddlevideo(pv_ava) -> None:
    for height, width in ((48, 64), (64, 48), (360, 640), (101, 77)):
        for scale in ((-1, 256), (340, 256), (64, 64), 0.5, 2.0):
            pv_w, pv_h = pv_ava.aug.rescale_size((width, height), (np.inf, 256) if scale == (-1, 256) else scale)
            assert rescaled_size(height, width, scale) == (pv_h, pv_w), (height, width, scale)


def test_scale_range_is_read_not_evaluated() -> None:
    assert parse_pair("(256,320)", "k") == (256, 320) and parse_pair([-1, 256], "k") == (-1, 256)
    for bad in ("__import__('os').getcwd()", "(1, 2, 3)", "256", ["a", 1]):
        with pytest.raises(ConfigError):
            parse_pair(bad, "RandomRescale.scale_range")


def test_rescales_match_paddlevideo(pv_ava, monkeypatch) -> None:
    ours = Rescale("(-1, 40)")(clip())
    theirs = pv_ava.aug.Rescale("(-1, 40)")(dict(clip(), imgs=list(clip()["imgs"])))
    assert ours["img_shape"] == theirs["img_shape"] == (40, 53)
    np.testing.assert_array_equal(ours["imgs"], np.stack(theirs["imgs"]))
    for key in ("gt_bboxes", "proposals"):
        np.testing.assert_array_equal(ours[key], theirs[key])
    queue(monkeypatch, "randint", [44])
    theirs = pv_ava.aug.RandomRescale("(40,48)")(dict(clip(), imgs=list(clip()["imgs"])))
    ours = RandomRescale("(40,48)")(dict(clip(), rng=Draws(44)))
    assert ours["short_edge"] == theirs["short_edge"] == 44 and ours["img_shape"] == theirs["img_shape"]
    np.testing.assert_array_equal(ours["imgs"], np.stack(theirs["imgs"]))
    np.testing.assert_array_equal(ours["gt_bboxes"], theirs["gt_bboxes"])


def test_crop_and_flip_match_paddlevideo(pv_ava, monkeypatch) -> None:
    """The same pixels and boxes as PaddleVideo's stages, less the proposal the crop leaves without area (which
    PaddleVideo keeps as a zero-width box on the edge)."""
    queue(monkeypatch, "randint", [3, 5])
    queue(monkeypatch, "rand", [0.1])
    theirs = pv_ava.aug.Flip(0.5)(pv_ava.aug.RandomCrop_v2(40)(dict(clip(), imgs=list(clip()["imgs"]))))
    ours = Flip(0.5)(RandomCrop_v2(40)(dict(clip(), rng=Draws(3, 5, 0.1))))
    assert ours["flip"] and theirs["flip"] and ours["img_shape"] == theirs["img_shape"] == (40, 40)
    np.testing.assert_array_equal(ours["imgs"], np.stack(theirs["imgs"]))
    np.testing.assert_array_equal(ours["gt_bboxes"], theirs["gt_bboxes"])
    kept = has_area(theirs["proposals"])
    assert kept.tolist() == [True, False, True]
    np.testing.assert_array_equal(ours["proposals"], theirs["proposals"][kept])
    np.testing.assert_array_equal(ours["scores"], clip()["scores"][[0, 2]])
    assert ours["dropped_proposals"] == 1 and "dropped_gt" not in ours


def test_crop_drops_and_counts_boxes_left_without_area() -> None:
    results = RandomCrop_v2(24)(dict(clip(), rng=Draws(0, 0)))  # window x, y in [0, 24): box 2 and proposal 2 out
    assert results["gt_bboxes"].tolist() == [[6.4000000953674316, 9.600000381469727, 23.0, 23.0]]
    assert results["gt_labels"].tolist() == [[0, 1, 0]] and results["entity_ids"].tolist() == [0]
    assert results["proposals"].tolist() == [[7.0, 9.0, 23.0, 23.0]] and results["scores"].tolist() == [np.float32(0.9)]
    assert results["dropped_gt"] == 1 and results["dropped_proposals"] == 2
    alone = dict(clip(), proposals=np.array([[55.0, 1.0, 63.0, 9.0]], np.float32), scores=np.ones(1, np.float32))
    results = RandomCrop_v2(24)(dict(alone, rng=Draws(24, 0)))
    assert results["proposals"].tolist() == [[0.0, 0.0, 23.0, 23.0]] and results["proposal_fallback"]


def test_every_crop_offset_is_possible() -> None:
    seen = {RandomCrop_v2(46)(dict(clip(), rng=np.random.default_rng(s)))["crop_bbox"][1] for s in range(60)}
    assert seen == {0, 1, 2}


def test_flip_mirrors_boxes_with_the_frames() -> None:
    base = clip()
    flipped = Flip(1.0)(dict(base, rng=Draws(0.0)))
    np.testing.assert_array_equal(flipped["imgs"], base["imgs"][:, :, ::-1])
    assert flipped["gt_bboxes"][0].tolist() == pytest.approx([64 - 32.0 - 1, 9.6, 64 - 6.4 - 1, 43.2])
    twice = flip_boxes(flip_boxes(base["proposals"], 64, 48), 64, 48)
    np.testing.assert_array_equal(twice, base["proposals"])
    kept = Flip(0.5)(dict(base, rng=Draws(0.7)))
    assert not kept["flip"] and kept["imgs"] is base["imgs"]


def test_normalize_and_pack_match_paddlevideo(pv_ava) -> None:
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    base = clip(frames=8)
    ours = PackOutput(4)(Normalize(mean, std)(dict(base)))
    theirs = pv_ava.pack.PackOutput(4)(pv_ava.aug.Normalize(mean, std)(dict(base, imgs=list(base["imgs"]))))
    for a, b in zip(ours["imgs"], theirs["imgs"]):
        assert a.shape == b.shape and a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    for key in ("gt_bboxes", "gt_labels", "entity_ids", "proposals", "scores", "img_shape"):
        np.testing.assert_array_equal(ours[key], base[key])  # PackOutput passes the AVA keys through
    bgr = Normalize(mean, std, to_bgr=True)(dict(base))["imgs"]
    np.testing.assert_allclose(bgr[..., 0], (base["imgs"][..., 2] - mean[0]) / std[0], atol=1e-4)


def test_bad_stage_arguments() -> None:
    with pytest.raises(ConfigError, match="RandomCrop_v2.size"):
        RandomCrop_v2(64)(dict(clip(), rng=Draws()))
    with pytest.raises(ConfigError):
        RandomRescale("(320,256)")
    with pytest.raises(ConfigError):
        Flip(direction="diagonal")
