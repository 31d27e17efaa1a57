"""Changing what the data check judges by: its thresholds and its excluded columns.

``data thresholds KEY=VALUE...`` and ``data exclude/include COLUMN`` each write
workbench.yaml as one ``data_availability`` commit; a bad value is a one-line error and
nothing is written. :func:`thresholds` reads ``data.thresholds`` over the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.design.exclusions import exclude_columns, str_list
from workbench.errors import WorkbenchError
from workbench.project import CONFIG_NAME, Project, dump_config


def thresholds(config: dict[str, Any]) -> dict[str, float]:
    """``data.thresholds`` over the defaults, as the check judges by them (typed by the schema)."""
    from workbench.config import data_thresholds

    return data_thresholds(config)


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
    current = thresholds(config)
    new = {**current, **changes}
    changed = {k: v for k, v in changes.items() if current.get(k) != v}
    summary = "thresholds " + ", ".join(f"{k}={v:g}" for k, v in changes.items())
    if not changed:
        return ConfigChange(summary=summary + " (unchanged)", commit=None, values=new)
    with begin_step(project.path, "data_availability", paths=[CONFIG_NAME], role=role,
                    summary=summary) as step:
        data["thresholds"] = {**(data.get("thresholds") or {}), **changes}
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
