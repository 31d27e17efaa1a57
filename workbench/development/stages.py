"""The three pipeline stages DVC runs: ``prepare`` -> ``train`` -> ``evaluate``.

Each stage reads only ``params.yaml`` and the files DVC declares as its deps, writes
only its declared outs, and takes every random choice from ``split.seed``, so the same
commit and data give byte-identical outputs. They run as ``mlops-workbench stage NAME``
from the project root (DVC's ``wdir``).

The files a stage must write (a team may replace a stage's ``cmd`` in dvc.yaml with its
own script; the workbench keeps working as long as the script writes the same files):

- prepare: ``data/prepared/train.parquet`` and ``data/prepared/test.parquet`` (the
  feature columns and the target; the test rows are the held-out split).
- train: ``models/model.skops``, a scikit-learn estimator with ``predict`` on a frame of
  the feature columns, saved with skops (types limited to :data:`workbench.development.model_file.TRUSTED_TYPES`).
- evaluate: ``metrics.json`` (flat numbers: accuracy, precision, recall, f1, roc_auc,
  log_loss — or rmse, mae, r2), the plot files in ``plots/`` and
  ``reports/training_env.json`` (library versions), and ``reports/reference.json`` (the
  drift reference: train-split feature statistics and test-split predictions; optional for
  a team's own script, but ``mlops-workbench monitor`` needs it).

Classification metrics are for ``positive_class`` when there are two classes and
macro-averaged otherwise (then also ``precision_macro``... and ``precision_weighted``,
``recall_weighted``, ``f1_weighted``; ``roc_auc`` is one-vs-rest, macro). ``roc_auc`` and ``log_loss`` need scores: ``ridge`` has no
probabilities, so its ``log_loss`` is left out and its ``roc_auc`` uses the decision
function (binary only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.development.model_file import trusted_types
from workbench.errors import WorkbenchError

PARAMS_FILE = "params.yaml"
TRAIN_FILE = paths.TRAIN_SPLIT
TEST_FILE = paths.TEST_SPLIT
MODEL_FILE = paths.MODEL_FILE
METRICS_FILE = "metrics.json"
ENV_FILE = paths.TRAINING_ENV_FILE
REFERENCE_FILE = paths.REFERENCE_FILE  # drift reference, see workbench/reference.py
PLOT_FILES = {
    "roc": "plots/roc.json",
    "prc": "plots/prc.json",
    "confusion": "plots/confusion.json",
    "predictions": "plots/predictions.json",
    "importance": "plots/importance.json",
}
#: The plots each task's evaluate stage writes: exactly the ones ``dvc.yaml`` declares for it
#: (:func:`workbench.development.pipeline.build_dvc_yaml`), so a run leaves no stray files.
TASK_PLOTS = {
    "classification": ("roc", "prc", "confusion", "predictions", "importance"),
    "regression": ("predictions", "importance"),
}
STAGES = ("prepare", "train", "evaluate")

# --- params -------------------------------------------------------------------------


def read_params(root: Path) -> dict[str, Any]:
    """Load ``params.yaml``; a one-line error when it is missing or not a mapping."""
    import yaml

    path = Path(root) / PARAMS_FILE
    if not path.is_file():
        raise WorkbenchError(f"{PARAMS_FILE} is missing: run 'mlops-workbench pipeline' first")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        raise WorkbenchError(f"{PARAMS_FILE} is not valid YAML: fix it or run 'mlops-workbench pipeline'") from None
    if not isinstance(data, dict):
        raise WorkbenchError(f"{PARAMS_FILE} is not a mapping: run 'mlops-workbench pipeline' again")
    from workbench.config_check import check_params

    check_params(data, PARAMS_FILE)  # every key the stages read, typed (one line)
    return data


def read_source(root: Path, source: dict[str, Any] | str) -> Any:
    """One data source as a DataFrame (csv, tsv or parquet)."""
    import pandas as pd

    if isinstance(source, str):
        source = {"path": source}
    rel = str(source.get("path", ""))
    fmt = str(source.get("format") or "").lower()
    path = Path(root) / rel
    if not path.is_file():
        raise WorkbenchError(f"data source {rel} is missing: run 'dvc pull' or 'dvc checkout {rel}'")
    if not fmt:
        fmt = "parquet" if rel.lower().endswith((".parquet", ".pq")) else (
            "tsv" if rel.lower().endswith((".tsv", ".tab")) else "csv")
    if fmt == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", low_memory=False)


def read_sources(root: Path, sources: list[Any]) -> Any:
    """All sources stacked row-wise (they share one schema)."""
    import pandas as pd

    frames = [read_source(root, s) for s in sources]
    if not frames:
        raise WorkbenchError("params.yaml lists no data sources: register data with 'mlops-workbench data add'")
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def coerce_features(frame: Any, features: dict[str, str]) -> Any:
    """The feature columns with the dtypes their declared types need.

    Datetimes become seconds since the epoch (a number the numeric branch can scale);
    categorical and text columns become strings with missing values kept as NaN. Serving
    code must call this before ``model.predict`` exactly as training did.
    """
    import numpy as np
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for name, kind in features.items():
        col = frame[name]
        if kind == "numeric":
            out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
        elif kind == "datetime":
            when = pd.to_datetime(col, errors="coerce", utc=True)
            secs = (when - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(seconds=1)
            out[name] = secs.astype("float64")
        else:
            values = col.astype("object")
            out[name] = values.where(values.isna(), values.astype(str)).astype("object")
            if kind == "text":
                out[name] = out[name].fillna("")
    return out.replace({pd.NA: np.nan})


# --- prepare ------------------------------------------------------------------------


def split_indices(frame: Any, split: dict[str, Any], target: str) -> tuple[Any, Any]:
    """Row positions of the train and test parts; seeded, so always the same for the same data."""
    import numpy as np

    n = len(frame)
    method = split.get("method", "random")
    test_size = float(split.get("test_size", 0.2))
    seed = int(split.get("seed", 0))
    rng = np.random.default_rng(seed)
    if method == "time":
        col = split.get("time_column")
        import pandas as pd

        when = pd.to_datetime(frame[col], errors="coerce", utc=True)
        order = np.argsort(when.to_numpy(dtype="datetime64[ns]"), kind="stable")
        n_test = max(1, round(n * test_size))
        test = np.sort(order[n - n_test:])
    elif method == "stratified":
        labels = frame[target].astype(str).to_numpy()
        test_parts = []
        for label in sorted(set(labels)):
            idx = np.flatnonzero(labels == label)
            idx = rng.permutation(idx)
            take = round(len(idx) * test_size)
            test_parts.append(idx[:take])
        test = np.sort(np.concatenate(test_parts)) if test_parts else np.array([], dtype=int)
    else:
        perm = rng.permutation(n)
        n_test = max(1, round(n * test_size))
        test = np.sort(perm[:n_test])
    mask = np.zeros(n, dtype=bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def prepare(root: Path) -> dict[str, int]:
    """Read the sources, keep features + target, drop rows without a target, split, write parquet."""
    root = Path(root)
    params = read_params(root)
    target = params["target"]
    features = dict(params["features"])
    frame = read_sources(root, list(params.get("sources") or []))
    keep = [*features, target]
    time_col = (params.get("split") or {}).get("time_column")
    if time_col and time_col not in keep:
        keep.append(time_col)
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise WorkbenchError(
            f"the data has no column(s) {', '.join(missing)}: fix 'features'/'target' in params.yaml "
            "or run 'mlops-workbench pipeline' again"
        )
    frame = frame[keep]
    frame = frame[frame[target].notna()].reset_index(drop=True)
    train_idx, test_idx = split_indices(frame, params.get("split") or {}, target)
    out = root / TRAIN_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.iloc[train_idx].reset_index(drop=True).to_parquet(root / TRAIN_FILE, index=False)
    frame.iloc[test_idx].reset_index(drop=True).to_parquet(root / TEST_FILE, index=False)
    return {"train_rows": len(train_idx), "test_rows": len(test_idx)}


# --- train --------------------------------------------------------------------------


def build_pipeline(params: dict[str, Any]) -> Any:
    """The scikit-learn Pipeline: a ColumnTransformer per feature type, then the model."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from workbench.development.models import build_estimator

    features = dict(params["features"])
    prep = params.get("preprocessing") or {}
    seed = int((params.get("split") or {}).get("seed", 0))
    model = params.get("model") or {}
    estimator = build_estimator(params.get("task", "classification"), str(model.get("name")),
                                model.get("params") or {}, seed)
    numeric = [c for c, t in features.items() if t in ("numeric", "datetime")]
    categorical = [c for c, t in features.items() if t == "categorical"]
    text = [c for c, t in features.items() if t == "text"]
    parts: list[tuple[str, Any, Any]] = []
    if numeric:
        num = prep.get("numeric") or {}
        steps: list[tuple[str, Any]] = []
        if num.get("impute", "median") != "none":
            steps.append(("impute", SimpleImputer(strategy=num.get("impute", "median"))))
        if num.get("scale", "standard") == "standard":
            steps.append(("scale", StandardScaler()))
        parts.append(("numeric", Pipeline(steps) if steps else "passthrough", numeric))
    if categorical:
        cat = prep.get("categorical") or {}
        strategy = cat.get("impute", "most_frequent")
        imputer = (SimpleImputer(strategy="constant", fill_value="missing") if strategy == "constant"
                   else SimpleImputer(strategy="most_frequent"))
        parts.append(("categorical", Pipeline([
            ("impute", imputer),
            ("encode", OneHotEncoder(handle_unknown="ignore")),
        ]), categorical))
    tfidf = (prep.get("text") or {}).get("tfidf") or {}
    for col in text:
        parts.append((f"text_{col}", TfidfVectorizer(
            max_features=tfidf.get("max_features"),
            ngram_range=tuple(tfidf.get("ngram_range") or (1, 1)),
        ), col))
    dense = str(model.get("name")) == "hist_gradient_boosting"
    columns = ColumnTransformer(parts, sparse_threshold=0.0 if dense else 0.3)
    return Pipeline([("preprocess", columns), ("model", estimator)])


def _xy(frame: Any, params: dict[str, Any]) -> tuple[Any, Any]:
    features = dict(params["features"])
    return coerce_features(frame, features), frame[params["target"]]


def train(root: Path) -> dict[str, Any]:
    """Fit the pipeline on the train part and save it with skops, byte-identical for the same fit."""
    import warnings

    import pandas as pd

    from workbench.development.model_file import write_model

    root = Path(root)
    params = read_params(root)
    X, y = _xy(pd.read_parquet(root / TRAIN_FILE), params)
    pipeline = build_pipeline(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        pipeline.fit(X, y)
    write_model(pipeline, root / MODEL_FILE)  # canonical bytes: the same model, the same md5
    return {"rows": len(X)}


def load_model(path: Path) -> Any:
    """Load a skops model, refusing any type the workbench does not trust (one line)."""
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"{path} is missing: run 'dvc repro' or 'mlops-workbench train' first")
    untrusted = trusted_types(
        path, unreadable=lambda exc: f"{path} is not a readable skops model ({exc}): retrain with 'dvc repro'",
        refused=lambda types: (f"{path} contains type(s) the workbench does not trust: {types}; "
                               "refusing to load it — retrain with 'dvc repro' or restore the file from git/DVC"))
    return sio.load(path, trusted=untrusted)


# --- evaluate -----------------------------------------------------------------------


def _r(x: float, digits: int = 6) -> float | None:
    import math

    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else round(x, digits)


def _scores(model: Any, X: Any) -> tuple[Any, Any]:
    """(probabilities or None, decision scores or None)."""
    proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None
    decision = model.decision_function(X) if hasattr(model, "decision_function") else None
    return proba, decision


def _feature_importance(model: Any, X: Any, y: Any, seed: int, regression: bool) -> list[dict[str, Any]]:
    import numpy as np

    est = model.steps[-1][1]
    names: list[str]
    values: Any = None
    try:
        names = [str(n) for n in model[:-1].get_feature_names_out()]
    except Exception:  # noqa: BLE001 - some transformers cannot name their outputs
        names = []
    if hasattr(est, "feature_importances_"):
        values = np.asarray(est.feature_importances_)
    elif hasattr(est, "coef_"):
        coef = np.atleast_2d(np.asarray(est.coef_))
        values = np.abs(coef).mean(axis=0)
    if values is None or len(names) != len(values):
        if type(est).__name__.startswith("Dummy"):
            names, values = list(X.columns), np.zeros(X.shape[1])
        else:
            from sklearn.inspection import permutation_importance

            result = permutation_importance(model, X, y, n_repeats=3, random_state=seed,
                                            scoring="r2" if regression else "accuracy")
            names, values = list(X.columns), result.importances_mean
    rows: list[dict[str, Any]] = [{"feature": n, "importance": _r(v)} for n, v in zip(names, values, strict=True)]
    rows.sort(key=lambda r: (-(r["importance"] or 0.0), r["feature"]))
    return rows[:30]


def _regression_scores(y: Any, pred: Any) -> tuple[dict[str, float | None], dict[str, Any]]:
    """(rmse, mae, r2; the predictions plot) of a regressor on the test part."""
    import numpy as np
    from sklearn import metrics as m

    yt = y.to_numpy(dtype="float64")
    results = {
        "rmse": _r(np.sqrt(m.mean_squared_error(yt, pred))),
        "mae": _r(m.mean_absolute_error(yt, pred)),
        "r2": _r(m.r2_score(yt, pred)),
    }
    plots = {"predictions": {"predictions": [
        {"actual": _r(a), "predicted": _r(p)} for a, p in zip(yt, pred, strict=True)]}}
    return results, plots


def _label_scores(y: Any, pred: Any, positive: Any, binary: bool) -> dict[str, float | None]:
    """Accuracy, precision, recall, f1: for the positive class (binary), else macro and weighted averages."""
    from sklearn import metrics as m

    avg = {"average": "binary", "pos_label": positive} if binary else {"average": "macro"}
    results = {
        "accuracy": _r(m.accuracy_score(y, pred)),
        "precision": _r(m.precision_score(y, pred, zero_division=0, **avg)),
        "recall": _r(m.recall_score(y, pred, zero_division=0, **avg)),
        "f1": _r(m.f1_score(y, pred, zero_division=0, **avg)),
    }
    if not binary:  # more than two classes: both averages, named (precision = *_macro)
        for how in ("macro", "weighted"):
            for key, fn in (("precision", m.precision_score), ("recall", m.recall_score),
                            ("f1", m.f1_score)):
                results[f"{key}_{how}"] = _r(fn(y, pred, zero_division=0, average=how))
    return results


def _binary_curves(y: Any, positive: Any, score: Any, results: dict[str, Any], plots: dict[str, Any]) -> None:
    """roc_auc and the ROC and precision-recall curves of the positive class's score."""
    import numpy as np
    from sklearn import metrics as m

    results["roc_auc"] = _r(m.roc_auc_score(y == positive, score))
    fpr, tpr, thr = m.roc_curve(y == positive, score)
    plots["roc"] = {"roc": [{"fpr": _r(a), "tpr": _r(b), "threshold": _r(t)}
                            for a, b, t in zip(fpr, tpr, thr, strict=True)]}
    prec, rec, thr2 = m.precision_recall_curve(y == positive, score)
    plots["prc"] = {"prc": [{"recall": _r(r), "precision": _r(p),
                             "threshold": _r(t) if i < len(thr2) else None}
                            for i, (p, r, t) in enumerate(
                                zip(prec, rec, [*thr2, np.nan], strict=True))]}


def _multiclass_curves(y: Any, proba: Any, classes: list[Any], results: dict[str, Any],
                       plots: dict[str, Any]) -> None:
    """One-vs-rest roc_auc (macro) and the micro-averaged ROC and precision-recall curves."""
    import numpy as np
    from sklearn import metrics as m

    results["roc_auc"] = _r(m.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes))
    onehot = np.column_stack([(y == c).to_numpy() for c in classes]).ravel()
    flat = proba.ravel()
    fpr, tpr, thr = m.roc_curve(onehot, flat)
    plots["roc"] = {"roc": [{"fpr": _r(a), "tpr": _r(b), "threshold": _r(t)}
                            for a, b, t in zip(fpr, tpr, thr, strict=True)]}
    prec, rec, _thr = m.precision_recall_curve(onehot, flat)
    plots["prc"] = {"prc": [{"recall": _r(r), "precision": _r(p)}
                            for p, r in zip(prec, rec, strict=True)]}


def _classification_scores(model: Any, X: Any, y: Any, pred: Any,
                           params: dict[str, Any]) -> tuple[dict[str, float | None], dict[str, Any]]:
    """(the metrics; the roc, prc, confusion and predictions plots) of a classifier on the test part."""
    from sklearn import metrics as m

    plots: dict[str, Any] = {}
    classes = list(model.classes_)
    positive = params.get("positive_class", classes[-1])
    binary = len(classes) == 2
    if binary and positive not in classes:
        positive = classes[-1]
    results = _label_scores(y, pred, positive, binary)
    proba, decision = _scores(model, X)
    score = None
    if binary:
        pos_idx = classes.index(positive)
        if proba is not None:
            score = proba[:, pos_idx]
        elif decision is not None:
            score = decision if pos_idx == 1 else -decision
        if score is not None and len(set(y)) == 2:
            _binary_curves(y, positive, score, results, plots)
    elif proba is not None and len(set(y)) == len(classes):
        _multiclass_curves(y, proba, classes, results, plots)
    if proba is not None:
        results["log_loss"] = _r(m.log_loss(y, proba, labels=classes))
    plots["confusion"] = {"confusion": [{"actual": str(a), "predicted": str(p)}
                                        for a, p in zip(y, pred, strict=True)]}
    plots["predictions"] = {"predictions": [
        {"actual": str(a), "predicted": str(p),
         **({"score": _r(s)} if score is not None else {})}
        for a, p, s in zip(y, pred, score if score is not None else [None] * len(y),
                           strict=True)]}
    return results, plots


def evaluate(root: Path) -> dict[str, float | None]:
    """Score the model on the test part; write metrics.json, the plot files and the versions."""
    import warnings

    import pandas as pd

    from workbench.fsutil import atomic_write_text

    root = Path(root)
    params = read_params(root)
    task = params.get("task", "classification")
    seed = int((params.get("split") or {}).get("seed", 0))
    test = pd.read_parquet(root / TEST_FILE)
    X, y = _xy(test, params)
    model = load_model(root / MODEL_FILE)
    pred = model.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "regression":
            results, plots = _regression_scores(y, pred)
        else:
            results, plots = _classification_scores(model, X, y, pred, params)
        plots["importance"] = {"importance": _feature_importance(model, X, y, seed,
                                                                  task == "regression")}
    results = {k: v for k, v in results.items() if v is not None}
    for name in TASK_PLOTS["regression" if task == "regression" else "classification"]:
        data = plots.get(name) or {name: []}
        atomic_write_text(root / PLOT_FILES[name], json.dumps(data, indent=1) + "\n")
    atomic_write_text(root / METRICS_FILE, json.dumps(results, indent=2) + "\n")
    atomic_write_text(root / ENV_FILE, json.dumps(library_versions(), indent=2) + "\n")
    from workbench.reference import write_reference

    write_reference(root, params, model, X, results)  # reports/reference.json, for monitoring
    return results


def library_versions() -> dict[str, str]:
    """Versions of the libraries that decide the metrics (recorded beside them)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "pandas", "scikit-learn", "scipy", "skops", "pyarrow", "dvc", "mlops-workbench"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_stage(name: str, root: Path) -> dict[str, Any]:
    """Run one stage by name (what ``mlops-workbench stage NAME`` calls)."""
    funcs = {"prepare": prepare, "train": train, "evaluate": evaluate}
    if name not in funcs:
        raise WorkbenchError(f"stage {name!r} is not known: use one of {', '.join(STAGES)}")
    return funcs[name](Path(root))
