"""Spatial transforms: PaddleVideo's scale/crop/flip/normalise facts, item-seeded randomness, and the fused fast
paths agreeing with the stages they replace."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo_slowfast.data.fused import NormalizePack, ScaleCrop, fuse_stages
from paddlevideo_slowfast.data.pack import PackOutput
from paddlevideo_slowfast.data.rng import item_rng
from paddlevideo_slowfast.data.transforms import (Image2Array, JitterScale, MultiCrop, Normalization, RandomFlip,
                                                  short_side_size, view_crop_offset)
from paddlevideo_slowfast.errors import ConfigError

MEAN, STD = [0.45, 0.45, 0.45], [0.225, 0.225, 0.225]


def smooth_frames(steps: int = 8, height: int = 64, width: int = 96) -> np.ndarray:
    """Low-frequency colour patterns (resampling differences stay small on them)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for t in range(steps):
        channels = [128 + 100 * np.sin(x / 13.0 + t * 0.3 + c) * np.cos(y / 11.0 - c) for c in range(3)]
        frames.append(np.stack(channels, -1))
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def noise_frames(steps: int = 8, height: int = 64, width: int = 96) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (steps, height, width, 3), dtype=np.uint8)


def test_short_side_size_as_paddlevideo() -> None:
    assert short_side_size(256, 340, 288) == (288, 382)     # landscape: width = floor(340 / 256 * 288)
    assert short_side_size(340, 256, 300) == (398, 300)     # portrait
    assert short_side_size(256, 340, 256) == (256, 340)     # already that size: unchanged


def test_jitter_scale_range_and_determinism() -> None:
    stage = JitterScale(min_size=80, max_size=100)
    sides = set()
    for index in range(40):
        out = stage({"imgs": noise_frames(2), "rng": item_rng(0, 0, index)})["imgs"]
        assert 80 <= min(out.shape[1:3]) <= 100 and out.shape[2] == int(out.shape[1] * 96 / 64)
        sides.add(out.shape[1])
    assert len(sides) > 10
    one = stage({"imgs": noise_frames(2), "rng": item_rng(0, 0, 3)})["imgs"]
    two = stage({"imgs": noise_frames(2), "rng": item_rng(0, 0, 3)})["imgs"]
    np.testing.assert_array_equal(one, two)
    frames = noise_frames(2)
    assert JitterScale(64, 64)({"imgs": frames})["imgs"] is frames
    with pytest.raises(ConfigError):
        JitterScale(min_size=300, max_size=256)


def test_short_cycle_lowers_the_scale_and_crop() -> None:
    rng = np.random.default_rng(0)
    scale = JitterScale(min_size=256, max_size=320)
    assert min(scale.size_for({"short_cycle_idx": 0}, rng) for _ in range(300)) < 140   # low end 0.5 * 256
    assert MultiCrop(target_size=224).size_for({"short_cycle_idx": 1}) == 158              # 0.7071 * 224


def test_multi_crop_train_is_a_window_in_bounds() -> None:
    frames = noise_frames(3, 64, 96)
    for index in range(20):
        out = MultiCrop(target_size=48)({"imgs": frames, "rng": item_rng(1, 0, index)})["imgs"]
        assert out.shape == (3, 48, 48, 3)
        hits = [(x, y) for y in range(17) for x in range(49) if np.array_equal(frames[0, y:y + 48, x:x + 48], out[0])]
        assert len(hits) == 1
    assert MultiCrop(target_size=64)({"imgs": noise_frames(2, 64, 64)})["imgs"].shape == (2, 64, 64, 3)
    with pytest.raises(ConfigError, match="larger than"):
        MultiCrop(target_size=80)({"imgs": frames})


def test_multi_crop_test_mode_three_crops_along_the_long_side() -> None:
    assert [view_crop_offset(288, 382, 256, i, 3) for i in range(3)] == [(0, 16), (63, 16), (126, 16)]
    assert [view_crop_offset(398, 300, 256, i, 3) for i in range(3)] == [(22, 0), (22, 71), (22, 142)]
    assert view_crop_offset(288, 382, 256, 0, 1) == (63, 16)      # one crop: the centre
    frames = noise_frames(2, 64, 96)
    crops = [MultiCrop(48, test_mode=True)({"imgs": frames, "spatial_sample_index": i,
                                             "spatial_num_clips": 3})["imgs"] for i in range(3)]
    np.testing.assert_array_equal(crops[0], frames[:, 8:56, 0:48])
    np.testing.assert_array_equal(crops[1], frames[:, 8:56, 24:72])
    np.testing.assert_array_equal(crops[2], frames[:, 8:56, 48:96])


def test_random_flip_and_label_pairs() -> None:
    frames = noise_frames(2)
    flipped = RandomFlip(p=1.0, label_pairs=[[0, 1]])({"imgs": frames, "labels": 0})
    np.testing.assert_array_equal(flipped["imgs"], frames[:, :, ::-1])
    assert flipped["labels"] == 1
    assert RandomFlip(p=1.0, label_pairs=[[0, 1]])({"imgs": frames, "labels": 5})["labels"] == 5
    kept = RandomFlip(p=0.0)({"imgs": frames, "labels": 0})
    assert kept["imgs"] is frames and kept["labels"] == 0
    flips = [RandomFlip()({"imgs": frames, "rng": item_rng(0, 0, i)})["imgs"] is not frames for i in range(200)]
    assert 70 < sum(flips) < 130


def test_image2array_and_normalization() -> None:
    frames = noise_frames(2, 4, 6)
    assert Image2Array(transpose=False)({"imgs": frames})["imgs"].shape == (2, 4, 6, 3)
    assert Image2Array()({"imgs": frames})["imgs"].shape == (2, 3, 4, 6)
    assert Image2Array(data_format="cthw")({"imgs": list(frames)})["imgs"].shape == (3, 2, 4, 6)
    with pytest.raises(ConfigError):
        Image2Array(data_format="hwc")
    array = frames.astype(np.float32)
    out = Normalization(MEAN, STD, tensor_shape=[1, 1, 1, 3])({"imgs": array.copy()})["imgs"]
    np.testing.assert_allclose(out, (array / 255.0 - 0.45) / 0.225, rtol=1e-6)
    raw = Normalization([100, 110, 120], [50, 60, 70], tensor_shape=[1, 1, 1, 3], inplace=True)
    np.testing.assert_allclose(raw({"imgs": array.copy()})["imgs"],
                               (array - np.array([100, 110, 120])) / np.array([50, 60, 70]), rtol=1e-5)


def _stages(test_mode: bool = False):
    return [JitterScale(80, 100) if not test_mode else JitterScale(72, 72),
            MultiCrop(64, test_mode=test_mode), RandomFlip(),
            Image2Array(transpose=False), Normalization(MEAN, STD, tensor_shape=[1, 1, 1, 3]), PackOutput(alpha=4)]


def _run(stages, results):
    for stage in stages:
        results = stage(results)
    return results


def test_fuse_stages_replaces_the_two_runs() -> None:
    fused = fuse_stages(_stages())
    assert [type(s).__name__ for s in fused] == ["ScaleCrop", "NormalizePack"]
    assert fused[1].flip is not None                 # the flip is drawn and applied inside
    test = fuse_stages(_stages(test_mode=True))   # test-mode crops keep JitterScale (run once per window)
    assert [type(s).__name__ for s in test] == ["JitterScale", "MultiCrop", "NormalizePack"]
    transposed = [Image2Array(), Normalization(MEAN, STD), PackOutput(4)]
    assert [type(s).__name__ for s in fuse_stages(transposed)] == ["Image2Array", "Normalization", "PackOutput"]


def test_normalize_pack_equals_the_stages() -> None:
    frames = noise_frames(8, 20, 24)
    stages = [Image2Array(transpose=False), Normalization(MEAN, [0.2, 0.25, 0.3], tensor_shape=[1, 1, 1, 3]),
              PackOutput(alpha=4)]
    slow_ref, fast_ref = _run(stages, {"imgs": frames})["imgs"]
    slow, fast = NormalizePack(*stages)({"imgs": frames[:, 2:18, 3:19]})["imgs"]   # a strided crop view too
    slow_ref2, fast_ref2 = _run(stages, {"imgs": np.ascontiguousarray(frames[:, 2:18, 3:19])})["imgs"]
    np.testing.assert_allclose(fast, fast_ref2, atol=1e-5)
    np.testing.assert_allclose(slow, slow_ref2, atol=1e-5)
    slow, fast = NormalizePack(*stages)({"imgs": frames})["imgs"]
    np.testing.assert_allclose(fast, fast_ref, atol=1e-5)
    assert slow.shape == slow_ref.shape and fast.dtype == np.float32 and fast.flags.c_contiguous


def test_normalize_pack_with_flip_draws_and_mirrors_as_the_stages() -> None:
    frames = noise_frames(8, 20, 24)
    stages = [RandomFlip(label_pairs=[[0, 1]]), Image2Array(transpose=False),
              Normalization(MEAN, STD, tensor_shape=[1, 1, 1, 3]), PackOutput(alpha=4)]
    fused = NormalizePack(*stages[1:], flip=stages[0])
    flipped = 0
    for index in range(8):
        ref = _run(stages, {"imgs": frames, "labels": 0, "rng": item_rng(0, 0, index)})
        got = fused({"imgs": frames, "labels": 0, "rng": item_rng(0, 0, index)})
        np.testing.assert_allclose(got["imgs"][1], ref["imgs"][1], atol=1e-5)
        np.testing.assert_allclose(got["imgs"][0], ref["imgs"][0], atol=1e-5)
        assert got["labels"] == ref["labels"]
        flipped += ref["labels"] == 1
    assert 0 < flipped < 8


def test_scale_crop_draws_the_same_numbers_and_stays_close() -> None:
    frames = smooth_frames()
    stages = _stages()
    for index in range(12):
        reference = _run(stages, {"imgs": frames, "rng": item_rng(0, 0, index)})["imgs"]
        fused = _run(fuse_stages(stages), {"imgs": frames, "rng": item_rng(0, 0, index)})["imgs"]
        for ref, got in zip(reference, fused):
            assert ref.shape == got.shape
            assert np.abs(ref - got).mean() < 0.05      # < 3 grey levels of 255 on average (std 0.225)
    unscaled = [JitterScale(64, 64), MultiCrop(48)]    # no resize: the fused crop is the exact same window
    for index in range(5):
        ref = _run(unscaled, {"imgs": frames, "rng": item_rng(0, 0, index)})["imgs"]
        got = ScaleCrop(*unscaled)({"imgs": frames, "rng": item_rng(0, 0, index)})["imgs"]
        np.testing.assert_array_equal(ref, got)
