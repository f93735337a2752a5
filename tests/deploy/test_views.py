"""Prediction inputs: view parsing, timeline windows (coverage, clips inside windows, one decode per frame),
and which files a --video argument names."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo_slowfast.data.sampling import DecodeSampler
from paddlevideo_slowfast.deploy import views as views_module
from paddlevideo_slowfast.deploy.inputs import expand_videos
from paddlevideo_slowfast.deploy.views import parse_views, window_indices
from paddlevideo_slowfast.errors import ConfigError


def test_parse_views():
    assert parse_views("10x3") == (10, 3) and parse_views("1X1") == (1, 1)
    for bad in ("10", "0x3", "ax3", "10x3x1"):
        with pytest.raises(ConfigError, match="TEMPORALxSPATIAL"):
            parse_views(bad)


def test_windows_cover_the_video_and_hold_their_clips():
    sampler = DecodeSampler(num_frames=8, sampling_rate=2, test_mode=True)  # a clip spans 16 frames at 30 fps
    plan = window_indices(300, 30.0, 2.0, sampler, num_views=2)
    assert [(s, e) for s, e, _ in plan] == [(2.0 * k, 2.0 * k + 2) for k in range(5)]
    for start, end, clips in plan:
        assert len(clips) == 2
        for clip in clips:
            assert len(clip) == 8 and start * 30 <= clip[0] and clip[-1] < end * 30
    short = window_indices(300, 30.0, 0.25, sampler, num_views=1)  # windows shorter than a clip: centred
    first, last = short[0][2][0], short[-1][2][0]
    assert first[0] == 0 and last[-1] == 299 and len(short) == 40


def test_timeline_decodes_each_frame_once(exported, monkeypatch, tmp_path):
    from paddlevideo_slowfast.data import build_pipeline
    from paddlevideo_slowfast.data.synthetic import render_video
    from paddlevideo_slowfast.data.video_writer import write_video
    from paddlevideo_slowfast.deploy.infer_cfg import read_infer_config

    video = write_video(tmp_path / "v.mp4", render_video("up", np.random.default_rng(0), size=64, frames=75), fps=30)
    reads = []
    real_open = views_module.open_video

    def recording_open(*args, **kwargs):
        reader = real_open(*args, **kwargs)
        real_read = reader.read
        reader.read = lambda indices: reads.append(np.asarray(indices).tolist()) or real_read(indices)
        return reader

    monkeypatch.setattr(views_module, "open_video", recording_open)
    pipeline = build_pipeline(read_infer_config(exported.model_dir).pipeline)
    # 0.3 s windows are shorter than the 16-frame clip: consecutive windows share frames
    windows = list(views_module.timeline_views(pipeline, str(video), 0.3, (2, 1)))
    assert len(windows) == 9 and windows[0].slow.shape[0] == 2 and windows[-1].end == 2.5
    flat = [i for chunk in reads for i in chunk]
    assert flat == sorted(set(flat))  # forward only, never the same frame twice


def test_expand_videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("b.mp4", "a.avi", "notes.txt"):
        (folder / name).write_text("x")
    listing = tmp_path / "list.txt"
    listing.write_text("videos/a.avi 3\n# skipped\n\n/abs/c.mp4\n")
    assert expand_videos([str(folder), str(listing), "d.mkv"]) == [
        str(folder / "a.avi"), str(folder / "b.mp4"), str(tmp_path / "videos" / "a.avi"), "/abs/c.mp4", "d.mkv"]
