"""AnnotatedVideoWriter: frames come back through the project's decoder with the boxes and labels drawn where the
records put them, and nowhere else; the codec is probed and named."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo_slowfast.data.decoders import open_video
from paddlevideo_slowfast.deploy import annotate
from paddlevideo_slowfast.deploy.annotate import AnnotatedVideoWriter
from paddlevideo_slowfast.errors import ConfigError

W, H, GREY = 160, 120, 100
BOX = [0.2, 0.25, 0.75, 0.9]
RECORDS = [{"box": BOX, "actions": [{"label": "talk to", "score": 0.41}, {"label": "stand", "score": 0.93},
                                    {"label": "watch", "score": 0.2}, {"label": "sit", "score": 0.1}]}]
CHANGED = 40  # a drawn pixel differs from the grey by more than mp4v's noise on a flat frame


def box_pixels(margin: int = 0):
    x1, y1, x2, y2 = (np.array(BOX) * [W - 1, H - 1, W - 1, H - 1]).round().astype(int)
    return x1 - margin, y1 - margin, x2 + margin, y2 + margin


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Five grey frames: records on the first four, none on the last."""
    path = tmp_path_factory.mktemp("annotated") / "out.mp4"
    writer = AnnotatedVideoWriter(path, fps=10, size=(W, H))
    frame = np.full((H, W, 3), GREY, dtype=np.uint8)
    for _ in range(4):
        writer.write(frame, RECORDS)
    writer.write(frame, [])
    return path, writer.close()


def test_the_video_reads_back_with_its_frames_and_size(written):
    path, message = written
    assert "\n" not in message and str(path) in message and "5 frames" in message
    assert "H.264 (avc1)" in message or "mp4v" in message
    video = open_video(str(path))
    assert video.num_frames == 5
    frames = video.read(range(5))
    assert frames.shape == (5, H, W, 3)


def test_drawing_lands_on_the_box_and_nowhere_far_from_it(written):
    frames = open_video(str(written[0])).read(range(5)).astype(np.int16)
    changed = np.abs(frames - GREY).max(axis=3) > CHANGED  # (5, H, W)
    x1, y1, x2, y2 = box_pixels()
    for drawn in changed[:4]:
        outline = np.concatenate([drawn[y1, x1:x2 + 1], drawn[y2, x1:x2 + 1], drawn[y1:y2 + 1, x1],
                                  drawn[y1:y2 + 1, x2]])
        assert outline.mean() > 0.9
        lx1, ly1, lx2, ly2 = box_pixels(margin=4)
        outside = drawn.copy()
        outside[max(ly1, 0):ly2 + 1, max(lx1, 0):lx2 + 1] = False
        assert not outside.any()
        label_band = drawn[y1 + 3:y1 + 30, x1 + 3:x2 - 3]  # the action lines, inside the box's top left
        assert label_band.mean() > 0.2
        assert not drawn[y2 - 20:y2 - 3, x1 + 3:x2 - 3].any()  # below the three lines: untouched
    assert not changed[4].any()


def test_the_best_actions_are_drawn_first():
    assert annotate.action_text(RECORDS[0]["actions"], 3) == ["stand 0.93", "talk to 0.41", "watch 0.20"]


def test_without_h264_the_writer_falls_back_to_mp4v(tmp_path, monkeypatch):
    monkeypatch.setattr(annotate, "CODECS", (("zzzz", "nothing"), *annotate.CODECS[1:]))
    writer = AnnotatedVideoWriter(tmp_path / "fallback.mp4", fps=5, size=(64, 48))
    writer.write(np.zeros((48, 64, 3), np.uint8), RECORDS)
    assert "codec mp4v" in writer.close()
    assert open_video(str(tmp_path / "fallback.mp4")).num_frames == 1


def test_bad_paths_and_frames_are_one_line(tmp_path):
    (tmp_path / "taken.mp4").mkdir()
    with pytest.raises(ConfigError) as exc_info:
        AnnotatedVideoWriter(tmp_path / "taken.mp4", fps=5, size=(64, 48))
    assert "\n" not in str(exc_info.value) and "taken.mp4" in str(exc_info.value)
    writer = AnnotatedVideoWriter(tmp_path / "ok.mp4", fps=5, size=(64, 48))
    with pytest.raises(ValueError, match="48x64x3 uint8"):
        writer.write(np.zeros((64, 48, 3), np.uint8), [])
    writer.close()
