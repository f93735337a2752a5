"""`paddlevideo serve` as a process: it gets ready, SIGTERM stops it accepting, the request in flight still gets
its answer and the process exits 0; batching or stream options for a detection model, or a missing --allow-dir, are
refused in one line."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from paddlevideo_slowfast.cli import main

from serve_helpers import free_port, metric, wait_for


def test_sigterm_finishes_the_request_in_flight_and_exits_0(serve_model, serve_videos):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "paddlevideo_slowfast", "serve", "--model", str(serve_model),
                                "--port", str(port), "--threads", "1", "--max-batch", "8", "--max-wait-ms", "1500"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def ready() -> bool:
            assert process.poll() is None, process.communicate()[1]
            try:
                return httpx.get(base + "/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=60)
        in_flight = {}
        thread = threading.Thread(target=lambda: in_flight.update(
            answer=httpx.post(base + "/v1/predict", content=serve_videos[2].read_bytes(), timeout=60)))
        thread.start()
        wait_for(lambda: metric(base, "paddlevideo_queue_depth") == 1)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.ConnectError):  # no longer accepting
            httpx.get(base + "/healthz", timeout=2)
        thread.join()
        assert in_flight["answer"].status_code == 200 and in_flight["answer"].json()["video"] == "upload"
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "Finished server process" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_refusals(serve_model, tmp_path, capsys):
    detector = tmp_path / "detector"
    shutil.copytree(serve_model, detector)
    cfg = detector / "infer_cfg.yml"
    cfg.write_text(cfg.read_text().replace("task: recognition", "task: detection"))
    assert "task: detection" in cfg.read_text()
    assert main(["serve", "--model", str(detector), "--max-batch", "4", "--allow-streams"]) == 2
    assert "--max-batch, --allow-streams do not apply to the action detector" in capsys.readouterr().err
    assert main(["serve", "--model", str(serve_model), "--allow-dir", str(tmp_path / "nowhere")]) == 2
    assert "--allow-dir" in capsys.readouterr().err
