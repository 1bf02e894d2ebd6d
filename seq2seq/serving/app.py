"""The HTTP server of seq2seq-serve: one process, one or more runs, each under its name.

    GET  /health                 {"status": "ok", "runs": [...], "searched": {run: counts}}
    GET  /runs                   each run's task, endpoint and options
    POST /runs/NAME/VERB         the task's endpoint (translate, classify, tag: JSON in;
                                 caption: an image's bytes), {"results": [...]} out
    GET  /docs                   the OpenAPI page FastAPI generates
    GET  /                       a web page for all of these (seq2seq/serving/page/)

Whatever a client sends, the answer is JSON: a 4xx with {"error": "one line"} naming what
is wrong (too large, not UTF-8, not JSON, an unknown run or field, a value out of bounds),
or the results; nothing a request holds can stop the server. Requests wait in a batcher
per run (seq2seq/serving/batcher.py) and are searched together.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from seq2seq.serving.batcher import Batcher
from seq2seq.serving.endpoint import BadRequest, Endpoint, Limits
from seq2seq.serving.workers import Workers

PAGE = Path(__file__).with_name("page")


def openapi_of(ep: Endpoint, limits: Limits) -> dict:
    """The OpenAPI request of an endpoint, from what it describes: a JSON body of texts
    and its options (text endpoints), or an image's bytes with its options as query
    parameters; each option typed by its default, bounded by its maximum."""
    options = {key: option_schema(spec) for key, spec in ep.describe().get("options", {}).items()}
    if ep.reads == "image":
        return {"parameters": [{"name": key, "in": "query", "required": False, "schema": schema}
                               for key, schema in options.items()],
                "requestBody": {"required": True, "content": {"image/*": {
                    "schema": {"type": "string", "format": "binary"}}}}}
    texts = {"type": "array", "minItems": 1, "maxItems": limits.max_lines,
             "items": {"type": "string", "maxLength": limits.max_chars}}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"texts": texts, **options}, "required": ["texts"],
        "additionalProperties": False}}}}}


def option_schema(spec: dict) -> dict:
    default = spec.get("default")
    kind = ("boolean" if isinstance(default, bool) else "integer" if isinstance(default, int)
            else "number")
    schema = {"type": kind, "default": default}
    if kind != "boolean":
        schema["minimum"] = 0 if kind == "number" else 1
        if isinstance(spec.get("max"), (int, float)):
            schema["maximum"] = spec["max"]
    return schema


def build_app(endpoints: dict[str, Endpoint], tasks: dict[str, str],
              limits: Limits = Limits(), version: str = "", batch: int = 64,
              wait_ms: float = 20.0, quiet_ms: float = 3.0,
              workers: Workers | None = None) -> FastAPI:
    """The server of `endpoints` (by run name; `tasks`: each run's task); a search gathers
    requests up to `batch` items (seq2seq/serving/batcher.py: `wait_ms`, `quiet_ms`), and
    runs in this process, or in `workers` (worker processes holding the same runs)."""
    batchers = {name: Batcher(ep.run if workers is None else workers.runner(name),
                              max_items=batch, wait_ms=wait_ms, quiet_ms=quiet_ms,
                              pool=None if workers is None else workers.pool,
                              concurrency=1 if workers is None else workers.count)
                for name, ep in endpoints.items()}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        for b in batchers.values():  # after the requests in flight are answered
            b.close()
        if workers is not None:
            workers.close()

    app = FastAPI(title="seq2seq", version=version, lifespan=lifespan)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def not_here(request: Request, exc: HTTPException) -> JSONResponse:
        what = (f"no such path: {request.method} {request.url.path}; POST "
                + ", ".join(f"/runs/{n}/{ep.verb}" for n, ep in endpoints.items())
                if exc.status_code in (404, 405) else str(exc.detail))
        return JSONResponse({"error": what}, status_code=exc.status_code)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(PAGE / "index.html")

    app.mount("/page", StaticFiles(directory=PAGE), name="page")

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "runs": sorted(endpoints),  # requests, batches, items
                "searched": {name: dict(b.counts) for name, b in batchers.items()}}

    @app.get("/runs")
    async def runs() -> dict:
        return {name: {"task": tasks[name], **ep.describe()} for name, ep in endpoints.items()}

    for name, ep in endpoints.items():
        app.add_api_route(f"/runs/{name}/{ep.verb}", _route(ep, batchers[name], limits),
                          methods=["POST"], name=f"{name} {ep.verb}",
                          openapi_extra=openapi_of(ep, limits))
    return app


def _route(ep: Endpoint, batcher: Batcher, limits: Limits):
    async def answer(request: Request) -> dict:
        raw = await read_body(request, ep.body_limit())
        items, options = ep.request(raw, dict(request.query_params))
        try:
            results = await asyncio.wait_for(batcher.submit(items, options), limits.timeout_s)
        except asyncio.TimeoutError:
            raise BadRequest(f"no answer within {limits.timeout_s:g} s (the server is busy)",
                             503) from None
        return {"results": results}
    answer.__doc__ = (f"{ep.verb}: the body (JSON {{\"texts\": [...], options}}, or an image "
                      "file's bytes) -> {\"results\": [one answer per item]}")
    return answer


async def read_body(request: Request, limit: int) -> bytes:
    """The body's bytes, at most `limit` of them."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the body has {declared} bytes; at most {limit}", 413)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise BadRequest(f"the body is over {limit} bytes", 413)
    return bytes(raw)
