"""What the Data availability step's screen shows, read from what is committed (issue 17: out of the screen).

``workbench.yaml`` (the registered sources), ``reports/data_check.json`` (the last check:
verdict, reasons, per-column statistics and histograms), the commit that recorded it and
the sources' ``.dvc`` pointers (is the data still the version that was checked?), all read
into one :class:`DataState` by :func:`read_state`. A report without a column's histogram
(written by an older workbench) is not an error: :func:`histogram_from_file` computes it
from the tracked file, with pandas reading that one column only.

This module imports neither pandas nor the data check (which does) at the top: the
screen imports it when it opens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.paths import DATA_CHECK_REPORT
from workbench.versioning.dvc import pointer_md5

REPORT_JSON = DATA_CHECK_REPORT
HISTOGRAM_BINS = 20
TOP_VALUES = 10


@dataclass(frozen=True)
class SourceRow:
    """One registered source and how it relates to the last check."""

    name: str
    path: str
    format: str
    pointer_md5: str | None  # the .dvc pointer now (None: not tracked / no pointer)
    checked_md5: str | None  # the md5 the last check recorded (None: not in the check)
    rows: int | None = None
    columns: int | None = None
    duplicate_rows: int | None = None
    present: bool = True  # the data is in the workspace (else: dvc pull)
    encoding: str = ""
    delimiter: str = ""

    @property
    def state(self) -> str:
        """checked | changed | unchecked."""
        if self.checked_md5 is None:
            return "unchecked"
        if self.pointer_md5 and self.checked_md5 and self.pointer_md5 != self.checked_md5:
            return "changed"
        return "checked"


@dataclass(frozen=True)
class ColumnRow:
    """One row of the column table: a column of a source and what the check thinks of it."""

    index: int
    source: str
    column: str
    kind: str
    role: str
    missing_share: float
    distinct: int
    distinct_exact: bool
    flags: tuple[tuple[str, str, int], ...]  # (text, style, severity)
    stats: dict[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def key(self) -> str:
        return f"{self.source}\x1f{self.column}"

    def sort_value(self, column: str | None) -> Any:
        if column == "column":
            return (self.column.casefold(), self.source.casefold())
        if column == "source":
            return (self.source.casefold(), self.index)
        if column == "kind":
            return (self.kind, self.column.casefold())
        if column == "missing":
            return (self.missing_share, self.column.casefold())
        if column == "distinct":
            return (self.distinct, self.column.casefold())
        if column == "flags":
            return (sum(sev for _, _, sev in self.flags), len(self.flags), -self.index)
        return self.index


@dataclass(frozen=True)
class CheckCommit:
    """The commit that recorded the report."""

    short: str
    when: str
    author: str


@dataclass(frozen=True)
class DataState:
    """Everything the view shows: sources, the last report, its commit, the column rows."""

    sources: tuple[SourceRow, ...]
    report: dict[str, Any] | None
    commit: CheckCommit | None
    columns: tuple[ColumnRow, ...]
    target: str | None
    note: str = ""  # why a report on disk could not be used

    @property
    def stale(self) -> tuple[SourceRow, ...]:
        return tuple(s for s in self.sources if s.state != "checked")


def column_flags(stats: dict[str, Any], thresholds: dict[str, Any]) -> tuple[tuple[str, str, int], ...]:
    """The flags of one column (text, style, severity), worst first."""
    flags: list[tuple[str, str, int]] = []
    role = str(stats.get("role") or "feature")
    leak = stats.get("leakage_score")
    limit = thresholds.get("leakage_score", 0.98)
    if role == "feature" and isinstance(leak, (int, float)) and leak >= limit:
        flags.append((f"leakage {leak:.3f}", "bold red", 50))
    share = float(stats.get("missing_share") or 0.0)
    if role == "feature" and share > thresholds.get("max_missing_share", 0.5):
        flags.append(("mostly missing", "bold red", 40))
    if stats.get("personal_data"):
        kind = str(stats["personal_data"]).split(" (")[0]
        flags.append((f"personal: {kind}", "yellow", 20))
    if stats.get("identifier") and role not in ("id", "target"):  # a listed id is said by its role
        flags.append(("identifier", "yellow", 10))
    if stats.get("constant"):
        flags.append(("constant", "yellow", 5))
    if role != "feature":
        flags.append((role, "bold cyan" if role == "target" else "dim", 0))
    return tuple(flags)


def read_state(project_path: Path) -> DataState:
    """Read sources, report and commit (a worker calls this; it touches git and the disk)."""
    from workbench.project import Project
    from workbench.versioning.history import last_commit

    project = Project(project_path)
    config = project.read_config()
    data = config.get("data") or {}
    registered = [s for s in data.get("sources") or [] if isinstance(s, dict) and s.get("path")]
    note = ""
    report: dict[str, Any] | None = None
    report_file = project.path / REPORT_JSON
    if report_file.is_file():
        try:
            loaded = json.loads(report_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            note = f"{REPORT_JSON} cannot be read ({type(exc).__name__}): run the check again"
        else:
            if isinstance(loaded, dict) and str(loaded.get("verdict", "")).upper() in ("GO", "NO-GO"):
                report = loaded
            else:
                note = f"{REPORT_JSON} is not a data check report: run the check again"
    checked = {str(s.get("path")): s for s in (report or {}).get("sources") or [] if isinstance(s, dict)}
    sources = []
    for s in registered:
        rel = str(s["path"])
        got = checked.get(rel) or {}
        sources.append(SourceRow(
            name=str(s.get("name") or Path(rel).stem), path=rel, format=str(s.get("format") or ""),
            pointer_md5=pointer_md5(project.path / f"{rel.rstrip('/')}.dvc"),
            checked_md5=(str(got.get("dvc_md5") or "") if got else None),
            rows=got.get("rows"), columns=got.get("columns"), duplicate_rows=got.get("duplicate_rows"),
            present=(project.path / rel).exists(),
            encoding=str(got.get("encoding") or s.get("encoding") or ""),
            delimiter=str(got.get("delimiter") or s.get("delimiter") or ""),
        ))
    columns: list[ColumnRow] = []
    if report is not None:
        thresholds = report.get("thresholds") or {}
        for src in report.get("sources") or []:
            for stats in src.get("column_stats") or []:
                columns.append(ColumnRow(
                    index=len(columns), source=str(src.get("name", "")), column=str(stats.get("name", "")),
                    kind=str(stats.get("kind") or ""), role=str(stats.get("role") or "feature"),
                    missing_share=float(stats.get("missing_share") or 0.0),
                    distinct=int(stats.get("distinct") or 0),
                    distinct_exact=bool(stats.get("distinct_exact", True)),
                    flags=column_flags(stats, thresholds), stats=stats,
                ))
    commit = None
    if report is not None:
        last = last_commit(project.path, REPORT_JSON)
        if last is not None:
            commit = CheckCommit(last.short, last.when, last.author)
    return DataState(sources=tuple(sources), report=report, commit=commit, columns=tuple(columns),
                     target=str(data["target"]) if data.get("target") else None, note=note)


def histogram_from_file(project_path: Path, source: SourceRow, row: ColumnRow) -> dict[str, Any]:
    """The histogram of one column computed from the tracked file (pandas reads that column only).

    Same shape as the report's ``histogram`` (``Histogram.to_json``): equal-width bins for
    numbers and dates, the top categories otherwise.
    """
    import numpy as np
    import pandas as pd

    from workbench.design.data_read import data_files, format_of

    full = Path(project_path) / source.path
    if not full.exists():
        raise WorkbenchError(f"{source.path} is not in the project folder: run 'dvc pull' to fetch it")
    parts = []
    for file in data_files(full, source.path):
        try:
            if format_of(file) == "parquet":
                frame = pd.read_parquet(file, columns=[row.column])
            else:
                sep = source.delimiter or ("\t" if format_of(file) == "tsv" else ",")
                frame = pd.read_csv(file, usecols=[row.column], sep=sep,
                                    encoding=source.encoding or "utf-8", low_memory=False)
        except (ValueError, KeyError, OSError, UnicodeDecodeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise WorkbenchError(f"cannot read column {row.column!r} of {source.path}: {first}") from None
        parts.append(frame[row.column])
    values = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    missing = int(values.isna().sum())
    values = values.dropna()
    if row.kind == "datetime":
        stamps = pd.to_datetime(values, errors="coerce", utc=True).dropna()
        missing += len(values) - len(stamps)
        seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
        if not len(seconds):
            return {"kind": "bins", "counts": [], "edges": [], "labels": [], "other": 0, "missing": missing}
        counts, edges = np.histogram(seconds, bins=HISTOGRAM_BINS)
        labels = [pd.Timestamp(e, unit="s").strftime("%Y-%m-%dT%H:%M:%S") for e in edges]
        return {"kind": "bins", "counts": counts.tolist(), "edges": edges.tolist(), "labels": labels,
                "other": 0, "missing": missing}
    if row.kind in ("numeric", "integer") and values.nunique() > 2 * TOP_VALUES:
        numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
        counts, edges = np.histogram(numbers, bins=HISTOGRAM_BINS)
        return {"kind": "bins", "counts": counts.tolist(), "edges": edges.tolist(), "labels": [],
                "other": 0, "missing": missing}
    top = values.astype(str).value_counts()
    shown = top.iloc[:TOP_VALUES]
    labels = [lab[:-2] if lab.endswith(".0") and row.kind != "categorical" else lab for lab in shown.index]
    return {"kind": "categories", "counts": [int(c) for c in shown.tolist()], "edges": [],
            "labels": labels, "other": int(top.iloc[TOP_VALUES:].sum()), "missing": missing}
