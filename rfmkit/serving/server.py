"""The local endpoint: a real HTTP server that speaks SageMaker's container and runtime APIs.

* `GET /ping`, `POST /invocations`: the container contract (the default endpoint answers).
* `POST /endpoints/{name}/invocations`: the sagemaker-runtime API path, so unchanged boto3
  `invoke_endpoint` code reaches it with AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:<port>.

Several named endpoints (staging, production, segments...) are served at once. `deploy` swaps what
an endpoint serves by replacing one reference: a request in flight finishes on the model it
started with, the next one gets the new model, and none is lost. Binds 127.0.0.1 by default.
Every bad request gets a 4xx with a message (a client's mistake is never a 5xx or a 424); a failure
inside a model gets SageMaker's ModelError shape (424); the server keeps serving either way. A body
declared larger than the limit is refused with 413 before a byte of it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from rfmkit.serving.inference import (
    MAX_PAYLOAD_BYTES,
    InferenceError,
    ServedModel,
    input_fn,
    model_fn,
    output_fn,
    predict_columns,
)

DEFAULT_HOST = "127.0.0.1"
# boto3's invoke_endpoint(InferenceId=...) sends the caller's id for this request in this header;
# request capture keeps it so that ground truth can be joined to the prediction later.
INFERENCE_ID_HEADER = "x-amzn-sagemaker-inference-id"


class Endpoints:
    """Named endpoints and the model each serves; swapping is one assignment under a lock."""

    def __init__(self):
        self._models: dict[str, tuple[ServedModel, str]] = {}
        self._lock = threading.Lock()
        self.default: str | None = None

    def deploy(self, name: str, model_dir: str | Path | ServedModel) -> ServedModel:
        model = model_dir if isinstance(model_dir, ServedModel) else model_fn(model_dir)
        with self._lock:
            self._models[name] = (model, str(model_dir) if not isinstance(model_dir, ServedModel)
                                  else "(in memory)")
            self.default = self.default or name
        return model

    def remove(self, name: str) -> None:
        with self._lock:
            self._models.pop(name, None)
            if self.default == name:
                self.default = next(iter(self._models), None)

    def has(self, name: str) -> bool:
        return name in self._models

    def get(self, name: str) -> ServedModel:
        entry = self._models.get(name)  # one dict read: atomic under the GIL
        if entry is None:
            known = ", ".join(sorted(self._models)) or "none"
            raise InferenceError(f"Endpoint {name} not found (serving: {known})", status=400)
        return entry[0]

    def describe(self) -> list[dict]:
        return [{"name": n, "kind": m.kind, "source": src, "columns": m.columns}
                for n, (m, src) in sorted(self._models.items())]


def create_app(endpoints: Endpoints, admin_token: str | None = None, *, capture=None,
               metrics=None) -> FastAPI:
    """`capture`: a CaptureWriter (serving/capture.py) that records answered invocations;
    `metrics`: a ServingMetrics (monitoring/metrics.py) served at GET /metrics."""
    app = FastAPI(title="rfmkit local endpoint", docs_url=None, redoc_url=None)

    def error(status: int, error_type: str, message: str, **extra) -> Response:
        # restJson error shape that botocore parses into ClientError(Code, Message).
        return JSONResponse({"message": message, **extra}, status_code=status,
                            headers={"x-amzn-ErrorType": error_type})

    async def invoke(name: str | None, request: Request) -> Response:
        started = time.perf_counter()
        endpoint = name or endpoints.default or ""
        response, model, rows, body = await answer(endpoint, request)
        captured = None
        if response.status_code == 200 and capture is not None:
            captured = capture.record(endpoint, body, request.headers.get("content-type", ""),
                                      response.body, response.media_type,
                                      inference_id=request.headers.get(INFERENCE_ID_HEADER))
        if metrics is not None:
            # an unknown name is one label, so that made-up names cannot grow the metrics without end
            metrics.observe(endpoint if endpoints.has(endpoint) else "unknown", model or "none",
                            response.status_code, time.perf_counter() - started, rows,
                            captured is not None)
        return response

    async def answer(endpoint: str, request: Request) -> tuple[Response, str, int, bytes]:
        """(response, model name, rows answered, request body) for one invocation."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
            # A client that is still sending when we answer gets a connection reset instead of the
            # answer, so a plausible oversize body is read and dropped first, as long as bytes keep
            # coming; an absurd length (or a body that stops arriving) is answered at once.
            if int(declared) <= DRAIN_LIMIT_BYTES:
                await drain(request)
            return error(413, "ValidationError", f"request body of {int(declared):,} bytes is over "
                                                 f"the 6 MB limit; send fewer rows per request"), "", 0, b""
        try:
            model = endpoints.get(endpoint)
            body = await read_body(request)
            rows = input_fn(body, request.headers.get("content-type", ""))
        except InferenceError as exc:
            return error(exc.status, "ValidationError", str(exc)), "", 0, b""
        except ClientDisconnect:  # the client went away: nobody to answer
            return Response(status_code=400), "", 0, b""
        except Exception as exc:  # noqa: BLE001 - any failure to read a request is the request's
            return error(400, "ValidationError", f"could not read the request: {exc}"), "", 0, b""
        name = str(model.metadata.get("name") or model.kind)
        try:
            prediction = predict_columns(rows, model)
            text, media = output_fn(prediction, request.headers.get("accept"))
        except InferenceError as exc:
            return error(exc.status, "ValidationError", str(exc)), name, 0, body
        except Exception as exc:  # noqa: BLE001 - a model failure must not take the server down
            return error(424, "ModelError", f"the model failed on this request: {exc}",
                         OriginalStatusCode=500, OriginalMessage=str(exc)), name, 0, body
        return Response(text, media_type=media), name, len(rows), body

    @app.get("/ping")
    async def ping() -> Response:
        ready = endpoints.default is not None
        return Response(status_code=200 if ready else 503)

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        return await invoke(None, request)

    @app.post("/endpoints/{name}/invocations")
    async def runtime_invocations(name: str, request: Request) -> Response:
        return await invoke(name, request)

    @app.get("/metrics")
    async def prometheus() -> Response:
        if metrics is None:
            return error(404, "ValidationError", "this server was started without metrics")
        text, media = metrics.render()
        return Response(text, media_type=media)

    @app.get("/endpoints")
    async def listing() -> JSONResponse:
        return JSONResponse(endpoints.describe())

    def admitted(request: Request) -> bool:
        # Only whoever can read the run folder's server record (0600) may change endpoints.
        given = request.headers.get("x-rfmkit-admin", "").encode("utf-8", "replace")
        return bool(admin_token) and secrets.compare_digest(given, admin_token.encode())

    @app.put("/endpoints/{name}")
    async def serve(name: str, request: Request) -> Response:
        """Serve a model file on `name` (the monitor stages a retrained candidate this way from
        another process): body {"model": "<path of a model.tar.gz or model folder>"}."""
        if not admitted(request):
            return error(403, "AccessDeniedException", "deploying needs the admin token")
        try:
            path = (await request.json())["model"]
            endpoints.deploy(name, Path(str(path)))
        except (ValueError, KeyError, TypeError):
            return error(400, "ValidationError", 'body must be {"model": "<path>"}')
        except Exception as exc:  # noqa: BLE001 - an unreadable model file is the caller's to fix
            return error(400, "ValidationError", f"cannot serve {path}: {exc}")
        return JSONResponse({"endpoint": name, "model": str(path)})

    @app.delete("/endpoints/{name}")
    async def remove(name: str, request: Request) -> Response:
        if not admitted(request):
            return error(403, "AccessDeniedException", "removing endpoints needs the admin token")
        if name not in {e["name"] for e in endpoints.describe()}:
            return error(404, "ValidationError", f"Endpoint {name} not found")
        endpoints.remove(name)
        return Response(status_code=204)

    return app


# Oversize bodies up to this size are read and dropped before the 413 (so the client can read it);
# a read that waits longer than DRAIN_IDLE_SECONDS for the next bytes ends the drain.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
DRAIN_IDLE_SECONDS = 1.0


async def drain(request: Request) -> None:
    stream = request.stream().__aiter__()
    with contextlib.suppress(StopAsyncIteration, TimeoutError, ClientDisconnect):
        while True:
            await asyncio.wait_for(stream.__anext__(), DRAIN_IDLE_SECONDS)


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it passes the limit (a chunked upload has no
    Content-Length to check up front)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            raise InferenceError(f"request body is over the 6 MB limit ({size:,} bytes read so "
                                 f"far); send fewer rows per request", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


class LocalEndpointServer:
    """uvicorn in a background thread: start(), url, deploy(name, model_dir), stop()."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = 0, admin_token: str | None = None, *,
                 capture=None, metrics=None, own_process: bool = False):
        """own_process: the server is all this process does (`rfmkit serve`): requests may use
        every core. Inside a notebook's process they compute with one OpenMP thread (see
        BackgroundServer._run)."""
        self.host, self.port, self.admin_token = host, port, admin_token
        self.own_process = own_process
        self.capture, self.metrics = capture, metrics
        self.endpoints = Endpoints()
        self.record: Path | None = None  # the run folder's note of this server (notebook 99 reads it)
        self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def description(self) -> str:
        return self.url

    def deploy(self, name: str, model_dir: str | Path | ServedModel) -> ServedModel:
        return self.endpoints.deploy(name, model_dir)

    # -- the Serving protocol shared with SageMakerServing -----------------------------------
    def serve(self, endpoint: str, model: ServedModel, location: str) -> None:
        """Serve a loaded model (the local server swaps it in without a restart)."""
        self.endpoints.deploy(endpoint, model)

    def serve_file(self, endpoint: str, model_tar: Path) -> ServedModel:
        """Serve a model.tar.gz from the run folder (e.g. notebook 03's k-means model)."""
        return self.endpoints.deploy(endpoint, model_tar)

    def remove(self, endpoint: str) -> None:
        self.endpoints.remove(endpoint)

    def close(self) -> None:
        """Stop serving and remove the run folder's note of this server."""
        self.stop()
        if self.record is not None:
            self.record.unlink(missing_ok=True)

    def start(self, timeout: float = 15.0) -> LocalEndpointServer:
        from rfmkit.serving.background import BackgroundServer

        app = create_app(self.endpoints, self.admin_token, capture=self.capture, metrics=self.metrics)
        self._server = BackgroundServer(app, self.host, self.port, "rfmkit-endpoint",
                                        one_openmp_thread=not self.own_process).start(timeout)
        self.port = self._server.port  # a free port is picked when none was given
        return self

    def stop(self) -> None:
        """Graceful: requests in flight finish, then the socket closes."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.capture is not None:
            self.capture.close()

    def __enter__(self) -> LocalEndpointServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
