"""Past reports under monitoring/: list, read, the latest, the next id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.operations.monitoring.settings import _REPORT_NAME, FOLDER, SCHEMA

# --- past reports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportSummary:
    """One past report, for drift over time (oldest first in :func:`list_reports`)."""

    id: str
    checked_at: str
    status: str
    action_recommended: bool
    source: str
    batch: str
    rows: int
    drift_share: float
    drifted_features: tuple[str, ...]
    #: feature -> (statistic, drifted) for plotting each feature over time
    statistics: dict[str, tuple[float | None, bool | None]]
    prediction_drift: bool
    performance: dict[str, float]
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "checked_at": self.checked_at, "status": self.status,
                "action_recommended": self.action_recommended, "source": self.source, "batch": self.batch,
                "rows": self.rows, "drift_share": self.drift_share,
                "drifted_features": list(self.drifted_features),
                "statistics": {k: {"statistic": s, "drifted": d} for k, (s, d) in self.statistics.items()},
                "prediction_drift": self.prediction_drift, "performance": self.performance,
                "reasons": list(self.reasons)}


def _report_files(root: Path) -> list[tuple[str, int, Path]]:
    folder = root / FOLDER
    if not folder.is_dir():
        return []
    out = []
    for p in folder.glob("*.json"):
        m = _REPORT_NAME.match(p.name)
        if m:
            out.append((m.group(1), int(m.group(2)), p))
    return sorted(out)


def latest_report(project_path: str | Path) -> Path | None:
    """The newest report file (``<date>-<n>.json``, by date then number: ``-10`` after ``-2``)."""
    found = _report_files(Path(project_path))
    return found[-1][2] if found else None


def list_reports(project_path: str | Path) -> list[ReportSummary]:
    """Every monitoring report of the project, oldest first (unreadable files are skipped)."""
    out = []
    for _date, _n, path in _report_files(Path(project_path)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            continue
        dd = data.get("dataset_drift") or {}
        batch = data.get("batch") or {}
        out.append(ReportSummary(
            id=path.stem, checked_at=str(data.get("checked_at") or ""), status=str(data.get("status") or ""),
            action_recommended=bool(data.get("action_recommended")), source=str(batch.get("source") or ""),
            batch=str(batch.get("path") or batch.get("display") or ""), rows=int(batch.get("rows") or 0),
            drift_share=float(dd.get("share") or 0.0), drifted_features=tuple(dd.get("drifted_features") or ()),
            statistics={f["name"]: (f.get("statistic"), f.get("drifted")) for f in data.get("features") or []
                        if isinstance(f, dict) and "name" in f},
            prediction_drift=bool((data.get("prediction_drift") or {}).get("detected")),
            performance=dict(((data.get("performance") or {}).get("metrics")) or {}),
            reasons=tuple(data.get("reasons") or ()),
        ))
    return out


def read_report(project_path: str | Path, report_id: str) -> dict[str, Any]:
    """One report's JSON by id (``2026-06-01-1``)."""
    path = Path(project_path) / FOLDER / f"{report_id}.json"
    if not _REPORT_NAME.match(path.name) or not path.is_file():
        raise WorkbenchError(f"there is no monitoring report {report_id!r}: see 'mlops-workbench monitor --history'")
    return json.loads(path.read_text(encoding="utf-8"))


def _last_log_ts(root: Path) -> str | None:
    """The newest prediction a previous log-based report covered."""
    for _date, _n, path in reversed(_report_files(root)):
        try:
            batch = json.loads(path.read_text(encoding="utf-8")).get("batch") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if batch.get("source") == "prediction_log" and batch.get("last_ts"):
            return str(batch["last_ts"])
    return None


def next_report_id(root: Path, now: datetime) -> str:
    """``<date>-<n>``: the day's next number."""
    day = now.astimezone(UTC).strftime("%Y-%m-%d")
    used = [n for d, n, _ in _report_files(root) if d == day]
    return f"{day}-{max(used, default=0) + 1}"
