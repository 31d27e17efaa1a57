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

from workbench.operations.serving.app import create_app
from workbench.operations.serving.bodies import CSV_FRAME_LINES, csv_frame, csv_records
from workbench.operations.serving.guard import (
    MIN_TOKEN_CHARS,
    TOKEN_ENV,
    body_kind,
    check_origin,
    is_loopback,
    loopback_host_header,
    origin_allowed,
    read_token,
)
from workbench.operations.serving.log import (
    DRAIN_BYTES,
    LOG_DIR,
    MAX_BODY_BYTES,
    PredictionLog,
    SharedState,
)
from workbench.operations.serving.run import MAX_WORKERS, check_port, prepare, serve

__all__ = ["CSV_FRAME_LINES", "DRAIN_BYTES", "LOG_DIR", "MAX_BODY_BYTES", "MAX_WORKERS", "MIN_TOKEN_CHARS", "TOKEN_ENV",
           "PredictionLog", "SharedState", "body_kind", "check_origin", "check_port", "create_app", "csv_frame",
           "csv_records", "is_loopback", "loopback_host_header", "origin_allowed", "prepare", "read_token", "serve"]
