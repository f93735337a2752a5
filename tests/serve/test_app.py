"""The service's routes on a real uvicorn server with the tiny exported model: uploads (multipart, raw, a path inside
--allow-dir) answer what `predict --json` prints, timelines and 10x3 views too; labels, health, metrics; 413 and 422
with the reason; /v1/detect refused (409); path traversal refused; concurrent requests each get their own video's
result; a half-sent upload holds up no other request; a killed model process is started again."""
from __future__ import annotations

import json
import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from paddlevideo_slowfast.cli import main

from serve_helpers import serving, wait_for

CLASSES = 10


@pytest.fixture(scope="module")
def server(serve_model, serve_data):
    with serving(serve_model, max_batch=4, max_wait_ms=20, max_queue=64, max_upload_mb=1,
                 allow_dir=serve_data / "val") as base:
        yield base


@pytest.fixture(scope="module")
def expected(serve_model, serve_videos):
    """Each video's class probabilities from the in-process Predictor."""
    from paddlevideo_slowfast.deploy.predictor import Predictor

    predictor = Predictor(serve_model, threads=1)
    return {video: predictor.predict(video, top_k=CLASSES).scores for video in serve_videos}


def _scores(record) -> np.ndarray:
    scores = np.zeros(CLASSES)
    for entry in record["top_k"]:
        scores[entry["class_id"]] = entry["score"]
    return scores


def _post(base, video, **params):
    with open(video, "rb") as handle:
        return httpx.post(base + "/v1/predict", files={"video": (video.name, handle, "video/mp4")}, params=params,
                          timeout=60)


def test_upload_answers_what_predict_json_prints(server, serve_model, serve_videos, capsys):
    video = serve_videos[3]
    assert main(["predict", "--model", str(serve_model), "--video", str(video), "--json", "--top-k", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    multipart = _post(server, video, top_k=3)
    raw = httpx.post(server + "/v1/predict", content=video.read_bytes(), params={"top_k": 3}, timeout=60)
    for answer, name in ((multipart, video.name), (raw, "upload")):
        assert answer.status_code == 200, answer.text
        record = answer.json()
        assert record.keys() == printed.keys() and record["video"] == name
        assert [e["class_id"] for e in record["top_k"]] == [e["class_id"] for e in printed["top_k"]]
        assert [e["label"] for e in record["top_k"]] == [e["label"] for e in printed["top_k"]]
        np.testing.assert_allclose([e["score"] for e in record["top_k"]], [e["score"] for e in printed["top_k"]],
                                   atol=2e-6)


def test_timeline_and_views_match_the_predictor(server, serve_model, serve_videos):
    from paddlevideo_slowfast.deploy.predictor import Predictor

    video = serve_videos[0]
    answer = _post(server, video, windows=0.5, top_k=CLASSES)
    assert answer.status_code == 200, answer.text
    local = list(Predictor(serve_model, threads=1).timeline(video, 0.5, top_k=CLASSES))
    records = answer.json()
    assert [(r["start"], r["end"]) for r in records] == [(w.start, w.end) for w in local] and len(local) == 4
    for record, window in zip(records, local):
        np.testing.assert_allclose(_scores(record), window.scores, atol=2e-6)
    answer = _post(server, video, views="10x3", top_k=CLASSES)
    ten_by_three = Predictor(serve_model, threads=1, views="10x3").predict(video, top_k=CLASSES)
    np.testing.assert_allclose(_scores(answer.json()), ten_by_three.scores, atol=2e-6)
    bad = _post(server, video, views="3by1")
    assert bad.status_code == 422 and "TEMPORALxSPATIAL" in bad.json()["error"]
    bad = _post(server, video, top_k=0)
    assert bad.status_code == 422 and bad.json() == {"video": "upload",
                                                     "error": "query.top_k: Input should be greater than or equal to 1"}


def test_labels_health_and_metrics(server, serve_data):
    assert httpx.get(server + "/v1/labels").json()["labels"] == (serve_data / "label_names.txt").read_text().split()
    assert httpx.get(server + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server + "/readyz").json()["status"] == "ready"
    assert "paths" in httpx.get(server + "/openapi.json").json()
    text = httpx.get(server + "/metrics").text
    for family in ("paddlevideo_requests_total counter", "paddlevideo_errors_total counter",
                   "paddlevideo_queue_depth gauge", "paddlevideo_batch_size histogram",
                   "paddlevideo_request_seconds histogram"):
        assert f"# TYPE {family}" in text
    assert 'paddlevideo_requests_total{route="/healthz",code="200"}' in text
    assert 'paddlevideo_request_seconds_bucket{le="+Inf"}' in text


def test_detect_is_refused_on_a_recognition_server(server, serve_videos):
    answer = httpx.post(server + "/v1/detect", files={"video": ("a.mp4", serve_videos[0].read_bytes()),
                                                      "boxes": ("b.csv", b"")}, timeout=60)
    assert answer.status_code == 409
    assert "runs a recognition model" in answer.json()["error"] and "POST /v1/predict" in answer.json()["error"]


@pytest.mark.parametrize("kind, reason", [("empty", "empty file"), ("text", "text, not a video"),
                                          ("truncated", "MP4 cut short"), ("audio_only", "no video stream")])
def test_bad_uploads_get_422_with_the_reason(server, bad_uploads, kind, reason):
    answer = httpx.post(server + "/v1/predict", files={"video": (f"{kind}.mp4", bad_uploads[kind])}, timeout=60)
    assert answer.status_code == 422, answer.text
    record = answer.json()
    assert record["video"] == f"{kind}.mp4" and reason in record["error"]
    assert 'paddlevideo_errors_total{reason="undecodable"}' in httpx.get(server + "/metrics").text


def test_too_large_upload_gets_413(server):
    answer = httpx.post(server + "/v1/predict", content=b"\0" * (1024 * 1024 + 1), timeout=60)
    assert answer.status_code == 413 and "1 MB" in answer.json()["error"]
    form = httpx.post(server + "/v1/predict", files={"video": ("big.mp4", b"\0" * (1024 * 1024 + 1))}, timeout=60)
    assert form.status_code == 413


def test_paths_inside_allow_dir_only(server, serve_data, expected, serve_videos):
    video = serve_videos[1]
    relative = video.relative_to(serve_data / "val")
    answer = httpx.post(server + "/v1/predict", params={"path": str(relative), "top_k": CLASSES})
    assert answer.status_code == 200 and answer.json()["video"] == str(relative)
    np.testing.assert_allclose(_scores(answer.json()), expected[video], atol=2e-6)
    for outside in ("../label_names.txt", f"{relative.parent}/../../val.list", "/etc/passwd"):
        refused = httpx.post(server + "/v1/predict", params={"path": outside})
        assert refused.status_code == 403 and "outside" in refused.json()["error"], outside
    assert httpx.post(server + "/v1/predict", params={"path": "left/missing.mp4"}).status_code == 404


def test_concurrent_requests_each_get_their_own_result(server, serve_videos, expected):
    requests = [serve_videos[i % len(serve_videos)] for i in range(30)]
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda v: _post(server, v, top_k=CLASSES), requests))
    for video, answer in zip(requests, answers):
        assert answer.status_code == 200, answer.text
        assert answer.json()["video"] == video.name
        scores = _scores(answer.json())
        np.testing.assert_allclose(scores, expected[video], atol=2e-6)
        others = [np.abs(expected[v] - scores).max() for v in serve_videos if v != video]
        assert min(others) > 1e-3  # any other video's result would have been told apart


def test_a_slow_upload_does_not_stall_other_requests(server, serve_videos, expected):
    video = serve_videos[4]
    body = video.read_bytes()
    host, port = server.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port))) as slow:
        slow.sendall(b"POST /v1/predict?top_k=10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:len(body) // 2])
        other = _post(server, serve_videos[5], top_k=CLASSES)  # answered while half of the first body is sent
        assert other.status_code == 200
        np.testing.assert_allclose(_scores(other.json()), expected[serve_videos[5]], atol=2e-6)
        slow.sendall(body[len(body) // 2:])
        answer = b""
        while chunk := slow.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    np.testing.assert_allclose(_scores(json.loads(payload)), expected[video], atol=2e-6)


def test_a_killed_model_process_is_started_again(server, serve_videos, expected):
    pid = httpx.get(server + "/readyz").json()["model_pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: httpx.get(server + "/readyz").status_code == 503)
    answer = _post(server, serve_videos[6], top_k=CLASSES)
    assert answer.status_code == 200
    np.testing.assert_allclose(_scores(answer.json()), expected[serve_videos[6]], atol=2e-6)
    ready = httpx.get(server + "/readyz").json()
    assert ready["status"] == "ready" and ready["model_pid"] != pid and ready["model_restarts"] == 1
