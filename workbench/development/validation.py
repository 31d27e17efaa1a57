"""Testing & validation: judge one model against the gates in ``workbench.yaml``.

:func:`validate` reads the model (the workspace model that ``dvc.lock`` records, or a
named DVC experiment read from its git ref and the DVC cache), runs every gate, writes
``reports/validation.json`` + ``reports/validation.md`` and commits them as the
``validation`` step. ``passed`` is true when no gate fails (a skipped gate does not
fail). The registry reads the report through :mod:`workbench.development.evidence`.

The gates (``gates:`` in workbench.yaml; written with these defaults on the first
validation when the section is absent; every key may be edited by hand)::

    gates:
      success_metric: {enabled: true}               # the charter's success metric and its targets
      baseline: {metric: recall, margin: 0.05}      # beat scikit-learn's dummy model by a margin
      no_regression: {tolerance: 0.02}              # no metric worse than production by more than 2%
      slices: {column: age_group, metric: recall, floor: 0.85, min_rows: 20}
      fairness: {column: age_group, metric: recall, max_difference: 0.1, min_rows: 20}
      reproducibility: {enabled: true}              # retrain: the same metrics, exactly

Every gate also takes ``enabled: false`` (reported as skipped). Why each gate works the
way it does:

- *baseline*: the ``dummy`` family with the same preprocessing, fitted on the same
  train split and scored by the same ``evaluate`` stage, so the comparison differs in
  the model alone.
- *no_regression*: the production model is the version GTO's registry puts in the
  ``production`` stage (``model#production#N`` tags); its model bytes are read as the
  tagged commit's ``dvc.lock`` records them (DVC cache, else remote) and both models are
  scored by the evaluate stage on the same, current test rows in one run, so a new test
  split cannot pass for a regression or fail a good retrain. The tolerance is relative
  (0.02: no metric more than 2% worse) and knows each metric's direction; it may be set
  per metric (``no_regression: {tolerance: 0.02, per_metric: {rmse: 0.05}}``). With no
  production version the gate is skipped; a production model that predicts another
  target, or needs columns the test rows lack, is shown but not judged.
- *slices* and *fairness*: the column may be anything in the data, not only a feature
  (sensitive columns are kept out of the features on purpose), so the test rows are
  found again with the prepare stage's own seeded split and checked against the
  prepared test file. Slices with fewer than ``min_rows`` rows, or where the metric is
  undefined (recall without positives), are shown but not judged. The fairness gap is
  fairlearn's ``MetricFrame(...).difference()`` over the judged groups.
- *reproducibility*: the prepare, train and evaluate stages run again in a temporary
  folder on the same params and the same data (the bytes ``dvc.lock`` records), in a
  subprocess (it can be cancelled, and it never holds the TUI's interpreter), and every
  metric must be equal. The dummy baseline runs in the same subprocess.

Bad input (an unknown experiment, no model, a gate setting that does not parse, a slice
or sensitive column that is not in the data) raises :class:`WorkbenchError` before
anything is written.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.development.evidence import MODEL_FILE, VALIDATION_FILE, VALIDATION_REPORT
from workbench.errors import CancelledError, WorkbenchError
from workbench.versioning.locks import holding_project_lock

Progress = Callable[[str], None]

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
    number = _num(value)
    return "n/a" if number is None else f"{number:.4g}"


def _better(metric: str, value: float, reference: float) -> float:
    """How much better ``value`` is than ``reference`` (negative: worse), for either direction."""
    return reference - value if metric in LOWER_IS_BETTER else value - reference


def _md5_file(path: Path) -> str:
    import hashlib

    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


# --- the model under validation --------------------------------------------------------


@dataclass
class _Snapshot:
    """The files of one model, copied into a temporary folder."""

    folder: Path
    params: dict[str, Any]
    metrics: dict[str, float]
    dvc_yaml: dict[str, Any]
    digest: str
    experiment: str | None
    commit: str | None
    sources: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    lock: dict[str, Any] = field(default_factory=dict)
    file_md5: str | None = None  # md5 of the model bytes copied into ``folder``


def list_experiments(project_path: str | Path) -> dict[str, str]:
    """DVC experiments of the project: name -> commit of its ref (``refs/exps``)."""
    from workbench.versioning.exp_refs import experiments_by_name

    return experiments_by_name(Path(project_path).absolute())


def _git_prefix(root: Path) -> tuple[Path, str]:
    from workbench.versioning.git import repo_root

    git_root = repo_root(root)
    if git_root is None:
        raise WorkbenchError(f"{root} is not inside a git repository: create the project first")
    rel = root.resolve().relative_to(git_root).as_posix()
    return git_root, "" if rel in ("", ".") else rel + "/"


def _show(git_root: Path, sha: str, path: str) -> str | None:
    from workbench.versioning.git import run_git

    out = run_git(git_root, "show", f"{sha}:{path}", check=False)
    return out if out else None


def _cache_dirs(root: Path) -> list[Path]:
    """DVC cache folders: ``cache.dir`` from the project's DVC config, then the default."""
    dirs: list[Path] = []
    for name in ("config.local", "config"):
        path = root / ".dvc" / name
        if not path.is_file():
            continue
        section = ""
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stripped = line.strip()
            if stripped.startswith("["):
                section = stripped.strip("[]").strip().strip("'\"")
            elif section == "cache" and "=" in stripped:
                key, _, value = stripped.partition("=")
                if key.strip() == "dir" and value.strip():
                    folder = Path(value.strip())
                    dirs.append(folder if folder.is_absolute() else root / ".dvc" / folder)
    dirs.append(root / ".dvc" / "cache")
    return dirs


def _from_cache(root: Path, md5: str) -> Path | None:
    for folder in _cache_dirs(root):
        for candidate in (folder / "files" / "md5" / md5[:2] / md5[2:], folder / md5[:2] / md5[2:]):
            if candidate.is_file():
                return candidate
    return None


def _lock_md5s(lock: dict[str, Any]) -> dict[str, str]:
    """Path -> md5 in a dvc.lock: what the stage that *writes* a file recorded for it.

    A file one stage writes and another reads (the model: train's out, evaluate's dep) has
    the writer's md5; a dep that no stage writes (a data source) has the reader's. The
    reader's record must never win: after a ``dvc commit`` of a swapped model, the evaluate
    stage's dep still names the old bytes while the train stage's out names the new ones.
    """
    out: dict[str, str] = {}
    stages = [s or {} for s in (lock.get("stages") or {}).values()]
    for key in ("outs", "deps"):
        for stage in stages:
            for entry in stage.get(key) or []:
                if isinstance(entry, dict) and entry.get("path") and entry.get("md5"):
                    out.setdefault(str(entry["path"]), str(entry["md5"]))
    return out


def _load_yaml(text: str | None, what: str) -> dict[str, Any]:
    import yaml

    if not text:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise WorkbenchError(f"{what} is not valid YAML: restore it from git or run the pipeline again") from None
    return data if isinstance(data, dict) else {}


def _snapshot(root: Path, experiment: str | None, folder: Path,
              progress: Progress | None) -> _Snapshot:
    """Copy what validation reads (params, model, splits, sources) into ``folder``."""
    from workbench.development.evidence import model_digest
    from workbench.development.stages import METRICS_FILE, PARAMS_FILE
    from workbench.versioning.git import has_head, head

    git_root, prefix = _git_prefix(root)
    notes: list[str] = []
    if experiment:
        known = list_experiments(root)
        sha = known.get(experiment)
        if sha is None:
            names = ", ".join(sorted(known)[:12]) or "none yet (run 'mlops-workbench train')"
            raise WorkbenchError(f"experiment {experiment!r} is not known: use one of {names} "
                                 "(see 'dvc exp show')")
        texts = {rel: _show(git_root, sha, prefix + rel)
                 for rel in (PARAMS_FILE, "dvc.lock", "dvc.yaml", METRICS_FILE)}
        commit: str | None = sha
    else:
        texts = {}
        for rel in (PARAMS_FILE, "dvc.lock", "dvc.yaml", METRICS_FILE):
            path = root / rel
            texts[rel] = path.read_text(encoding="utf-8") if path.is_file() else None
        commit = head(git_root) if has_head(git_root) else None
    lock = _load_yaml(texts["dvc.lock"], "dvc.lock")
    md5s = _lock_md5s(lock)
    if experiment:
        if MODEL_FILE not in md5s:
            raise WorkbenchError(f"experiment {experiment!r} has no model in its dvc.lock: "
                                 "run it again with 'mlops-workbench train'")
        digest = "md5:" + md5s[MODEL_FILE]
    else:
        found = model_digest(root)
        if found is None:
            raise WorkbenchError("there is no trained model yet: run 'mlops-workbench train' "
                                 "(or 'dvc repro') first")
        digest = found
    if not texts[PARAMS_FILE]:
        raise WorkbenchError("params.yaml is missing: run 'mlops-workbench pipeline' first")
    params = _load_yaml(texts[PARAMS_FILE], PARAMS_FILE)
    from workbench.config import check_params

    check_params(params, PARAMS_FILE)  # typed, one line
    if not params.get("features") or not params.get("target"):
        raise WorkbenchError("params.yaml has no features or target: run 'mlops-workbench pipeline' again")
    try:
        metrics_raw = json.loads(texts[METRICS_FILE] or "")
    except ValueError:
        metrics_raw = None
    if not isinstance(metrics_raw, dict):
        raise WorkbenchError("the model has no metrics.json: run the evaluate stage "
                             "('dvc repro' or 'mlops-workbench train')")
    metrics = {k: float(v) for k, v in metrics_raw.items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PARAMS_FILE).write_text(texts[PARAMS_FILE], encoding="utf-8")
    (folder / METRICS_FILE).write_text(texts[METRICS_FILE] or "{}", encoding="utf-8")
    sources = [s if isinstance(s, dict) else {"path": str(s)} for s in params.get("sources") or []]
    needed = [MODEL_FILE, *STAGE_FILES, *(str(s.get("path")) for s in sources)]
    for rel in needed:
        dest = folder / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        md5 = md5s.get(rel)
        local = root / rel
        if (not experiment and local.is_file()
                and (md5 is None or _md5_file(local) == md5)):
            shutil.copyfile(local, dest)
            continue
        cached = _from_cache(root, md5) if md5 else None
        if cached is None:
            whose = f"experiment {experiment}" if experiment else "the model"
            if rel == MODEL_FILE and not experiment and md5 is None:
                raise WorkbenchError("there is no trained model yet: run 'mlops-workbench train' first")
            raise WorkbenchError(f"{rel} of {whose} is neither in the workspace nor in the DVC cache: "
                                 "run 'dvc pull' (or 'dvc exp pull' for an experiment) and try again")
        if not experiment and local.exists():
            notes.append(f"{rel} in the workspace differs from dvc.lock; validated the version dvc.lock records")
        shutil.copyfile(cached, dest)
    if not experiment and texts["dvc.lock"] is not None and commit is not None:
        from workbench.versioning.git import changed_paths

        dirty = changed_paths(git_root, [prefix + "dvc.lock", prefix + PARAMS_FILE])
        if dirty:
            notes.append("the model is not committed yet (dvc.lock or params.yaml differ from HEAD): "
                         "commit or promote it so the evidence points at a commit")
    return _Snapshot(folder=folder, params=params, metrics=metrics,
                     dvc_yaml=_load_yaml(texts["dvc.yaml"], "dvc.yaml"), digest=digest,
                     experiment=experiment, commit=commit,
                     sources=[{"path": str(s.get("path")), "md5": md5s.get(str(s.get("path")))}
                              for s in sources], notes=notes, lock=lock,
                     file_md5=_md5_file(folder / MODEL_FILE))


# --- predictions and per-group metrics -------------------------------------------------


@dataclass
class _Scored:
    """The test rows with truth, predictions and (binary) scores."""

    frame: Any  # the prepared test frame
    y: Any
    pred: Any
    score: Any
    positive: Any
    binary: bool


def _score_test(snap: _Snapshot) -> _Scored:
    import warnings

    import numpy as np
    import pandas as pd

    from workbench.development.stages import TEST_FILE, _xy, load_model

    params = snap.params
    test = pd.read_parquet(snap.folder / TEST_FILE)
    X, y = _xy(test, params)
    model = load_model(snap.folder / MODEL_FILE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = np.asarray(model.predict(X))
        score = None
        positive = None
        binary = False
        if params.get("task", "classification") == "classification":
            classes = list(getattr(model, "classes_", []))
            binary = len(classes) == 2
            positive = params.get("positive_class", classes[-1] if classes else None)
            if binary and positive not in classes:
                positive = classes[-1]
            if binary:
                idx = classes.index(positive)
                if hasattr(model, "predict_proba"):
                    score = np.asarray(model.predict_proba(X))[:, idx]
                elif hasattr(model, "decision_function"):
                    decision = np.asarray(model.decision_function(X))
                    score = decision if idx == 1 else -decision
    return _Scored(frame=test, y=np.asarray(y), pred=pred, score=score, positive=positive, binary=binary)


def _metric_fn(task: str, metric: str, scored: _Scored) -> tuple[Callable[[Any, Any], float], Any]:
    """A metric callable for fairlearn and the array to pass as its ``y_pred``."""
    import numpy as np
    from sklearn import metrics as m

    def safe(fn: Callable[..., float]) -> Callable[[Any, Any], float]:
        def inner(y_true: Any, y_pred: Any) -> float:
            import warnings

            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return float(fn(y_true, y_pred))
            except ValueError:
                return float("nan")
        inner.__name__ = metric
        return inner

    if task == "regression":
        fns = {"rmse": lambda a, b: np.sqrt(m.mean_squared_error(a, b)),
               "mae": m.mean_absolute_error, "r2": m.r2_score}
        return safe(fns[metric]), scored.pred
    avg: dict[str, Any] = ({"average": "binary", "pos_label": scored.positive} if scored.binary
                           else {"average": "macro"})
    if metric == "roc_auc":
        if not scored.binary or scored.score is None:
            raise WorkbenchError("roc_auc per slice needs a binary classifier with scores: "
                                 "use another metric for gates.slices / gates.fairness")
        positive = scored.positive

        def auc(a: Any, s: Any) -> float:
            truth = np.asarray(a) == positive
            if truth.all() or not truth.any():
                return float("nan")
            return m.roc_auc_score(truth, s)
        return safe(auc), scored.score
    fns = {
        "accuracy": m.accuracy_score,
        "precision": lambda a, b: m.precision_score(a, b, zero_division=np.nan, **avg),
        "recall": lambda a, b: m.recall_score(a, b, zero_division=np.nan, **avg),
        "f1": lambda a, b: m.f1_score(a, b, zero_division=np.nan, **avg),
    }
    return safe(fns[metric]), scored.pred


def _data_columns(snap: _Snapshot) -> list[str]:
    from workbench.development.stages import read_sources

    return [str(c) for c in read_sources(snap.folder, snap.sources).columns]


def _test_column(snap: _Snapshot, scored: _Scored, column: str, where: str) -> Any:
    """Values of ``column`` on the test rows, in the prepared test file's order."""
    import numpy as np

    from workbench.development.stages import read_sources, split_indices

    if column in scored.frame.columns:
        return scored.frame[column].to_numpy()
    frame = read_sources(snap.folder, snap.sources)
    if column not in frame.columns:
        columns = ", ".join(str(c) for c in list(frame.columns)[:15])
        raise WorkbenchError(f"{where} {column!r} is not a column of the data: use one of {columns} "
                             "(or null to skip the gate) in workbench.yaml")
    target = snap.params["target"]
    frame = frame[frame[target].notna()].reset_index(drop=True)
    _train, test_idx = split_indices(frame, snap.params.get("split") or {}, target)
    rows = frame.iloc[test_idx].reset_index(drop=True)
    truth = rows[target].to_numpy()
    if len(rows) != len(scored.y) or not np.array_equal(truth.astype(str), np.asarray(scored.y).astype(str)):
        raise WorkbenchError(f"the test rows could not be matched to the data for {where} {column!r}: "
                             "the data changed since training; run 'dvc repro' and validate again")
    return rows[column].to_numpy()


def _groups(values: Any) -> Any:
    """Group labels for a column: its values as text, or quartile ranges for a many-valued number."""
    import pandas as pd

    series = pd.Series(values)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series) \
            and series.nunique(dropna=True) > 10:
        bins = pd.qcut(series, q=4, duplicates="drop")
        labels = bins.map(lambda b: f"{b.left:g} to {b.right:g}" if isinstance(b, pd.Interval) else b)
        series = pd.Series(labels, dtype="object")
    series = series.astype("object")
    return series.where(series.notna(), "(missing)").astype(str).to_numpy()


def _slice_gate(settings: dict[str, Any], task: str, snap: _Snapshot, scored: _Scored) -> GateResult:
    import numpy as np
    from fairlearn.metrics import MetricFrame

    column, metric, floor, min_rows = (settings["column"], settings["metric"], settings["floor"],
                                       settings["min_rows"])
    groups = _groups(_test_column(snap, scored, column, "gates.slices.column"))
    fn, y_pred = _metric_fn(task, metric, scored)
    frame = MetricFrame(metrics={metric: fn}, y_true=scored.y, y_pred=y_pred, sensitive_features=groups)
    by_group = frame.by_group[metric]
    counts = {str(k): int(v) for k, v in zip(*np.unique(groups, return_counts=True), strict=True)}
    details = []
    judged: list[tuple[str, float, bool]] = []
    lower = metric in LOWER_IS_BETTER
    for group, value in by_group.items():
        group = str(group)
        number = _num(value)
        rows = counts.get(group, 0)
        if rows < min_rows:
            ok, note = None, f"fewer than {min_rows} rows: not judged"
        elif number is None:
            ok, note = None, f"{metric} is undefined here: not judged"
        else:
            ok = number <= floor if lower else number >= floor
            note = ""
            judged.append((group, number, ok))
        details.append({"group": group, "rows": rows, "value": number, "passed": ok, "note": note})
    threshold = {"floor": floor, "metric": metric, "column": column}
    if not judged:
        return GateResult("slices", None, None, threshold,
                          f"no slice of {column} has {min_rows}+ rows with a defined {metric}: not judged",
                          tuple(details))
    worst = (max if lower else min)(judged, key=lambda t: t[1])
    failing = [g for g, _v, ok in judged if not ok]
    word = "at most" if lower else "at least"
    if failing:
        why = (f"{metric} is below the floor {floor:g} in {len(failing)} slice(s) of {column}: "
               f"{', '.join(failing[:5])} (worst {worst[0]}: {_fmt(worst[1])})")
    else:
        why = (f"{metric} is {word} {floor:g} in all {len(judged)} judged slice(s) of {column} "
               f"(worst {worst[0]}: {_fmt(worst[1])})")
    return GateResult("slices", not failing, round(worst[1], 6), threshold, why, tuple(details))


def _fairness_gate(settings: dict[str, Any], task: str, snap: _Snapshot, scored: _Scored) -> GateResult:
    import numpy as np
    from fairlearn.metrics import MetricFrame

    column, metric, limit, min_rows = (settings["column"], settings["metric"],
                                       settings["max_difference"], settings["min_rows"])
    groups = _groups(_test_column(snap, scored, column, "gates.fairness.column"))
    fn, y_pred = _metric_fn(task, metric, scored)
    names, counts = np.unique(groups, return_counts=True)
    big = {str(n) for n, c in zip(names, counts, strict=True) if c >= min_rows}
    keep = np.array([g in big for g in groups], dtype=bool)
    threshold = {"max_difference": limit, "metric": metric, "column": column}
    details: list[dict[str, Any]] = [{"group": str(n), "rows": int(c), "value": None,
                                      "note": "" if str(n) in big else f"fewer than {min_rows} rows: left out"}
                                     for n, c in zip(names, counts, strict=True)]
    if keep.sum() == 0:
        return GateResult("fairness", None, None, threshold,
                          f"no group of {column} has {min_rows}+ rows: not judged", tuple(details))
    y_pred_kept = np.asarray(y_pred)[keep]
    frame = MetricFrame(metrics={metric: fn}, y_true=np.asarray(scored.y)[keep], y_pred=y_pred_kept,
                        sensitive_features=groups[keep])
    by_group = {str(k): _num(v) for k, v in frame.by_group[metric].items()}
    for row in details:
        if row["group"] in by_group:
            row["value"] = by_group[row["group"]]
            if row["value"] is None:
                row["note"] = f"{metric} is undefined here"
    defined = {g: v for g, v in by_group.items() if v is not None}
    if len(defined) < 2:
        return GateResult("fairness", None, None, threshold,
                          f"fewer than two groups of {column} with a defined {metric}: not judged",
                          tuple(details))
    if len(defined) < len(by_group):
        frame = MetricFrame(metrics={metric: fn},
                            y_true=np.asarray(scored.y)[keep][np.isin(groups[keep], list(defined))],
                            y_pred=y_pred_kept[np.isin(groups[keep], list(defined))],
                            sensitive_features=groups[keep][np.isin(groups[keep], list(defined))])
    gap = _num(frame.difference(method="between_groups")[metric])
    if gap is None:
        return GateResult("fairness", None, None, threshold, f"the {metric} gap is undefined: not judged",
                          tuple(details))
    hi = max(defined, key=lambda g: defined[g])
    lo = min(defined, key=lambda g: defined[g])
    span = (f"{hi} {_fmt(defined[hi])} vs {lo} {_fmt(defined[lo])}" if defined[hi] != defined[lo]
            else f"all {len(defined)} groups {_fmt(defined[hi])}")
    passed = gap <= limit
    why = (f"the largest {metric} gap between {column} groups is {gap:.4g} "
           f"({'within' if passed else 'above'} the limit {limit:g}): {span}")
    return GateResult("fairness", passed, round(gap, 6), threshold, why, tuple(details))


# --- retraining (baseline, reproducibility) --------------------------------------------

_JOB_SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
from workbench.development.stages import run_stage
for job in json.loads(sys.argv[1]):
    try:
        for stage in job["stages"]:
            print(json.dumps({"job": job["id"], "stage": stage}), flush=True)
            run_stage(stage, job["dir"])
        print(json.dumps({"job": job["id"], "ok": True}), flush=True)
    except Exception as exc:
        text = " ".join(str(exc).split())[:300]
        print(json.dumps({"job": job["id"], "ok": False, "error": type(exc).__name__ + ": " + text}),
              flush=True)
"""


def _run_jobs(jobs: list[dict[str, Any]], progress: Progress | None,
              cancel: threading.Event | None) -> dict[str, str | None]:
    """Run stage jobs in one subprocess; job id -> None on success, else the error line."""
    import os

    env = dict(os.environ)
    bindir = os.path.dirname(os.path.abspath(sys.executable))
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
    with tempfile.TemporaryFile(mode="w+") as errors:
        proc = subprocess.Popen([sys.executable, "-c", _JOB_SCRIPT, json.dumps(jobs)], stdout=subprocess.PIPE,
                                stderr=errors, stdin=subprocess.DEVNULL, text=True, env=env)
        stopped = threading.Event()

        def watch() -> None:
            while proc.poll() is None:
                if cancel is not None and cancel.wait(0.1):
                    proc.terminate()
                    stopped.set()
                    return
                if cancel is None:
                    time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True, name="validation-watch")
        watcher.start()
        results: dict[str, str | None] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if "stage" in event:
                _say(progress, f"{event['job']}: running the {event['stage']} stage")
            elif event.get("ok"):
                results[event["job"]] = None
            else:
                results[event["job"]] = str(event.get("error") or "failed")
        proc.wait()
        watcher.join(timeout=1)
        if stopped.is_set() or (cancel is not None and cancel.is_set()):
            raise CancelledError("validation was cancelled; nothing was written or committed")
        if proc.returncode != 0 and len(results) < len(jobs):
            errors.seek(0)
            lines = [ln.strip() for ln in errors.read().splitlines() if ln.strip()]
            detail = lines[-1] if lines else f"exit {proc.returncode}"
            for job in jobs:
                results.setdefault(job["id"], detail)
    return results


def _read_metrics(path: Path) -> dict[str, float] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _workbench_stages(dvc_yaml: dict[str, Any]) -> bool:
    stages = dvc_yaml.get("stages") or {}
    return bool(stages) and all(WORKBENCH_CMD.match(str((s or {}).get("cmd", ""))) for s in stages.values())


def _write_params(folder: Path, params: dict[str, Any]) -> None:
    import yaml

    from workbench.development.stages import PARAMS_FILE

    folder.mkdir(parents=True, exist_ok=True)
    (folder / PARAMS_FILE).write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


# --- the gates -------------------------------------------------------------------------


def _success_gate(config: dict[str, Any], metrics: dict[str, float]) -> GateResult:
    from workbench.design.requirements import success_gate
    from workbench.project import charter_from_config

    clauses = success_gate(charter_from_config(config))
    if not clauses:
        return GateResult("success_metric", None, None, None,
                          "the charter has no success metric: set one with "
                          "'mlops-workbench charter set --metric ...'")
    text = " and ".join(str(c) for c in clauses)
    details, reasons, values = [], [], {}
    for clause in clauses:
        value = metrics.get(clause.metric)
        ok = value is not None and clause.holds(value)
        values[clause.metric] = value
        details.append({"metric": clause.metric, "value": value, "op": clause.op, "target": clause.target,
                        "passed": ok, "primary": clause.primary})
        if value is None:
            reasons.append(f"metrics.json has no {clause.metric}")
        elif not ok:
            reasons.append(f"{clause.metric} {_fmt(value)} misses the target {clause}")
    if reasons:
        return GateResult("success_metric", False, values, text, "; ".join(reasons), tuple(details))
    shown = ", ".join(f"{c.metric} {_fmt(values[c.metric])} {c.op} {c.target:g}" for c in clauses)
    return GateResult("success_metric", True, values, text, f"meets the charter: {shown}", tuple(details))


def _baseline_gate(settings: dict[str, Any], metrics: dict[str, float],
                   baseline: dict[str, float] | None, error: str | None) -> GateResult:
    metric, margin = settings["metric"], settings["margin"]
    if baseline is None:
        return GateResult("baseline", False, metrics.get(metric), None,
                          f"the dummy baseline could not be trained: {error}")
    value, base = metrics.get(metric), baseline.get(metric)
    if value is None or base is None:
        return GateResult("baseline", False, value, None,
                          f"{metric} is missing from the {'model' if value is None else 'baseline'}'s "
                          "metrics: choose another gates.baseline.metric")
    lower = metric in LOWER_IS_BETTER
    required = round(base - margin if lower else base + margin, 6)
    gain = _better(metric, value, base)
    passed = gain >= margin - 1e-12
    details = ({"metric": k, "model": metrics.get(k), "baseline": v} for k, v in sorted(baseline.items()))
    why = (f"{metric} {_fmt(value)} vs the dummy baseline {_fmt(base)}: "
           f"{'better' if gain >= 0 else 'worse'} by {abs(gain):.4g}, "
           f"{'at least' if passed else 'less than'} the margin {margin:g}")
    return GateResult("baseline", passed, value, required, why, tuple(details))


def production_model(project_path: Path) -> dict[str, Any] | None:
    """The version GTO's registry has in ``production`` (version, commit, tag), or None."""
    root = Path(project_path).absolute()
    git_root, _prefix = _git_prefix(root)
    try:
        from workbench.project import Project

        registry = (Project(root).read_config().get("registry") or {})
    except WorkbenchError:
        registry = {}
    artifact = str(registry.get("artifact") or registry.get("name") or REGISTRY_ARTIFACT)
    try:
        import gto.api

        found = gto.api.find_versions_in_stage(str(git_root), artifact, "production")
    except Exception:  # noqa: BLE001 - no registry, no artifact, no tags: no production model
        return None
    if not found:
        return None
    version = found[0] if isinstance(found, list) else found
    tags = [a.tag for a in getattr(version, "assignments", []) or [] if getattr(a, "tag", None)]
    return {"artifact": artifact, "version": str(version.version), "commit": str(version.commit_hexsha),
            "tag": tags[-1] if tags else None}


#: The direction of each metric for ``no_regression`` (LOWER_IS_BETTER: lower is better).
HIGHER_IS_BETTER = frozenset({"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc",
                              "average_precision", "r2"})


def metric_direction(metric: str) -> str | None:
    """``higher`` or ``lower`` (is better), None for a metric the workbench does not know."""
    if metric in LOWER_IS_BETTER or metric in ("mse", "mape", "brier_score"):
        return "lower"
    return "higher" if metric in HIGHER_IS_BETTER else None


def _regression_skip(why: str, tolerance: float, production: dict[str, Any] | None = None,
                     passed: bool | None = None) -> GateResult:
    return GateResult("no_regression", passed, None, tolerance, why,
                      extra={"production": production} if production else {})


def _regression_gate(settings: dict[str, Any], root: Path, snap: _Snapshot, work: Path,
                     progress: Progress | None = None, cancel: threading.Event | None = None) -> GateResult:
    """Candidate and production scored on the same current test rows in one run; relative tolerances."""
    from workbench.development.stages import PARAMS_FILE, TEST_FILE
    from workbench.versioning.workspace import output_at

    tolerance = settings["tolerance"]
    per_metric = dict(settings.get("per_metric") or {})
    production = production_model(root)
    if production is None:
        return _regression_skip("no production model yet", tolerance)
    name = f"production {production['version']}"
    git_root, prefix = _git_prefix(root)
    sha = production["commit"]
    prod_params = _load_yaml(_show(git_root, sha, prefix + PARAMS_FILE), f"params.yaml of {name}")
    prod_md5 = _lock_md5s(_load_yaml(_show(git_root, sha, prefix + "dvc.lock"),
                                     f"dvc.lock of {name}")).get(MODEL_FILE)
    if not prod_md5 or not prod_params.get("features"):
        return _regression_skip(f"{name} has no model or params.yaml at {sha[:7]}: nothing to compare",
                                tolerance, production)
    production = {**production, "digest": f"md5:{prod_md5}"}
    if str(prod_params.get("target")) != str(snap.params.get("target")):
        return _regression_skip(f"{name} predicts {prod_params.get('target')!r}, this model "
                                f"{snap.params.get('target')!r}: not comparable, not judged", tolerance, production)
    import pyarrow.parquet as pq

    test_file = snap.folder / TEST_FILE
    columns = set(pq.ParquetFile(test_file).schema_arrow.names)
    missing = sorted(c for c in prod_params["features"] if c not in columns)
    if missing:
        return _regression_skip(f"{name} needs column(s) {', '.join(missing[:6])} that the current test rows "
                                "lack: not comparable, not judged", tolerance, production)
    folder = work / "no_regression"
    prod_lock = _lock_md5s(_load_yaml(_show(git_root, sha, prefix + "dvc.lock"), f"dvc.lock of {name}"))
    try:
        output_at(root, sha, MODEL_FILE, prod_md5, folder / "production" / MODEL_FILE)
        seen_md5 = prod_lock.get(STAGE_FILES[0])
        seen = (output_at(root, sha, STAGE_FILES[0], seen_md5, folder / "production-train.parquet")
                if seen_md5 else None)
    except WorkbenchError as exc:
        return _regression_skip(f"{name} could not be read, so nothing was compared: {exc}",
                                tolerance, production, passed=False)
    # The current test rows, less those production was trained on (a new split of grown data
    # mixes them in, and a model scored on rows it has seen looks better than it is).
    import pandas as pd

    test = pd.read_parquet(test_file)
    left_out = 0
    if seen is not None:
        trained_on = pd.read_parquet(seen)
        common = [c for c in test.columns if c in trained_on.columns]
        known = set(pd.util.hash_pandas_object(trained_on[common], index=False).to_numpy().tolist())
        keep = ~pd.util.hash_pandas_object(test[common], index=False).isin(known).to_numpy()
        left_out = int((~keep).sum())
        test = test[keep].reset_index(drop=True)
    test_rows = len(test)
    if test_rows == 0:
        return _regression_skip(f"every current test row was in the training rows of {name}: nothing left to "
                                "compare on, not judged", tolerance, production)
    jobs = []
    for job, params in (("candidate", snap.params), ("production", prod_params)):
        _write_params(folder / job, params)
        for rel in STAGE_FILES:  # evaluate reads the train rows too (for the monitoring reference)
            (folder / job / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(snap.folder / rel, folder / job / rel)
        test.to_parquet(folder / job / TEST_FILE, index=False)
        jobs.append({"id": f"no_regression_{job}", "dir": str(folder / job), "stages": ["evaluate"]})
    (folder / "candidate" / MODEL_FILE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(snap.folder / MODEL_FILE, folder / "candidate" / MODEL_FILE)
    _say(progress, f"scoring this model and {name} on the same {test_rows} test rows")
    outcome = _run_jobs(jobs, progress, cancel)
    scores: dict[str, dict[str, float]] = {}
    for job in ("candidate", "production"):
        error = outcome.get(f"no_regression_{job}")
        got = _read_metrics(folder / job / "metrics.json") if error is None else None
        if got is None:
            who = "this model" if job == "candidate" else name
            return _regression_skip(f"{who} could not be scored on the current test rows: {error}", tolerance,
                                    production, passed=False)
        scores[job] = got
    cand, prod = scores["candidate"], scores["production"]
    wanted = settings.get("metrics") or sorted(set(prod) & set(cand))
    details, worse = [], []
    for metric in wanted:
        value, before = cand.get(metric), prod.get(metric)
        direction = metric_direction(metric)
        tol = float(per_metric.get(metric, tolerance))
        row: dict[str, Any] = {"metric": metric, "direction": f"{direction} is better" if direction else "unknown",
                               "candidate": value, "production": before, "change": None,
                               "relative_change": None, "tolerance": tol, "passed": None}
        details.append(row)
        if value is None or before is None or direction is None:
            continue
        better = before - value if direction == "lower" else value - before
        # relative to production's score (absolute when that is 0, where a ratio means nothing)
        relative = better / abs(before) if abs(before) > 1e-12 else better
        ok = relative >= -tol - 1e-12
        row.update(change=round(value - before, 6), relative_change=round(relative, 6), passed=ok)
        if not ok:
            worse.append(f"{metric} {_fmt(value)} vs {_fmt(before)} ({abs(relative):.1%} worse, "
                         f"tolerance {tol * 100:g}%)")
    values = {d["metric"]: d["candidate"] for d in details}
    threshold = {d["metric"]: d["tolerance"] for d in details}
    extra = {"production": production, "test_rows": test_rows, "left_out_rows": left_out, "relative": True}
    judged = [d for d in details if d["passed"] is not None]
    if not judged:
        return GateResult("no_regression", None, values, threshold,
                          f"no metric in common with {name}: nothing to compare", tuple(details), extra=extra)
    where = f"both scored on the same {test_rows} test rows" + (
        f", {left_out} rows {name} was trained on left out" if left_out else "")
    if worse:
        why = f"worse than {name} by more than the tolerance ({where}): {'; '.join(worse)}"
    else:
        others = ", ".join(f"{m} {t * 100:g}%" for m, t in per_metric.items() if m in values)
        why = (f"no metric worse than {name} by more than {tolerance * 100:g}%" + (f" ({others})" if others else "")
               + f", {where}")
    return GateResult("no_regression", not worse, values, threshold, why, tuple(details), extra=extra)


def _model_file_problem(snap: _Snapshot) -> str | None:
    """Why the model bytes cannot be validated at all (None when they are the trained model and load)."""
    from workbench.development.stages import load_model

    expected = snap.digest.split(":", 1)[-1]
    if snap.file_md5 != expected:
        return (f"the bytes found for {MODEL_FILE} have md5 {snap.file_md5}, not the {expected} the train "
                "stage recorded in dvc.lock: run 'dvc checkout models/model.skops' (or 'dvc pull') and validate "
                "again")
    try:
        load_model(snap.folder / MODEL_FILE)
    except WorkbenchError as exc:
        text = str(exc).replace(str(snap.folder / MODEL_FILE), MODEL_FILE)
        return f"the model {snap.digest} cannot be loaded: {text}"
    return None


def _model_file_gate(snap: _Snapshot, rescored: dict[str, float] | None, error: str | None,
                     custom: bool) -> GateResult:
    """The model bytes are the train stage's output and metrics.json is their score.

    For the workbench's own stages the exact bytes are scored again by the evaluate stage on
    the recorded test split (same code, same data: the numbers must be equal to the last
    digit); for a team's own stage commands, dvc.lock's evaluate record must name the same
    model bytes.
    """
    value = f"md5:{snap.file_md5}"
    if custom:
        readers = [st for st in (snap.lock.get("stages") or {}).values() if isinstance(st, dict)
                   and any(isinstance(d, dict) and d.get("path") == MODEL_FILE for d in st.get("deps") or [])]
        for stage in readers:
            dep = next(d for d in stage.get("deps") or [] if isinstance(d, dict) and d.get("path") == MODEL_FILE)
            if "md5:" + str(dep.get("md5")) != snap.digest:
                return GateResult(MODEL_GATE, False, value, snap.digest,
                                  f"dvc.lock's evaluate record scored model md5:{dep.get('md5')}, not the trained "
                                  f"{snap.digest}: metrics.json is not this model's; run 'dvc repro' and commit")
        return GateResult(MODEL_GATE, True, value, snap.digest,
                          f"{snap.digest} is the train stage's output in dvc.lock, loads with the trusted types, "
                          "and dvc.lock's evaluate record scored it")
    if rescored is None:
        return GateResult(MODEL_GATE, False, value, snap.digest, f"scoring the model file failed: {error}")
    details, differ = [], []
    for metric in sorted(set(snap.metrics) | set(rescored)):
        a, b = snap.metrics.get(metric), rescored.get(metric)
        details.append({"metric": metric, "recorded": a, "scored": b, "same": a == b})
        if a != b:
            differ.append(f"{metric} {_fmt(a)} recorded vs {_fmt(b)} scored")
    if differ:
        return GateResult(MODEL_GATE, False, value, snap.digest,
                          "metrics.json is not the score of this model file: " + "; ".join(differ[:3])
                          + " (run 'dvc repro' and commit, then validate)", tuple(details))
    return GateResult(MODEL_GATE, True, value, snap.digest,
                      f"{snap.digest} is the train stage's output in dvc.lock, loads with the trusted types, and "
                      f"scores the recorded {len(details)} metrics exactly", tuple(details))


def _reproducibility_gate(recorded: dict[str, float], retrained: dict[str, float] | None,
                          error: str | None, model: str | None = None,
                          retrained_md5: str | None = None) -> GateResult:
    if retrained is None:
        return GateResult("reproducibility", False, None, 0.0, f"retraining failed: {error}")
    details, differ = [], []
    biggest = 0.0
    for metric in sorted(set(recorded) | set(retrained)):
        a, b = recorded.get(metric), retrained.get(metric)
        same = a == b
        if a is not None and b is not None:
            biggest = max(biggest, abs(a - b))
        details.append({"metric": metric, "recorded": a, "retrained": b, "same": same})
        if not same:
            differ.append(f"{metric} {_fmt(a)} recorded vs {_fmt(b)} retrained")
    same_model = model is None or retrained_md5 is None or model == f"md5:{retrained_md5}"
    extra = {"model": model, "retrained_model": f"md5:{retrained_md5}" if retrained_md5 else None}
    if differ:
        why = ("retraining from the same commit and data gave different metrics: " + "; ".join(differ[:4])
               + " (is the pipeline up to date? see 'dvc status')")
    elif not same_model:
        why = (f"retraining from the same commit and data gave a different model file: md5:{retrained_md5} "
               f"vs {model} (train it again with 'dvc repro --force' and commit, then validate)")
    else:
        why = (f"retraining from the same commit and data gave the same {len(details)} metrics exactly"
               + (" and a byte-identical model file" if retrained_md5 else ""))
    return GateResult("reproducibility", not differ and same_model, round(biggest, 6), 0.0, why, tuple(details),
                      extra=extra)


def _skipped(name: str) -> GateResult:
    return GateResult(name, None, None, None, "turned off in workbench.yaml (gates." + name + ".enabled)")


# --- the step --------------------------------------------------------------------------


def _gate_settings(config: dict[str, Any], params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(checked settings, whether the defaults must be written to workbench.yaml)."""
    task = str((config.get("charter") or {}).get("task") or params.get("task") or "classification")
    defaults = default_gates(config, params)
    raw = config.get("gates")
    return check_gates(raw, task=task, defaults=defaults), raw is None


@holding_project_lock("validate")
def validate(
    project_path: str | Path,
    experiment: str | None = None,
    *,
    role: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ValidationResult:
    """Run the gates on the workspace model (or ``experiment``); write and commit the report."""
    from workbench.project import Project
    from workbench.versioning import git

    project = Project(project_path)
    root = project.path
    config = project.read_config()
    git_root, _prefix = _git_prefix(root)
    with tempfile.TemporaryDirectory(prefix="mlops-workbench-validate-") as tmp:
        work = Path(tmp)
        snap = _snapshot(root, experiment, work / "model", progress)
        settings, write_defaults = _gate_settings(config, snap.params)
        written = [VALIDATION_FILE, VALIDATION_REPORT] + (["workbench.yaml"] if write_defaults else [])
        step_paths = [(root / p).resolve().relative_to(git_root).as_posix() for p in written]
        git.refuse_dirty(git_root, step_paths)  # fail before the slow part, not after it
        task = str(snap.params.get("task") or "classification")
        for name in ("slices", "fairness"):
            gate = settings[name]
            if gate["enabled"] and gate["column"]:
                columns = _data_columns(snap)
                if gate["column"] not in columns:
                    raise WorkbenchError(
                        f"gates.{name}.column {gate['column']!r} is not a column of the data: use one of "
                        f"{', '.join(columns[:15])} (or null to skip the gate) in workbench.yaml")
        _check_cancel(cancel)
        _say(progress, f"validating {'experiment ' + experiment if experiment else 'the workspace model'} "
                       f"{snap.digest}")
        broken = _model_file_problem(snap)
        if broken is not None:
            failed_file = GateResult(MODEL_GATE, False, f"md5:{snap.file_md5}" if snap.file_md5 else None,
                                     snap.digest, broken)
            not_run = [GateResult(n, None, None, None, "not run: the model file failed its check")
                       for n in GATE_NAMES]
            return _finish(project, snap, settings, write_defaults, written, [failed_file, *not_run],
                           None, role=role, cancel=cancel)

        # The cheap gates first, so a charter metric or slice metric that cannot work fails early.
        success = (_success_gate(config, snap.metrics) if settings["success_metric"]["enabled"]
                   else _skipped("success_metric"))
        regression = (_regression_gate(settings["no_regression"], root, snap, work, progress, cancel)
                      if settings["no_regression"]["enabled"] else _skipped("no_regression"))
        scored = None
        group_gates: list[GateResult] = []
        if any(settings[n]["enabled"] and settings[n]["column"] for n in ("slices", "fairness")):
            _say(progress, "scoring the test rows for slices and fairness")
            scored = _score_test(snap)
        for name, run in (("slices", _slice_gate), ("fairness", _fairness_gate)):
            gate = settings[name]
            if not gate["enabled"]:
                group_gates.append(_skipped(name))
            elif not gate["column"]:
                hint = ("set gates.slices.column to a categorical column" if name == "slices"
                        else "set data.sensitive_columns or gates.fairness.column")
                group_gates.append(GateResult(name, None, None, None,
                                              f"no column chosen: {hint} in workbench.yaml"))
            else:
                assert scored is not None
                group_gates.append(run(gate, task, snap, scored))
        _check_cancel(cancel)

        # Baseline and reproducibility: one subprocess, two temporary folders.
        jobs: list[dict[str, Any]] = []
        if settings["baseline"]["enabled"]:
            base_dir = work / "baseline"
            base_params = json.loads(json.dumps(snap.params))
            base_params["model"] = {"name": "dummy", "params": {}}
            _write_params(base_dir, base_params)
            for rel in STAGE_FILES:
                (base_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(snap.folder / rel, base_dir / rel)
            jobs.append({"id": "baseline", "dir": str(base_dir), "stages": ["train", "evaluate"]})
        repro_custom = not _workbench_stages(snap.dvc_yaml)
        if not repro_custom:  # score the exact model bytes again: metrics.json must be theirs
            score_dir = work / "scored"
            _write_params(score_dir, snap.params)
            for rel in (MODEL_FILE, *STAGE_FILES):
                (score_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(snap.folder / rel, score_dir / rel)
            jobs.append({"id": "scored", "dir": str(score_dir), "stages": ["evaluate"]})
        if settings["reproducibility"]["enabled"] and not repro_custom:
            repro_dir = work / "retrain"
            _write_params(repro_dir, snap.params)
            for source in snap.sources:
                (repro_dir / source["path"]).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(snap.folder / source["path"], repro_dir / source["path"])
            jobs.append({"id": "reproducibility", "dir": str(repro_dir),
                         "stages": ["prepare", "train", "evaluate"]})
        outcome: dict[str, str | None] = {}
        if jobs:
            _say(progress, "training the dummy baseline and retraining the model from the same data")
            outcome = _run_jobs(jobs, progress, cancel)
        _check_cancel(cancel)

        scored_error = outcome.get("scored")
        rescored = (_read_metrics(work / "scored" / "metrics.json")
                    if not repro_custom and scored_error is None else None)
        gates: list[GateResult] = [_model_file_gate(snap, rescored, scored_error, repro_custom), success]
        if settings["baseline"]["enabled"]:
            base = _read_metrics(work / "baseline" / "metrics.json") if outcome.get("baseline") is None else None
            gates.append(_baseline_gate(settings["baseline"], snap.metrics, base, outcome.get("baseline")))
        else:
            gates.append(_skipped("baseline"))
        gates.append(regression)
        gates += group_gates
        if not settings["reproducibility"]["enabled"]:
            gates.append(_skipped("reproducibility"))
        elif repro_custom:
            gates.append(GateResult("reproducibility", None, None, 0.0,
                                    "dvc.yaml runs your own stage commands: check with 'dvc repro --force'"))
        else:
            error = outcome.get("reproducibility")
            retrained = _read_metrics(work / "retrain" / "metrics.json") if error is None else None
            model_md5 = _md5_file(work / "retrain" / MODEL_FILE) if error is None else None
            gates.append(_reproducibility_gate(snap.metrics, retrained, error, snap.digest, model_md5))
        _check_cancel(cancel)

    return _finish(project, snap, settings, write_defaults, written, gates, scored, role=role, cancel=cancel)


def _finish(project: Any, snap: _Snapshot, settings: dict[str, Any], write_defaults: bool, written: list[str],
            gates: list[GateResult], scored: _Scored | None, *, role: str | None,
            cancel: threading.Event | None) -> ValidationResult:
    """Write and commit the report for ``gates`` (every path of validate ends here)."""
    from workbench.project import dump_config
    from workbench.versioning.step import begin_step

    root = project.path
    task = str(snap.params.get("task") or "classification")
    passed = all(g.passed is not False for g in gates)
    report = {
        "schema": 1,
        "passed": passed,
        "validated_at": _now(),
        "model": {"digest": snap.digest, "file_md5": snap.file_md5, "experiment": snap.experiment,
                  "commit": snap.commit,
                  "family": str((snap.params.get("model") or {}).get("name") or ""),
                  "params": (snap.params.get("model") or {}).get("params") or {}},
        "task": task,
        "target": snap.params.get("target"),
        "metrics": snap.metrics,
        "data": {"sources": snap.sources, "test_rows": None if scored is None else int(len(scored.y))},
        "gates": [g.to_json() for g in gates],
        "settings": settings,
    }
    failed = [g.name for g in gates if g.passed is False]
    who = f"experiment {snap.experiment}" if snap.experiment else f"model {snap.digest[4:12]}"
    summary = (f"{who} passes {sum(g.passed is True for g in gates)} gate(s)" if passed
               else f"{who} fails {', '.join(failed)}")
    with begin_step(root, "validation", paths=written, role=role, summary=summary,
                    cancel=cancel) as step:
        if write_defaults:
            config = project.read_config()
            config["gates"] = settings
            step.write_text("workbench.yaml", dump_config(config))
        step.write_text(VALIDATION_FILE, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        step.write_text(VALIDATION_REPORT, render_markdown(report))
        step.body = "\n".join(f"{g.state:<7}  {g.name}: {g.why}" for g in gates)
    messages = tuple(snap.notes) + tuple(step.messages)
    if write_defaults:
        messages += ("wrote the default gates to workbench.yaml (edit them under 'gates:')",)
    return ValidationResult(passed=passed, gates=tuple(gates), report=report, commit=step.commit,
                            messages=messages)


def read_validation(project_path: str | Path) -> dict[str, Any] | None:
    """The committed validation report with ``current`` (is it for the workspace model?), or None."""
    from workbench.development.evidence import model_digest, read_json

    root = Path(project_path).absolute()
    report = read_json(root, VALIDATION_FILE)
    if report is None:
        return None
    report = dict(report)
    report["current"] = (report.get("model") or {}).get("digest") == model_digest(root)
    return report


# --- the markdown report ---------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
    if value is None:
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _fmt(value)
    return str(value).replace("|", "\\|")


def render_markdown(report: dict[str, Any]) -> str:
    """``reports/validation.md``: the verdict, the gates and their numbers, for people."""
    model = report.get("model") or {}
    lines = [
        "# Validation report",
        "",
        f"**{'PASSED' if report.get('passed') else 'FAILED'}** on {report.get('validated_at', '')}",
        "",
        f"- Model: `{model.get('digest')}` ({model.get('family') or 'unknown family'})"
        + (f", experiment `{model['experiment']}`" if model.get("experiment") else ""),
        f"- Commit: `{model.get('commit') or 'none'}`",
        f"- Task: {report.get('task')}, target `{report.get('target')}`",
        "- Test metrics: " + ", ".join(f"{k} {_fmt(v)}" for k, v in (report.get("metrics") or {}).items()),
        "",
        "| gate | result | value | threshold | why |",
        "| --- | --- | --- | --- | --- |",
    ]
    for gate in report.get("gates") or []:
        state = {True: "pass", False: "**fail**", None: "skipped"}[gate.get("passed")]
        lines.append(f"| {gate.get('title', gate.get('name'))} | {state} | {_cell(gate.get('value'))} | "
                     f"{_cell(gate.get('threshold'))} | {str(gate.get('why', '')).replace('|', '/')} |")
    for gate in report.get("gates") or []:
        rows = list(gate.get("details") or [])
        if not rows:
            continue
        keys = list(dict.fromkeys(k for row in rows for k in row))
        lines += ["", f"## {gate.get('title', gate.get('name'))}", "",
                  "| " + " | ".join(keys) + " |", "| " + " | ".join("---" for _ in keys) + " |"]
        for row in rows:
            lines.append("| " + " | ".join(_cell(row.get(k)) for k in keys) + " |")
    lines += ["", "Settings: `gates:` in workbench.yaml. Re-run with `mlops-workbench validate`.", ""]
    return "\n".join(lines)
