"""The FastAPI application over loaded Model bundles (`create_app`); the policy is in
`modelyard/serve/__init__.py`."""

from __future__ import annotations

import hmac
import html
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelyard.engine.training.bundle import Predictor
from modelyard.serve import columns, rows
from modelyard.serve.rows import RequestProblem

log = logging.getLogger("modelyard.serve")
OPEN_PATHS = frozenset({"/health"})
DEFAULT_MAX_BODY = 16 << 20


@dataclass(frozen=True)
class ServedModel:
    """One bundle this server answers for, under `name`."""

    name: str
    predictor: Predictor
    source: str = ""


def create_app(models: list[ServedModel], *, token: str | None = None,
               max_body_bytes: int = DEFAULT_MAX_BODY) -> FastAPI:
    """The app: `/predict` and `/metadata` for the first model, `/models/<name>/...` for
    each, `/health`, `/models`, `/openapi.json` and `/docs`. With `token`, every route but
    `/health` asks for `Authorization: Bearer <token>`."""
    if not models:
        raise ValueError("create_app needs at least one model")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError(f"model names repeat: {names}")
    app = FastAPI(title="Modelyard prediction server", version="1",
                  description="Predictions from Modelyard Model bundles: send rows as JSON "
                  "records or CSV. " + " ".join(f"Model “{m.name}”: {m.source}."
                                                  for m in models),
                  docs_url=None, redoc_url=None)
    app.add_middleware(_Guard, token=token)
    app.add_middleware(_CatchAll)  # added last: the outermost of ours
    _handlers(app)

    @app.get("/health", summary="Whether the server answers (no token needed)")
    def health() -> dict[str, Any]:
        return {"status": "ok", "models": len(models)}

    @app.get("/models", summary="The models served, by name")
    def listing() -> dict[str, Any]:
        return {"default": models[0].name,
                "models": [{"name": m.name, "predict": f"/models/{m.name}/predict",
                            "metadata": f"/models/{m.name}/metadata"} for m in models]}

    for i, model in enumerate(models):
        prefixes = ["/models/" + model.name] + ([""] if i == 0 else [])
        for prefix in prefixes:
            _routes(app, model, prefix, max_body_bytes)

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> str:
        return _docs_page(models)

    return app


def _routes(app: FastAPI, model: ServedModel, prefix: str, max_body: int) -> None:
    predictor, name = model.predictor, model.name
    row = columns.row_model(predictor, name)
    answer = columns.answer_model(predictor, name)
    row_schema = row.model_json_schema(by_alias=True)
    body_schema = {"oneOf": [row_schema, {"type": "array", "items": row_schema,
                                          "minItems": 1}]}
    feature_list = ", ".join(predictor.features)
    tag = f"model {name}"

    async def predict(request: Request) -> JSONResponse:
        strict = _strict(request)
        body = await _read_body(request, max_body)
        frame = rows.parse(body, request.headers.get("content-type"))
        # Checked and predicted in the thread pool: nothing here holds a lock.
        found = await run_in_threadpool(_answer, predictor, frame, strict)
        return JSONResponse({"model": name, **found})

    app.add_api_route(
        f"{prefix}/predict", predict, methods=["POST"], tags=[tag],
        summary=f"Predict {predictor.meta['target']} with “{name}”",
        description=f"Rows with the model's columns ({feature_list}): one JSON object, a "
                    "list of them, or CSV with a header. Any missing, extra or wrongly "
                    "typed column is refused (422) naming it; `?strict=false` predicts "
                    "anyway and says in `notes` what was done.",
        responses={200: {"model": answer}, 422: {"description": "a column problem"},
                   400: {"description": "a malformed body"},
                   413: {"description": "a body over the size cap"},
                   415: {"description": "neither JSON nor CSV"},
                   401: {"description": "no or a wrong token"}},
        openapi_extra={
            "parameters": [{"name": "strict", "in": "query", "required": False,
                            "schema": {"type": "boolean", "default": True}}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": body_schema},
                "text/csv": {"schema": {"type": "string", "description":
                                        f"a header row ({feature_list}), then rows"}}}}})

    def describe() -> dict[str, Any]:
        return columns.metadata(predictor, name)

    app.add_api_route(f"{prefix}/metadata", describe, methods=["GET"], tags=[tag],
                      summary=f"What “{name}” reads and predicts")


def _answer(predictor: Predictor, frame, strict: bool) -> dict[str, Any]:
    notes = rows.check(predictor, frame, strict=strict)
    made = predictor.predict_frame(rows.ready(predictor, frame))
    return {"rows": len(made), "predictions": rows.records(made), "notes": notes}


def _strict(request: Request) -> bool:
    raw = request.query_params.get("strict", "true").strip().lower()
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise RequestProblem(400, f"strict={raw!r} is neither true nor false.")


async def _read_body(request: Request, cap: int) -> bytes:
    """The body, refused (413) as soon as it is known to be over `cap` bytes."""
    too_big = RequestProblem(413, f"The body is over this server's cap of {_size(cap)}. "
                             "Send fewer rows per request, or start the server with a "
                             "larger --max-body-mb.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n / 2**20:.3g} MB" if n >= 2**20 else f"{n / 2**10:.3g} KB"


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestProblem)
    async def problem(request: Request, exc: RequestProblem) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = (f"There is no {request.url.path} here. Routes: /predict, /metadata, "
                       "/models, /models/<name>/predict, /models/<name>/metadata, /health, "
                       "/docs, /openapi.json.")
        elif exc.status_code == 405:
            message = f"{request.method} is not accepted at {request.url.path}."
        else:
            message = str(exc.detail)
        return JSONResponse({"detail": message}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid request')}."},
                            status_code=422)


INTERNAL = ("The server failed on this request (an internal error: {}). It is logged on the "
            "server; the same request will most likely fail again.")


class _CatchAll:
    """Anything unexpected: its traceback to the log, a plain 500 to the client. Not
    Starlette's handler for Exception, which re-raises, so that uvicorn drops the
    connection and a client's next request on it fails."""

    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.error("internal error on %s %s", scope.get("method"), scope.get("path"),
                      exc_info=exc)
            if started:  # half an answer is out: nothing better than to end it
                raise
            response = JSONResponse({"detail": INTERNAL.format(type(exc).__name__)},
                                    status_code=500)
            await response(scope, receive, send)


class _Guard:
    """Every route but /health asks for the bearer token, when there is one."""

    def __init__(self, app: Callable, token: str | None):
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope, receive, send):
        if (self.token is None or scope["type"] != "http"
                or scope["path"] in OPEN_PATHS or self._allowed(scope)):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"detail": "This server needs a token: send the header “Authorization: "
                       "Bearer <token>” with the token it was started with (--token or "
                       "MODELYARD_SERVE_TOKEN)."},
            status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)

    def _allowed(self, scope) -> bool:
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)


def _docs_page(models: list[ServedModel]) -> str:
    """A small page of our own (Swagger's loads scripts from the internet)."""
    parts = ["<!doctype html><meta charset='utf-8'><title>Modelyard prediction server"
             "</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
             "td,th{padding:2px 8px;text-align:left}</style>"
             "<h1>Modelyard prediction server</h1><p>POST rows as JSON (one object or a "
             "list) or CSV to a model's <code>/predict</code>. The full description is "
             "<a href='openapi.json'>/openapi.json</a>.</p>"]
    for i, model in enumerate(models):
        meta = columns.metadata(model.predictor, model.name)
        where = f"/models/{model.name}/predict" + (" (also /predict)" if i == 0 else "")
        parts.append(f"<h2>{html.escape(model.name)}</h2><p>Predicts <b>"
                     f"{html.escape(str(meta['target']))}</b> at <code>"
                     f"{html.escape(where)}</code>.</p><table><tr><th>column</th><th>send"
                     "</th></tr>")
        parts += [f"<tr><td><code>{html.escape(f['name'])}</code></td><td>"
                  f"{html.escape(columns.KIND_WORDS[f['type']])}</td></tr>"
                  for f in meta["features"]]
        example = {f["name"]: None for f in meta["features"]}
        parts.append(f"</table><pre>{html.escape(json.dumps(example))}</pre>")
    return "".join(parts)
