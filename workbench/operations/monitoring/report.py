"""The monitoring report: its JSON and its Markdown."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.drift import FeatureDrift
from workbench.operations.monitoring.settings import (
    ACTION,
    METHOD_NAMES,
    SCHEMA,
    _fmt,
    _pct,
)
from workbench.textfmt import md_table

# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Performance:
    """The model's metrics on the labelled rows of the batch, against the reference's."""

    rows: int
    metrics: dict[str, float]
    reference: dict[str, float]
    degraded: tuple[str, ...]  # one line per metric worse than its tolerance

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "metrics": self.metrics, "reference": self.reference,
                "degraded": list(self.degraded)}


@dataclass(frozen=True)
class MonitorReport:
    """One monitoring check (what the screen, ``--json`` and ``monitoring/<id>.json`` show)."""

    status: str  # healthy | action
    reasons: tuple[str, ...]
    checked_at: str
    batch: dict[str, Any]
    reference: dict[str, Any]
    thresholds: dict[str, float]
    features: tuple[FeatureDrift, ...]  # sorted by severity, worst first
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    retyped_columns: tuple[dict[str, str], ...]
    prediction_drift: tuple[FeatureDrift, ...]
    prediction_note: str | None
    performance: Performance | None
    performance_note: str | None
    notes: tuple[str, ...]
    id: str | None = None
    commit: str | None = None
    messages: tuple[str, ...] = ()

    @property
    def action_recommended(self) -> bool:
        return self.status == ACTION

    @property
    def exit_code(self) -> int:
        """0 healthy, 3 action recommended (unusable input raises instead: 2)."""
        return 3 if self.action_recommended else 0

    @property
    def compared(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.drifted is not None)

    @property
    def drifted(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.drifted)

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / len(self.compared) if self.compared else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.compared) and self.drift_share >= self.thresholds["drift_share"]

    @property
    def prediction_drifted(self) -> bool:
        return any(p.drifted for p in self.prediction_drift)

    @property
    def summary(self) -> str:
        head = "action recommended" if self.action_recommended else "healthy"
        text = (f"{head}: {len(self.drifted)} of {len(self.compared)} features drifted"
                f"{'; prediction drift' if self.prediction_drifted else ''}"
                f"{'; performance dropped' if self.performance and self.performance.degraded else ''}"
                f"{'; schema changed' if self.missing_columns or self.retyped_columns else ''}"
                f" ({Path(str(self.batch.get('display') or 'batch').rstrip('/')).name}, "
                f"{int(self.batch.get('rows') or 0):,} rows)")
        return text if len(text) <= 120 else text[:117] + "..."

    def feature(self, name: str) -> FeatureDrift:
        """One feature's comparison (for the screen's overlaid histogram)."""
        for f in (*self.features, *self.prediction_drift):
            if f.name == name:
                return f
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """The documented ``monitoring/<id>.json`` shape (schema 1)."""
        return {
            "schema": SCHEMA,
            "id": self.id,
            "checked_at": self.checked_at,
            "status": self.status,
            "action_recommended": self.action_recommended,
            "summary": self.summary,
            "reasons": list(self.reasons),
            "batch": self.batch,
            "reference": self.reference,
            "thresholds": self.thresholds,
            "dataset_drift": {
                "detected": self.dataset_drift, "drifted": len(self.drifted), "compared": len(self.compared),
                "share": round(self.drift_share, 6), "threshold": self.thresholds["drift_share"],
                "drifted_features": [f.name for f in self.drifted],
            },
            "schema_changes": {"missing": list(self.missing_columns), "extra": list(self.extra_columns),
                               "retyped": [dict(r) for r in self.retyped_columns]},
            "features": [f.to_json() for f in self.features],
            "prediction_drift": {"detected": self.prediction_drifted, "note": self.prediction_note,
                                 "outputs": [p.to_json() for p in self.prediction_drift]},
            "performance": (self.performance.to_json() if self.performance else None),
            "performance_note": self.performance_note,
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        return render_markdown(self)


def _drift_rows(rows: tuple[FeatureDrift, ...]) -> list[str]:
    header = ["feature", "kind", "test", "statistic", "p-value", "threshold", "drifted", "PSI",
              "missing (ref -> batch)", "notes"]
    return md_table(header, (
        [f.name, f.kind, METHOD_NAMES.get(f.method, f.method), _fmt(f.statistic), _fmt(f.p_value, 3),
         _fmt(f.threshold), "n/a" if f.drifted is None else ("**yes**" if f.drifted else "no"),
         "-" if f.psi is None else f"{f.psi:.3f} ({f.psi_band})",
         f"{_pct(f.reference_missing_share)} -> {_pct(f.current_missing_share)}",
         "; ".join(f.notes).replace("|", "/")]
        for f in rows), align="lllrrrlrll", compact=True)


def render_markdown(report: MonitorReport) -> str:
    """The readable report (``monitoring/<id>.md``)."""
    b = report.batch
    verdict = "ACTION RECOMMENDED" if report.action_recommended else "HEALTHY"
    lines = [f"# Monitoring report {report.id or ''}".rstrip(), "",
             f"**{verdict}** — checked {report.checked_at}.", ""]
    if report.reasons:
        lines += ["## Why", "", *[f"- {r}" for r in report.reasons], ""]
    lines += ["## Batch", "", f"- source: {b.get('source')} `{b.get('display')}`",
              f"- rows: {int(b.get('rows') or 0):,}"]
    if b.get("path"):
        lines.append(f"- data version: `{b.get('path')}` (md5 `{b.get('dvc_md5') or '-'}`)")
    if b.get("first_ts"):
        lines.append(f"- predictions from {b.get('first_ts')} to {b.get('last_ts')}, model version(s) "
                     f"{', '.join(b.get('versions') or []) or '-'}")
    r = report.reference
    lines += [f"- reference: `{r.get('path')}` ({int(r.get('rows') or 0):,} train rows, "
              f"{int(r.get('test_rows') or 0):,} test predictions)", ""]
    dd = report.to_json()["dataset_drift"]
    lines += ["## Data drift", "",
              f"{dd['drifted']} of {dd['compared']} features drifted ({_pct(dd['share'])}; dataset drift "
              f"at {_pct(dd['threshold'])}): {'**dataset drift**' if dd['detected'] else 'no dataset drift'}.", ""]
    if report.missing_columns or report.retyped_columns or report.extra_columns:
        if report.missing_columns:
            lines.append(f"- missing feature columns: {', '.join(report.missing_columns)}")
        for rt in report.retyped_columns:
            lines.append(f"- {rt['column']}: expected {rt['expected']}, found {rt['found']}")
        if report.extra_columns:
            lines.append(f"- extra columns (not model features, ignored): {', '.join(report.extra_columns)}")
        lines.append("")
    lines += _drift_rows(report.features) + [""]
    lines += ["## Prediction drift", ""]
    if report.prediction_drift:
        lines += _drift_rows(report.prediction_drift) + [""]
    if report.prediction_note:
        lines += [report.prediction_note, ""]
    lines += ["## Performance", ""]
    if report.performance:
        p = report.performance
        lines += [f"On {p.rows:,} labelled rows of the batch:", ""]
        lines += md_table(["metric", "batch", "reference"],
                          ([k, _fmt(v), _fmt(p.reference.get(k))] for k, v in p.metrics.items()),
                          align="lrr", compact=True)
        lines += [""] + [f"- {d}" for d in p.degraded] + ([""] if p.degraded else [])
    if report.performance_note:
        lines += [report.performance_note, ""]
    if report.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in report.notes], ""]
    lines += ["Thresholds: " + ", ".join(f"{k} {v:g}" for k, v in report.thresholds.items()), ""]
    return "\n".join(ln.replace("\n", " ") if ln.startswith("|") else ln for ln in lines).rstrip() + "\n"
