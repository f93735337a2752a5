"""`paddlevideo serve` of an exported AVA detector on a real uvicorn server (the tiny generated AVA set): POST
/v1/detect answers exactly what `paddlevideo detect --json` prints for the same video and box file (AVA CSV as a
file, or JSON lines as a text field), a bad box line is 422 naming it, a bad video 422 with predict's reason;
/v1/predict is refused with a reason, /v1/labels lists the actions, readyz and metrics say detection."""
from __future__ import annotations

import json

import httpx
import pytest
import yaml

from paddlevideo_slowfast.cli import main

from serve_helpers import metric, serving

VIDEO_START = 900  # the generated videos are AVA-style cuts starting at second 900


@pytest.fixture(scope="module")
def server(serve_detector):
    with serving(serve_detector, max_upload_mb=1) as base:
        yield base


@pytest.fixture(scope="module")
def video(tiny_ava_dataset):
    return tiny_ava_dataset / "videos" / "val_0000.mp4"


@pytest.fixture(scope="module")
def box_file(tiny_ava_dataset):
    return tiny_ava_dataset / "annotations" / "ava_val.csv"


def _detect(base, video, boxes, name="boxes.csv", **params):
    """POST /v1/detect: `boxes` bytes as a file named `name`, or str as a text field."""
    files = {"video": (video.name, video.read_bytes(), "video/mp4")}
    data = {}
    if isinstance(boxes, str):
        data["boxes"] = boxes
    else:
        files["boxes"] = (name, boxes, "text/csv")
    return httpx.post(base + "/v1/detect", files=files, data=data, params=params, timeout=60)


def test_detect_answers_what_detect_json_prints(server, serve_detector, video, box_file, capsys):
    for flags, params in (([], {}), (["--top-k", "2", "--det-threshold", "0.9"], {"top_k": 2, "det_threshold": 0.9})):
        assert main(["detect", "--model", str(serve_detector), "--video", str(video), "--boxes", str(box_file),
                     "--video-start", str(VIDEO_START), "--threads", "1", "--json", *flags]) == 0
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert len(printed) >= 2 and all(r["actions"] for r in printed)  # people at both keyframes, scored
        answer = _detect(server, video, box_file.read_bytes(), video_start=VIDEO_START, **params)
        assert answer.status_code == 200, answer.text
        assert answer.json() == printed  # same keys, order and numbers
    # `detect --json`'s own lines fed back as JSON lines (a text field) give the same boxes and actions
    lines = "\n".join(json.dumps(r) for r in printed)
    answer = _detect(server, video, lines, video_start=VIDEO_START, top_k=2, det_threshold=0.9)
    assert answer.status_code == 200, answer.text
    assert answer.json() == printed


def test_bad_boxes_and_bad_videos_are_422_with_the_reason(server, video, box_file):
    answer = _detect(server, video, b"val_0000,0902,0.1,0.2,0.5,0.9\nval_0000,0903,0.1,0.2,0.5\n",
                     video_start=VIDEO_START)
    assert answer.status_code == 422
    assert answer.json()["video"] == "val_0000.mp4"
    assert answer.json()["error"].startswith("boxes.csv:2: 5 columns")
    answer = _detect(server, video, '{"timestamp": 902, "box": [0.1, 0.2, 0.5, 0.9]}\n{"timestamp": 903,',
                     video_start=VIDEO_START)
    assert answer.status_code == 422 and answer.json()["error"].startswith("boxes:2: not JSON")
    answer = _detect(server, video, b"\x80\x03}q\x00.", name="proposals.pkl")
    assert answer.status_code == 422 and "pickle" in answer.json()["error"]
    answer = httpx.post(server + "/v1/detect", files={"video": (video.name, b"this is text, not a video\n" * 20),
                                                      "boxes": ("b.csv", box_file.read_bytes())}, timeout=60)
    assert answer.status_code == 422 and answer.json() == {"video": video.name, "error": "text, not a video"}
    answer = httpx.post(server + "/v1/detect", files={"video": (video.name, video.read_bytes())}, timeout=60)
    assert answer.status_code == 400 and "no `boxes` field" in answer.json()["error"]
    answer = httpx.post(server + "/v1/detect", files={"video": (video.name, b"x" * (1024 * 1024 + 1)),
                                                      "boxes": ("b.csv", b"")}, timeout=60)
    assert answer.status_code == 413
    assert metric(server, 'paddlevideo_errors_total{reason="bad_boxes"}') == 3


def test_predict_is_refused_and_the_other_routes_answer(server, serve_detector, video):
    answer = httpx.post(server + "/v1/predict", content=video.read_bytes(), timeout=60)
    assert answer.status_code == 409
    assert "runs an action detector" in answer.json()["error"] and "POST /v1/detect" in answer.json()["error"]
    labels = yaml.safe_load((serve_detector / "infer_cfg.yml").read_text())["label_names"]
    assert httpx.get(server + "/v1/labels").json() == {"labels": labels}
    ready = httpx.get(server + "/readyz").json()
    assert ready["status"] == "ready" and ready["task"] == "detection" and ready["model_pid"]
    assert httpx.get(server + "/healthz").json() == {"status": "ok"}
    assert metric(server, 'paddlevideo_requests_total{route="/v1/predict",code="409"}') == 1
