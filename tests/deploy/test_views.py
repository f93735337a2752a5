"""Prediction inputs: view parsing, timeline windows (coverage, clips inside windows, one decode per frame),
and which files a --video argument names."""
from __future__ import annotations

import numpy as np
import pytest

import sys
from pathlib import Path

from paddlevideo_slowfast.data.sampling import DecodeSampler, clip_span
from paddlevideo_slowfast.deploy import views as views_module
from paddlevideo_slowfast.deploy.inputs import expand_videos
from paddlevideo_slowfast.deploy.views import parse_views, window_indices
from paddlevideo_slowfast.errors import ConfigError, VideoDecodeError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from video_corpus import make_corpus, make_cut, make_good, make_rotated  # noqa: E402


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


def record_reads(monkeypatch, module) -> list:
    """Patch `module.open_video` so every `read(indices)` appends its frame indices to the returned list."""
    reads = []
    real_open = module.open_video

    def recording_open(*args, **kwargs):
        reader = real_open(*args, **kwargs)
        real_read = reader.read
        reader.read = lambda indices: reads.append(np.asarray(indices).tolist()) or real_read(indices)
        return reader

    monkeypatch.setattr(module, "open_video", recording_open)
    return reads


def test_timeline_decodes_each_frame_once(exported, monkeypatch, tmp_path):
    from paddlevideo_slowfast.data import build_pipeline
    from paddlevideo_slowfast.data.synthetic import render_video
    from paddlevideo_slowfast.data.video_writer import write_video
    from paddlevideo_slowfast.deploy.infer_cfg import read_infer_config

    video = write_video(tmp_path / "v.mp4", render_video("up", np.random.default_rng(0), size=64, frames=75), fps=30)
    reads = record_reads(monkeypatch, views_module)
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


def test_predict_1x1_is_the_centre_clip(exported, monkeypatch, tmp_path):
    from paddlevideo_slowfast.data import build_pipeline, multiview
    from paddlevideo_slowfast.deploy.infer_cfg import read_infer_config

    video = make_good(tmp_path / "v.mp4", count=180, height=32, width=48, gop=30)
    reads = record_reads(monkeypatch, multiview)
    pipeline = build_pipeline(read_infer_config(exported.model_dir).pipeline)
    sampler = pipeline.sampler
    span = clip_span(sampler.num_frames, sampler.sampling_rate, 30.0, sampler.target_fps)
    for views, centres in (((1, 1), [89.5]), ((3, 1), [(180 - span) * (i + 0.5) / 3 + (span - 1) / 2 for i in range(3)])):
        reads.clear()
        views_module.video_views(pipeline, str(video), views)
        windows = np.array(reads[0]).reshape(views[0], sampler.num_frames) if views[0] * sampler.num_frames == \
            len(reads[0]) else None
        assert windows is not None                                   # the windows do not overlap here
        assert [(w[0] + w[-1]) / 2 for w in windows] == pytest.approx(centres, abs=1)


@pytest.mark.parametrize("backend", ["opencv", "pyav"])
def test_scan_test_and_predict_agree_on_every_corpus_video(backend, exported, tmp_path):
    """One verdict per file from the three verbs' functions: scan-data's check_video, the test dataset's `valid`
    flag and Predictor.predict, all with 2 temporal views."""
    from paddlevideo_slowfast.data import SFVideoDataset
    from paddlevideo_slowfast.data.scan import check_video
    from paddlevideo_slowfast.deploy import Predictor
    from paddlevideo_slowfast.deploy.infer_cfg import read_infer_config

    folder = tmp_path / "corpus"
    files = {name: path for name, path in make_corpus(folder).items() if name != "missing"}
    files["missing"] = folder / "missing.mp4"
    files["good"] = make_good(folder / "good.mp4", count=40, height=32, width=48)
    files["one_frame"] = make_good(folder / "one_frame.mp4", count=1, height=32, width=48)
    files["cut"] = make_cut(folder / "cut.mp4", make_good(folder / "_long.mp4", count=90, height=32, width=48, gop=30),
                            start=40, keyframe=30, stop=90)
    files["rotated"] = make_rotated(folder / "rotated.mp4", 90)
    names = sorted(files)
    listing = tmp_path / "test.list"
    listing.write_text("".join(f"{files[n]} 0\n" for n in names))
    infer = read_infer_config(exported.model_dir)
    dataset = SFVideoDataset(str(listing), infer.pipeline, mode="test", num_ensemble_views=2, backend=backend)
    predictor = Predictor(exported.model_dir, views="2x1", backend=backend)
    sampler = predictor.pipeline.sampler
    verdicts = {}
    for k, name in enumerate(names):
        scanned = check_video(str(files[name]), backend, (sampler, 2)).ok
        tested = bool(dataset[k][-1][0])
        try:
            predictor.predict(files[name])
            predicted = True
        except VideoDecodeError:
            predicted = False
        assert scanned == tested == predicted, (name, scanned, tested, predicted)
        verdicts[name] = scanned
    assert {n for n, ok in verdicts.items() if ok} >= {"good", "one_frame", "cut", "rotated"}
    assert not any(verdicts[n] for n in ("missing", "empty", "text", "truncated_index_at_end",
                                         "truncated_faststart", "overwritten_header", "no_frames"))
