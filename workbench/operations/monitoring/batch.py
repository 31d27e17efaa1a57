"""Read a batch: a data file, or the new lines of the prediction log."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError, WorkbenchError
from workbench.operations.monitoring.settings import LOG_SUFFIXES
from workbench.paths import PREDICTIONS_FOLDER, user_path

# --- the batch ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """The data a check compares: a pyarrow table and where it came from."""

    table: Any
    source: str  # file | prediction_log
    display: str
    path: Path | None = None  # the file or folder (file batches)
    notes: tuple[str, ...] = ()
    log_files: tuple[str, ...] = ()
    first_ts: str | None = None
    last_ts: str | None = None
    versions: tuple[str, ...] = ()
    extra_columns: dict[str, list[Any]] = field(default_factory=dict)  # ts, version, prediction

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)


def read_batch_file(path: str | Path, *, cwd: str | Path | None = None,
                    cancel: threading.Event | None = None) -> Batch:
    """A CSV/TSV/Parquet file (or folder of them) as a batch; one-line errors for bad files."""
    from workbench.design.data_read import load_source

    given = str(path)
    src = user_path(path, cwd)
    if not src.exists():
        raise WorkbenchError(f"{given} does not exist: give the batch as a CSV, TSV or Parquet file")
    table, formats = load_source(src, given, cancel=cancel)
    notes = tuple(n for f in formats for n in f.notes)
    return Batch(table=table, source="file", display=given, path=src, notes=notes)


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _arrow_column(values: list[Any]) -> Any:
    import pyarrow as pa

    def text(v: Any) -> str | None:
        if v is None:
            return None
        return json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)

    if any(isinstance(v, (dict, list)) for v in values):
        return pa.array([text(v) for v in values], type=pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([text(v) for v in values], type=pa.string())


def read_prediction_log(project_path: str | Path, *, since: str | None = None,
                        cancel: threading.Event | None = None) -> Batch:
    """The service's JSON Lines log (``monitoring/predictions/*.jsonl``) as a batch.

    Lines stamped (``at``) at or before ``since`` are left out. A line that is not JSON is
    skipped with a note: the last line of a file is taken as half-written (the service was
    still writing it), any other as damaged.
    """
    import pyarrow as pa

    root = Path(project_path)
    folder = root / PREDICTIONS_FOLDER
    files = sorted(p for p in folder.glob("*") if p.suffix in LOG_SUFFIXES and p.is_file()) \
        if folder.is_dir() else []
    if not files:
        raise WorkbenchError(f"no batch given and no prediction log in {PREDICTIONS_FOLDER}/: pass a "
                             "CSV/Parquet file ('mlops-workbench monitor PATH') or serve the model first")
    limit = _parse_ts(since) if since else None
    notes: list[str] = []
    inputs: list[dict[str, Any]] = []
    meta: dict[str, list[Any]] = {"ts": [], "version": [], "prediction": []}
    damaged = 0
    for file in files:
        if cancel is not None and cancel.is_set():
            raise CancelledError("the monitoring check was cancelled; nothing was written")
        rel = file.relative_to(root).as_posix()
        lines = file.read_bytes().split(b"\n")
        numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
        for pos, (number, raw) in enumerate(numbered):
            try:
                record = json.loads(raw.decode("utf-8"))
                if not isinstance(record, dict):
                    raise ValueError("not a record")
                features = record.get("input", record.get("inputs"))
                if not isinstance(features, dict):
                    raise ValueError("no input")
            except (ValueError, UnicodeDecodeError):
                if pos == len(numbered) - 1:
                    notes.append(f"{rel}: skipped the half-written last line {number} "
                                 "(the service was still writing it)")
                else:
                    damaged += 1
                    if damaged <= 3:
                        notes.append(f"{rel}: skipped line {number}, which is not a prediction record")
                continue
            stamp = record.get("at", record.get("ts"))
            when = _parse_ts(stamp)
            if limit is not None and (when is None or when <= limit):
                continue
            inputs.append(features)
            meta["ts"].append(stamp)
            meta["version"].append(None if record.get("version") is None else str(record.get("version")))
            pred = record.get("prediction")
            meta["prediction"].append(json.dumps(pred) if isinstance(pred, (dict, list)) else pred)
    if damaged > 3:
        notes.append(f"{damaged} damaged line(s) skipped in all")
    if not inputs:
        if since:
            raise WorkbenchError(f"no new predictions in {PREDICTIONS_FOLDER}/ since the last report ({since}): "
                                 "wait for more traffic, or pass --all to check the whole log")
        raise WorkbenchError(f"the prediction log in {PREDICTIONS_FOLDER}/ has no complete prediction "
                             "records: serve some predictions first, or pass a batch file")
    names: list[str] = list(dict.fromkeys(k for rec in inputs for k in rec))
    table = pa.table({n: _arrow_column([rec.get(n) for rec in inputs]) for n in names})
    stamps = sorted(t for t in meta["ts"] if isinstance(t, str) and _parse_ts(t) is not None)
    versions = tuple(sorted({v for v in meta["version"] if v}))
    return Batch(table=table, source="prediction_log", display=f"{PREDICTIONS_FOLDER}/",
                 notes=tuple(notes), log_files=tuple(f.relative_to(root).as_posix() for f in files),
                 first_ts=stamps[0] if stamps else None, last_ts=stamps[-1] if stamps else None,
                 versions=versions, extra_columns=meta)
