"""`paddlevideo explain`: per pathway an MP4 of the heat map over the clip's frames, a PNG strip, the class scores;
a class chosen by name; an unknown class, a detection config without boxes and detection flags on a recognizer are
one-line errors (tests/explain/test_gradcam_detection.py explains detectors)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from paddlevideo_slowfast.cli import main


@pytest.fixture(scope="module")
def weights(tiny_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import paddle

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.modeling import build_model

    path = tmp_path_factory.mktemp("weights") / "tiny.pdparams"
    paddle.save(build_model(load_config(str(tiny_config)).MODEL).state_dict(), str(path))
    return path




def test_explain_writes_videos_strip_and_scores(tiny_config, tiny_dataset, weights, tmp_path, capsys,
                                                read_frames) -> None:
    videos = [str(tiny_dataset / "val" / "left" / "0000.mp4"), str(tiny_dataset / "val" / "right" / "0000.mp4")]
    out = tmp_path / "cam"
    assert main(["explain", "-c", str(tiny_config), "-w", str(weights), "--video", *videos, "--out", str(out),
                 "--target-class", "blink_fast", "--top-k", "4", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["video"] for r in records] == videos
    for record, stem in zip(records, ("left_0000", "right_0000")):   # same file names: the class folder is added
        assert record["target"] == {"class_id": 3, "label": "blink_fast"} and record["layer"] == "s5"
        assert sorted(e["label"] for e in record["top_k"]) == sorted(["left", "right", "blink_slow", "blink_fast"])
        assert sum(e["score"] for e in record["top_k"]) == pytest.approx(1.0, abs=1e-4)
        assert len(record["frames"]) == 8                               # the tiny config's clip
        names = {"slow": "slow.mp4", "fast": "fast.mp4", "strip": "gradcam.png", "scores": "scores.json"}
        assert record["files"] == {k: str(out / f"{stem}_{v}") for k, v in names.items()}
        for pathway in ("slow", "fast"):
            assert read_frames(record["files"][pathway]).shape == (8, 192, 192, 3)   # 32 px scaled 6x
        strip = cv2.imread(record["files"]["strip"])
        assert strip.shape == (3 * (96 + 2), 64 + 8 * (96 + 2), 3)     # input, slow, fast rows of 8 frames
        saved = json.loads(Path(record["files"]["scores"]).read_text())
        assert saved["top_k"] == record["top_k"]


def test_explain_refuses_an_unknown_class(tiny_config, tiny_dataset, weights, tmp_path, capsys) -> None:
    video = str(tiny_dataset / "val" / "left" / "0000.mp4")
    assert main(["explain", "-c", str(tiny_config), "-w", str(weights), "--video", video, "--out", str(tmp_path),
                 "--target-class", "jump"]) == 2
    err = capsys.readouterr().err
    assert "unknown class 'jump'" in err and "--target-class" in err and "blink_fast" in err


def test_explain_asks_a_detector_for_person_boxes(repo_root, tmp_path, capsys) -> None:
    assert main(["explain", "-c", str(repo_root / "configs" / "ava_quickstart.yaml"), "-w", "none.pdparams",
                 "--video", "clip.mp4", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "explained per person box" in err and "--boxes" in err and "--detector" in err


def test_explain_refuses_detection_flags_on_a_recognizer(tiny_config, tiny_dataset, weights, tmp_path,
                                                         capsys) -> None:
    video = str(tiny_dataset / "val" / "left" / "0000.mp4")
    assert main(["explain", "-c", str(tiny_config), "-w", str(weights), "--video", video, "--out", str(tmp_path),
                 "--keyframe", "1"]) == 2
    assert "--keyframe applies to detection configs" in capsys.readouterr().err
