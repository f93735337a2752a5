"""Decode-once multi-view test gives exactly the views of per-view decoding, with one open and one pass."""
from __future__ import annotations

import numpy as np
import pytest

from video_corpus import BACKENDS
from paddlevideo_slowfast.data import build_pipeline, decode_once_views, per_view_views
from paddlevideo_slowfast.data import multiview, sampling
from paddlevideo_slowfast.errors import ConfigError

TEST_PIPELINE = {
    "decode_sampler": {"name": "DecodeSampler", "num_frames": 8, "sampling_rate": 2, "test_mode": True},
    "transform": [{"JitterScale": {"min_size": 72, "max_size": 72}},
                  {"MultiCrop": {"target_size": 64, "test_mode": True}},
                  {"Image2Array": {"transpose": False}},
                  {"Normalization": {"mean": [0.45] * 3, "std": [0.225] * 3, "tensor_shape": [1, 1, 1, 3]}},
                  {"PackOutput": {"alpha": 4}}],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("video", ["main", "portrait"])
def test_decode_once_equals_per_view(backend, video, videos, monkeypatch) -> None:
    pipeline = build_pipeline(dict(TEST_PIPELINE, decode_sampler=dict(TEST_PIPELINE["decode_sampler"],
                                                                      backend=backend)))
    opened = []
    real_open = sampling.open_video

    def counting_open(*args, **kwargs):
        opened.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(multiview, "open_video", counting_open)
    monkeypatch.setattr(sampling, "open_video", counting_open)
    results = {"filename": str(videos[video]), "labels": 1}
    slow, fast = decode_once_views(pipeline, results, num_views=4, num_crops=3)
    assert len(opened) == 1
    ref_slow, ref_fast = per_view_views(pipeline, results, num_views=4, num_crops=3)
    assert len(opened) == 1 + 12
    assert fast.shape == (12, 3, 8, 64, 64) and slow.shape == (12, 3, 2, 64, 64)
    np.testing.assert_array_equal(fast, ref_fast)
    np.testing.assert_array_equal(slow, ref_slow)
    # the views really differ: temporal windows and crops are not all the same clip
    assert len({fast[v].tobytes() for v in range(12)}) == 12


def test_views_are_temporal_major(videos) -> None:
    pipeline = build_pipeline(TEST_PIPELINE)
    results = {"filename": str(videos["main"]), "labels": 0}
    _, fast = decode_once_views(pipeline, results, num_views=2, num_crops=3)
    view = pipeline(dict(results, temporal_sample_index=1, temporal_num_clips=2, spatial_sample_index=0,
                         spatial_num_clips=3))
    np.testing.assert_array_equal(fast[3], view["imgs"][1])   # view t * crops + s


def test_decode_once_needs_a_test_mode_sampler(videos) -> None:
    train = build_pipeline(dict(TEST_PIPELINE, decode_sampler={"name": "DecodeSampler", "num_frames": 8,
                                                               "sampling_rate": 2}))
    with pytest.raises(ConfigError, match="test_mode"):
        decode_once_views(train, {"filename": str(videos["main"])}, 2, 3)
