"""The ONNX copy of a bundle's model: converted with skl2onnx, verified, scored with onnxruntime.

``model bundle`` calls :func:`export` after writing ``model.skops``. The pipeline is
converted with double-precision numeric inputs (one input per feature, named as the
feature), run with onnxruntime on the version's test set (``data/prepared/test.parquet``
at its commit) and compared with the skops model on the same rows. Only when the largest
absolute difference of the probabilities (classification) or values (regression) is
under the tolerance (1e-5), and the labels are the same, is ``model.onnx`` kept; otherwise
the bundle keeps skops only, and ``metadata.json`` says why::

    "onnx": {"onnx": false, "reason": "...", "max_abs_diff": 0.01, "rows_checked": 60, ...}

Two parts of the pipeline run outside the ONNX graph, with the fitted values of the skops
model, because onnxruntime has no double-precision Imputer: the numeric imputer (a missing
number is replaced by its ``statistics_`` before the graph) and the categorical imputer's
"missing" marker (a missing category is sent as :data:`MISSING`, which the converted
imputer replaces as the skops one replaces NaN). Both are checked with the rest.

What does not convert, and why (the reason is what the bundle records):

- text features (tf-idf): onnxruntime's StringNormalizer needs an installed ``en_US.UTF-8``
  locale, and its tokenizer is not scikit-learn's regex; the bundle keeps skops only.
- ``dummy``: skl2onnx has no converter for DummyClassifier / DummyRegressor.
- ``ridge`` for classification (RidgeClassifier): skl2onnx cannot convert it in double.
- ``random_forest``: the classifier converts but misses the check (max difference about
  0.02 on the test data: the tree ensemble computes in float32, so a row near a split
  threshold goes down the other branch of a tree); the regressor's double graph does not
  load in onnxruntime (TreeEnsembleRegressor's output must be float). Each bundle checks,
  so a forest that passes is kept.
- ``hist_gradient_boosting``: skl2onnx 1.20 fails to build its TreeEnsemble node.

skl2onnx and onnxruntime are imported only inside these functions.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

TOLERANCE = 1e-5
MISSING = "\x00missing\x00"  # a missing category, as the converted categorical imputer sees it
OPSET = {"": 17, "ai.onnx.ml": 3}
NUMERIC = ("numeric", "datetime")


# --- conversion ----------------------------------------------------------------------------


def _prepared(model: Any, features: dict[str, str]) -> tuple[Any, dict[str, float]]:
    """A copy of the pipeline ready for skl2onnx, and the numeric fill values taken out of it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline) or not isinstance(model.steps[0][1], ColumnTransformer):
        raise WorkbenchError("the model is not the workbench's preprocessing Pipeline")
    text = [c for c, t in features.items() if t == "text"]
    if text:
        raise WorkbenchError(f"text feature(s) {', '.join(text)} (tf-idf) do not convert: onnxruntime's "
                             "StringNormalizer needs an en_US.UTF-8 locale and its tokenizer differs "
                             "from scikit-learn's")
    name = type(model.steps[-1][1]).__name__
    if name.startswith("Dummy"):
        raise WorkbenchError(f"skl2onnx has no converter for {name} (model 'dummy')")
    q = copy.deepcopy(model)
    fill: dict[str, float] = {}
    pre = q.steps[0][1]
    for _part, trans, cols in pre.transformers_:
        if not isinstance(trans, Pipeline):
            continue
        cols = [cols] if isinstance(cols, str) else list(cols)
        first = trans.steps[0][1]
        if not isinstance(first, SimpleImputer):
            continue
        if all(features.get(c) in NUMERIC for c in cols):
            fill.update({c: float(v) for c, v in zip(cols, first.statistics_, strict=True)})
            if len(trans.steps) > 1:
                trans.steps.pop(0)
            else:  # impute only: an identity scaler keeps the part a Pipeline skl2onnx converts
                import numpy as np
                from sklearn.preprocessing import StandardScaler

                ident = StandardScaler(with_mean=False, with_std=False)
                ident.fit(np.zeros((1, len(cols))))
                trans.steps[0] = ("identity", ident)
        else:
            first.missing_values = MISSING
    return q, fill


def convert(model: Any, features: dict[str, str], task: str) -> tuple[bytes, dict[str, float]]:
    """The ONNX bytes of ``model`` and its numeric fill values; a WorkbenchError says why not."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    q, fill = _prepared(model, features)
    types = [(c, DoubleTensorType([None, 1]) if t in NUMERIC else StringTensorType([None, 1]))
             for c, t in features.items()]
    options = {id(q.steps[-1][1]): {"zipmap": False}} if task == "classification" else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onx = to_onnx(q, initial_types=types, options=options, target_opset=OPSET)
    except Exception as exc:  # noqa: BLE001 - skl2onnx raises many kinds; the reason is one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise WorkbenchError(f"skl2onnx cannot convert {type(model.steps[-1][1]).__name__}: "
                             f"{type(exc).__name__}: {first}") from None
    return onx.SerializeToString(), fill


# --- scoring -------------------------------------------------------------------------------


def session(data: bytes | Path) -> Any:
    """An onnxruntime InferenceSession on one intra-op thread (the service's pool is one thread)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    raw = data if isinstance(data, bytes) else Path(data).read_bytes()
    try:
        return ort.InferenceSession(raw, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a corrupt file or an op missing from the runtime
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise WorkbenchError(f"onnxruntime cannot load the converted model: {first}") from None


def inputs_from_columns(columns: dict[str, Any], features: dict[str, str], fill: dict[str, float]) -> dict[str, Any]:
    """The session's inputs from feature columns as ``coerce_features`` makes them (NaN = missing)."""
    import numpy as np

    out = {}
    for name, kind in features.items():
        values = columns[name]
        if kind in NUMERIC:
            arr = np.asarray(values, dtype=np.float64).reshape(-1, 1).copy()
            if name in fill:
                arr[np.isnan(arr)] = fill[name]
        else:
            arr = np.array([MISSING if v is None or (isinstance(v, float) and v != v) else str(v)
                            for v in values], dtype=object).reshape(-1, 1)
        out[name] = arr
    return out


def run(sess: Any, inputs: dict[str, Any], task: str) -> tuple[Any, Any]:
    """(labels or values, probabilities or None) from the session."""
    import numpy as np

    got = sess.run(None, inputs)
    if task == "classification":
        return np.asarray(got[0]).ravel(), (np.asarray(got[1], dtype=np.float64) if len(got) > 1 else None)
    return np.asarray(got[0], dtype=np.float64).ravel(), None


# --- the bundle-time check -----------------------------------------------------------------


def check(model: Any, onnx_bytes: bytes, fill: dict[str, float], frame: Any, features: dict[str, str],
          task: str, tolerance: float = TOLERANCE) -> dict[str, Any]:
    """Compare onnxruntime with the skops model on ``frame`` (coerced features)."""
    import numpy as np

    sess = session(onnx_bytes)
    cols = {c: frame[c].to_numpy() for c in features}
    labels, proba = run(sess, inputs_from_columns(cols, features, fill), task)
    final = model.steps[-1][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "classification" and hasattr(final, "predict_proba"):
            want = model.predict_proba(frame)
            if proba is None or proba.shape != want.shape:
                return {"max_abs_diff": None, "ok": False, "why": "the converted model gives no probabilities"}
            diff = float(np.max(np.abs(proba - want))) if len(want) else 0.0
            same = list(np.asarray(model.classes_)[np.argmax(proba, axis=1)]) == list(model.predict(frame))
        elif task == "classification":
            diff = 0.0
            same = [str(v) for v in labels] == [str(v) for v in model.predict(frame)]
        else:
            diff = float(np.max(np.abs(labels - np.asarray(model.predict(frame), dtype=np.float64)))) \
                if len(frame) else 0.0
            same = True
    ok = same and diff < tolerance
    why = "" if ok else ("labels differ from the skops model's" if not same else
                         f"max absolute difference {diff:.3g} is not under {tolerance:g}")
    return {"max_abs_diff": diff, "ok": ok, "why": why}


def export(model_file: Path, schema: dict[str, Any], test_frame: Any | None,
           tolerance: float = TOLERANCE) -> tuple[bytes | None, dict[str, Any]]:
    """``(model.onnx bytes or None, the metadata's "onnx" record)`` for a bundle's model."""
    from workbench.development.stages import coerce_features, load_model

    features = {f["name"]: f["type"] for f in schema["features"]}
    task = str(schema.get("task") or "classification")
    record: dict[str, Any] = {"onnx": False, "reason": None, "max_abs_diff": None, "rows_checked": 0,
                              "tolerance": tolerance}
    try:
        import onnxruntime
        import skl2onnx

        record["versions"] = {"skl2onnx": skl2onnx.__version__, "onnxruntime": onnxruntime.__version__}
    except ImportError as exc:
        record["reason"] = f"skl2onnx/onnxruntime are not installed ({exc.name})"
        return None, record
    model = load_model(model_file)
    try:
        data, fill = convert(model, features, task)
    except WorkbenchError as exc:
        record["reason"] = str(exc)
        return None, record
    if test_frame is None or len(test_frame) == 0:
        record["reason"] = "the version's test set (data/prepared/test.parquet) is not available to check against"
        return None, record
    missing = [c for c in features if c not in test_frame.columns]
    if missing:
        record["reason"] = f"the test set lacks feature column(s) {', '.join(missing)}"
        return None, record
    frame = coerce_features(test_frame, features)
    record["rows_checked"] = len(frame)
    try:
        result = check(model, data, fill, frame, features, task, tolerance)
    except WorkbenchError as exc:
        record["reason"] = str(exc)
        return None, record
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own kinds; the reason is one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        record["reason"] = f"onnxruntime could not score the test set: {first}"
        return None, record
    record["max_abs_diff"] = result["max_abs_diff"]
    if not result["ok"]:
        record["reason"] = f"the converted model does not match the skops model on the test set: {result['why']}"
        return None, record
    import hashlib

    record.update(onnx=True, reason=None, md5=hashlib.md5(data, usedforsecurity=False).hexdigest())
    return data, record


# --- serving -------------------------------------------------------------------------------


def onnx_scorer(scorer: Any, folder: Path) -> Any:
    """``scorer`` scoring with onnxruntime when its bundle holds a verified model.onnx; else itself."""
    import hashlib

    record = (scorer.metadata or {}).get("onnx") or {}
    path = Path(folder) / "model.onnx"
    if not record.get("onnx") or not path.is_file():
        return scorer
    data = path.read_bytes()
    if hashlib.md5(data, usedforsecurity=False).hexdigest() != record.get("md5"):
        raise WorkbenchError(f"{path} is not the verified ONNX model of this bundle (its md5 differs): "
                             "rebuild the bundle")
    _, fill = _prepared(scorer.model, scorer.features)
    return OnnxScoring(scorer, session(data), fill)


class OnnxScoring:
    """A Scorer's interface (parse, predict_records, predict_frame, ...) scoring with onnxruntime."""

    runtime = "onnxruntime"

    def __init__(self, scorer: Any, sess: Any, fill: dict[str, float]) -> None:
        self._scorer = scorer
        self._sess = sess
        self._fill = fill
        self._classes = None
        if scorer.task == "classification" and hasattr(scorer.model, "classes_"):
            import numpy as np

            self._classes = np.asarray(scorer.model.classes_)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scorer, name)

    def _score(self, columns: dict[str, Any]) -> list[dict[str, Any]]:
        import numpy as np

        labels, proba = run(self._sess, inputs_from_columns(columns, self.features, self._fill), self.task)
        if self._scorer.has_proba:
            labels = self._classes[np.argmax(proba, axis=1)]  # type: ignore[index]  # as the skops path: argmax of predict_proba
        elif self._classes is not None:
            labels = np.asarray(labels).astype(self._classes.dtype)
        return self._scorer._shape(labels, proba if self._scorer.has_proba else None)

    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Validated records straight into arrays (no pandas), then one session run."""
        from workbench.operations.record_schema import to_seconds

        columns: dict[str, Any] = {}
        for name, kind in self.features.items():
            if kind == "datetime":
                columns[name] = [to_seconds(r[name]) for r in records]
            elif kind == "numeric":
                columns[name] = [float("nan") if r[name] is None else r[name] for r in records]
            else:
                columns[name] = [r[name] for r in records]
        return self._score(columns)

    def predict_frame(self, frame: Any) -> tuple[list[Any], list[float] | None]:
        shaped = self._score({c: frame[c].to_numpy() for c in self.features})
        scores = [r["score"] for r in shaped] if shaped and "score" in shaped[0] else (
            [] if self._scorer.has_proba else None)
        return [r["prediction"] for r in shaped], scores
