"""Reference statistics saved at training time, so a drift check never loads the training data.

The ``evaluate`` stage calls :func:`write_reference`, which writes ``reports/reference.json``
(declared in dvc.yaml as an output with ``cache: false``, so it is a small git-tracked file
that changes with the model it describes). It holds:

* ``features``: one profile per model feature of the **train** split (see
  :mod:`workbench.drift`: quantile bins and counts plus a seeded sample for
  numeric, datetime and text-length columns; top-50 category counts for categorical ones);
* ``predictions``: the model's predictions on the **test** split (the class counts and,
  for a binary classifier, the positive-class score as a numeric profile; the predicted
  value for a regressor);
* ``metrics``: the test metrics (``metrics.json``), the baseline for performance checks;
* ``rows``, ``test_rows``, ``task``, ``target``, ``positive_class``, ``seed``.

The same data, params and seed give a byte-identical file (the sample is drawn with
``split.seed``; floats keep 10 significant digits).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.errors import CancelledError, WorkbenchError
from workbench.progress import Progress

REFERENCE_FILE = paths.REFERENCE_FILE
SCHEMA = 1
NUMERIC_KINDS = ("numeric", "datetime", "text")


def profile_column(arr: Any, kind: str, *, seed: int) -> dict[str, Any]:
    """The profile of one pyarrow column of the declared feature ``kind``."""
    from workbench.drift import (
        categorical_column,
        categorical_profile,
        numeric_column,
        numeric_profile,
    )

    if kind in NUMERIC_KINDS:
        col = numeric_column(arr, kind)
        profile = numeric_profile(col.values, seed=seed)
    else:
        col = categorical_column(arr)
        profile = categorical_profile(col.counts or {}, col.missing)
    profile["type"] = kind
    return profile


def profile_columns(table: Any, features: dict[str, str], *, seed: int, progress: Progress | None = None,
                    cancel: threading.Event | None = None, workers: int = 2) -> dict[str, dict[str, Any]]:
    """Profiles of the ``features`` columns of a pyarrow table, computed in ``workers`` threads."""
    def one(name: str) -> dict[str, Any]:
        if cancel is not None and cancel.is_set():
            raise CancelledError("building the reference statistics was cancelled")
        if progress:
            progress(f"profiling {name}")
        return profile_column(table.column(name), features[name], seed=seed)

    names = list(features)
    if workers <= 1 or len(names) <= 1:
        return {n: one(n) for n in names}
    with ThreadPoolExecutor(workers, thread_name_prefix="profile") as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


def prediction_outputs(model: Any, X: Any, params: dict[str, Any]) -> tuple[Any, Any]:
    """(predicted labels or values, positive-class score or None) as numpy arrays.

    The score is the probability of ``positive_class`` for a binary classifier (the decision
    function when there are no probabilities), as in the evaluate stage.
    """
    import numpy as np

    pred = np.asarray(model.predict(X))
    if params.get("task", "classification") == "regression":
        return pred, None
    classes = list(getattr(model, "classes_", []))
    if len(classes) != 2:
        return pred, None
    positive = params.get("positive_class", classes[-1])
    if positive not in classes:
        positive = classes[-1]
    idx = classes.index(positive)
    if hasattr(model, "predict_proba"):
        return pred, np.asarray(model.predict_proba(X))[:, idx]
    if hasattr(model, "decision_function"):
        decision = np.asarray(model.decision_function(X), dtype="float64")
        return pred, decision if idx == 1 else -decision
    return pred, None


def prediction_profile(task: str, pred: Any, score: Any, *, seed: int) -> dict[str, Any]:
    """The reference profile of a model's outputs (see the module docstring)."""
    import numpy as np
    import pyarrow as pa

    from workbench.drift import categorical_column, categorical_profile, numeric_profile

    if task == "regression":
        return {"task": "regression", "rows": int(len(pred)),
                "value": numeric_profile(np.asarray(pred, dtype="float64"), seed=seed)}
    col = categorical_column(pa.array(np.asarray(pred).tolist()))
    out: dict[str, Any] = {"task": "classification", "rows": int(len(pred)),
                           "classes": categorical_profile(col.counts or {}, col.missing)}
    out["score"] = None if score is None else numeric_profile(np.asarray(score, dtype="float64"), seed=seed)
    return out


def build_reference(train: Any, features: dict[str, str], *, seed: int, task: str, target: str,
                    positive_class: Any = None, predictions: dict[str, Any] | None = None,
                    metrics: dict[str, Any] | None = None, progress: Progress | None = None,
                    cancel: threading.Event | None = None) -> dict[str, Any]:
    """The reference document for a pyarrow table of the train split."""
    missing = [f for f in features if f not in train.column_names]
    if missing:
        raise WorkbenchError(f"the train split has no column(s) {', '.join(missing)}: run 'dvc repro' "
                             "so prepare writes the features params.yaml lists")
    profiles = profile_columns(train, features, seed=seed, progress=progress, cancel=cancel)
    return {
        "schema": SCHEMA,
        "task": task,
        "target": target,
        "positive_class": positive_class,
        "seed": seed,
        "rows": int(train.num_rows),
        "test_rows": int((predictions or {}).get("rows") or 0),
        "features": profiles,
        "predictions": predictions,
        "metrics": dict(metrics or {}),
    }


def write_reference(root: Path, params: dict[str, Any], model: Any, X_test: Any,
                    metrics: dict[str, Any]) -> dict[str, Any]:
    """Build ``reports/reference.json`` from the train split and the model's test predictions.

    Called by the evaluate stage (which depends on the train split for this file).
    """
    import pyarrow.parquet as pq

    from workbench.fsutil import atomic_write_text

    root = Path(root)
    seed = int((params.get("split") or {}).get("seed", 0))
    task = str(params.get("task", "classification"))
    features = {str(k): str(v) for k, v in dict(params["features"]).items()}
    train = pq.read_table(root / paths.TRAIN_SPLIT, columns=[c for c in features])
    pred, score = prediction_outputs(model, X_test, params)
    document = build_reference(
        train, features, seed=seed, task=task, target=str(params.get("target")),
        positive_class=params.get("positive_class"),
        predictions=prediction_profile(task, pred, score, seed=seed), metrics=metrics,
    )
    atomic_write_text(root / REFERENCE_FILE, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    return document


def read_reference(path: Path, display: str | None = None) -> dict[str, Any]:
    """Load and check a reference file; one-line errors for a missing, broken or foreign file."""
    path = Path(path)
    display = display or str(path)
    if not path.is_file():
        raise WorkbenchError(
            f"{display} is missing: train the model with 'dvc repro' or 'mlops-workbench train' "
            "(the evaluate stage writes it), or pass --reference PATH")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkbenchError(f"{display} is not readable JSON ({exc}): run 'dvc repro' to write it again") from None
    if not isinstance(data, dict) or not isinstance(data.get("features"), dict) or not data["features"]:
        raise WorkbenchError(f"{display} holds no feature statistics: it is not a reference file; "
                             "run 'dvc repro' to write reports/reference.json")
    if data.get("schema") != SCHEMA:
        raise WorkbenchError(f"{display} has schema {data.get('schema')!r}, this workbench reads {SCHEMA}: "
                             "run 'dvc repro' to write it again")
    return data
