"""Decoders: count, fps and exact frames on good files; VideoDecodeError (never a partial array) on broken ones."""
from __future__ import annotations

import numpy as np
import pytest

import logging

from video_corpus import BACKENDS, BROKEN, distinct_frames, make_cut, make_good, make_rotated, reference_frames
from paddlevideo_slowfast.data.decoders import SEEK_GAP, FramesEnded, open_video
from paddlevideo_slowfast.data.video_writer import write_video
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


@pytest.mark.parametrize("backend", ("opencv", "pyav"))
def test_reads_seek_across_a_gap_longer_than_seek_gap(backend, tmp_path, monkeypatch) -> None:
    """A forward jump past SEEK_GAP frames seeks; a shorter one decodes through; both give the right frames."""
    path = make_good(tmp_path / "long.mp4", count=SEEK_GAP + 50, height=32, width=48, gop=SEEK_GAP + 50)
    ref = reference_frames(path)
    reader_type = DECODERS.get(backend)
    seeks = []
    real_seek = reader_type._seek
    monkeypatch.setattr(reader_type, "_seek", lambda self, index: seeks.append(index) or real_seek(self, index))
    with open_video(path, backend) as reader:
        np.testing.assert_array_equal(reader.read([1, 40]), ref[[1, 40]])
        assert seeks == [1]                                  # only to the first frame asked for
        np.testing.assert_array_equal(reader.read([40 + SEEK_GAP + 2]), ref[[40 + SEEK_GAP + 2]])
        assert seeks == [1, 40 + SEEK_GAP + 2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_one_frame_video_reads_again(backend, tmp_path) -> None:
    path = make_good(tmp_path / "one.mp4", count=1)
    with open_video(path, backend) as reader:
        assert reader.num_frames == 1
        first = reader.read([0])
        np.testing.assert_array_equal(reader.read([0, 0]), np.concatenate([first, first]))


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    """A stream-copied cut (edit list hiding 15 pre-roll frames): 120 frames declared, 105 decode."""
    folder = tmp_path_factory.mktemp("cut")
    path = make_cut(folder / "cut.mp4", make_good(folder / "source.mp4", count=180, gop=30))
    return path, reference_frames(path)


@pytest.mark.parametrize("backend", ("opencv", "pyav"))
def test_a_cut_declaring_more_frames_than_decode_reads_the_frames_that_do(backend, cut, caplog) -> None:
    path, ref = cut
    assert len(ref) == 105
    with open_video(path, backend) as reader:
        assert reader.num_frames == reader.declared_frames == 120     # the mismatch is really there
        with pytest.raises(FramesEnded, match="105 of 120"):
            reader.read([0, 119])
        assert reader.num_frames == 105
    with caplog.at_level(logging.INFO, logger="paddlevideo_slowfast.data"), open_video(path, backend) as reader:
        index, frames = reader.read_planned(lambda count: np.array([0, count // 2, count - 1]))
        assert index.tolist() == [0, 52, 104]
        np.testing.assert_array_equal(frames, ref[index])
        np.testing.assert_array_equal(reader.read([3, 104]), ref[[3, 104]])


def test_decord_refuses_a_cut_it_would_misnumber(cut) -> None:
    """decord counts the 15 hidden frames and returns frames shifted by them after a seek: refused, with why."""
    import decord

    assert len(decord.VideoReader(str(cut[0]))) == 120
    with pytest.raises(VideoDecodeError, match="decord misnumbers.*hides its first 15 frames.*pyav or opencv"):
        open_video(cut[0], "decord")


@pytest.mark.parametrize("suffix, codec", [(".mkv", "libx264"), (".webm", "libvpx-vp9")])
def test_mkv_and_webm_frame_counts(suffix, codec, tmp_path) -> None:
    import av

    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV cannot encode {codec}")
    path = write_video(tmp_path / f"v{suffix}", distinct_frames(20), codec=codec, crf=None if "vpx" in codec else 20)
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0               # the container really declares no count
    ref = reference_frames(path)
    for backend in BACKENDS:
        with open_video(path, backend) as reader:
            assert reader.num_frames == 20, backend
            np.testing.assert_array_equal(reader.read([0, 19]), ref[[0, 19]])


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_rotation_metadata_is_applied_by_every_backend(degrees, tmp_path) -> None:
    import av

    path = make_rotated(tmp_path / f"rot{degrees}.mp4", degrees)
    with av.open(str(path)) as container:
        assert next(container.decode(video=0)).rotation % 360 == degrees % 360   # the side data is really there
    upright = reference_frames(path)[[0, 7]]
    expected = np.rot90(upright, degrees // 90, axes=(1, 2))
    for backend in BACKENDS:
        with open_video(path, backend) as reader:
            np.testing.assert_array_equal(reader.read([0, 7]), expected, err_msg=backend)


def test_decord_on_av1_says_so_in_one_line(corpus) -> None:
    if "av1" not in corpus:
        pytest.skip("this PyAV cannot encode AV1")
    with pytest.raises(VideoDecodeError) as err:
        open_video(corpus["av1"], "decord")
    reason = err.value.reason
    assert "\n" not in reason and "DECORDError" not in reason and "github" not in reason
    assert reason.startswith("decord cannot read this av1 video") and "pyav or opencv" in reason


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
