"""Backpressure: with --max-queue requests in flight a new one gets 503 and Retry-After; a client that disconnects
while its request waits for a batch frees its slot and its job is never run."""
from __future__ import annotations

import socket
import threading

import httpx
import pytest

from serve_helpers import metric, serving, wait_for


@pytest.fixture(scope="module")
def slow_server(serve_model):
    """One request in flight at most; a lone request waits 1.5 s for others to fill a batch of 8."""
    with serving(serve_model, max_batch=8, max_wait_ms=1500, max_queue=1) as base:
        yield base


def test_full_queue_answers_503_with_retry_after(slow_server, serve_videos):
    video = serve_videos[0].read_bytes()
    first = {}
    thread = threading.Thread(target=lambda: first.update(
        answer=httpx.post(slow_server + "/v1/predict", content=video, timeout=60)))
    thread.start()
    wait_for(lambda: metric(slow_server, "paddlevideo_queue_depth") == 1)
    refused = httpx.post(slow_server + "/v1/predict", content=video, timeout=60)
    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) >= 1 and "--max-queue" in refused.json()["error"]
    thread.join()
    assert first["answer"].status_code == 200 and len(first["answer"].json()["top_k"]) == 5
    assert metric(slow_server, 'paddlevideo_errors_total{reason="queue_full"}') == 1


def test_client_disconnect_frees_its_slot(slow_server, serve_videos):
    video = serve_videos[1].read_bytes()
    batches = metric(slow_server, "paddlevideo_batch_size_count")
    host, port = slow_server.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port))) as client:
        client.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                       + f"Content-Length: {len(video)}\r\n\r\n".encode() + video)
        wait_for(lambda: metric(slow_server, "paddlevideo_queue_depth") == 1)
    wait_for(lambda: metric(slow_server, 'paddlevideo_errors_total{reason="client_disconnected"}') == 1)
    assert metric(slow_server, "paddlevideo_queue_depth") == 0
    answer = httpx.post(slow_server + "/v1/predict", content=video, timeout=60)  # the slot is free again
    assert answer.status_code == 200
    assert metric(slow_server, "paddlevideo_batch_size_count") == batches + 1  # the abandoned job never ran
