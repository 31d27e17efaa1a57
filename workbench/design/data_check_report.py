"""What a data availability check found: its findings, the report and the Markdown of it.

:class:`DataCheckReport` is what the screen and ``--json`` show; :func:`render_markdown`
writes ``reports/data_check.md``. :mod:`workbench.design.data_check` runs the check and
:mod:`workbench.design.data_check_judge` decides the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench import paths
from workbench.design.profile import ColumnStats, SourceProfile, TargetSummary
from workbench.textfmt import fmt, md_table

REPORT_JSON = paths.DATA_CHECK_REPORT
REPORT_MD = paths.DATA_CHECK_MD
SCHEMA = 1
GO, NO_GO = "GO", "NO-GO"


@dataclass(frozen=True)
class Finding:
    """One reason or warning, with the column it is about (for highlighting in a table)."""

    kind: str  # rows | target | positives | missing | leakage | personal | identifier | ...
    message: str
    source: str = ""
    column: str = ""
    blocking: bool = False


@dataclass(frozen=True)
class DataCheckReport:
    """The outcome of a data availability check (what the screen and ``--json`` show)."""

    verdict: str
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    findings: tuple[Finding, ...]
    readiness_score: int
    use_case: str | None
    checked_at: str
    target: str | None
    task: str
    target_summary: TargetSummary | None
    thresholds: dict[str, float]
    sources: tuple[SourceProfile, ...]
    rows: int
    features: int
    commit: str | None = None
    messages: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    target_saved: bool = False  # the target given was saved as data.target in the same commit

    @property
    def go(self) -> bool:
        return self.verdict == GO

    @property
    def exit_code(self) -> int:
        """0 for GO, 1 for NO-GO (unusable input raises instead)."""
        return 0 if self.go else 1

    @property
    def rows_per_feature(self) -> float | None:
        return round(self.rows / self.features, 2) if self.features else None

    @property
    def leakage_suspects(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind == "leakage")

    def column(self, source: str, name: str) -> ColumnStats:
        """One column's stats (for the screen's distribution plot of the selected row)."""
        for src in self.sources:
            if src.name == source:
                return src.column(name)
        raise KeyError(source)

    def column_rows(self) -> list[dict[str, Any]]:
        """Flat rows for a sortable column table: one per (source, column)."""
        rows = []
        for src in self.sources:
            for c in src.column_stats:
                rows.append({
                    "source": src.name, "column": c.name, "role": c.role, "kind": c.kind,
                    "missing_share": c.missing_share, "distinct": c.distinct, "constant": c.constant,
                    "min": c.min, "max": c.max, "mean": c.mean, "identifier": c.identifier,
                    "personal_data": c.personal_data, "leakage_score": c.leakage_score,
                })
        return rows

    def to_json(self) -> dict[str, Any]:
        """The documented ``reports/data_check.json`` shape (schema 1)."""
        return {
            "schema": SCHEMA,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "use_case": self.use_case,
            "readiness_score": self.readiness_score,
            "checked_at": self.checked_at,
            "target": self.target,
            "task": self.task,
            "rows": self.rows,
            "features": self.features,
            "rows_per_feature": self.rows_per_feature,
            "thresholds": self.thresholds,
            "exclude_columns": list(self.exclude_columns),
            "target_summary": self.target_summary.to_json() if self.target_summary else None,
            "leakage_suspects": [
                {"source": f.source, "column": f.column, "message": f.message}
                for f in self.leakage_suspects
            ],
            "identifiers": [{"source": f.source, "column": f.column, "message": f.message}
                            for f in self.findings if f.kind == "identifier"],
            "personal_data": [{"source": f.source, "column": f.column, "message": f.message}
                              for f in self.findings if f.kind == "personal"],
            "sources": [s.to_json() for s in self.sources],
            "warnings": list(self.warnings),
        }

    def to_markdown(self) -> str:
        """The readable report (``reports/data_check.md``)."""
        return render_markdown(self)


def pct(share: float) -> str:
    """A share as a percentage: one decimal, two near 100% (99.6% is not 100%)."""
    return f"{share * 100:.1f}%" if share < 0.995 or share == 1 else f"{share * 100:.2f}%"


# --- writing ---------------------------------------------------------------------------


def render_markdown(report: DataCheckReport) -> str:
    """A readable report: verdict first, then reasons, warnings, sources and columns."""
    lines = [f"# Data availability check: {report.verdict}", ""]
    lines.append(f"Checked {report.checked_at}; use case: {report.use_case or '(none selected)'}; "
                 f"target: {report.target or '(not set)'} ({report.task}); "
                 f"readiness score {report.readiness_score}/5.")
    lines.append("")
    if report.reasons:
        lines += ["## Reasons for NO-GO", ""] + [f"- {r}" for r in report.reasons] + [""]
    else:
        lines += ["Every threshold holds.", ""]
    if report.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in report.warnings] + [""]
    t = report.thresholds
    lines += ["## Thresholds", ""]
    lines += md_table(["threshold", "value"], [[k, f"{v:g}"] for k, v in t.items()], compact=True) + [""]
    if report.exclude_columns:
        lines += ["Excluded columns (data.exclude_columns, not judged): "
                  + ", ".join(f"`{c}`" for c in report.exclude_columns) + ".", ""]
    s = report.target_summary
    if s is not None:
        lines += ["## Target", ""]
        lines.append(f"`{s.column}`: {s.count:,} labelled rows, {s.missing:,} missing "
                     f"({pct(s.missing_share)}).")
        if s.classes:
            lines += [""] + md_table(["class", "rows", "share"],
                                     [[lab, f"{n:,}", pct(n / s.count) if s.count else "-"] for lab, n in s.classes],
                                     align="lrr", compact=True)
        else:
            lines.append(f"Range {fmt(s.min)} to {fmt(s.max)}, mean {fmt(s.mean)}, std {fmt(s.std)}.")
        lines.append("")
    lines += ["## Sources", ""]
    lines += md_table(["source", "path", "data version (md5)", "rows", "columns", "duplicate rows"],
                      [[p.name, f"`{p.path}`", f"`{p.dvc_md5 or '-'}`", f"{p.rows:,}", p.columns, f"{p.duplicate_rows:,}"]
                       for p in report.sources], align="lllrrr", compact=True)
    lines.append("")
    if report.rows_per_feature is not None:
        lines += [f"Rows per feature: {report.rows_per_feature:g} ({report.rows:,} rows, "
                  f"{report.features} features).", ""]
    for p in report.sources:
        lines += [f"## Columns of {p.name}", ""]
        if p.time is not None:
            lines += [f"Time column `{p.time.column}`: {p.time.start} to {p.time.end} "
                      f"({fmt(p.time.span_days)} days), newest {fmt(p.time.freshness_days)} days "
                      "before the check.", ""]
        rows: list[list[Any]] = []
        for c in p.column_stats:
            flags = []
            if c.constant:
                flags.append("constant")
            if c.identifier:
                flags.append(f"identifier ({c.identifier})")
            if c.personal_data:
                flags.append(f"personal data: {c.personal_data}")
            if c.leakage_score is not None and c.leakage_score >= report.thresholds["leakage_score"]:
                flags.append(f"leakage suspect ({c.leakage_score:.3f})")
            median = c.quantiles[2] if len(c.quantiles) == 5 else None
            if c.kind == "categorical" and c.top:
                median = f"top: {c.top[0][0]}"
            rows.append([c.name, c.role, c.kind, pct(c.missing_share), f"{c.distinct:,}",
                         fmt(c.min), fmt(median), fmt(c.max), "; ".join(flags)])
        lines += md_table(["column", "role", "kind", "missing", "distinct", "min", "median", "max", "flags"], rows,
                          align="lllrrrrrl", compact=True)
        lines.append("")
    return "\n".join(ln.replace("\n", " ") if ln.startswith("|") else ln for ln in lines).rstrip() + "\n"
