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
- Who may call it. On a loopback bind (127.0.0.0/8, ::1, localhost) a request whose
  ``Host`` is not a loopback name or address is 421 (a DNS-rebinding page sends its own
  name), and on every bind a request whose ``Origin`` is neither a loopback origin nor one
  given with ``--cors-origin`` is 403, before its body is read: a web page the user visits
  cannot feed the prediction log that monitoring and retraining read. No CORS headers are
  sent unless ``--cors-origin URL`` names the page that may call it. A bind beyond
  loopback (``--host 0.0.0.0``, a LAN address) needs a token, from ``--token-file PATH``
  or ``$MLOPS_WORKBENCH_TOKEN``, or the service refuses to start; with a token every
  request but ``GET /health`` needs ``Authorization: Bearer <token>`` (compared in
  constant time; 401 without it). A token given on a loopback bind is enforced too.
- ``/predict`` reads the raw body and validates it with one pydantic-core call against
  the schema built from the training features (:mod:`workbench.operations.predict`):
  malformed JSON, a wrong type, a missing or unknown field, NaN or infinity get 422 with
  the record and field named; a body over ``max_body_bytes`` (default 1 MiB) gets 413
  before it is read. Finite numbers the model's arithmetic cannot take (1e308 through a
  scaler overflows to infinity) are 422 too: the input, not the service, is wrong.
  Unexpected failures are 500 with one line, never a dead service or a traceback.
- Content types: JSON only as ``application/json`` (or a ``+json`` type), CSV only as
  ``text/csv`` (a header row, then a record per line, typed by the features' kinds and
  checked by the same schema, as MLflow's scoring server takes both; columns that are not
  features are left out, as in batch scoring; a column named twice, or a header with no
  records, is 422; a body of ``CSV_FRAME_LINES`` lines or more is read column-wise by
  pyarrow and scored as a frame, falling back to the record path, which names the line or
  field, at the first doubt). Anything else, and a body with no Content-Type, is 415 naming the
  type: ``text/plain`` and the form type are what a cross-site page can send without
  asking, so ``curl`` needs ``-H 'Content-Type: application/json'`` (or ``--json``).
- The prediction log is part of monitoring: a prediction whose record cannot be written
  (a full disk, an unwritable folder) is not served. The answer is 503 with one line
  naming the reason, ``/health`` answers 503 ``{"status": "degraded", "reason"}`` and
  ``/metadata`` counts ``log_failures`` until a record is written again.
- Speed: no FastAPI body model and no ``jsonable_encoder`` on the hot path (the body is
  validated from bytes, the answer is serialised with orjson), and the scorer's prebuilt
  fast path skips pandas for single records. Scoring runs in a one-thread pool, so the
  event loop keeps answering ``/health`` and ``/metadata`` while the model works (measured
  on this 2-core machine under 50 predicting clients: /health p50 345 ms, p99 0.9-1.1 s
  before; p50 4 ms, p99 48-58 ms after, with the machine's load average at 8; a second
  scoring thread only adds GIL hand-offs and doubled the p99).
- Every scored record is appended as one JSON line to
  ``<log-dir>/predictions-YYYY-MM-DD.jsonl`` (UTC day): ``{"at", "version", "request",
  "input", "prediction", "score"?}``. The default log dir is the project's
  ``monitoring/predictions/``; it holds a ``.gitignore`` of ``*`` so logs never reach git
  by accident (monitoring reads them, or a team tracks them with ``dvc add``). Lines are
  written with one ``os.write`` on an ``O_APPEND`` descriptor per request, so several
  services (or workers) can share a folder without interleaving; a write a full disk
  cuts short is truncated away again (or, when another writer came after it, ended with a
  newline by the next write, so monitoring skips the fragment).
"""


import errno
import functools
import hmac
import ipaddress
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.errors import WorkbenchError

MAX_BODY_BYTES = 1 << 20
DRAIN_BYTES = 16 << 20  # bodies up to this size are read and dropped before a 413
LOG_DIR = paths.PREDICTIONS_FOLDER


class PredictionLog:
    """Appends JSON Lines to one file per UTC day (see the module docstring)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._day = ""
        self._fd = -1
        self._torn = False

    def open(self) -> None:
        """Create the folder (with its ``.gitignore``) so a bad --log-dir fails at start, not per request."""
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# prediction logs: read by monitoring, kept out of git\n*\n", encoding="utf-8")
            self._reopen(datetime.now(UTC).strftime("%Y-%m-%d"))
        except OSError as exc:
            raise WorkbenchError(f"cannot write prediction logs to {self.folder} ({exc.strerror}): "
                                 "choose a writable --log-dir") from None

    @property
    def path(self) -> Path | None:
        return None if self.folder is None or not self._day else self.folder / f"predictions-{self._day}.jsonl"

    def _reopen(self, day: str) -> None:
        fd = os.open(self.folder / f"predictions-{day}.jsonl",  # type: ignore[operator]
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._day = fd, day

    def write(self, now: datetime, data: bytes) -> None:
        """Append ``data`` (whole lines) with one ``write``; raises OSError when it is not all written.

        A write cut short (a full disk) is cut off the file again, so the records of a refused
        request are not in the log; when another writer appended after it meanwhile, the
        fragment stays, and the next write starts with a newline, so the fragment is a line of
        its own that monitoring skips rather than the start of the next record.
        """
        if self.folder is None:
            return
        day = now.strftime("%Y-%m-%d")
        if day != self._day:
            self._reopen(day)
        if self._torn:
            data = b"\n" + data
        written = os.write(self._fd, data)
        if written < len(data):
            self._torn = not self._undo(written)
            raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)}: {written} of {len(data)} bytes written")
        self._torn = False

    def _undo(self, written: int) -> bool:
        """Cut the part of a short write off again when nothing was appended after it (True if so)."""
        try:
            end = os.lseek(self._fd, 0, os.SEEK_CUR)  # O_APPEND: the end of what was just written
            if os.fstat(self._fd).st_size != end:
                return False
            os.ftruncate(self._fd, end - written)
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class SharedState:
    """The live counters and the degraded reason of every worker of one service.

    In shared memory made before the workers are forked, so ``/metadata`` and ``/health``
    answer for the whole service whichever worker takes the request. Each worker adds to
    its own ``slot``; request numbers (the log's ``request``) come from one shared sequence.
    """

    KEYS = ("requests", "records", "rejected", "failed", "log_failures")

    def __init__(self, workers: int = 1) -> None:
        import multiprocessing

        self.workers = workers
        self.slot = 0
        self._counts = multiprocessing.RawArray("q", len(self.KEYS) * workers)
        self._sequence = multiprocessing.RawValue("q", 0)
        self._reason = multiprocessing.RawArray("c", 1024)
        self._lock = multiprocessing.Lock()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[self.slot * len(self.KEYS) + self.KEYS.index(key)] += n

    def next_request(self) -> int:
        with self._lock:
            self._sequence.value += 1
            return int(self._sequence.value)

    def scored(self, records: int) -> None:
        with self._lock:
            base = self.slot * len(self.KEYS)
            self._counts[base] += 1
            self._counts[base + 1] += records
            if self._reason[0] != b"\0":
                self._reason[0] = b"\0"

    def totals(self) -> dict[str, int]:
        with self._lock:
            counts = list(self._counts)
        k = len(self.KEYS)
        return {key: sum(counts[i::k]) for i, key in enumerate(self.KEYS)}

    @property
    def degraded(self) -> str | None:
        value = self._reason.value
        return value.decode("utf-8", "replace") if value else None

    def fail_log(self, reason: str) -> None:
        with self._lock:
            self._counts[self.slot * len(self.KEYS) + self.KEYS.index("log_failures")] += 1
            self._reason.value = reason.encode("utf-8")[:1023]


TOKEN_ENV = "MLOPS_WORKBENCH_TOKEN"
MIN_TOKEN_CHARS = 16


def body_kind(content_type: str | None) -> str | None:
    """``json``, ``csv``, or None for a Content-Type the service does not read (a 415).

    JSON is ``application/json`` or any ``+json`` type, CSV is ``text/csv``; nothing else,
    not even no Content-Type: ``text/plain``, the form type and a bare body are what a web
    page of another site can POST without the browser asking first.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return "json"
    if media == "text/csv":
        return "csv"
    return None


def is_loopback(host: str) -> bool:
    """Whether a bind address or host name is this machine only: localhost, 127.0.0.0/8, ::1."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)
def loopback_host_header(value: bytes) -> bool:
    """Whether a ``Host`` header names this machine (a loopback name or address, any port)."""
    text = value.decode("latin-1").strip()
    if text.startswith("["):
        name, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else ("x" if rest else "")
    else:
        name, _, port = text.partition(":")
    return (port == "" or port.isdigit()) and is_loopback(name)


@functools.lru_cache(maxsize=256)
def origin_allowed(value: bytes, extra: tuple[str, ...]) -> bool:
    """Whether a browser's ``Origin`` may call the service: a loopback origin or one of ``extra``."""
    from urllib.parse import urlsplit

    text = value.decode("latin-1").strip()
    if text.rstrip("/") in extra:
        return True
    try:
        parts = urlsplit(text)
        return parts.scheme in ("http", "https") and parts.hostname is not None and is_loopback(parts.hostname)
    except ValueError:
        return False


def read_token(token_file: Path | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The bearer token from ``--token-file`` (first) or ``$MLOPS_WORKBENCH_TOKEN``; None when neither is given."""
    environ = os.environ if environ is None else environ
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise WorkbenchError(f"cannot read the token file {token_file} ({reason}): give a file holding "
                                 "one token, e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                                 ) from None
        where = f"the token file {token_file}"
    elif environ.get(TOKEN_ENV):
        token, where = environ[TOKEN_ENV].strip(), f"${TOKEN_ENV}"
    else:
        return None
    if len(token) < MIN_TOKEN_CHARS or not all(33 <= ord(c) < 127 for c in token):
        raise WorkbenchError(f"{where} holds no usable token: use at least {MIN_TOKEN_CHARS} printable ASCII "
                             "characters without spaces, e.g. from: "
                             "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return token


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
    reader = csv.DictReader(io.StringIO(text, newline=""), restval=short)  # type: ignore[call-overload]
    records: list[dict[str, Any]] = []
    try:
        names = reader.fieldnames or []
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            return (f"the CSV header row names the column(s) {', '.join(repr(n) for n in twice)} more than once: "
                    "give each column once")
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
    if not records:
        return "the CSV body has a header row but no records: send one record per line after the header"
    return records


#: CSV bodies of at least this many lines are read by pyarrow into columns and scored as a frame
CSV_FRAME_LINES = 1000


def csv_frame(body: bytes, features: dict[str, str]) -> tuple[Any, list[dict[str, Any]]] | None:
    """A big CSV body as (feature frame, records), read column-wise by pyarrow; None to take the record path.

    Only a body the record path would accept comes out of here: any doubt (a missing,
    doubled or unreadable column, a short row, a value that is not a number, NaN or
    infinity, a magnitude over the schema's bound, a datetime feature) returns None, and
    :func:`csv_records` then names the line or field as for a small body.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    from workbench.operations.record_schema import MAX_ABS

    if "datetime" in features.values():
        return None
    import io

    types = {n: pa.float64() if k == "numeric" else pa.string() for n, k in features.items()}
    try:
        table = pcsv.read_csv(io.BytesIO(body), read_options=pcsv.ReadOptions(use_threads=False),
                              convert_options=pcsv.ConvertOptions(
                                  column_types=types, include_columns=list(features), null_values=[""],
                                  strings_can_be_null=True, quoted_strings_can_be_null=False))
        header = pcsv.read_csv(io.BytesIO(body.split(b"\n", 1)[0] + b"\n"),
                               convert_options=pcsv.ConvertOptions(column_types={})).column_names \
            if table.num_rows else []
    except (pa.ArrowInvalid, pa.ArrowKeyError, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    if not table.num_rows or len(set(header)) != len(header):
        return None
    cols: dict[str, Any] = {}
    for name, kind in features.items():
        column = table.column(name)
        if kind == "numeric":
            values = column.to_numpy(zero_copy_only=False).astype(np.float64)
            present = ~np.asarray(pc.is_null(column).to_numpy(zero_copy_only=False))
            if not np.all(np.isfinite(values[present])) or np.any(np.abs(values[present]) > MAX_ABS):
                return None
            cols[name] = values
        else:
            texts = column.to_pylist()
            cols[name] = np.array([("" if v is None else v) if kind == "text" else (float("nan") if v is None else v)
                                   for v in texts], dtype=object)
    import pandas as pd

    return pd.DataFrame(cols), table.to_pylist()


def create_app(scorer: Any, *, stage: str | None = None, log: PredictionLog | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, token: str | None = None, check_host: bool = True,
               cors_origins: tuple[str, ...] = (), threads: int = 1, shared: SharedState | None = None) -> Any:
    """The ASGI app serving ``scorer`` (a :class:`workbench.operations.predict.Scorer`).

    A FastAPI app (routes, OpenAPI spec, /docs) behind a thin ASGI front that checks who is
    calling (Host, Origin, token: see the module docstring) and answers ``POST /predict``
    itself: the same code as the FastAPI route, minus Starlette's request object, routing
    and middleware, which are a third of the per-request cost here. ``check_host`` is for
    loopback binds; ``threads`` is the size of the scoring pool; ``shared`` holds the counters
    (one per service: the workers of :func:`serve` share it).
    """
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import orjson
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    from pydantic import ValidationError

    from workbench.operations.record_schema import error_lines

    meta = scorer.metadata
    version = str(meta.get("version") or "unversioned")
    artifact = str(meta.get("artifact") or "model")
    log = log or PredictionLog(None)
    shared = shared or SharedState(1)
    lock = threading.Lock()  # the log: scoring runs in the pool's threads
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="score")
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    item_schema = scorer.adapter.json_schema()
    for ref in item_schema.pop("$defs", {}).values():  # inline the record: no $ref for clients to chase
        item_schema["items"] = ref
    json_type = "application/json"
    too_big = f"the body is larger than {max_body_bytes} bytes: send fewer records per request"
    expected = f"Bearer {token}".encode() if token else None
    allowed = tuple(o.rstrip("/") for o in cors_origins)
    cors_values = {o.encode(): o.encode() for o in allowed}

    def dump(data: Any) -> bytes:
        return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)

    count = shared.add

    def refuse(status: int, line: str, detail: list[dict[str, Any]] | None = None) -> tuple[int, bytes]:
        count("rejected")
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

    def unsupported(content_type: str | None) -> tuple[int, bytes]:
        said = "no Content-Type" if not content_type else f"Content-Type {content_type!r}"
        return refuse(415, f"the body has {said}: send JSON as application/json (curl: "
                           "-H 'Content-Type: application/json') or CSV with a header row as text/csv")

    def score(body: bytes, kind: str) -> tuple[int, bytes]:
        """Status and JSON answer of one /predict body (logs the scored records); runs in the pool."""
        frame = None
        try:
            if kind == "csv" and body.count(b"\n") >= CSV_FRAME_LINES:
                read = csv_frame(body, scorer.features)
                if read is not None:
                    frame, records = read
            if frame is None and kind == "csv":
                rows = csv_records(body, scorer.features)
                if isinstance(rows, str):
                    return refuse(422, rows)
                records = scorer.parse_python(rows)
            elif frame is None:
                records = scorer.parse(body)
        except ValidationError as exc:
            detail, line = error_lines(exc)
            return refuse(422, line, detail)
        try:
            if frame is not None:  # a big CSV body: the pipeline on the frame, as batch predict does
                labels, scores = scorer.predict_frame(frame)
                predictions = [{"prediction": v} for v in labels] if scores is None else [
                    {"prediction": v, "score": p} for v, p in zip(labels, scores, strict=True)]
            else:
                predictions = scorer.predict_records(records)
        except ValueError as exc:  # valid JSON the model cannot take, e.g. 1e308 overflowing the scaler
            first = (str(exc).strip().splitlines() or ["invalid values"])[0]
            return refuse(422, f"the model cannot score these values ({first}): check the units and "
                               "magnitudes of the numeric fields")
        except Exception as exc:  # noqa: BLE001 - the service stays up; the caller gets one line
            count("failed")
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return 500, dump({"error": f"the model could not score these records: {first}"})
        if log.folder is not None:
            now = datetime.now(UTC)
            at = now.isoformat(timespec="milliseconds")
            n = shared.next_request()
            try:
                data = b"".join(orjson.dumps({"at": at, "version": version, "request": n, "input": rec, **pred},
                                             option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)
                                for rec, pred in zip(records, predictions, strict=True))
                with lock:
                    log.write(now, data)
            except (OSError, TypeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                line = f"the prediction log {log.path or log.folder} cannot be written ({reason})"
                shared.fail_log(line)
                return 503, dump({"error": f"{line}: predictions are not served without their record; "
                                           "free space or fix the log folder, then retry"})
        shared.scored(len(records))
        return 200, dump({"model": artifact, "version": version, "predictions": predictions})

    async def predict_body(body: bytes | None, content_type: str | None) -> tuple[int, bytes]:
        kind = body_kind(content_type)
        if kind is None:
            return unsupported(content_type)
        if body is None:
            return refuse(413, too_big)
        return await asyncio.get_running_loop().run_in_executor(pool, score, body, kind)

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
            "415": {"description": "neither application/json nor text/csv",
                    "content": {json_type: {"schema": error_schema}}},
            "422": {"description": "invalid records (the field is named)",
                    "content": {json_type: {"schema": error_schema}}},
            "503": {"description": "the prediction log cannot be written",
                    "content": {json_type: {"schema": error_schema}}},
        }})
    async def predict(request: Request) -> Response:
        status, content = await predict_body(
            await read_body(request.headers.get("content-length"), request.stream()),
            request.headers.get("content-type"))
        return Response(content, status_code=status, media_type=json_type)

    @app.get("/health")
    async def health() -> Response:
        reason = shared.degraded
        if reason:
            return Response(dump({"status": "degraded", "version": version, "reason": reason}),
                            status_code=503, media_type=json_type)
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
            "runtime": getattr(scorer, "runtime", "skops"),
            "log": str(log.path) if log.path else None, "max_body_bytes": max_body_bytes,
            "degraded": shared.degraded, "token_required": token is not None, "pid": os.getpid(),
            "workers": shared.workers, **shared.totals(),
        }), media_type=json_type)

    async def answer(send: Any, status: int, content: bytes, extra: list[tuple[bytes, bytes]]) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(content)).encode()), *extra]})
        await send({"type": "http.response.body", "body": content})

    def error(line: str) -> bytes:
        return dump({"error": line})

    async def front(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        host = origin = auth = length = content_type = None
        for k, v in scope["headers"]:
            if k == b"host":
                host = v
            elif k == b"origin":
                origin = v
            elif k == b"authorization":
                auth = v
            elif k == b"content-length":
                length = v
            elif k == b"content-type":
                content_type = v
        path, method = scope["path"], scope["method"]
        if check_host and (host is None or not loopback_host_header(host)):
            count("rejected")
            said = "no Host header" if host is None else f"the Host {host.decode('latin-1')!r}"
            await answer(send, 421, error(f"{said} is not this machine: the service listens on loopback "
                                          "and answers http://127.0.0.1 or http://localhost only"), [])
            return
        extra: list[tuple[bytes, bytes]] = []
        if origin is not None:
            if not origin_allowed(origin, allowed):
                count("rejected")
                await answer(send, 403, error(f"requests from the web page {origin.decode('latin-1')!r} "
                                              "are refused: start the service with --cors-origin URL to allow "
                                              "a page to call it"), [])
                return
            cors = cors_values.get(origin.rstrip(b"/"))
            if cors is not None:
                extra = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
                if method == "OPTIONS":  # a preflight: the browser asks before a JSON POST
                    await answer(send, 204, b"", [*extra, (b"access-control-allow-methods", b"GET, POST"),
                                                  (b"access-control-allow-headers", b"Authorization, Content-Type"),
                                                  (b"access-control-max-age", b"600")])
                    return
        if expected is not None and not (path == "/health" and method in ("GET", "HEAD")) and (
                auth is None or not hmac.compare_digest(auth, expected)):
            count("rejected")
            await answer(send, 401, error("this service needs its token: send 'Authorization: Bearer <token>' "
                                          f"(the token of --token-file or ${TOKEN_ENV})"),
                         [*extra, (b"www-authenticate", b'Bearer realm="mlops-workbench"')])
            return
        if path != "/predict" or method != "POST":
            if not extra:
                await app(scope, receive, send)
                return

            async def send_with_cors(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
                await send(message)

            await app(scope, receive, send_with_cors)
            return

        async def chunks() -> Any:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        ctype = content_type.decode("latin-1") if content_type is not None else None
        status, content = await predict_body(
            await read_body(length.decode("latin-1") if length is not None else None, chunks()), ctype)
        await answer(send, status, content, extra)

    front.fastapi = app  # type: ignore[attr-defined]
    front.pool = pool  # type: ignore[attr-defined]
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
          max_body_bytes: int = MAX_BODY_BYTES, token_file: Path | None = None,
          cors_origins: tuple[str, ...] = (), workers: int = 1, say: Callable[[str], None] | None = None) -> int:
    """Serve a registered version (or a bundle folder) until Ctrl-C / SIGTERM; returns 0.

    ``workers`` > 1 forks that many processes after the model is loaded (POSIX): they share
    the listening socket, the counters (:class:`SharedState`) and the log file, whose lines
    stay whole because each is one ``write`` on an ``O_APPEND`` descriptor.
    """
    import uvicorn

    from workbench.operations.predict import Scorer

    check_port(host, port)
    if max_body_bytes < 1024:
        raise WorkbenchError(f"--max-body-bytes {max_body_bytes} is too small: use at least 1024")
    if not 1 <= workers <= MAX_WORKERS or (workers > 1 and not hasattr(os, "fork")):
        raise WorkbenchError(f"--workers {workers} is not possible here: use 1-{MAX_WORKERS} "
                             f"(this machine has {os.cpu_count()} cores; more than one needs fork)")
    origins = tuple(check_origin(o) for o in cors_origins)
    token = read_token(token_file)
    loopback = is_loopback(host)
    if token is None and not loopback:
        raise WorkbenchError(f"--host {host} is reachable from other machines and needs a token: put one in a "
                             f"file and pass --token-file PATH (or set ${TOKEN_ENV}); clients then send "
                             "'Authorization: Bearer <token>'")
    folder, label = prepare(project_path, bundle=bundle, version=version, stage=stage)
    scorer = Scorer.load(folder)
    from workbench.operations.onnx_export import onnx_scorer

    scorer = onnx_scorer(scorer, folder)  # onnxruntime when the bundle holds a verified model.onnx
    if log_dir is None:
        log_dir = (Path(project_path or ".").absolute() if bundle is None else Path.cwd()) / LOG_DIR
    log = PredictionLog(Path(log_dir))
    log.open()
    shared = SharedState(workers)
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    version_label = scorer.metadata.get("version", "?")
    say(f"Serving model {version_label}{f' ({label})' if label else ''} at http://{_url_host(host)}:{port}  "
        f"POST /predict, GET /health, GET /metadata; logging to {log.path}"
        f"{f'; {workers} worker processes' if workers > 1 else ''}; Ctrl-C stops")
    if token is not None:
        say(f"note: listening on {host}; every request but GET /health needs 'Authorization: Bearer <token>'")
    sockets = [_listen(host, port)] if workers > 1 else None

    def run() -> Any:
        app = create_app(scorer, stage=label, log=log, max_body_bytes=max_body_bytes, token=token,
                         check_host=loopback, cors_origins=origins, shared=shared)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                server_header=False, lifespan="off")
        server = uvicorn.Server(config)
        try:
            server.run(sockets=sockets)
        finally:
            app.pool.shutdown(wait=False, cancel_futures=True)
        return server

    children = []
    for slot in range(1, workers):
        pid = os.fork()
        if pid == 0:  # a worker: serve until told to stop, and stop when the first process dies
            code = 0
            try:
                _die_with_parent()
                shared.slot = slot
                run()
            except BaseException:  # noqa: BLE001 - a worker never returns into the parent's code
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    started = time.monotonic()
    try:
        server = run()
    finally:
        _stop_workers(children)
        log.close()
    if not server.started and time.monotonic() - started < 5:
        raise WorkbenchError(f"the service could not start on {host}:{port}: see the lines above")
    return 0


MAX_WORKERS = 32


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket the workers share."""
    family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise WorkbenchError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it (no 40 ms
    sock.listen(2048)                                            # Nagle + delayed-ACK stall per answer)
    sock.set_inheritable(True)
    return sock


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the first process dies (even by kill -9)."""
    import signal

    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent is already gone
        os._exit(0)


def _stop_workers(children: list[int]) -> None:
    import signal

    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 15
    for pid in children:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.05)


def check_origin(origin: str) -> str:
    """A ``--cors-origin`` value as browsers send it (scheme://host[:port]), or a one-line refusal."""
    from urllib.parse import urlsplit

    text = origin.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises on a port that is not a number
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not (
            parts.path or parts.query or parts.fragment or parts.username)
    except ValueError:
        ok = False
    if not ok:
        raise WorkbenchError(f"--cors-origin {origin!r} is not a web origin: give scheme://host[:port], "
                             "e.g. --cors-origin https://dashboard.example.com")
    return text


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
