"""The HTTP routes of `paddlevideo serve` (FastAPI on uvicorn), over a Service.

POST /v1/predict   a video (multipart file field or raw body; or `path=` inside --allow-dir) -> `predict --json`'s
                   record, or with `windows=SECONDS` the list of its per-window records (a recognition model)
POST /v1/detect    a multipart form of a `video` file and its person `boxes` -> the list of `detect --json`'s
                   records (a detection model); each route answers 409 on a server of the other kind
GET  /v1/labels    the class (action) names;  GET /healthz (the process answers), /readyz (the model is loaded)
GET  /metrics      Prometheus text;  POST/GET/DELETE /v1/streams[/{id}] live sources (with --allow-streams),
                   GET /v1/streams/{id}/windows their windows' records as they close (JSON lines)
Refusals answer JSON {"video", "error"} like `predict --json`'s failed lines: 413 over --max-upload-mb, 422 an
upload that is empty or not a decodable video (the decoder's reason), a box file line that cannot be read, or a bad
query, 503 with Retry-After when --max-queue requests are in flight, 403/404 for paths, 409 for the other kind's
route. A client that disconnects while its request waits has its jobs cancelled and its slot freed.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
from typing import Any, AsyncIterator, Dict, Optional, Tuple

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from .. import __version__
from ..deploy.views import parse_views
from ..errors import AnnotationError, ConfigError, SlowFastError
from .detection import DetectQuery, DetectionService
from .metrics import CONTENT_TYPE
from .service import BaseService, Service, Submitted
from .streams import is_live

ROUTES = ("/v1/predict", "/v1/detect", "/v1/labels", "/v1/streams", "/healthz", "/readyz", "/metrics")
CLIENT_CLOSED = 499  # nginx's code for a request whose client went away; nobody receives it


class RequestTooLarge(Exception):
    """The body passed --max-upload-mb."""


class BadUpload(Exception):
    """The body is not a usable upload (a form without a file part, a malformed form)."""


class StreamRequest(BaseModel):
    """POST /v1/streams: a live source and how to cut it."""

    url: str = Field(description="rtsp://, http://, udp://, ... or /dev/videoN")
    windows: float = Field(gt=0, description="window length in seconds")
    top_k: int = Field(5, ge=1)
    views: Optional[str] = Field(None, description="TxS views per window, e.g. 1x1 (the server's default)")


def _error(status: int, video: str, reason: str, headers: Optional[Dict[str, str]] = None) -> JSONResponse:
    return JSONResponse({"video": video, "error": reason}, status_code=status, headers=headers)


class CountResponses:
    """ASGI middleware counting every answer by route and status code (plain ASGI: it leaves `receive` alone,
    which the disconnect watch needs)."""

    def __init__(self, app, service: BaseService):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        route = next((r for r in ROUTES if path == r or path.startswith(r + "/")), "other")

        async def counted(message):
            if message["type"] == "http.response.start":
                self.service.metrics.requests.inc(route=route, code=str(message["status"]))
            await send(message)

        return await self.app(scope, receive, counted)


async def _limited(request: Request, limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge()
        yield chunk


def _multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


async def _parse_form(request: Request, limit: int, max_files: int) -> FormData:
    """The multipart form of the body, at most `limit` bytes (RequestTooLarge past it)."""
    parser = MultiPartParser(request.headers, _limited(request, limit), max_files=max_files, max_fields=20)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise BadUpload(f"malformed multipart form: {exc.message}") from None


async def _read_upload(request: Request, limit: int) -> Tuple[bytes, str]:
    """The uploaded bytes and their name: the first file field of a multipart form, else the raw body."""
    if _multipart(request):
        form = await _parse_form(request, limit, max_files=1)
        try:
            files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
            if not files:
                raise BadUpload("the form holds no file field: send the video as a file")
            return await files[0].read(), files[0].filename or "upload"
        finally:
            await form.close()
    return b"".join([chunk async for chunk in _limited(request, limit)]), "upload"


async def _read_detect_upload(request: Request, limit: int) -> Tuple[bytes, str, bytes, str]:
    """The video's bytes and name, and the box file's bytes and name, of /v1/detect's multipart form: a `video`
    file field, and `boxes` as a file field or a text field."""
    if not _multipart(request):
        raise BadUpload("send a multipart form: a `video` file field and a `boxes` field (AVA CSV rows or JSON "
                        "lines)")
    form = await _parse_form(request, limit, max_files=2)
    try:
        video, boxes = form.get("video"), form.get("boxes")
        if not isinstance(video, UploadFile):
            raise BadUpload("the form holds no `video` file field")
        if boxes is None:
            raise BadUpload("the form holds no `boxes` field: the person boxes, as AVA CSV rows or JSON lines")
        if isinstance(boxes, UploadFile):
            box_bytes, box_name = await boxes.read(), boxes.filename or "boxes"
        else:
            box_bytes, box_name = boxes.encode("utf-8"), "boxes"
        return await video.read(), video.filename or "upload", box_bytes, box_name
    finally:
        await form.close()


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away (the body has been read: the next message is the disconnect)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def create_app(service: BaseService) -> FastAPI:
    """The FastAPI application serving `service`; its lifespan starts and closes the service."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        try:
            yield
        finally:
            await asyncio.to_thread(service.close)

    app = FastAPI(title="paddlevideo serve", version=__version__, lifespan=lifespan,
                  description="SlowFast video classification with dynamic batching, or AVA action detection")
    app.add_middleware(CountResponses, service=service)
    metrics = service.metrics

    def refuse(status: int, video: str, reason: str, kind: str, headers: Optional[Dict[str, str]] = None):
        metrics.errors.inc(reason=kind)
        return _error(status, video, reason, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}" for e in exc.errors())
        return refuse(422, request.query_params.get("path") or "upload", reasons, "bad_query")

    def other_kind(name: str):
        """The refusal of a route that the served model's task does not answer."""
        if isinstance(service, DetectionService):
            reason = (f"this server runs an action detector ({service.model_dir}): POST /v1/detect with a video "
                      "and its person boxes")
        else:
            reason = f"this server runs a recognition model ({service.model_dir}): POST /v1/predict with a video"
        return refuse(409, name, reason, "wrong_task")

    def over_limit(request: Request, name: str):
        """413 when Content-Length already says the body is over --max-upload-mb, else None."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > service.max_upload_bytes:
            return refuse(413, name, f"upload of {int(length)} bytes is over the limit of "
                                     f"{service.options.max_upload_mb:g} MB", "too_large")
        return None

    def queue_full(name: str):
        retry = max(1, math.ceil(metrics.latency.mean(default=1.0)))
        return refuse(503, name, f"{service.options.max_queue} requests in flight (--max-queue); retry later",
                      "queue_full", {"Retry-After": str(retry)})

    def not_admitted(request: Request, name: str):
        """413 for a body over the limit, 503 for a full queue, else None: the request holds a slot now."""
        too_large = over_limit(request, name)
        if too_large is not None:
            return too_large
        return None if service.admit() else queue_full(name)

    async def watched(request: Request, work, cancel) -> Optional[asyncio.Future]:
        """Run the coroutine `work()` until done, or until the client disconnects (then `cancel()` and None)."""
        job = asyncio.ensure_future(work())
        watch = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({job, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
        if not job.done():
            cancel()
            job.cancel()
            job.add_done_callback(lambda task: task.cancelled() or task.exception())
            return None
        return job

    @app.post("/v1/predict")
    async def predict(request: Request,
                      views: Optional[str] = Query(None, description="TxS views, 1x1 or 10x3 (the server's default)"),
                      top_k: int = Query(5, ge=1, description="classes to return"),
                      windows: Optional[float] = Query(None, gt=0, description="a timeline of SECONDS windows"),
                      path: Optional[str] = Query(None, description="a video inside the server's --allow-dir")):
        """Classify one video: `predict --json`'s record, or one record per window with `windows`."""
        name = path or "upload"
        if not isinstance(service, Service):
            return other_kind(name)
        try:
            view_pair = parse_views(views) if views else service.predictor.views
        except ConfigError as exc:
            return refuse(422, name, str(exc), "bad_query")
        refused = not_admitted(request, name)
        if refused is not None:
            return refused
        started = time.monotonic()
        try:
            return await _predict(request, name, path, view_pair, top_k, windows, refuse)
        finally:
            service.release()
            metrics.latency.observe(time.monotonic() - started)

    async def _predict(request: Request, name: str, path: Optional[str], view_pair: Tuple[int, int], top_k: int,
                       windows: Optional[float], refuse):
        if path is not None:
            try:
                source: Any = service.resolve(path)
            except PermissionError as exc:
                return refuse(403, name, str(exc), "forbidden")
            if not source.is_file():
                return refuse(404, name, "no such file in the allowed folder", "not_found")
        else:
            try:
                source, name = await _read_upload(request, service.max_upload_bytes)
            except RequestTooLarge:
                return refuse(413, name, f"upload over the limit of {service.options.max_upload_mb:g} MB",
                              "too_large")
            except BadUpload as exc:
                return refuse(400, name, str(exc), "bad_request")
        submitted = Submitted()
        loop = asyncio.get_running_loop()

        async def work():
            await loop.run_in_executor(service.pool, service.submit, source, name, view_pair, windows, submitted)
            for future in submitted.futures:
                await asyncio.wrap_future(future)

        job = await watched(request, work, submitted.cancel)
        if job is None:
            return refuse(CLIENT_CLOSED, name, "the client disconnected", "client_disconnected")
        try:
            job.result()
        except SlowFastError as exc:
            return refuse(422, name, str(getattr(exc, "reason", exc)), "undecodable")
        except Exception as exc:  # noqa: BLE001 - the model failed on this batch; the server goes on
            return refuse(500, name, f"inference failed: {type(exc).__name__}: {exc}", "inference")
        records = service.results(name, submitted, top_k)
        return records if windows else records[0]

    @app.post("/v1/detect")
    async def detect(request: Request,
                     fps: float = Query(1.0, gt=0, description="keyframes per second"),
                     video_start: float = Query(0.0, description="the timestamp of the video's first frame on the "
                                                "box file's clock (900 for AVA's cuts)"),
                     top_k: int = Query(3, ge=1, description="actions per person"),
                     det_threshold: float = Query(0.5, description="least person score of a box")):
        """Detect actions: the form's `video` file and its `boxes` (AVA CSV rows or JSON lines) -> the list of
        `detect --json`'s records {timestamp, box, score, actions}."""
        name = "upload"
        if not isinstance(service, DetectionService):
            return other_kind(name)
        refused = not_admitted(request, name)
        if refused is not None:
            return refused
        started = time.monotonic()
        try:
            try:
                video, name, boxes, box_name = await _read_detect_upload(request, service.max_upload_bytes)
            except RequestTooLarge:
                return refuse(413, name, f"upload over the limit of {service.options.max_upload_mb:g} MB",
                              "too_large")
            except BadUpload as exc:
                return refuse(400, name, str(exc), "bad_request")
            query = DetectQuery(fps=fps, video_start=video_start, top_k=top_k, det_threshold=det_threshold)
            cancelled = threading.Event()
            loop = asyncio.get_running_loop()

            async def work():
                return await loop.run_in_executor(service.pool, service.detect, video, name, boxes, box_name, query,
                                                  cancelled)

            job = await watched(request, work, cancelled.set)
            if job is None:
                return refuse(CLIENT_CLOSED, name, "the client disconnected", "client_disconnected")
            try:
                return job.result()
            except AnnotationError as exc:
                return refuse(422, name, str(exc), "bad_boxes")
            except SlowFastError as exc:
                return refuse(422, name, str(getattr(exc, "reason", exc)), "undecodable")
            except Exception as exc:  # noqa: BLE001 - the model failed on this video; the server goes on
                return refuse(500, name, f"inference failed: {type(exc).__name__}: {exc}", "inference")
        finally:
            service.release()
            metrics.latency.observe(time.monotonic() - started)

    @app.get("/v1/labels")
    async def labels() -> Dict[str, Any]:
        """The class names, index = class_id (a detector's: its action names, column 0 AVA's reserved one)."""
        return {"labels": service.labels}

    @app.get("/healthz")
    async def healthz() -> Dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        """The model is loaded and its inference thread runs."""
        model = service.model
        if service.alive:
            return {"status": "ready", "model": str(service.model_dir), "task": service.task,
                    "model_pid": model.process.pid if model else None, "model_restarts": model.restarts if model else 0}
        return JSONResponse({"status": "not ready"}, status_code=503)

    @app.get("/metrics")
    async def prometheus() -> PlainTextResponse:
        """Prometheus text exposition."""
        return PlainTextResponse(metrics.text(), media_type=CONTENT_TYPE)

    @app.post("/v1/streams", status_code=201)
    async def open_stream(body: StreamRequest):
        """Classify a live source window by window; poll GET /v1/streams/{id} for its windows."""
        if not isinstance(service, Service):
            return other_kind(body.url)
        if not service.options.allow_streams:
            return refuse(403, body.url, "live streams are off (start the server with --allow-streams)", "forbidden")
        if not is_live(body.url):
            return refuse(422, body.url, "not a live source: rtsp://, http://, udp://, ... or /dev/videoN",
                          "bad_query")
        try:
            view_pair = parse_views(body.views) if body.views else service.predictor.views
        except ConfigError as exc:
            return refuse(422, body.url, str(exc), "bad_query")
        return service.open_stream(body.url, body.windows, view_pair, body.top_k).state()

    @app.get("/v1/streams")
    async def list_streams() -> Dict[str, Any]:
        return {"streams": [s.state() for s in service.streams.values()]}

    @app.get("/v1/streams/{stream_id}")
    async def stream_state(stream_id: str):
        """A stream's state, reconnections, log and last windows."""
        stream = service.streams.get(stream_id)
        if stream is None:
            return _error(404, stream_id, "no such stream")
        return stream.state()

    @app.get("/v1/streams/{stream_id}/windows")
    async def stream_windows(stream_id: str, request: Request):
        """The stream's window records as each window closes, one JSON line each, until the stream stops (the
        windows already kept come first)."""
        stream = service.streams.get(stream_id)
        if stream is None:
            return _error(404, stream_id, "no such stream")

        async def lines():
            sent = 0
            while True:
                finished = not stream.running  # read before the records: none can come after it
                records, sent = stream.since(sent)
                for record in records:
                    yield json.dumps(record) + "\n"
                if finished or await request.is_disconnected():
                    return
                await asyncio.sleep(0.1)

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.delete("/v1/streams/{stream_id}")
    async def close_stream(stream_id: str):
        stream = service.streams.pop(stream_id, None)
        if stream is None:
            return _error(404, stream_id, "no such stream")
        await asyncio.to_thread(stream.stop)
        return stream.state()

    return app

