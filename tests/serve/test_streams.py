"""Live sources: `paddlevideo predict --video udp://... --windows S` prints each window's result as it closes and
picks up a publisher that stopped and started again; `serve` does the same for POST /v1/streams. The publisher
is PyAV muxing generated frames as MPEG-TS to udp://127.0.0.1, paced in real time; the server's
/windows feed gives each window's record as it closes."""
from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest

from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.serve.streams import is_live

from serve_helpers import serving, wait_for

FPS = 30


def udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def publish(url: str, seconds: float, seed: int) -> None:
    """Send `seconds` of an embedded-style video (a moving square) as H.264 in MPEG-TS, in real time."""
    import av

    from paddlevideo_slowfast.data.synthetic import render_video

    frames = render_video("right", np.random.default_rng(seed), size=64, frames=int(seconds * FPS))
    with av.open(url + "?pkt_size=1316", "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "10"}
        start = time.monotonic()
        for i, frame in enumerate(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            time.sleep(max(0.0, start + (i + 1) / FPS - time.monotonic()))
        for packet in stream.encode():
            container.mux(packet)


def _lines(pipe, out: queue.Queue) -> None:
    for line in pipe:
        out.put(line.rstrip("\n"))


def _until(lines: queue.Queue, seen: list, predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate(seen):
        try:
            seen.append(lines.get(timeout=max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"timed out; got {seen}") from None


def test_live_sources_are_told_from_files(serve_model, capsys):
    assert all(map(is_live, ["udp://127.0.0.1:5000", "rtsp://cam/1", "HTTP://x/live.ts", "/dev/video0"]))
    assert not any(map(is_live, ["clip.mp4", "/dev/video", "file:///x.mp4", "data/udp://x"]))
    assert main(["predict", "--model", str(serve_model), "--video", "udp://127.0.0.1:5000"]) == 2
    assert "a live source needs --windows SECONDS" in capsys.readouterr().err


def test_predict_reads_a_udp_stream_window_by_window_and_reconnects(serve_model):
    url = f"udp://127.0.0.1:{udp_port()}"
    process = subprocess.Popen([sys.executable, "-m", "paddlevideo_slowfast", "predict", "--model", str(serve_model),
                                "--video", url, "--windows", "0.5", "--json", "--threads", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = queue.Queue(), queue.Queue()
    for pipe, lines in ((process.stdout, out), (process.stderr, err)):
        threading.Thread(target=_lines, args=(pipe, lines), daemon=True).start()
    records, logs = [], []
    try:
        _until(err, logs, lambda seen: any("connecting" in line for line in seen), timeout=60)
        publish(url, 2.0, seed=1)
        _until(err, logs, lambda seen: any("dropped" in line for line in seen))
        before = out.qsize()
        publish(url, 2.0, seed=2)
        _until(err, logs, lambda seen: any("reconnected" in line for line in seen))
        _until(out, records, lambda seen: len(seen) >= before + 2)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130
    windows = [json.loads(line) for line in records]
    assert before >= 2, logs
    assert all(w["video"] == url and len(w["top_k"]) == 5 for w in windows)
    starts = [w["start"] for w in windows]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)  # times go on across the reconnection
    assert all(w["end"] == pytest.approx(w["start"] + 0.5) for w in windows)


def test_serve_classifies_a_stream_posted_to_it(serve_model):
    url = f"udp://127.0.0.1:{udp_port()}"
    with serving(serve_model, allow_streams=True) as base:
        refused = httpx.post(base + "/v1/streams", json={"url": "clip.mp4", "windows": 0.5})
        assert refused.status_code == 422 and "not a live source" in refused.json()["error"]
        opened = httpx.post(base + "/v1/streams", json={"url": url, "windows": 0.5, "top_k": 3})
        assert opened.status_code == 201, opened.text
        stream = base + "/v1/streams/" + opened.json()["id"]
        wait_for(lambda: "connecting" in " ".join(httpx.get(stream).json()["log"]))
        fed = []

        def follow() -> None:
            with httpx.stream("GET", stream + "/windows", timeout=60) as feed:
                fed.extend(json.loads(line) for line in feed.iter_lines() if line)

        follower = threading.Thread(target=follow)
        follower.start()
        publish(url, 2.0, seed=3)
        state = httpx.get(stream).json()
        assert state["windows"] >= 2 and len(state["results"]) == state["windows"]
        assert all(r["video"] == url and len(r["top_k"]) == 3 for r in state["results"])
        stopped = httpx.delete(stream).json()
        assert stopped["state"] == "stopped" and stopped["windows"] >= state["windows"]
        follower.join(timeout=30)
        assert fed == stopped["results"]  # the feed gave every window, then ended with the stream
        assert "paddlevideo_stream_windows_total" in httpx.get(base + "/metrics").text
    with serving(serve_model) as base:
        off = httpx.post(base + "/v1/streams", json={"url": url, "windows": 0.5})
        assert off.status_code == 403 and "--allow-streams" in off.json()["error"]
