"""The local contact-center API and the agent's page, on 127.0.0.1.

Routes call the same handler functions AWS runs, with the events AWS would send them:
* `POST /connect/customer_lookup`, `POST /connect/get_prompts`: a ContactFlowEvent in, the flat map out;
* `POST /events`: an EventBridge event, routed by detail-type as the template's rules route it;
* `GET /contacts`, `GET /contacts/{id}/history`, `POST /contacts/{id}/contract`: API Gateway
  proxy events built from the request, the proxy response returned as is;
* `GET /agent`: the agent's page (no data in it; it reads the API with the token).

Every route but the page and /ping needs `Authorization: Bearer <token>`, a token made for this
server (the page gets it in its address's #fragment, which browsers never send to a server). No
CORS headers are sent: only pages from this origin can read the API.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from rfmkit.contact_center import handlers
from rfmkit.contact_center.events import BadEvent

MAX_BODY_BYTES = 256 * 1024  # EventBridge events are at most 256 KB


def page_html(nonce: str) -> str:
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("rfmkit", "templates"), autoescape=True)
    return env.get_template("agent_page.html.j2").render(
        nonce=nonce, offers=handlers.CONTRACT_OFFERS)


def create_app(token: str) -> FastAPI:
    app = FastAPI(title="rfmkit contact center", docs_url=None, redoc_url=None, openapi_url=None)
    expected = token.encode()

    def denied(request: Request) -> Response | None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme == "Bearer" and secrets.compare_digest(given.encode("utf-8", "replace"), expected):
            return None
        return JSONResponse({"error": "missing or wrong token (Authorization: Bearer <token>)"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})

    async def json_body(request: Request):
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise BadEvent(f"body of {len(body):,} bytes is over the {MAX_BODY_BYTES:,}-byte limit")
        try:
            return json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError) as error:
            raise BadEvent(f"body is not valid JSON ({error})") from None
        except RecursionError:  # json recurses once per nesting level
            raise BadEvent("body is JSON nested too deeply") from None

    def failed(error: Exception) -> JSONResponse:
        # A store or the endpoint failing is ours, not the client's: 503, and the message only.
        return JSONResponse({"error": f"temporarily unavailable: {error}"}, status_code=503)

    @app.get("/ping")
    async def ping() -> Response:
        return Response(status_code=200)

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=204)  # no icon, and no 404 in the browser's console

    @app.get("/agent")
    async def agent() -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        return HTMLResponse(page_html(nonce), headers={
            "Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}'; "
                                       f"style-src 'nonce-{nonce}'; connect-src 'self'; img-src 'self'",
            "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    @app.post("/connect/{function}")
    async def connect(function: str, request: Request) -> Response:
        return await _sync(request, lambda event: JSONResponse(_connect(function, event)))

    @app.post("/events")
    async def eventbridge(request: Request) -> Response:
        def route(event) -> Response:
            kind = event.get("detail-type") if isinstance(event, dict) else None
            handler = handlers.EVENT_ROUTES.get(kind)
            if handler is None:
                return JSONResponse({"status": "rejected", "error": f"no rule matches detail-type "
                                     f"{kind!r}; known: {sorted(handlers.EVENT_ROUTES)}"}, status_code=400)
            answer = handler(event)
            return JSONResponse(answer, status_code=400 if answer.get("status") == "rejected" else 200)
        return await _sync(request, route)

    @app.get("/contacts")
    async def contacts(request: Request) -> Response:
        return await _sync(request, lambda _: _proxy(handlers.churn_history, "GET", "/contacts", {}),
                           read_body=False)

    @app.get("/contacts/{contact_id}/history")
    async def history(contact_id: str, request: Request) -> Response:
        return await _sync(request, lambda _: _proxy(handlers.churn_history, "GET",
                                                     "/contacts/{contactId}/history",
                                                     {"contactId": contact_id}), read_body=False)

    @app.post("/contacts/{contact_id}/contract")
    async def contract(contact_id: str, request: Request) -> Response:
        return await _sync(request, lambda body: _proxy(handlers.update_contract, "POST",
                                                        "/contacts/{contactId}/contract",
                                                        {"contactId": contact_id}, body))

    async def _sync(request: Request, act, read_body: bool = True) -> Response:
        # The handlers block on SQLite and the endpoint: they run in the thread pool.
        refused = denied(request)
        if refused is not None:
            return refused
        try:
            body = await json_body(request) if read_body else None
            return await run_in_threadpool(act, body)
        except BadEvent as error:
            return JSONResponse({"status": "rejected", "error": str(error)}, status_code=400)
        except Exception as error:  # noqa: BLE001 - never a traceback to the caller
            return failed(error)

    return app


def _connect(function: str, event) -> dict:
    handler = {"customer_lookup": handlers.customer_lookup, "get_prompts": handlers.get_prompts}.get(function)
    if handler is None:
        raise BadEvent(f"no contact-flow function {function!r}; use customer_lookup or get_prompts")
    return handler(event)


def _proxy(handler, method: str, resource: str, path: dict, body=None) -> Response:
    from rfmkit.contact_center.events import api_event

    answer = handler(api_event(method, resource, path=path, body=body))
    return Response(answer["body"], status_code=answer["statusCode"], headers=answer["headers"])


class ContactCenterServer:
    """The API and page in a background thread: start(), url, page_url, token, stop()."""

    def __init__(self, services: handlers.Services, host: str = "127.0.0.1", port: int = 0):
        self.services, self.host, self.port = services, host, port
        self.token = secrets.token_urlsafe(24)
        self._server = None
        self._record: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def page_url(self) -> str:
        return f"{self.url}/agent#token={self.token}"

    def start(self) -> ContactCenterServer:
        from rfmkit.serving.background import BackgroundServer

        handlers.configure(self.services)
        self._server = BackgroundServer(create_app(self.token), self.host, self.port,
                                        "rfmkit-contact-center").start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._record is not None:
            self._record.unlink(missing_ok=True)

    def record(self, run_dir: Path, pid: int) -> Path:
        """Note the server in the run folder, readable only by you (it holds the token): how
        the notebook finds it, and how notebook 99 stops it (`pid`)."""
        path = Path(run_dir) / "serving" / f"contact-center-{self.port}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(".tmp")
        staged.touch(mode=0o600)
        staged.write_text(json.dumps({"url": self.url, "page": self.page_url, "token": self.token,
                                      "pid": pid}))
        staged.replace(path)  # complete when it appears
        self._record = path
        return path
