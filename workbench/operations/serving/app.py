"""The ASGI app: the FastAPI routes (OpenAPI spec, /docs, /health, /metadata) behind a thin
front that checks who is calling and answers ``POST /predict`` itself.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations
(``request: Request``) at run time.
"""

import asyncio
import hmac
import os
import threading
from collections.abc import AsyncIterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from workbench.operations.serving.bodies import CSV_FRAME_LINES, csv_frame, csv_records
from workbench.operations.serving.guard import (
    TOKEN_ENV,
    body_kind,
    loopback_host_header,
    origin_allowed,
)
from workbench.operations.serving.log import DRAIN_BYTES, MAX_BODY_BYTES, PredictionLog, SharedState

JSON_TYPE = "application/json"
Answer = tuple[int, bytes]


class _Refused(Exception):  # noqa: N818 - not an error of the service: the answer to give instead
    """Raised on the scoring path with the answer to send (422, 500, 503)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer[0])
        self.answer = answer


def create_app(scorer: Any, *, stage: str | None = None, log: PredictionLog | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, token: str | None = None, check_host: bool = True,
               cors_origins: tuple[str, ...] = (), threads: int = 1, shared: SharedState | None = None) -> Any:
    """The ASGI app serving ``scorer`` (a :class:`workbench.operations.predict.Scorer`).

    A FastAPI app (routes, OpenAPI spec, /docs) behind a thin ASGI front that checks who is
    calling (Host, Origin, token: see the package docstring) and answers ``POST /predict``
    itself: the same code as the FastAPI route, minus Starlette's request object, routing
    and middleware, which are a third of the per-request cost here. ``check_host`` is for
    loopback binds; ``threads`` is the size of the scoring pool; ``shared`` holds the counters
    (one per service: the workers of :func:`serve` share it). The app has ``.fastapi`` (the
    FastAPI app) and ``.pool`` (the scoring pool, shut down by whoever runs it).
    """
    return Service(scorer, stage=stage, log=log or PredictionLog(None), max_body_bytes=max_body_bytes,
                   token=token, check_host=check_host, cors_origins=cors_origins, threads=threads,
                   shared=shared or SharedState(1))


class Service:
    """One service's state and its request handling (an ASGI app: ``await service(scope, receive, send)``)."""

    def __init__(self, scorer: Any, *, stage: str | None, log: PredictionLog, max_body_bytes: int,
                 token: str | None, check_host: bool, cors_origins: tuple[str, ...], threads: int,
                 shared: SharedState) -> None:
        import orjson
        from pydantic import ValidationError

        from workbench.operations.record_schema import error_lines

        self._orjson, self._validation_error, self._error_lines = orjson, ValidationError, error_lines
        self.scorer, self.stage, self.log, self.shared = scorer, stage, log, shared
        self.max_body_bytes, self.token, self.check_host = max_body_bytes, token, check_host
        meta = scorer.metadata
        self.meta = meta
        self.version = str(meta.get("version") or "unversioned")
        self.artifact = str(meta.get("artifact") or "model")
        self.lock = threading.Lock()  # the log: scoring runs in the pool's threads
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="score")
        self.started = datetime.now(UTC).replace(microsecond=0).isoformat()
        self.too_big = f"the body is larger than {max_body_bytes} bytes: send fewer records per request"
        self.expected = f"Bearer {token}".encode() if token else None
        self.allowed = tuple(o.rstrip("/") for o in cors_origins)
        self.cors_values = {o.encode(): o.encode() for o in self.allowed}
        self.count = shared.add
        self.fastapi = self._fastapi()

    # --- answers ------------------------------------------------------------------------------

    def dump(self, data: Any) -> bytes:
        return self._orjson.dumps(data, option=self._orjson.OPT_SERIALIZE_NUMPY)

    def refuse(self, status: int, line: str, detail: list[dict[str, Any]] | None = None) -> Answer:
        self.count("rejected")
        return status, self.dump({"error": line, "detail": detail or [{"loc": ["body"], "msg": line,
                                                                      "type": "value_error"}]})

    def unsupported(self, content_type: str | None) -> Answer:
        said = "no Content-Type" if not content_type else f"Content-Type {content_type!r}"
        return self.refuse(415, f"the body has {said}: send JSON as application/json (curl: "
                                "-H 'Content-Type: application/json') or CSV with a header row as text/csv")

    def error(self, line: str) -> bytes:
        return self.dump({"error": line})

    # --- /predict -----------------------------------------------------------------------------

    async def read_body(self, length: str | None, chunks: AsyncIterator[bytes]) -> bytes | None:
        """The body, or None when it is over the limit (bodies up to DRAIN_BYTES are read and
        dropped first, so a client that sends everything before reading sees the 413)."""
        limit = self.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            if length.isdigit() and int(length) <= DRAIN_BYTES:
                async for _ in chunks:
                    pass
            return None
        parts = bytearray()
        seen = 0
        async for chunk in chunks:
            seen += len(chunk)
            if seen <= limit:
                parts += chunk
            elif seen > DRAIN_BYTES:
                break
        return None if seen > limit else bytes(parts)

    def parse(self, body: bytes, kind: str) -> tuple[Any, Any]:
        """(frame or None, records) of a body (raises the 422); a big CSV body is read as a frame."""
        frame = None
        records: Any = None
        try:
            if kind == "csv" and body.count(b"\n") >= CSV_FRAME_LINES:
                read = csv_frame(body, self.scorer.features)
                if read is not None:
                    frame, records = read
            if frame is None and kind == "csv":
                rows = csv_records(body, self.scorer.features)
                if isinstance(rows, str):
                    raise _Refused(self.refuse(422, rows))
                records = self.scorer.parse_python(rows)
            elif frame is None:
                records = self.scorer.parse(body)
        except self._validation_error as exc:
            detail, line = self._error_lines(exc)
            raise _Refused(self.refuse(422, line, detail)) from None
        return frame, records

    def predict(self, frame: Any, records: Any) -> list[dict[str, Any]]:
        """The predictions of the parsed body (raises the 422 / 500)."""
        try:
            if frame is not None:  # a big CSV body: the pipeline on the frame, as batch predict does
                labels, scores = self.scorer.predict_frame(frame)
                return [{"prediction": v} for v in labels] if scores is None else [
                    {"prediction": v, "score": p} for v, p in zip(labels, scores, strict=True)]
            return self.scorer.predict_records(records)
        except ValueError as exc:  # valid JSON the model cannot take, e.g. 1e308 overflowing the scaler
            first = (str(exc).strip().splitlines() or ["invalid values"])[0]
            raise _Refused(self.refuse(422, f"the model cannot score these values ({first}): check the units "
                                            "and magnitudes of the numeric fields")) from None
        except Exception as exc:  # noqa: BLE001 - the service stays up; the caller gets one line
            self.count("failed")
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise _Refused((500, self.dump({"error": f"the model could not score these records: {first}"}))) from None

    def record(self, records: Any, predictions: list[dict[str, Any]]) -> None:
        """Append the scored records to the prediction log (raises the 503 when it cannot be written)."""
        log = self.log
        if log.folder is None:
            return
        orjson = self._orjson
        now = datetime.now(UTC)
        at = now.isoformat(timespec="milliseconds")
        n = self.shared.next_request()
        try:
            data = b"".join(orjson.dumps({"at": at, "version": self.version, "request": n, "input": rec, **pred},
                                         option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)
                            for rec, pred in zip(records, predictions, strict=True))
            with self.lock:
                log.write(now, data)
        except (OSError, TypeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            line = f"the prediction log {log.path or log.folder} cannot be written ({reason})"
            self.shared.fail_log(line)
            raise _Refused((503, self.dump({"error": f"{line}: predictions are not served without their "
                                                     "record; free space or fix the log folder, then retry"}))) from None

    def score(self, body: bytes, kind: str) -> Answer:
        """Status and JSON answer of one /predict body (logs the scored records); runs in the pool."""
        try:
            frame, records = self.parse(body, kind)
            predictions = self.predict(frame, records)
            self.record(records, predictions)
        except _Refused as refused:
            return refused.answer
        self.shared.scored(len(records))
        return 200, self.dump({"model": self.artifact, "version": self.version, "predictions": predictions})

    async def predict_body(self, body: bytes | None, content_type: str | None) -> Answer:
        kind = body_kind(content_type)
        if kind is None:
            return self.unsupported(content_type)
        if body is None:
            return self.refuse(413, self.too_big)
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.score, body, kind)

    # --- the FastAPI app: the spec, /docs, /health, /metadata ---------------------------------

    def _fastapi(self) -> Any:
        from fastapi import FastAPI, Request
        from fastapi.responses import Response

        app = FastAPI(title=f"{self.artifact} {self.version}", version=self.version, docs_url="/docs",
                      redoc_url=None, description="Predictions of a model registered with mlops-workbench.")

        @app.post("/predict", openapi_extra=_predict_spec(self.scorer))
        async def predict(request: Request) -> Response:
            status, content = await self.predict_body(
                await self.read_body(request.headers.get("content-length"), request.stream()),
                request.headers.get("content-type"))
            return Response(content, status_code=status, media_type=JSON_TYPE)

        @app.get("/health")
        async def health() -> Response:
            reason = self.shared.degraded
            if reason:
                return Response(self.dump({"status": "degraded", "version": self.version, "reason": reason}),
                                status_code=503, media_type=JSON_TYPE)
            return Response(self.dump({"status": "ok", "version": self.version}), media_type=JSON_TYPE)

        @app.get("/metadata")
        async def metadata() -> Response:
            return Response(self.dump(self.metadata()), media_type=JSON_TYPE)

        return app

    def metadata(self) -> dict[str, Any]:
        meta, scorer, shared = self.meta, self.scorer, self.shared
        return {
            "model": self.artifact, "version": self.version, "stage": self.stage,
            "commit": meta.get("commit"), "model_digest": meta.get("model_digest"),
            "evidence_digest": meta.get("evidence_digest"), "approved_by": meta.get("approved_by"),
            "task": scorer.task, "target": meta.get("target"), "metrics": meta.get("metrics") or {},
            "features": [{"name": k, "type": v} for k, v in scorer.features.items()],
            "classes": scorer.classes, "started_at": self.started, "fast_path": scorer.fast is not None,
            "runtime": getattr(scorer, "runtime", "skops"),
            "log": str(self.log.path) if self.log.path else None, "max_body_bytes": self.max_body_bytes,
            "degraded": shared.degraded, "token_required": self.token is not None, "pid": os.getpid(),
            "workers": shared.workers, **shared.totals(),
        }

    # --- the front ----------------------------------------------------------------------------

    async def answer(self, send: Any, status: int, content: bytes, extra: list[tuple[bytes, bytes]]) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(content)).encode()), *extra]})
        await send({"type": "http.response.body", "body": content})

    def guard(self, headers: dict[bytes, bytes], path: str, method: str) -> tuple[Answer | None, list[tuple[bytes, bytes]]]:
        """(the refusal or preflight answer, or None; the CORS headers of the answer) for a request's
        Host, Origin and token, checked in that order before its body is read."""
        host, origin, auth = headers.get(b"host"), headers.get(b"origin"), headers.get(b"authorization")
        if self.check_host and (host is None or not loopback_host_header(host)):
            self.count("rejected")
            said = "no Host header" if host is None else f"the Host {host.decode('latin-1')!r}"
            return (421, self.error(f"{said} is not this machine: the service listens on loopback "
                                    "and answers http://127.0.0.1 or http://localhost only")), []
        extra: list[tuple[bytes, bytes]] = []
        if origin is not None:
            if not origin_allowed(origin, self.allowed):
                self.count("rejected")
                return (403, self.error(f"requests from the web page {origin.decode('latin-1')!r} are refused: "
                                        "start the service with --cors-origin URL to allow a page to call it")), []
            if self.cors_values.get(origin.rstrip(b"/")) is not None:
                extra = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
                if method == "OPTIONS":  # a preflight: the browser asks before a JSON POST
                    return (204, b""), [*extra, (b"access-control-allow-methods", b"GET, POST"),
                                        (b"access-control-allow-headers", b"Authorization, Content-Type"),
                                        (b"access-control-max-age", b"600")]
        if self.expected is not None and not (path == "/health" and method in ("GET", "HEAD")) and (
                auth is None or not hmac.compare_digest(auth, self.expected)):
            self.count("rejected")
            return (401, self.error("this service needs its token: send 'Authorization: Bearer <token>' "
                                    f"(the token of --token-file or ${TOKEN_ENV})")), \
                [*extra, (b"www-authenticate", b'Bearer realm="mlops-workbench"')]
        return None, extra

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for k, v in scope["headers"]:
            if k in _WANTED:
                headers[k] = v  # a header sent twice: the last one counts
        path, method = scope["path"], scope["method"]
        refused, extra = self.guard(headers, path, method)
        if refused is not None:
            await self.answer(send, *refused, extra)
            return
        if path != "/predict" or method != "POST":
            await self._to_fastapi(scope, receive, send, extra)
            return
        length, content_type = headers.get(b"content-length"), headers.get(b"content-type")
        ctype = content_type.decode("latin-1") if content_type is not None else None
        status, content = await self.predict_body(
            await self.read_body(length.decode("latin-1") if length is not None else None, _chunks(receive)), ctype)
        await self.answer(send, status, content, extra)

    async def _to_fastapi(self, scope: dict[str, Any], receive: Any, send: Any,
                          extra: list[tuple[bytes, bytes]]) -> None:
        if not extra:
            await self.fastapi(scope, receive, send)
            return

        async def send_with_cors(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.fastapi(scope, receive, send_with_cors)


_WANTED = frozenset((b"host", b"origin", b"authorization", b"content-length", b"content-type"))


async def _chunks(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def _predict_spec(scorer: Any) -> dict[str, Any]:
    """The OpenAPI of ``POST /predict``: the bundle's record schema (inlined), CSV, the answers."""
    item_schema = scorer.adapter.json_schema()
    for ref in item_schema.pop("$defs", {}).values():  # inline the record: no $ref for clients to chase
        item_schema["items"] = ref
    error = {"content": {JSON_TYPE: {"schema": {"type": "object", "properties": {
        "error": {"type": "string"}, "detail": {"type": "array"}}}}}}
    prediction_schema = {"type": "object", "properties": {
        "model": {"type": "string"}, "version": {"type": "string"},
        "predictions": {"type": "array", "items": {"type": "object"}}}}
    csv_schema = {"type": "string", "description": "CSV text: a header row of feature names, then one "
                  "record per line (empty = missing)"}
    return {
        "requestBody": {"required": True, "content": {JSON_TYPE: {"schema": item_schema},
                                                      "text/csv": {"schema": csv_schema}}},
        "responses": {
            "200": {"description": "one prediction per record", "content": {JSON_TYPE: {"schema": prediction_schema}}},
            "413": {"description": "body too large", **error},
            "415": {"description": "neither application/json nor text/csv", **error},
            "422": {"description": "invalid records (the field is named)", **error},
            "503": {"description": "the prediction log cannot be written", **error},
        }}
