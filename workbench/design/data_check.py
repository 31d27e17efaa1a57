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
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.design.data_check_judge import judge, readiness
from workbench.design.data_check_report import (
    GO,
    NO_GO,
    REPORT_JSON,
    REPORT_MD,
    SCHEMA,
    DataCheckReport,
    Finding,
    render_markdown,
)
from workbench.design.data_check_settings import (
    THRESHOLD_RULES,
    ConfigChange,
    parse_thresholds,
    set_excluded,
    set_thresholds,
    thresholds,
)
from workbench.design.exclusions import exclude_columns, str_list
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
from workbench.project import CONFIG_NAME, Project, charter_from_config, dump_config
from workbench.versioning.dvc import file_md5, pointer_md5

__all__ = [
    "ColumnStats", "DataCheckReport", "Histogram", "SourceProfile", "TargetSummary", "TimeSummary",
    "check_data", "run_data_check", "REPORT_JSON", "REPORT_MD",
    "ConfigChange", "Finding", "judge", "parse_thresholds", "readiness", "render_markdown",
    "selected_use_case", "set_excluded", "set_thresholds",
    "GO", "NO_GO", "SCHEMA", "THRESHOLD_RULES", "thresholds",
]


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
    limits = thresholds(config)
    task = charter_from_config(config).task
    target = (target or data.get("target") or None)
    now = now or datetime.now(UTC)
    settings = ProfileSettings(
        target=str(target) if target else None, task=task,
        time_column=str(data["time_column"]) if data.get("time_column") else None,
        id_columns=str_list(data.get("id_columns")),
        sensitive_columns=str_list(data.get("sensitive_columns")),
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
    report = judge(profiles, settings=settings, thresholds=limits,
                   use_case=selected_use_case(config), checked_at=now)
    report = replace(report, exclude_columns=settings.exclude_columns)
    say(1.0, f"{report.verdict}: {report.reasons[0] if report.reasons else 'every threshold holds'}")
    return report




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

