"""Serve an exported recognition model over HTTP (FastAPI on uvicorn): POST /v1/predict takes a video upload and
answers `predict --json`'s record; concurrent requests' views share forward passes (dynamic batching, up to
--max-batch views or --max-wait-ms); decoding runs in a thread pool off the event loop. GET /v1/labels, /healthz,
/readyz, /metrics (Prometheus text), /docs (OpenAPI). A full queue answers 503 with Retry-After, an upload over
--max-upload-mb 413, an undecodable one 422 with the reason. SIGTERM stops accepting, finishes the requests in
flight and exits 0.

A detection model (exported from configs/ava_*.yaml) is served on POST /v1/detect instead: a multipart form of the
video and its person boxes -> `detect --json`'s records; each keyframe is one forward in the model process, not
batched across requests, so the batching options and --views, --allow-dir and --allow-streams do not apply to it.
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from .common import positive


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR", help="folder written by `paddlevideo export` "
                        "(a recognition model: POST /v1/predict; a detection model: POST /v1/detect)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8866, help="port to listen on (default 8866)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU math threads of the model (default: the cores this process may use)")
    parser.add_argument("--decoders", type=positive(int), default=2, metavar="N",
                        help="threads decoding uploads (default 2)")
    parser.add_argument("--max-batch", type=positive(int), default=8, metavar="B",
                        help="views per forward pass, across requests (default 8; 1 turns batching off)")
    parser.add_argument("--max-wait-ms", type=float, default=10.0, metavar="W",
                        help="how long the first request of a batch waits for others (default 10 ms)")
    parser.add_argument("--max-queue", type=positive(int), default=64, metavar="Q",
                        help="requests in flight before new ones get 503 + Retry-After (default 64)")
    parser.add_argument("--max-upload-mb", type=positive(float), default=100.0, metavar="M",
                        help="largest upload, in MiB; larger ones get 413 (default 100)")
    parser.add_argument("--allow-dir", default=None, metavar="DIR",
                        help="let requests name videos inside DIR with ?path= (off by default)")
    parser.add_argument("--allow-streams", action="store_true",
                        help="let requests open live sources with POST /v1/streams (off by default)")
    parser.add_argument("--views", default="1x1", metavar="TxS",
                        help="views per video when a request does not say (default 1x1; 10x3: the K400 protocol)")
    parser.add_argument("--runtime", choices=["paddle", "onnx"], default="paddle",
                        help="paddle: Paddle Inference (default); onnx: onnxruntime on the exported model.onnx")
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu", help="where to run (default cpu)")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..deploy.infer_cfg import INFER_CFG, read_infer_config
    from ..deploy.predictor import Predictor
    from ..errors import ConfigError
    from ..serve.app import create_app
    from ..serve.detection import DetectionService
    from ..serve.model_process import ModelProcess
    from ..serve.service import Options, Service

    if args.max_wait_ms < 0:
        raise ConfigError(f"--max-wait-ms {args.max_wait_ms} is negative", key="--max-wait-ms",
                          expected="0 or more milliseconds")
    allow_dir = Path(args.allow_dir) if args.allow_dir else None
    if allow_dir is not None and not allow_dir.is_dir():
        raise ConfigError(f"{allow_dir} is not a folder", key="--allow-dir", expected="an existing folder")
    model = Path(args.model)
    detection = (model / INFER_CFG).is_file() and read_infer_config(model).task == "detection"
    options = Options(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, max_queue=args.max_queue,
                      max_upload_mb=args.max_upload_mb, decoders=args.decoders, allow_dir=allow_dir,
                      allow_streams=args.allow_streams)
    if detection:
        _refuse_recognition_options(args, model)
        service: Any = DetectionService(model, options, runtime=args.runtime, device=args.device,
                                        threads=args.threads)
    else:
        settings = dict(device=args.device, threads=args.threads, views=args.views, batch_size=args.max_batch,
                        runtime=args.runtime)
        predictor = Predictor(model, load=False, **settings)  # clips and labels here; the model in its own process
        service = Service(predictor, options, ModelProcess(model, **settings))
    app = create_app(service)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="info",
                                           timeout_graceful_shutdown=60))

    def terminate(signum, frame):
        # uvicorn answers SIGTERM itself while it runs (stop accepting, finish in flight), then raises the signal
        # again once done: landing here then, the command returns 0 instead of dying of SIGTERM
        if not server.started:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)
    how = ("action detection: POST /v1/detect" if detection
           else f"max batch {args.max_batch}, max wait {args.max_wait_ms:g} ms")
    print(f"serving {model} on http://{args.host}:{args.port} ({how})", file=sys.stderr, flush=True)
    server.run()
    return 0


RECOGNITION_ONLY = ("max_batch", "max_wait_ms", "views", "allow_dir", "allow_streams")


def _refuse_recognition_options(args: argparse.Namespace, model: Path) -> None:
    """A detection server batches nothing across requests, takes no views, paths or streams: such a flag is an
    error rather than silently ignored."""
    from ..errors import ConfigError

    defaults = argparse.ArgumentParser()
    add_arguments(defaults)
    given = [f"--{key.replace('_', '-')}" for key in RECOGNITION_ONLY
             if getattr(args, key) != defaults.get_default(key)]
    if given:
        raise ConfigError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to the action "
                          f"detector in {model}", key=given[0],
                          expected="no batching, views, --allow-dir or --allow-streams options: /v1/detect runs "
                          "each keyframe alone")
