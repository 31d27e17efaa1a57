"""The data availability check: can the registered data carry the selected use case?

``check_data(project)`` profiles every source in ``workbench.yaml`` (``design.profile``),
judges the result against ``data.thresholds`` and commits ``reports/data_check.json`` and
``reports/data_check.md`` as one ``data_availability`` step, together with the sources'
``.dvc`` pointers, so the history shows which data version passed. ``run_data_check``
does the same work without writing anything (for previews and tests).

Outcomes (the CLI's exit codes):

* **GO** (0) — nothing blocks; warnings may remain (personal data, identifiers,
  duplicates, constant columns, stale data, and size: fewer rows than ``min_rows`` or a
  class with fewer rows than ``min_positives``).
* **NO-GO** (1) — a blocker: no target set, too many missing labels, a feature that leaks
  the target, a mostly-missing feature, data older than ``max_age_days``; the report is
  written and committed with the reasons, so the decision is in the history.

Why size alone is a warning: a 344-row table with three classes, or a 442-row regression
set, trains useful models; what is risky about it is how noisy the estimates are, which the
warning says in rows per feature and rows per class. A team that wants size to count as a
stricter bar raises the thresholds with ``mlops-workbench data thresholds``; the report
records the thresholds it was judged by and the columns it left out.
* **unusable input** (2) — no sources, a missing or unreadable file, or a target column
  that is missing, all empty or constant. Nothing is written: there is no verdict to record
  when the thing the check measures against does not exist, and the one-line error says
  what to fix. A target that is simply not set yet is a NO-GO, not an error: the profile is
  still worth recording.

``readiness_score`` (1-5, used by the use-case ranking as "data readiness"):

* 5 — GO without warnings; 4 — GO with warnings;
* 3 — NO-GO only because of columns (leakage suspects, mostly-missing features): fixable
  by dropping them or listing them in ``data.exclude_columns``;
* 2 — NO-GO with one problem of the labelled data (too many missing target values, stale);
* 1 — NO-GO with no target set, or more than one problem of the labelled data.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.design.exclusions import column_hint, exclude_columns, str_list
from workbench.design.profile import (
    ColumnStats,
    Histogram,
    ProfileSettings,
    SourceProfile,
    TargetSummary,
    TimeSummary,
    profile_file,
)
from workbench.errors import WorkbenchError
from workbench.progress import FractionProgress as Progress
from workbench.project import (
    CONFIG_NAME,
    DEFAULT_THRESHOLDS,
    Project,
    charter_from_config,
    dump_config,
)
from workbench.textfmt import fmt, md_table
from workbench.versioning.dvc import file_md5, pointer_md5

__all__ = [
    "ColumnStats", "DataCheckReport", "Histogram", "SourceProfile", "TargetSummary", "TimeSummary",
    "check_data", "run_data_check", "REPORT_JSON", "REPORT_MD",
]

REPORT_JSON = paths.DATA_CHECK_REPORT
REPORT_MD = paths.DATA_CHECK_MD
SCHEMA = 1
GO, NO_GO = "GO", "NO-GO"
STALE_DAYS = 365
MIN_ROWS_PER_FEATURE = 10


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


# --- settings --------------------------------------------------------------------------


def _thresholds(raw: Any) -> dict[str, float]:
    out = dict(DEFAULT_THRESHOLDS)
    if raw is None:
        return out
    if not isinstance(raw, dict):
        raise WorkbenchError("data.thresholds in workbench.yaml is not a mapping: "
                             "write it as 'thresholds: {min_rows: 1000, ...}'")
    for key, value in raw.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WorkbenchError(f"data.thresholds.{key} in workbench.yaml is {value!r}, not a number: "
                                 "fix it in workbench.yaml")
        out[key] = value
    return out


_str_list = str_list


def selected_use_case(config: dict[str, Any]) -> str | None:
    """The id of the selected use case (``use_cases.selected`` is an id or a mapping with one)."""
    selected = (config.get("use_cases") or {}).get("selected")
    if isinstance(selected, dict):
        selected = selected.get("id")
    return str(selected) if selected else None


# --- the check ------------------------------------------------------------------------


def run_data_check(
    project_path: str | Path,
    *,
    target: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
) -> DataCheckReport:
    """Profile every source and judge it; write nothing. Raises for unusable input."""
    project = Project(project_path)
    config = project.read_config()
    data = config.get("data") or {}
    sources = [s for s in data.get("sources") or [] if isinstance(s, dict) and s.get("path")]
    if not sources:
        raise WorkbenchError("no data sources are registered: add one with 'mlops-workbench data add PATH'")
    thresholds = _thresholds(data.get("thresholds"))
    task = charter_from_config(config).task
    target = (target or data.get("target") or None)
    now = now or datetime.now(UTC)
    settings = ProfileSettings(
        target=str(target) if target else None, task=task,
        time_column=str(data["time_column"]) if data.get("time_column") else None,
        id_columns=_str_list(data.get("id_columns")),
        sensitive_columns=_str_list(data.get("sensitive_columns")),
        exclude_columns=exclude_columns(config), now=now,
    )
    say = progress or (lambda _f, _m: None)
    profiles = []
    for i, source in enumerate(sources):
        rel = str(source["path"])
        full = project.path / rel
        if not full.exists():
            hint = ("run 'dvc pull' to fetch it" if Path(f"{full}.dvc").exists()
                    else "put the file back or remove the source from workbench.yaml")
            raise WorkbenchError(f"data source {rel} is missing from the project folder: {hint}")
        options = {k: str(source[k]) for k in ("encoding", "delimiter", "decimal") if source.get(k)}

        def inner(fraction: float, message: str, _i: int = i) -> None:
            say((_i + fraction) / len(sources) * 0.95, message)

        profile = profile_file(full, name=str(source.get("name") or Path(rel).stem), display=rel,
                               settings=settings, options=options, progress=inner, cancel=cancel)
        md5 = pointer_md5(project.path / f"{rel.rstrip('/')}.dvc") or ""
        profiles.append(replace(profile, dvc_md5=md5))
    say(0.96, "judging against the thresholds")
    report = judge(profiles, settings=settings, thresholds=thresholds,
                   use_case=selected_use_case(config), checked_at=now)
    report = replace(report, exclude_columns=settings.exclude_columns)
    say(1.0, f"{report.verdict}: {report.reasons[0] if report.reasons else 'every threshold holds'}")
    return report


def _merge_target(profiles: list[SourceProfile]) -> TargetSummary | None:
    with_target = [p.target for p in profiles if p.target is not None]
    if not with_target:
        return None
    if len(with_target) == 1:
        return with_target[0]
    first = with_target[0]
    count = sum(t.count for t in with_target)
    missing = sum(t.missing for t in with_target)
    classes: dict[str, int] = {}
    for t in with_target:
        for label, n in t.classes:
            classes[label] = classes.get(label, 0) + n
    merged = sorted(classes.items(), key=lambda kv: -kv[1])
    positives = None
    if first.task == "classification" and len(merged) >= 2:
        if len(merged) == 2 and first.positive_label in classes:
            positives = classes[first.positive_label]
        else:
            positives = min(classes.values())
    total = count + missing
    return replace(first, count=count, missing=missing,
                   missing_share=missing / total if total else 0.0, distinct=len(merged) or first.distinct,
                   classes=tuple(merged), positives=positives,
                   minority_share=(min(classes.values()) / count) if len(merged) >= 2 and count else None)


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%" if share < 0.995 or share == 1 else f"{share * 100:.2f}%"


def judge(profiles: list[SourceProfile], *, settings: ProfileSettings, thresholds: dict[str, float],
          use_case: str | None, checked_at: datetime) -> DataCheckReport:
    """The verdict, reasons, warnings and readiness score for profiled sources."""
    findings: list[Finding] = []

    def block(kind: str, message: str, source: str = "", column: str = "") -> None:
        findings.append(Finding(kind, message, source, column, blocking=True))

    def warn(kind: str, message: str, source: str = "", column: str = "") -> None:
        findings.append(Finding(kind, message, source, column, blocking=False))

    target = settings.target
    summary = _merge_target(profiles)
    labelled = [p for p in profiles if p.target is not None]
    if target:
        if summary is None:
            names = list(dict.fromkeys(c.name for p in profiles for c in p.column_stats))
            raise WorkbenchError(
                f"target column {target!r} is in no data source: {column_hint(target, names)}; "
                "pass --target COLUMN (it is saved as data.target)"
            )
        if summary.count == 0:
            raise WorkbenchError(
                f"target column {target!r} is empty in all {summary.missing:,} rows: "
                "export the data with its labels, or choose another target with --target"
            )
        if summary.distinct <= 1:
            only = summary.classes[0][0] if summary.classes else fmt(summary.min)
            raise WorkbenchError(
                f"target column {target!r} has the same value ({only}) in every labelled row: a model "
                "cannot learn from it; export data with both outcomes or choose another target"
            )
    else:
        block("target", "no target column is set: set data.target in workbench.yaml or pass --target COLUMN")

    rows = sum(p.rows for p in (labelled or profiles))
    labelled_rows = summary.count if summary else rows
    n_features = len({c.name for p in profiles for c in p.column_stats if c.role == "feature"})
    if labelled_rows < thresholds["min_rows"]:
        what = "labelled rows" if summary else "rows"
        per = (f"{labelled_rows / n_features:.0f} rows per feature ({n_features} features)"
               if n_features else "no feature columns")
        if summary is not None and summary.task == "classification" and summary.classes:
            per += "; rows per class: " + ", ".join(f"{lab} {k:,}" for lab, k in summary.classes[:6])
        warn("rows", f"only {labelled_rows:,} {what}, fewer than min_rows {thresholds['min_rows']:g}: "
                     f"{per}; a model can still be trained, but its test metrics rest on about "
                     f"{max(1, round(labelled_rows * 0.2)):,} held-out rows and will vary from split to "
                     "split; collect more rows, or accept the size with "
                     "'mlops-workbench data thresholds min_rows=N'")
    if summary is not None:
        if summary.missing_share > thresholds["max_target_missing_share"]:
            block("target", f"target {target!r} is missing in {summary.missing:,} rows "
                            f"({_pct(summary.missing_share)}), more than max_target_missing_share "
                            f"{_pct(thresholds['max_target_missing_share'])}")
        if summary.task == "classification" and summary.positives is not None:
            if summary.positives < thresholds["min_positives"]:
                per_class = ", ".join(f"{lab} {n:,}" for lab, n in summary.classes[:6])
                risk = (f" (rows per class: {per_class}): the test split holds about "
                        f"{max(1, round(summary.positives * 0.2)):,} of them, so recall and precision on "
                        "that class move by whole steps; collect more, or accept it with "
                        "'mlops-workbench data thresholds min_positives=N'")
                if summary.positive_label is not None:
                    warn("positives", f"only {summary.positives:,} positives ({target} = "
                                      f"{summary.positive_label}), fewer than min_positives "
                                      f"{thresholds['min_positives']:g}" + risk)
                else:
                    small = min(summary.classes, key=lambda kv: kv[1])
                    warn("positives", f"class {small[0]!r} of {target} has only {small[1]:,} rows, "
                                      f"fewer than min_positives {thresholds['min_positives']:g}" + risk)
            if summary.minority_share is not None and summary.minority_share < 0.01:
                warn("balance", f"target {target!r} is very imbalanced: the smallest class is "
                                f"{_pct(summary.minority_share)} of the rows")
    feature_names: set[str] = set()
    for p in profiles:
        if p.duplicate_rows:
            warn("duplicates", f"{p.name}: {p.duplicate_rows:,} duplicate rows "
                               f"({_pct(p.duplicate_share)}): drop them before training", p.name)
        for note in p.notes:
            warn("format", note, p.name)
        for c in p.column_stats:
            if c.role == "feature":
                feature_names.add(c.name)
            if c.role == "feature" and c.missing_share > thresholds["max_missing_share"]:
                block("missing", f"{p.name}.{c.name} is {_pct(c.missing_share)} missing, more than "
                                 f"max_missing_share {_pct(thresholds['max_missing_share'])}: drop it or "
                                 "list it in data.exclude_columns", p.name, c.name)
            elif c.constant and c.role == "feature":
                warn("constant", f"{p.name}.{c.name} has a single value"
                                 f"{' (' + c.top[0][0] + ')' if c.top else ''}: it carries no information",
                     p.name, c.name)
            if (c.role == "feature" and c.leakage_score is not None
                    and c.leakage_score >= thresholds["leakage_score"]):
                measure = {"binary": "ROC AUC", "multiclass": "balanced accuracy",
                           "regression": "score"}[_leak_kind(summary)]
                block("leakage", f"{p.name}.{c.name} predicts {target} almost perfectly on its own "
                                 f"({measure} {c.leakage_score:.3f} >= {thresholds['leakage_score']:g}): "
                                 "likely leakage; drop it or list it in data.exclude_columns",
                      p.name, c.name)
            if c.personal_data:
                warn("personal", f"{p.name}.{c.name} looks like personal data ({c.personal_data}): "
                                 "keep it out of the features and the reports", p.name, c.name)
            if c.identifier and c.role not in ("id", "target"):
                warn("identifier", f"{p.name}.{c.name} looks like an identifier ({c.identifier}): "
                                   "list it in data.id_columns so it is not used as a feature",
                     p.name, c.name)
        if p.time is not None and p.time.freshness_days is not None:
            limit = thresholds.get("max_age_days")
            if limit is not None and p.time.freshness_days > limit:
                block("freshness", f"{p.name}: the newest {p.time.column} is {p.time.end}, "
                                   f"{p.time.freshness_days:.0f} days old, more than max_age_days "
                                   f"{limit:g}", p.name, p.time.column)
            elif p.time.freshness_days > STALE_DAYS:
                warn("freshness", f"{p.name}: the newest {p.time.column} is {p.time.end}, "
                                  f"{p.time.freshness_days:.0f} days ago", p.name, p.time.column)
    if settings.time_column and not any(
            settings.time_column in {c.name for c in p.column_stats} for p in profiles):
        warn("time", f"time column {settings.time_column!r} is in no source: fix data.time_column")
    features = len(feature_names)
    if features and labelled_rows / features < MIN_ROWS_PER_FEATURE:
        warn("rows_per_feature", f"only {labelled_rows / features:.1f} rows per feature "
                                 f"({labelled_rows:,} rows, {features} features)")

    reasons = tuple(f.message for f in findings if f.blocking)
    warnings = tuple(f.message for f in findings if not f.blocking)
    verdict = NO_GO if reasons else GO
    return DataCheckReport(
        verdict=verdict, reasons=reasons, warnings=warnings, findings=tuple(findings),
        readiness_score=readiness(findings), use_case=use_case,
        checked_at=checked_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        target=target, task=settings.task, target_summary=summary,
        thresholds=dict(thresholds), sources=tuple(profiles), rows=labelled_rows, features=features,
    )


def _leak_kind(summary: TargetSummary | None) -> str:
    if summary is None or summary.task == "regression":
        return "regression"
    return "binary" if summary.distinct == 2 else "multiclass"


def readiness(findings: list[Finding] | tuple[Finding, ...]) -> int:
    """The 1-5 data readiness score (rule in the module docstring)."""
    blocking = [f for f in findings if f.blocking]
    if not blocking:
        return 4 if findings else 5
    label = [f for f in blocking if f.kind in ("rows", "target", "positives", "freshness")]
    if any(f.kind == "target" and "no target" in f.message for f in label) or len(label) > 1:
        return 1
    if label:
        return 2
    return 3


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
                     f"({_pct(s.missing_share)}).")
        if s.classes:
            lines += [""] + md_table(["class", "rows", "share"],
                                     [[lab, f"{n:,}", _pct(n / s.count) if s.count else "-"] for lab, n in s.classes],
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
            rows.append([c.name, c.role, c.kind, _pct(c.missing_share), f"{c.distinct:,}",
                         fmt(c.min), fmt(median), fmt(c.max), "; ".join(flags)])
        lines += md_table(["column", "role", "kind", "missing", "distinct", "min", "median", "max", "flags"], rows,
                          align="lllrrrrrl", compact=True)
        lines.append("")
    return "\n".join(ln.replace("\n", " ") if ln.startswith("|") else ln for ln in lines).rstrip() + "\n"


def check_data(
    project_path: str | Path,
    *,
    target: str | None = None,
    role: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
) -> DataCheckReport:
    """Run the check and commit the reports with the data's ``.dvc`` pointers (one commit).

    A source whose file differs from its ``.dvc`` pointer (or has none) is tracked again in
    the same commit, so the md5 in the report is the data that was checked.
    ``progress(fraction, message)`` reports 0..1; ``cancel`` stops before the commit.
    """
    from workbench.versioning.step import begin_step

    project = Project(project_path)
    report = run_data_check(project.path, target=target, progress=progress, cancel=cancel, now=now)
    config = project.read_config()
    save_target = bool(target) and (config.get("data") or {}).get("target") != target
    stale = []
    for src in report.sources:
        full = project.path / src.path
        if not src.dvc_md5 or (full.is_file() and file_md5(full) != src.dvc_md5):
            stale.append(src.path)
    summary = (f"GO on {len(report.sources)} source(s), {report.rows:,} rows" if report.go
               else f"NO-GO: {report.reasons[0]}")
    if len(summary) > 120:
        summary = summary[:117] + "..."
    paths = [REPORT_JSON, REPORT_MD] + ([CONFIG_NAME] if save_target else [])
    with begin_step(project.path, "data_availability", paths=paths, role=role,
                    summary=summary, cancel=cancel) as step:
        if save_target:
            # the target given on the command line is remembered, so the next plain
            # 'data check' (and 'pipeline', 'retrain') judge the same column
            config.setdefault("data", {})["target"] = target
            step.write_text(CONFIG_NAME, dump_config(config))
        if stale:
            step.dvc_add(stale, cancel=cancel)
            fixed = []
            for src in report.sources:
                md5 = pointer_md5(project.path / f"{src.path.rstrip('/')}.dvc") or ""
                fixed.append(replace(src, dvc_md5=md5))
            report = replace(report, sources=tuple(fixed))
        for src in report.sources:
            pointer = f"{src.path.rstrip('/')}.dvc"
            if (project.path / pointer).exists() and src.path not in stale:
                step.include(pointer)
        step.write_text(REPORT_JSON, json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
        step.write_text(REPORT_MD, report.to_markdown())
        versions = "\n".join(f"- {s.path}: md5 {s.dvc_md5}" for s in report.sources)
        details = "\n".join(f"- {r}" for r in report.reasons)
        judged = ", ".join(f"{k} {v:g}" for k, v in report.thresholds.items())
        step.body = (f"Verdict: {report.verdict} (readiness {report.readiness_score}/5).\n"
                     + (f"\nReasons:\n{details}\n" if details else "")
                     + f"\nThresholds: {judged}\n"
                     + (f"Excluded columns: {', '.join(report.exclude_columns)}\n"
                        if report.exclude_columns else "")
                     + (f"Target: {target} (saved as data.target)\n" if save_target else "")
                     + f"\nData versions:\n{versions}")
    return replace(report, commit=step.commit, messages=tuple(step.messages), target_saved=save_target)


# --- changing what the check judges by: thresholds, excluded columns (one commit each) -------

#: key -> (kind, low, high): the thresholds ``data thresholds`` accepts and their ranges
THRESHOLD_RULES: dict[str, tuple[str, float, float]] = {
    "min_rows": ("int", 1, float("inf")),
    "min_positives": ("int", 1, float("inf")),
    "max_target_missing_share": ("share", 0.0, 1.0),
    "max_missing_share": ("share", 0.0, 1.0),
    "leakage_score": ("share", 0.5, 1.0),
    "max_age_days": ("number", 0.0, float("inf")),
}


@dataclass(frozen=True)
class ConfigChange:
    """What a ``data thresholds`` / ``data exclude`` / ``data include`` step changed."""

    summary: str
    commit: str | None
    values: dict[str, Any]
    messages: tuple[str, ...] = ()


def parse_thresholds(assignments: list[str] | tuple[str, ...]) -> dict[str, float]:
    """``["min_rows=300", "leakage_score=0.99"]`` -> checked numbers; one-line errors."""
    out: dict[str, float] = {}
    known = ", ".join(THRESHOLD_RULES)
    for item in assignments:
        key, sep, raw = str(item).partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key or not raw:
            raise WorkbenchError(f"threshold {item!r} is not KEY=VALUE: write it like min_rows=300 "
                                 f"(keys: {known})")
        if key not in THRESHOLD_RULES:
            import difflib

            close = difflib.get_close_matches(key, list(THRESHOLD_RULES), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise WorkbenchError(f"threshold {key!r} is not known: {hint}use one of {known}")
        kind, low, high = THRESHOLD_RULES[key]
        try:
            value = float(raw)
        except ValueError:
            raise WorkbenchError(f"threshold {key}={raw!r} is not a number: write it like "
                                 f"{key}={'300' if kind == 'int' else '0.5'}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise WorkbenchError(f"threshold {key}={raw!r} is not a finite number")
        if kind == "int" and not value.is_integer():
            raise WorkbenchError(f"threshold {key}={raw} must be a whole number, e.g. {key}=300")
        if not low <= value <= high:
            span = f">= {low:g}" if high == float("inf") else f"between {low:g} and {high:g}"
            raise WorkbenchError(f"threshold {key}={raw} is out of range: it must be {span}")
        out[key] = int(value) if kind == "int" else value
    return out


def set_thresholds(project_path: str | Path, assignments: list[str] | tuple[str, ...], *,
                   role: str | None = None) -> ConfigChange:
    """Change ``data.thresholds`` in workbench.yaml as one ``data_availability`` commit.

    Nothing is written when an assignment is bad. The next data check judges by the new
    values and records them in its report.
    """
    from workbench.versioning.step import begin_step

    if not assignments:
        raise WorkbenchError("give at least one threshold, e.g. 'data thresholds min_rows=300 min_positives=20'")
    changes = parse_thresholds(assignments)
    project = Project(project_path)
    config = project.read_config()
    data = config.setdefault("data", {})
    current = _thresholds(data.get("thresholds"))
    new = {**current, **changes}
    changed = {k: v for k, v in changes.items() if current.get(k) != v}
    summary = "thresholds " + ", ".join(f"{k}={v:g}" for k, v in changes.items())
    if not changed:
        return ConfigChange(summary=summary + " (unchanged)", commit=None, values=new)
    with begin_step(project.path, "data_availability", paths=[CONFIG_NAME], role=role,
                    summary=summary) as step:
        raw = data.get("thresholds") if isinstance(data.get("thresholds"), dict) else {}
        data["thresholds"] = {**raw, **changes}
        step.write_text(CONFIG_NAME, dump_config(config))
        step.body = ("Changed: " + ", ".join(f"{k} {current.get(k, '-')} -> {v:g}" for k, v in changed.items())
                     + "\nThe next data check judges by these and records them in its report.")
    return ConfigChange(summary=summary, commit=step.commit, values=new, messages=tuple(step.messages))


def _source_columns(project: Project, config: dict[str, Any]) -> list[str]:
    """Column names of the registered sources (header only), for checking a column name."""
    from workbench.design.data_read import data_files, sniff

    names: list[str] = []
    for source in (config.get("data") or {}).get("sources") or []:
        if not isinstance(source, dict) or not source.get("path"):
            continue
        rel = str(source["path"])
        full = project.path / rel
        if not full.exists():
            continue
        files = data_files(full, rel)
        if files:
            names += [c for c in sniff(files[0], rel).columns if c not in names]
    return names


def set_excluded(project_path: str | Path, column: str, *, exclude: bool, reason: str = "",
                 role: str | None = None) -> ConfigChange:
    """Add ``column`` to (or take it out of) ``data.exclude_columns``: one commit of workbench.yaml.

    The data check does not judge an excluded column and ``pipeline`` does not propose it
    as a feature (:func:`workbench.design.exclusions.feature_exclusions` decides both).
    """
    from workbench.design.exclusions import unknown_column_error
    from workbench.versioning.step import begin_step

    column = (column or "").strip()
    if not column:
        raise WorkbenchError("give the column: 'data exclude COLUMN --reason \"why\"'")
    project = Project(project_path)
    config = project.read_config()
    data = config.setdefault("data", {})
    current = list(exclude_columns(config))
    if exclude:
        if column in current:
            return ConfigChange(summary=f"{column} is already excluded", commit=None,
                                values={"exclude_columns": current})
        columns = _source_columns(project, config)
        if columns and column not in columns:
            raise unknown_column_error("column", column, columns, "nothing was changed")
        if column == data.get("target"):
            raise WorkbenchError(f"{column!r} is the target (data.target): it cannot be excluded; "
                                 "choose another target with 'data check --target COL' first")
        new = [*current, column]
        summary = f"exclude {column}" + (f": {reason}" if reason else "")
    else:
        if column not in current:
            where = [k for k in ("id_columns", "sensitive_columns") if column in str_list(data.get(k))]
            extra = f"; it is listed in data.{where[0]}" if where else ""
            shown = ", ".join(current) or "none"
            raise WorkbenchError(f"{column!r} is not excluded (data.exclude_columns: {shown}){extra}")
        new = [c for c in current if c != column]
        summary = f"include {column} again" + (f": {reason}" if reason else "")
    if len(summary) > 120:
        summary = summary[:117] + "..."
    with begin_step(project.path, "data_availability", paths=[CONFIG_NAME], role=role,
                    summary=summary) as step:
        data["exclude_columns"] = new
        step.write_text(CONFIG_NAME, dump_config(config))
        step.body = ((f"Reason: {reason}\n" if reason else "")
                     + f"data.exclude_columns: {', '.join(new) or '(none)'}\n"
                     "The data check no longer judges excluded columns and 'pipeline' does not "
                     "propose them as features; run 'mlops-workbench data check' again.")
    return ConfigChange(summary=summary, commit=step.commit, values={"exclude_columns": new},
                        messages=tuple(step.messages))


__all__ += ["ConfigChange", "Finding", "judge", "parse_thresholds", "readiness", "render_markdown",
            "selected_use_case", "set_excluded", "set_thresholds"]
