"""`predict --windows S --out annotated.mp4`: every input frame written once, enlarged, with its window's top-k
drawn at the top left (the rest of the frame untouched), and the timeline PNG beside it."""
from __future__ import annotations

import json

import cv2
import numpy as np

from paddlevideo_slowfast.cli import main




def test_annotated_video_and_timeline(exported, embedded, tmp_path, capsys, read_frames) -> None:
    video = embedded / "val" / "up" / "0000.mp4"   # 48 frames, 64 px, 30 fps: windows of 0.5 s -> 4
    out = tmp_path / "annotated.mp4"
    assert main(["predict", "--model", str(exported.model_dir), "--video", str(video), "--windows", "0.5",
                 "--out", str(out), "--json", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    windows = [json.loads(line) for line in captured.out.splitlines()]
    assert [(w["start"], w["end"]) for w in windows] == [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 1.6)]
    assert f"wrote {out}: 48 frames 256x256 at 30 fps" in captured.err
    written, source = read_frames(out), read_frames(video)
    assert written.shape == (48, 256, 256, 3)
    enlarged = np.stack([cv2.resize(f, (256, 256), interpolation=cv2.INTER_NEAREST) for f in source])
    # text and its dark box at the top left; below it the frame as it was, up to the codecs' error
    assert np.abs(written[:, 200:, :].astype(int) - enlarged[:, 200:, :]).mean() < 6
    assert written[:, :20, :60].mean() < enlarged[:, :20, :60].mean() - 20
    timeline = cv2.imread(str(out.with_name("annotated_timeline.png")))
    assert timeline is not None and timeline.shape == (320, 800, 3)
    assert f"wrote {out.with_name('annotated_timeline.png')}" in captured.err


def test_out_needs_windows_and_one_video(exported, embedded, tmp_path, capsys) -> None:
    up, down = (str(embedded / "val" / name / "0000.mp4") for name in ("up", "down"))
    base = ["predict", "--model", str(exported.model_dir), "--out", str(tmp_path / "a.mp4")]
    for args in (["--video", up], ["--video", up, down, "--windows", "0.5"]):
        assert main(base + args) == 2
        assert "--out draws the windows of one video file" in capsys.readouterr().err
    assert not (tmp_path / "a.mp4").exists()
