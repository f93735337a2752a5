"""SlowFast temporal sampling: window length in source frames, train/test window starts, DecodeSampler output."""
from __future__ import annotations

import numpy as np
import pytest

from video_corpus import BACKENDS
from paddlevideo_slowfast.data.rng import item_rng
from paddlevideo_slowfast.data.sampling import DecodeSampler, clip_indices, clip_span, window_start
from paddlevideo_slowfast.errors import VideoDecodeError


def test_span_is_sampling_rate_frames_apart_at_target_fps() -> None:
    assert clip_span(32, 2, 30.0) == 64.0                   # 4x16: 64 frames of a 30 fps video
    assert clip_span(32, 2, 60.0) == 128.0                  # the same 2.13 s on a 60 fps video
    assert clip_span(32, 2, 25.0, target_fps=30) == pytest.approx(53.333, abs=1e-3)


@pytest.mark.parametrize("num_views, first_frames", [(1, [58]), (3, [19, 58, 96]),
                                                      (10, [5, 17, 29, 40, 52, 63, 75, 87, 98, 110])])
def test_test_windows_are_the_centres_of_equal_shares(num_views, first_frames) -> None:
    """180 frames, 32 x 2 clip (64 frames, slack 116): view i starts at 116 (i + 0.5) / n; one view is the centre
    clip (frames 58..121, not 0..63), and the views are symmetric about the middle of the video."""
    sampler = DecodeSampler(num_frames=32, sampling_rate=2, test_mode=True)
    views = sampler.view_indices(180, 30.0, num_views)
    assert [int(v[0]) for v in views] == first_frames
    assert [int(v[-1]) for v in views] == [f + 63 for f in first_frames]
    centres = [(v[0] + v[-1]) / 2 for v in views]
    assert centres == pytest.approx([179 - c for c in centres[::-1]], abs=1)
    if num_views == 1:
        assert centres[0] == pytest.approx(179 / 2, abs=0.5)


def test_clip_indices_values_and_short_video_repeats_last_frame() -> None:
    index = clip_indices(10.0, 64.0, 32, 300)
    np.testing.assert_array_equal(index, np.linspace(10, 73, 32).astype(np.int64))
    short = clip_indices(window_start(20, 64.0, rng=np.random.default_rng(0)), 64.0, 32, 20)
    assert short[0] == 0 and short.max() == 19 and (np.diff(short) >= 0).all()


def test_train_start_is_uniform_over_the_slack() -> None:
    rng = np.random.default_rng(0)
    starts = np.array([window_start(300, 64.0, rng=rng) for _ in range(2000)])
    assert starts.min() >= 0 and starts.max() <= 236
    assert abs(starts.mean() - 118) < 6


@pytest.mark.parametrize("backend", BACKENDS)
def test_decode_sampler_train_clip(backend, videos, reference) -> None:
    sampler = DecodeSampler(num_frames=8, sampling_rate=2, backend=backend)
    results = sampler({"filename": str(videos["main"]), "rng": item_rng(0, 0, 5)})
    index = results["frame_indices"]
    assert results["imgs"].shape == (8, 64, 96, 3) and results["imgs"].dtype == np.uint8
    assert index[-1] - index[0] == 15 and results["fps"] == pytest.approx(30)
    np.testing.assert_array_equal(results["imgs"], reference["main"][index])
    again = sampler({"filename": str(videos["main"]), "rng": item_rng(0, 0, 5)})
    np.testing.assert_array_equal(again["frame_indices"], index)  # same item generator, same window


def test_decode_sampler_converts_frame_rates(videos) -> None:
    sampler = DecodeSampler(num_frames=8, sampling_rate=2, test_mode=True)
    at60 = sampler({"filename": str(videos["fps60"]), "temporal_sample_index": 0, "temporal_num_clips": 1})
    assert at60["frame_indices"][-1] - at60["frame_indices"][0] == 31  # 16 frames at 30 fps = 32 at 60 fps


def test_test_mode_view_indices_match_per_view_calls(videos) -> None:
    sampler = DecodeSampler(num_frames=8, sampling_rate=2, test_mode=True)
    views = sampler.view_indices(64, 30.0, 4)
    for v, expected in enumerate(views):
        got = sampler.indices(64, 30.0, {"temporal_sample_index": v, "temporal_num_clips": 4})
        np.testing.assert_array_equal(got, expected)
    assert views[0][0] == 6 and views[-1][0] == 42  # delta 48 * (i + 0.5) / 4


def test_short_cycle_draws_the_rate_between_default_and_configured() -> None:
    sampler = DecodeSampler(num_frames=8, sampling_rate=8, default_sampling_rate=2)
    rng = np.random.default_rng(0)
    rates = {sampler.rate_for({"short_cycle_idx": 1}, rng) for _ in range(200)}
    assert rates == set(range(2, 9))
    assert sampler.rate_for({}, rng) == 8


def test_too_short_video_is_refused(videos) -> None:
    with pytest.raises(VideoDecodeError, match="too short: 8 frames"):
        DecodeSampler(num_frames=16, sampling_rate=2, min_frames=16)({"filename": str(videos["short"])})
    clip = DecodeSampler(num_frames=16, sampling_rate=2)({"filename": str(videos["short"])})  # default: repeat
    assert clip["imgs"].shape[0] == 16 and clip["frame_indices"].max() == 7
