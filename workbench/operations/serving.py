"""The local prediction service: FastAPI + uvicorn over a serving bundle.

``mlops-workbench serve [--stage production | --version V | --bundle DIR]`` ::

    POST /predict   a JSON list of records (or CSV with a header row, Content-Type: text/csv)
                    -> {"model", "version", "predictions": [{"prediction", "score"?}]}
    GET  /health    {"status": "ok", "version"}
    GET  /metadata  model, version, stage, commit, digests, metrics, features and live counters
    GET  /openapi.json, /docs   the spec (the /predict body is the bundle's record schema)

Decisions:

- Binds 127.0.0.1 unless ``--host`` says otherwise: a model is data about people, and a
  service on every interface is a choice someone should make on purpose.
- ``/predict`` reads the raw body and validates it with one pydantic-core call against
  the schema built from the training features (:mod:`workbench.operations.predict`):
  malformed JSON, a wrong type, a missing or unknown field, NaN or infinity get 422 with
  the record and field named; a body over ``max_body_bytes`` (default 1 MiB) gets 413
  before it is read. Finite numbers the model's arithmetic cannot take (1e308 through a
  scaler overflows to infinity) are 422 too: the input, not the service, is wrong.
  Unexpected failures are 500 with one line, never a dead service.
- Content types: JSON (also with no Content-Type, or the form type ``curl -d`` sends), or
  CSV (``text/csv``: a header row, then a record per line, typed by the features' kinds
  and checked by the same schema, as MLflow's scoring server takes both; columns that are
  not features are left out, as in batch scoring); anything else is 415 naming the type.
- Speed: no FastAPI body model and no ``jsonable_encoder`` on the hot path (the body is
  validated from bytes, the answer is serialised with orjson), and the scorer's prebuilt
  fast path skips pandas for single records. The handler runs on the event loop: scoring
  is CPU-bound and short, and a thread hop would cost more than it saves.
- Every scored record is appended as one JSON line to
  ``<log-dir>/predictions-YYYY-MM-DD.jsonl`` (UTC day): ``{"at", "version", "request",
  "input", "prediction", "score"?}``. The default log dir is the project's
  ``monitoring/predictions/``; it holds a ``.gitignore`` of ``*`` so logs never reach git
  by accident (monitoring reads them, or a team tracks them with ``dvc add``). Lines are
  written with one ``os.write`` on an ``O_APPEND`` descriptor per request, so several
  services can share a folder without interleaving.
"""


import os
import socket
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

MAX_BODY_BYTES = 1 << 20
DRAIN_BYTES = 16 << 20  # bodies up to this size are read and dropped before a 413
LOG_DIR = "monitoring/predictions"


class PredictionLog:
    """Appends JSON Lines to one file per UTC day (see the module docstring)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._day = ""
        self._fd = -1

    def open(self) -> None:
        """Create the folder (with its ``.gitignore``) so a bad --log-dir fails at start, not per request."""
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# prediction logs: read by monitoring, kept out of git\n*\n", encoding="utf-8")
            self._reopen(datetime.now(timezone.utc).strftime("%Y-%m-%d"))
        except OSError as exc:
            raise WorkbenchError(f"cannot write prediction logs to {self.folder} ({exc.strerror}): "
                                 "choose a writable --log-dir") from None

    @property
    def path(self) -> Path | None:
        return None if self.folder is None or not self._day else self.folder / f"predictions-{self._day}.jsonl"

    def _reopen(self, day: str) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._day = day
        self._fd = os.open(self.folder / f"predictions-{day}.jsonl",  # type: ignore[operator]
                           os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, now: datetime, data: bytes) -> None:
        if self.folder is None:
            return
        day = now.strftime("%Y-%m-%d")
        if day != self._day:
            self._reopen(day)
        os.write(self._fd, data)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


#: Content types read as JSON: JSON itself, none at all, and the form type ``curl -d`` sends
#: by default (a person trying the service from a shell should not need ``-H``).
_JSON_TYPES = ("", "application/json", "application/x-www-form-urlencoded", "text/plain")
_CSV_TYPES = ("text/csv", "application/csv")


def body_kind(content_type: str | None) -> str | None:
    """``json``, ``csv``, or None for a Content-Type the service does not read (a 415)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in _JSON_TYPES or media.endswith("+json"):
        return "json"
    if media in _CSV_TYPES:
        return "csv"
    return None


def csv_records(body: bytes, features: dict[str, str]) -> list[dict[str, Any]] | str:
    """The records of a CSV body (header row, then one record per line), or the one-line reason it is not one.

    Values are typed by the features' kinds so the same schema check as for JSON applies:
    numeric fields become numbers (text that is not one stays text, and the check names
    the field), an empty field is missing. Columns that are not features (an id, the
    target) are left out, as batch ``predict`` passes them through, so the file a team
    scores in batch can be posted as it is; a misspelt feature is still named as missing.
    A row with more or fewer fields than the header is refused with its line number rather
    than guessed at.
    """
    import csv
    import io

    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return f"the CSV body is not UTF-8 (byte {exc.start}): send it as UTF-8 text"
    short = object()
    reader = csv.DictReader(io.StringIO(text, newline=""), restval=short)  # type: ignore[arg-type]
    records: list[dict[str, Any]] = []
    try:
        for row in reader:
            if None in row or short in row.values():
                return (f"CSV line {reader.line_num} has {'more' if None in row else 'fewer'} fields than "
                        "the header row: one value per column, empty for a missing one")
            record: dict[str, Any] = {}
            for name, raw in row.items():
                if name not in features:
                    continue
                value: Any = None if raw == "" else raw
                if value is not None and features.get(name) == "numeric":
                    try:
                        value = float(value)
                    except ValueError:
                        pass  # the schema check names the field
                record[name] = value
            records.append(record)
    except csv.Error as exc:
        return f"the CSV body could not be read (line {reader.line_num}: {exc}): send plain CSV text"
    if reader.fieldnames is None:
        return "the CSV body is empty: send a header row of feature names, then one record per line"
    return records


def create_app(scorer: Any, *, stage: str | None = None, log: PredictionLog | None = None,
               max_body_bytes: int = MAX_BODY_BYTES) -> Any:
    """The ASGI app serving ``scorer`` (a :class:`workbench.operations.predict.Scorer`).

    A FastAPI app (routes, OpenAPI spec, /docs) behind a thin ASGI front that answers
    ``POST /predict`` itself: the same code as the FastAPI route, minus Starlette's request
    object, routing and middleware, which are a third of the per-request cost here.
    """
    import orjson
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    from pydantic import ValidationError

    from workbench.operations.predict import error_lines

    meta = scorer.metadata
    version = str(meta.get("version") or "unversioned")
    artifact = str(meta.get("artifact") or "model")
    log = log or PredictionLog(None)
    counters = {"requests": 0, "records": 0, "rejected": 0, "failed": 0}
    started = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    item_schema = scorer.adapter.json_schema()
    for ref in item_schema.pop("$defs", {}).values():  # inline the record: no $ref for clients to chase
        item_schema["items"] = ref
    json_type = "application/json"
    too_big = f"the body is larger than {max_body_bytes} bytes: send fewer records per request"

    def dump(data: Any) -> bytes:
        return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)

    def refuse(status: int, line: str, detail: list[dict[str, Any]] | None = None) -> tuple[int, bytes]:
        counters["rejected"] += 1
        return status, dump({"error": line, "detail": detail or [{"loc": ["body"], "msg": line,
                                                                 "type": "value_error"}]})

    async def read_body(length: str | None, chunks: Any) -> bytes | None:
        """The body, or None when it is over the limit (bodies up to DRAIN_BYTES are read and
        dropped first, so a client that sends everything before reading sees the 413)."""
        if length is not None and (not length.isdigit() or int(length) > max_body_bytes):
            if length.isdigit() and int(length) <= DRAIN_BYTES:
                async for _ in chunks:
                    pass
            return None
        parts = bytearray()
        seen = 0
        async for chunk in chunks:
            seen += len(chunk)
            if seen <= max_body_bytes:
                parts += chunk
            elif seen > DRAIN_BYTES:
                break
        return None if seen > max_body_bytes else bytes(parts)

    def score(body: bytes | None, content_type: str | None = None) -> tuple[int, bytes]:
        """Status and JSON answer of one /predict body (logs the scored records)."""
        kind = body_kind(content_type)
        if kind is None:
            return refuse(415, f"the body's Content-Type is {content_type!r}: send JSON "
                               "(application/json) or CSV with a header row (text/csv)")
        if body is None:
            return refuse(413, too_big)
        try:
            if kind == "csv":
                rows = csv_records(body, scorer.features)
                if isinstance(rows, str):
                    return refuse(422, rows)
                records = scorer.parse_python(rows)
            else:
                records = scorer.parse(body)
        except ValidationError as exc:
            detail, line = error_lines(exc)
            return refuse(422, line, detail)
        try:
            predictions = scorer.predict_records(records)
        except ValueError as exc:  # valid JSON the model cannot take, e.g. 1e308 overflowing the scaler
            first = (str(exc).strip().splitlines() or ["invalid values"])[0]
            return refuse(422, f"the model cannot score these values ({first}): check the units and "
                               "magnitudes of the numeric fields")
        except Exception as exc:  # noqa: BLE001 - the service stays up; the caller gets one line
            counters["failed"] += 1
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return 500, dump({"error": f"the model could not score these records: {first}"})
        counters["requests"] += 1
        counters["records"] += len(records)
        if log.folder is not None:
            now = datetime.now(timezone.utc)
            at = now.isoformat(timespec="milliseconds")
            n = counters["requests"]
            log.write(now, b"".join(
                orjson.dumps({"at": at, "version": version, "request": n, "input": rec, **pred},
                             option=orjson.OPT_APPEND_NEWLINE)
                for rec, pred in zip(records, predictions, strict=True)))
        return 200, dump({"model": artifact, "version": version, "predictions": predictions})

    app = FastAPI(title=f"{artifact} {version}", version=version, docs_url="/docs", redoc_url=None,
                  description="Predictions of a model registered with mlops-workbench.")
    error_schema = {"type": "object", "properties": {"error": {"type": "string"}, "detail": {"type": "array"}}}
    prediction_schema = {"type": "object", "properties": {
        "model": {"type": "string"}, "version": {"type": "string"},
        "predictions": {"type": "array", "items": {"type": "object"}}}}

    csv_schema = {"type": "string", "description": "CSV text: a header row of feature names, then one "
                  "record per line (empty = missing)"}

    @app.post("/predict", openapi_extra={
        "requestBody": {"required": True, "content": {json_type: {"schema": item_schema},
                                                      "text/csv": {"schema": csv_schema}}},
        "responses": {
            "200": {"description": "one prediction per record", "content": {json_type: {"schema": prediction_schema}}},
            "413": {"description": "body too large", "content": {json_type: {"schema": error_schema}}},
            "415": {"description": "neither JSON nor CSV", "content": {json_type: {"schema": error_schema}}},
            "422": {"description": "invalid records (the field is named)",
                    "content": {json_type: {"schema": error_schema}}},
        }})
    async def predict(request: Request) -> Response:
        status, content = score(await read_body(request.headers.get("content-length"), request.stream()),
                                request.headers.get("content-type"))
        return Response(content, status_code=status, media_type=json_type)

    @app.get("/health")
    async def health() -> Response:
        return Response(dump({"status": "ok", "version": version}), media_type=json_type)

    @app.get("/metadata")
    async def metadata() -> Response:
        return Response(dump({
            "model": artifact, "version": version, "stage": stage,
            "commit": meta.get("commit"), "model_digest": meta.get("model_digest"),
            "evidence_digest": meta.get("evidence_digest"), "approved_by": meta.get("approved_by"),
            "task": scorer.task, "target": meta.get("target"), "metrics": meta.get("metrics") or {},
            "features": [{"name": k, "type": v} for k, v in scorer.features.items()],
            "classes": scorer.classes, "started_at": started, "fast_path": scorer.fast is not None,
            "log": str(log.path) if log.path else None, "max_body_bytes": max_body_bytes,
            **counters,
        }), media_type=json_type)

    async def front(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/predict" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        length = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-length"), None)
        content_type = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), None)

        async def chunks() -> Any:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        status, content = score(await read_body(length, chunks()), content_type)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})

    front.fastapi = app  # type: ignore[attr-defined]
    return front


def check_port(host: str, port: int) -> None:
    """Refuse (one line) a port that is not a number or is taken, before loading anything heavy."""
    if not 0 < port < 65536:
        raise WorkbenchError(f"--port {port} is not a port number: use 1-65535, e.g. --port 8000")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise WorkbenchError(f"--host {host!r} is not an address of this machine: use 127.0.0.1 or 0.0.0.0") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            raise WorkbenchError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port") from None


def prepare(project_path: Path | None, *, bundle: Path | None = None, version: str | None = None,
            stage: str | None = None) -> tuple[Path, str | None]:
    """The bundle folder to serve and the stage label /metadata reports."""
    if bundle is not None:
        if version or stage:
            raise WorkbenchError("--bundle serves that folder: leave out --version and --stage")
        return Path(bundle).absolute(), None
    from workbench.operations.bundle import ensure_bundle
    from workbench.versioning.registry import STAGES, resolve_version

    if version and stage:
        raise WorkbenchError("give --version or --stage, not both")
    if stage and stage not in STAGES:
        raise WorkbenchError(f"stage {stage!r} is not known: use one of {', '.join(STAGES)}")
    root = Path(project_path or ".").absolute()
    target, _ = resolve_version(root, version, stage or "production")
    label = (stage or "production") if not version else (",".join(target.stages) or None)
    return ensure_bundle(root, target.version), label


def serve(project_path: Path | None, *, bundle: Path | None = None, version: str | None = None,
          stage: str | None = None, host: str = "127.0.0.1", port: int = 8000, log_dir: Path | None = None,
          max_body_bytes: int = MAX_BODY_BYTES, say: Callable[[str], None] | None = None) -> int:
    """Serve a registered version (or a bundle folder) until Ctrl-C / SIGTERM; returns 0."""
    import uvicorn

    from workbench.operations.predict import Scorer

    check_port(host, port)
    if max_body_bytes < 1024:
        raise WorkbenchError(f"--max-body-bytes {max_body_bytes} is too small: use at least 1024")
    folder, label = prepare(project_path, bundle=bundle, version=version, stage=stage)
    scorer = Scorer.load(folder)
    if log_dir is None:
        log_dir = (Path(project_path or ".").absolute() if bundle is None else Path.cwd()) / LOG_DIR
    log = PredictionLog(Path(log_dir))
    log.open()
    app = create_app(scorer, stage=label, log=log, max_body_bytes=max_body_bytes)
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    version_label = scorer.metadata.get("version", "?")
    say(f"Serving model {version_label}{f' ({label})' if label else ''} at http://{_url_host(host)}:{port}  "
        f"POST /predict, GET /health, GET /metadata; logging to {log.path}; Ctrl-C stops")
    if host not in ("127.0.0.1", "localhost", "::1"):
        say(f"note: listening on {host}: reachable from other machines; there is no authentication")
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            server_header=False, lifespan="off")
    server = uvicorn.Server(config)
    started = time.monotonic()
    try:
        server.run()
    finally:
        log.close()
    if not server.started and time.monotonic() - started < 5:
        raise WorkbenchError(f"the service could not start on {host}:{port}: see the lines above")
    return 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
