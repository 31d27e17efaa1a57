"""Which columns may be features: the one rule the data check and the pipeline share.

A finding of the data check must not quietly become a model feature. So
:func:`feature_exclusions` is the only place that decides which columns are left out of
the default features, and why:

* ``data.exclude_columns`` (workbench.yaml, list of column names) — the team left it out
  (``mlops-workbench data exclude COL``); the data check does not judge it either;
* ``data.id_columns`` — declared identifiers;
* the last data check (``reports/data_check.json``): its ``personal_data``,
  ``identifiers`` and ``leakage_suspects``.

``data.sensitive_columns`` and ``data.time_column`` are left out of the *default* features
too (they are for fairness gates and time splits), but choosing them explicitly is an
ordinary choice; choosing a column of the list above explicitly needs
``--allow-flagged COL`` and is recorded (commit body, ``params.yaml`` ``flagged_features``,
the model card).

:func:`column_hint` is the "did you mean" of every message naming a column that is not
there: a case-only mismatch first, then difflib's close matches, then enough of the
column list to find the right one.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.errors import WorkbenchError

REPORT_JSON = paths.DATA_CHECK_REPORT
_PERSONAL_KIND = re.compile(r"personal data \((.+?)\): ")
#: how many column names an error lists in full before it lists only the closest ones
LIST_ALL_UP_TO = 25


def str_list(value: Any) -> tuple[str, ...]:
    """A workbench.yaml list of names (a single string is a list of one)."""
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def exclude_columns(config: dict[str, Any]) -> tuple[str, ...]:
    """``data.exclude_columns`` of a loaded workbench.yaml (what the data check does not judge)."""
    return str_list((config.get("data") or {}).get("exclude_columns"))


def read_last_report(project_path: str | Path) -> dict[str, Any] | None:
    """``reports/data_check.json`` as a mapping, or None when there is none (or it is unreadable)."""
    path = Path(project_path) / REPORT_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def feature_exclusions(config: dict[str, Any], report: dict[str, Any] | None,
                       target: str | None = None) -> dict[str, str]:
    """Column -> why it is not a default feature (and needs ``--allow-flagged`` to be one).

    ``config`` is the loaded workbench.yaml; ``report`` the last data check's JSON (or None).
    Leakage is about one target: the report's leakage suspects count only when it judged
    ``target`` (default: ``data.target``).
    """
    data = config.get("data") or {}
    out: dict[str, str] = {}
    for col in exclude_columns(config):
        out.setdefault(col, "excluded in workbench.yaml (data.exclude_columns)")
    for col in str_list(data.get("id_columns")):
        out.setdefault(col, "an identifier (data.id_columns)")
    target = target or data.get("target")
    for key, what in (("leakage_suspects", "a leakage suspect of the data check"),
                      ("personal_data", "personal data (data check)"),
                      ("identifiers", "an identifier (data check)")):
        if key == "leakage_suspects" and (report or {}).get("target") != target:
            continue
        for item in (report or {}).get(key) or []:
            if not isinstance(item, dict) or not item.get("column"):
                continue
            col = str(item["column"])
            detail = str(item.get("message") or "")
            why = what
            found = _PERSONAL_KIND.search(detail) if key == "personal_data" else None
            if found:
                # "... looks like personal data (email (by values)): ..." -> "personal data (email ...)"
                why = f"personal data ({found.group(1)}) by the data check"
            out.setdefault(col, why)
    return out


def report_is_stale(config: dict[str, Any], report: dict[str, Any] | None) -> bool:
    """Whether the last data check was judged with other excluded columns than workbench.yaml has now."""
    if not report or "exclude_columns" not in report:
        return False
    return sorted(str_list(report.get("exclude_columns"))) != sorted(exclude_columns(config))


def column_hint(name: str, columns: list[str] | tuple[str, ...]) -> str:
    """``did you mean 'x'? (columns: ...)`` for a column name that is not among ``columns``."""
    columns = list(columns)
    folded = [c for c in columns if c.casefold() == name.casefold()]
    close = folded or difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
    if not close:
        lower = {c.casefold(): c for c in columns}
        close = [lower[c] for c in difflib.get_close_matches(name.casefold(), list(lower), n=3, cutoff=0.6)]
    if len(close) > 1 and not folded:  # only the ones about as close as the best
        ratio = {c: difflib.SequenceMatcher(None, name.casefold(), c.casefold()).ratio() for c in close}
        best = max(ratio.values())
        close = [c for c in close if ratio[c] >= best - 0.05]
    if len(columns) <= LIST_ALL_UP_TO:
        listing = f"columns: {', '.join(columns)}"
    else:
        rest = [c for c in columns if c not in close]
        nearest = difflib.get_close_matches(name, rest, n=10, cutoff=0.0)
        listing = f"{len(columns)} columns, the closest: {', '.join(nearest)}"
    if not close:
        return f"({listing})"
    return "did you mean " + " or ".join(repr(c) for c in close) + f"? ({listing})"


def unknown_column_error(what: str, name: str, columns: list[str] | tuple[str, ...], fix: str) -> WorkbenchError:
    """One line: ``{what} 'X' is not a column of the data: did you mean 'x'? (columns: ...); {fix}``."""
    return WorkbenchError(f"{what} {name!r} is not a column of the data: {column_hint(name, columns)}; {fix}")
