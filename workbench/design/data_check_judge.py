"""Judging profiled sources against ``data.thresholds``: the verdict, reasons and warnings.

:func:`judge` raises for a target that cannot be learned from (unusable input, exit 2) and
otherwise collects :class:`Finding` s in a fixed order (target, size, labels, then each
source's columns and freshness), so the report's reasons and warnings read the same on
every run. :func:`readiness` turns them into the 1-5 score (rule in
:mod:`workbench.design.data_check`'s docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from workbench.design.data_check_report import GO, NO_GO, DataCheckReport, Finding, pct
from workbench.design.exclusions import column_hint
from workbench.design.profile import ColumnStats, ProfileSettings, SourceProfile, TargetSummary
from workbench.errors import WorkbenchError
from workbench.textfmt import fmt

STALE_DAYS = 365
MIN_ROWS_PER_FEATURE = 10


@dataclass
class _Findings:
    """The findings in the order they are found (blocking ones are the NO-GO reasons)."""

    items: list[Finding] = field(default_factory=list)

    def block(self, kind: str, message: str, source: str = "", column: str = "") -> None:
        self.items.append(Finding(kind, message, source, column, blocking=True))

    def warn(self, kind: str, message: str, source: str = "", column: str = "") -> None:
        self.items.append(Finding(kind, message, source, column, blocking=False))


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


def _require_learnable_target(target: str, summary: TargetSummary | None,
                              profiles: list[SourceProfile]) -> TargetSummary:
    """The target's summary, or a one-line error when no model could learn from it."""
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
    return summary


def _judge_size(out: _Findings, labelled_rows: int, n_features: int, summary: TargetSummary | None,
                thresholds: dict[str, float]) -> None:
    if labelled_rows >= thresholds["min_rows"]:
        return
    what = "labelled rows" if summary else "rows"
    per = (f"{labelled_rows / n_features:.0f} rows per feature ({n_features} features)"
           if n_features else "no feature columns")
    if summary is not None and summary.task == "classification" and summary.classes:
        per += "; rows per class: " + ", ".join(f"{lab} {k:,}" for lab, k in summary.classes[:6])
    out.warn("rows", f"only {labelled_rows:,} {what}, fewer than min_rows {thresholds['min_rows']:g}: "
                     f"{per}; a model can still be trained, but its test metrics rest on about "
                     f"{max(1, round(labelled_rows * 0.2)):,} held-out rows and will vary from split to "
                     "split; collect more rows, or accept the size with "
                     "'mlops-workbench data thresholds min_rows=N'")


def _judge_labels(out: _Findings, target: str | None, summary: TargetSummary,
                  thresholds: dict[str, float]) -> None:
    if summary.missing_share > thresholds["max_target_missing_share"]:
        out.block("target", f"target {target!r} is missing in {summary.missing:,} rows "
                            f"({pct(summary.missing_share)}), more than max_target_missing_share "
                            f"{pct(thresholds['max_target_missing_share'])}")
    if summary.task != "classification" or summary.positives is None:
        return
    if summary.positives < thresholds["min_positives"]:
        per_class = ", ".join(f"{lab} {n:,}" for lab, n in summary.classes[:6])
        risk = (f" (rows per class: {per_class}): the test split holds about "
                f"{max(1, round(summary.positives * 0.2)):,} of them, so recall and precision on "
                "that class move by whole steps; collect more, or accept it with "
                "'mlops-workbench data thresholds min_positives=N'")
        if summary.positive_label is not None:
            out.warn("positives", f"only {summary.positives:,} positives ({target} = "
                                  f"{summary.positive_label}), fewer than min_positives "
                                  f"{thresholds['min_positives']:g}" + risk)
        else:
            small = min(summary.classes, key=lambda kv: kv[1])
            out.warn("positives", f"class {small[0]!r} of {target} has only {small[1]:,} rows, "
                                  f"fewer than min_positives {thresholds['min_positives']:g}" + risk)
    if summary.minority_share is not None and summary.minority_share < 0.01:
        out.warn("balance", f"target {target!r} is very imbalanced: the smallest class is "
                            f"{pct(summary.minority_share)} of the rows")


def _judge_column(out: _Findings, p: SourceProfile, c: ColumnStats, target: str | None,
                  summary: TargetSummary | None, thresholds: dict[str, float]) -> None:
    if c.role == "feature" and c.missing_share > thresholds["max_missing_share"]:
        out.block("missing", f"{p.name}.{c.name} is {pct(c.missing_share)} missing, more than "
                             f"max_missing_share {pct(thresholds['max_missing_share'])}: drop it or "
                             "list it in data.exclude_columns", p.name, c.name)
    elif c.constant and c.role == "feature":
        out.warn("constant", f"{p.name}.{c.name} has a single value"
                             f"{' (' + c.top[0][0] + ')' if c.top else ''}: it carries no information",
                 p.name, c.name)
    if (c.role == "feature" and c.leakage_score is not None
            and c.leakage_score >= thresholds["leakage_score"]):
        measure = {"binary": "ROC AUC", "multiclass": "balanced accuracy",
                   "regression": "score"}[_leak_kind(summary)]
        out.block("leakage", f"{p.name}.{c.name} predicts {target} almost perfectly on its own "
                             f"({measure} {c.leakage_score:.3f} >= {thresholds['leakage_score']:g}): "
                             "likely leakage; drop it or list it in data.exclude_columns",
                  p.name, c.name)
    if c.personal_data:
        out.warn("personal", f"{p.name}.{c.name} looks like personal data ({c.personal_data}): "
                             "keep it out of the features and the reports", p.name, c.name)
    if c.identifier and c.role not in ("id", "target"):
        out.warn("identifier", f"{p.name}.{c.name} looks like an identifier ({c.identifier}): "
                               "list it in data.id_columns so it is not used as a feature",
                 p.name, c.name)


def _judge_source(out: _Findings, p: SourceProfile, target: str | None, summary: TargetSummary | None,
                  thresholds: dict[str, float]) -> None:
    if p.duplicate_rows:
        out.warn("duplicates", f"{p.name}: {p.duplicate_rows:,} duplicate rows "
                               f"({pct(p.duplicate_share)}): drop them before training", p.name)
    for note in p.notes:
        out.warn("format", note, p.name)
    for c in p.column_stats:
        _judge_column(out, p, c, target, summary, thresholds)
    if p.time is None or p.time.freshness_days is None:
        return
    limit = thresholds.get("max_age_days")
    if limit is not None and p.time.freshness_days > limit:
        out.block("freshness", f"{p.name}: the newest {p.time.column} is {p.time.end}, "
                               f"{p.time.freshness_days:.0f} days old, more than max_age_days "
                               f"{limit:g}", p.name, p.time.column)
    elif p.time.freshness_days > STALE_DAYS:
        out.warn("freshness", f"{p.name}: the newest {p.time.column} is {p.time.end}, "
                              f"{p.time.freshness_days:.0f} days ago", p.name, p.time.column)


def judge(profiles: list[SourceProfile], *, settings: ProfileSettings, thresholds: dict[str, float],
          use_case: str | None, checked_at: datetime) -> DataCheckReport:
    """The verdict, reasons, warnings and readiness score for profiled sources."""
    out = _Findings()
    target = settings.target
    summary = _merge_target(profiles)
    labelled = [p for p in profiles if p.target is not None]
    if target:
        summary = _require_learnable_target(target, summary, profiles)
    else:
        out.block("target", "no target column is set: set data.target in workbench.yaml or pass --target COLUMN")

    rows = sum(p.rows for p in (labelled or profiles))
    labelled_rows = summary.count if summary else rows
    feature_names = {c.name for p in profiles for c in p.column_stats if c.role == "feature"}
    _judge_size(out, labelled_rows, len(feature_names), summary, thresholds)
    if summary is not None:
        _judge_labels(out, target, summary, thresholds)
    for p in profiles:
        _judge_source(out, p, target, summary, thresholds)
    if settings.time_column and not any(
            settings.time_column in {c.name for c in p.column_stats} for p in profiles):
        out.warn("time", f"time column {settings.time_column!r} is in no source: fix data.time_column")
    features = len(feature_names)
    if features and labelled_rows / features < MIN_ROWS_PER_FEATURE:
        out.warn("rows_per_feature", f"only {labelled_rows / features:.1f} rows per feature "
                                     f"({labelled_rows:,} rows, {features} features)")

    findings = out.items
    reasons = tuple(f.message for f in findings if f.blocking)
    warnings = tuple(f.message for f in findings if not f.blocking)
    return DataCheckReport(
        verdict=NO_GO if reasons else GO, reasons=reasons, warnings=warnings, findings=tuple(findings),
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
    """The 1-5 data readiness score (rule in :mod:`workbench.design.data_check`'s docstring)."""
    blocking = [f for f in findings if f.blocking]
    if not blocking:
        return 4 if findings else 5
    label = [f for f in blocking if f.kind in ("rows", "target", "positives", "freshness")]
    if any(f.kind == "target" and "no target" in f.message for f in label) or len(label) > 1:
        return 1
    if label:
        return 2
    return 3
