"""Servers for the serve tests: `paddlevideo serve`'s app in a thread of the test process, and small waits and
metric reads (a module of its own: conftest modules are not importable by name when several are collected)."""
from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(model_dir: Path, **options) -> Iterator[str]:
    """uvicorn serving `model_dir` in a thread of this process (no signal handlers there), the model in a child
    process as `paddlevideo serve` runs it (a recognition model, or a detector by its infer_cfg.yml); the base URL."""
    import uvicorn

    from paddlevideo_slowfast.deploy.infer_cfg import read_infer_config
    from paddlevideo_slowfast.deploy.predictor import Predictor
    from paddlevideo_slowfast.serve.app import create_app
    from paddlevideo_slowfast.serve.detection import DetectionService
    from paddlevideo_slowfast.serve.model_process import ModelProcess
    from paddlevideo_slowfast.serve.service import Options, Service

    opts = Options(**options)
    if read_infer_config(model_dir).task == "detection":
        service = DetectionService(model_dir, opts, threads=1)
    else:
        settings = dict(threads=1, batch_size=opts.max_batch)
        service = Service(Predictor(model_dir, load=False, **settings), opts, ModelProcess(model_dir, **settings))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                break
        time.sleep(0.05)
    else:
        raise RuntimeError("the in-process server did not get ready")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def metric(base: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", httpx.get(base + "/metrics").text, re.M)
    return float(match.group(1)) if match else 0.0


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)

