"""Monitoring settings and constants, and the number formatting the report and the verdict share."""

from __future__ import annotations

import re
from typing import Any

from workbench.drift import DEFAULT_THRESHOLDS
from workbench.errors import WorkbenchError
from workbench.textfmt import fmt

SCHEMA = 1


FOLDER = "monitoring"


LOG_SUFFIXES = (".jsonl", ".ndjson")


HEALTHY, ACTION = "healthy", "action"


MISSING_RISE = 0.05  # a note (not a verdict) when a column's missing share rises this much


DEFAULT_SETTINGS: dict[str, float] = {
    **DEFAULT_THRESHOLDS,
    "drift_share": 0.5,
    "min_rows": 30,
    "max_metric_drop": 0.05,
    "max_error_increase": 0.1,
}


HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "roc_auc", "r2")


LOWER_IS_BETTER = ("rmse", "mae")


_REPORT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(\d+)\.json$")



# --- settings ----------------------------------------------------------------------------


def monitoring_settings(config: dict[str, Any]) -> dict[str, float]:
    """The thresholds: defaults overridden by ``monitoring:`` in workbench.yaml.

    Other keys under ``monitoring:`` (a retraining policy, say) are left alone.
    """
    out = dict(DEFAULT_SETTINGS)
    raw = config.get("monitoring")
    if raw is None:
        return out
    if not isinstance(raw, dict):
        raise WorkbenchError("monitoring in workbench.yaml is not a mapping: write it as "
                             "'monitoring: {drift_share: 0.5, ...}'")
    for key in DEFAULT_SETTINGS:
        if key not in raw or raw[key] is None:
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise WorkbenchError(f"monitoring.{key} in workbench.yaml is {value!r}: it must be a number >= 0 "
                                 f"(default {DEFAULT_SETTINGS[key]:g})")
        out[key] = float(value)
    return out


def _fmt(x: Any, digits: int = 4) -> str:
    """A statistic for the report and the CLI table: "-" for None and NaN, grouped from 10,000 up."""
    return fmt(x, digits=digits, nan="-", grouped_from=1e4)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


METHOD_NAMES = {"ks": "Kolmogorov-Smirnov", "wasserstein": "Wasserstein (norm.)",
                "chi_squared": "chi-squared", "jensen_shannon": "Jensen-Shannon", "none": "not compared"}
