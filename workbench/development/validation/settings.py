"""Gate names and settings, the result types, and the small helpers every gate shares."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from workbench.errors import CancelledError, WorkbenchError
from workbench.progress import Progress
from workbench.textfmt import fmt

GATE_NAMES = ("success_metric", "baseline", "no_regression", "slices", "fairness", "reproducibility")


#: Not a setting: always run first. The model bytes are the train stage's output, load, and
#: give the recorded metrics; when they do not, the other gates are not run.
MODEL_GATE = "model_file"


GATE_TITLES = {
    MODEL_GATE: "Model file is the trained one",
    "success_metric": "Success metric",
    "baseline": "Beats the baseline",
    "no_regression": "No regression vs production",
    "slices": "Slices",
    "fairness": "Fairness",
    "reproducibility": "Reproducibility",
}


#: Keys each gate accepts in workbench.yaml.
GATE_KEYS: dict[str, tuple[str, ...]] = {
    "success_metric": ("enabled",),
    "baseline": ("enabled", "metric", "margin"),
    "no_regression": ("enabled", "tolerance", "metrics", "per_metric"),
    "slices": ("enabled", "column", "metric", "floor", "min_rows"),
    "fairness": ("enabled", "column", "metric", "max_difference", "min_rows"),
    "reproducibility": ("enabled",),
}


LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


#: Metrics that can be computed on a slice of the test rows.
SLICE_METRICS = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "regression": ("rmse", "mae", "r2"),
}


REGISTRY_ARTIFACT = "model"


STAGE_FILES = ("data/prepared/train.parquet", "data/prepared/test.parquet")


WORKBENCH_CMD = re.compile(r"^\s*mlops-workbench\s+stage\s+(prepare|train|evaluate)\s*$")


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict: ``passed`` is True, False, or None when the gate was skipped."""

    name: str
    passed: bool | None
    value: Any
    threshold: Any
    why: str
    details: tuple[dict[str, Any], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return GATE_TITLES.get(self.name, self.name)

    @property
    def state(self) -> str:
        """``pass``, ``fail`` or ``skipped``."""
        return "skipped" if self.passed is None else ("pass" if self.passed else "fail")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "passed": self.passed, "value": self.value,
                "threshold": self.threshold, "why": self.why, "details": list(self.details), **self.extra}


@dataclass(frozen=True)
class ValidationResult:
    """What the validation step found and committed."""

    passed: bool
    gates: tuple[GateResult, ...]
    report: dict[str, Any]
    commit: str | None = None
    messages: tuple[str, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_json(self) -> dict[str, Any]:
        return {**self.report, "commit": self.commit, "messages": list(self.messages)}


# --- small helpers ---------------------------------------------------------------------


def _say(progress: Progress | None, text: str) -> None:
    if progress is not None:
        progress(text)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise CancelledError("validation was cancelled; nothing was written or committed")


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) or math.isinf(out) else out


def _fmt(value: Any) -> str:
    """A metric for a message or the report: 4 significant digits, "n/a" when it is not a finite number."""
    return fmt(_num(value), none="n/a")


def _better(metric: str, value: float, reference: float) -> float:
    """How much better ``value`` is than ``reference`` (negative: worse), for either direction."""
    return reference - value if metric in LOWER_IS_BETTER else value - reference


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# --- gate settings ---------------------------------------------------------------------


def default_gates(config: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``gates:`` section written on the first validation, derived from the charter and data.

    The metric is the charter's primary metric (when a slice can compute it); a slice's
    floor is its target less 0.1 (or 25% above it for a lower-is-better metric). The slice
    column is the first categorical feature, else the first sensitive column; fairness
    uses the first sensitive column.
    """
    from workbench.design.requirements import success_gate
    from workbench.project import charter_from_config

    charter = charter_from_config(config)
    task = charter.task if charter.task in SLICE_METRICS else "classification"
    try:
        clauses = success_gate(charter)
    except WorkbenchError:
        clauses = []
    primary = clauses[0] if clauses else None
    fallback = "f1" if task == "classification" else "r2"
    metric = primary.metric if primary is not None else fallback
    slice_metric = metric if metric in SLICE_METRICS[task] else fallback
    target = next((c.target for c in clauses if c.metric == slice_metric), None)
    if target is None:
        floor = 0.5 if task == "classification" else 0.0
    elif slice_metric in LOWER_IS_BETTER:
        floor = round(target * 1.25, 4)
    else:
        floor = round(max(0.0, target - 0.1), 4)
    data = config.get("data") or {}
    sensitive = [str(c) for c in data.get("sensitive_columns") or [] if c]
    features = dict((params or {}).get("features") or {})
    categorical = [c for c, kind in features.items() if kind == "categorical"]
    slice_column = categorical[0] if categorical else (sensitive[0] if sensitive else None)
    return {
        "success_metric": {"enabled": True},
        "baseline": {"metric": metric, "margin": 0.05},
        "no_regression": {"tolerance": 0.02},
        "slices": {"column": slice_column, "metric": slice_metric, "floor": floor, "min_rows": 20},
        "fairness": {"column": sensitive[0] if sensitive else None, "metric": slice_metric,
                     "max_difference": 0.1, "min_rows": 20},
        "reproducibility": {"enabled": True},
    }


def _number(where: str, value: Any, *, minimum: float | None = None, whole: bool = False) -> float:
    number = _num(value) if not isinstance(value, str) else _num(value.strip() or None)
    if number is None:
        example = "20" if whole else "0.05"
        raise WorkbenchError(f"{where} {value!r} is not a number: write it like {example} under "
                             "'gates:' in workbench.yaml")
    if whole and number != int(number):
        raise WorkbenchError(f"{where} {value!r} must be a whole number: fix it in workbench.yaml")
    if minimum is not None and number < minimum:
        raise WorkbenchError(f"{where} {value!r} must be at least {minimum:g}: fix it in workbench.yaml")
    return int(number) if whole else number


def check_gates(raw: Any, *, task: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """The gate settings with defaults filled in; a one-line error for the first bad one."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise WorkbenchError("'gates' in workbench.yaml is not a mapping: write it like "
                             "'gates: {baseline: {margin: 0.05}}' or remove it for the defaults")
    unknown = [k for k in raw if k not in GATE_NAMES]
    if unknown:
        raise WorkbenchError(f"gate {unknown[0]!r} in workbench.yaml is not known: use "
                             f"{', '.join(GATE_NAMES)}")
    from workbench.project import CLASSIFICATION_METRICS, REGRESSION_METRICS

    all_metrics = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    out: dict[str, Any] = {}
    for name in GATE_NAMES:
        given = raw.get(name)
        if given is None:
            given = {}
        if isinstance(given, bool):
            given = {"enabled": given}
        if not isinstance(given, dict):
            raise WorkbenchError(f"gates.{name} in workbench.yaml is not a mapping: write it like "
                                 f"'{name}: {{enabled: true}}'")
        bad = [k for k in given if k not in GATE_KEYS[name]]
        if bad:
            raise WorkbenchError(f"gates.{name} has no setting {bad[0]!r}: use "
                                 f"{', '.join(GATE_KEYS[name])}")
        gate = {**defaults.get(name, {}), **given}
        enabled = gate.get("enabled", True)
        if not isinstance(enabled, bool):
            raise WorkbenchError(f"gates.{name}.enabled {enabled!r} must be true or false")
        gate["enabled"] = enabled
        if "metric" in GATE_KEYS[name]:
            allowed = all_metrics if name == "baseline" else SLICE_METRICS.get(task, ())
            metric = str(gate.get("metric") or "")
            if metric not in allowed:
                scope = "" if name == "baseline" else " for slices"
                raise WorkbenchError(f"gates.{name}.metric {gate.get('metric')!r} is not a {task} "
                                     f"metric{scope}: use one of {', '.join(allowed)}")
        for key in ("margin", "tolerance", "max_difference"):
            if key in GATE_KEYS[name]:
                gate[key] = _number(f"gates.{name}.{key}", gate.get(key), minimum=0)
        if "floor" in GATE_KEYS[name]:
            gate["floor"] = _number(f"gates.{name}.floor", gate.get("floor"))
        if "min_rows" in GATE_KEYS[name]:
            gate["min_rows"] = _number(f"gates.{name}.min_rows", gate.get("min_rows", 20),
                                       minimum=1, whole=True)
        if "column" in GATE_KEYS[name]:
            column = gate.get("column")
            if column is not None and (not isinstance(column, str | int) or isinstance(column, bool)):
                raise WorkbenchError(f"gates.{name}.column {column!r} must be a column name or null")
            gate["column"] = str(column) if column not in (None, "") else None
        if name == "no_regression":
            metrics = gate.get("metrics")
            if metrics is not None:
                if isinstance(metrics, str):
                    metrics = [metrics]
                if not isinstance(metrics, list) or any(str(m) not in all_metrics for m in metrics):
                    raise WorkbenchError(f"gates.no_regression.metrics {gate.get('metrics')!r} must list "
                                         f"{task} metrics: use some of {', '.join(all_metrics)}")
                gate["metrics"] = [str(m) for m in metrics]
            per_metric = gate.get("per_metric")
            if per_metric is not None:
                if not isinstance(per_metric, dict):
                    raise WorkbenchError(f"gates.no_regression.per_metric {per_metric!r} must map metrics to "
                                         "tolerances, like 'per_metric: {rmse: 0.05}'")
                checked: dict[str, float] = {}
                for metric, value in per_metric.items():
                    if str(metric) not in all_metrics:
                        raise WorkbenchError(f"gates.no_regression.per_metric names {metric!r}, not a {task} "
                                             f"metric: use some of {', '.join(all_metrics)}")
                    checked[str(metric)] = _number(f"gates.no_regression.per_metric.{metric}", value, minimum=0)
                gate["per_metric"] = checked
        out[name] = gate
    return out


#: The direction of each metric for ``no_regression`` (LOWER_IS_BETTER: lower is better).
HIGHER_IS_BETTER = frozenset({"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc",
                              "average_precision", "r2", "precision_macro", "recall_macro", "f1_macro",
                              "precision_weighted", "recall_weighted", "f1_weighted"})


def metric_direction(metric: str) -> str | None:
    """``higher`` or ``lower`` (is better), None for a metric the workbench does not know."""
    if metric in LOWER_IS_BETTER or metric in ("mse", "mape", "brier_score"):
        return "lower"
    return "higher" if metric in HIGHER_IS_BETTER else None


def _skipped(name: str) -> GateResult:
    return GateResult(name, None, None, None, "turned off in workbench.yaml (gates." + name + ".enabled)")


def _gate_settings(config: dict[str, Any], params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(checked settings, whether the defaults must be written to workbench.yaml)."""
    task = str((config.get("charter") or {}).get("task") or params.get("task") or "classification")
    defaults = default_gates(config, params)
    raw = config.get("gates")
    return check_gates(raw, task=task, defaults=defaults), raw is None
