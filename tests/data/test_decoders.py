"""Decoders: count, fps and exact frames on good files; VideoDecodeError (never a partial array) on broken ones."""
from __future__ import annotations

import numpy as np
import pytest

from video_corpus import BACKENDS
from video_corpus import BROKEN
from paddlevideo_slowfast.data.decoders import SEEK_GAP, open_video
from paddlevideo_slowfast.errors import VideoDecodeError
from paddlevideo_slowfast.registry import DECODERS


def test_registry_names() -> None:
    assert set(BACKENDS) <= set(DECODERS.names())


@pytest.mark.parametrize("backend", BACKENDS)
def test_count_fps_and_every_frame(backend, videos, reference) -> None:
    with open_video(videos["main"], backend) as reader:
        assert reader.num_frames == 64 and reader.fps == pytest.approx(30.0)
        frames = reader.read(range(64))
    assert frames.shape == (64, 64, 96, 3) and frames.dtype == np.uint8 and frames.flags.c_contiguous
    np.testing.assert_array_equal(frames, reference["main"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_seeking_reads_match_a_sequential_decode(backend, videos, reference) -> None:
    """Reads that start after a keyframe, skip frames, come unsorted and repeat: same pixels as decoding in order."""
    ref = reference["main"]
    rng = np.random.default_rng(0)
    for _ in range(4):
        with open_video(videos["main"], backend) as reader:
            index = rng.integers(0, 64, 9)
            np.testing.assert_array_equal(reader.read(index), ref[index])
    with open_video(videos["main"], backend) as reader:  # one reader, a window after another, then backwards
        for index in ([20, 22, 24], [50, 51, 63], [3, 3, 1]):
            np.testing.assert_array_equal(reader.read(index), ref[index])


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_range_index_is_a_decode_error(backend, videos) -> None:
    with open_video(videos["main"], backend) as reader:
        with pytest.raises(VideoDecodeError, match="outside 0..63"):
            reader.read([10, 64])


def test_decoders_agree_on_other_rates_and_shapes(videos) -> None:
    for name, shape, fps in (("fps60", (64, 96), 60.0), ("portrait", (96, 64), 30.0)):
        frames = []
        for backend in BACKENDS:
            with open_video(videos[name], backend) as reader:
                assert reader.fps == pytest.approx(fps)
                frames.append(reader.read([0, 5, reader.num_frames - 1]))
        assert frames[0].shape[1:3] == shape
        for other in frames[1:]:
            np.testing.assert_array_equal(other, frames[0])


def test_seek_gap_is_a_gop() -> None:
    assert SEEK_GAP == 250


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files(backend, name, corpus, tmp_path) -> None:
    if name not in corpus:
        pytest.skip(f"{name}: cannot be generated with this PyAV build")
    path = corpus[name] if name != "missing" else tmp_path / "no_such_video.mp4"
    try:
        with open_video(path, backend) as reader:
            frames = reader.read(range(reader.num_frames))
    except VideoDecodeError as exc:
        assert exc.path == str(path) and exc.reason
        if name == "av1" and backend == "pyav":
            pytest.fail(f"PyAV decodes AV1 but raised: {exc}")
        return
    assert BROKEN[name] == "either", f"{backend} read {name} without an error"
    assert frames.shape[0] == reader.num_frames and frames.dtype == np.uint8  # whole, never half-filled


@pytest.mark.parametrize("backend", ("opencv", "pyav"))
def test_truncated_file_fails_only_past_the_cut(backend, corpus) -> None:
    """The truncated file opens and reports all 64 frames; its first frames read, and asking for the last one is
    an error, not a lie. (decord reads ahead and already fails on opening or on the first frames.)"""
    with open_video(corpus["truncated_faststart"], backend) as reader:
        assert reader.num_frames == 64
        assert reader.read([0, 1, 2]).shape[0] == 3
    with open_video(corpus["truncated_faststart"], backend) as reader:
        with pytest.raises(VideoDecodeError):
            reader.read([0, 63])
