"""Scoring with a registered model: the schema check, the fast single-record path, batch files.

:class:`Scorer` is what both faces of deployment use: the prediction service
(:mod:`workbench.operations.serving`) and ``mlops-workbench predict`` (:func:`score_file`).
It is loaded from a serving bundle (:mod:`workbench.operations.bundle`), so the service,
the batch command and a Docker image built from the bundle score with the same files.

The schema
    Built from the training features in ``params.yaml`` and their types. One record is a
    JSON object with exactly the feature names: a missing or unknown field, a value of the
    wrong JSON type, NaN, infinity or a number beyond +-1e15 is refused with the field named.
    ``null`` is a missing value, which the pipeline imputes as it did in training. numeric -> number;
    categorical -> string (integers and booleans are taken as their text, as pandas read
    them in training); text -> string; datetime -> ISO 8601 string (naive means UTC).
    Validation is one pydantic-core call on the raw bytes (about 5 us a record).

Why a fast path
    scikit-learn's ``Pipeline.predict`` on a one-row DataFrame costs about 2 ms, almost
    all of it in ``ColumnTransformer``'s DataFrame handling and input checks, not in the
    arithmetic. For single records the scorer prebuilds, at load, copies of the fitted
    column transformers that take plain numpy arrays, and calls them and the final
    estimator directly: the same fitted objects and the same arithmetic, minus the frame.
    The fast path is used only when it reproduces the pipeline's own output on probe rows
    at load (to 1e-9); otherwise every request takes the pipeline path. Batch files
    always take the pipeline path on a DataFrame (vectorised, so the overhead vanishes).

Classification returns the label and ``score``: for two classes the probability of the
positive class in ``params.yaml``, for more the probability of the predicted class (no
``score`` without ``predict_proba``, e.g. ridge). Labels come from the same single
``predict_proba`` call (its argmax, which is what ``predict`` does for these estimators).
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError, WorkbenchError
from workbench.operations.record_schema import NAN, record_adapter, to_seconds
from workbench.progress import CountProgress

BATCH_CHUNK = 5_000


# --- the record schema: workbench.operations.record_schema (the bundle writes it too) --------


# --- the fast single-record path ------------------------------------------------------------


def _strip_feature_names(estimator: Any) -> None:
    """Drop ``feature_names_in_`` so a fitted transformer takes numpy without a warning per call."""
    for step in getattr(estimator, "steps", None) or []:
        _strip_feature_names(step[1])
    if hasattr(estimator, "feature_names_in_"):
        try:
            del estimator.feature_names_in_
        except AttributeError:
            pass


def _compile_fast(model: Any, features: dict[str, str]) -> Callable[[list[dict[str, Any]]], Any] | None:
    """``records -> final-estimator input``, bypassing ColumnTransformer; None when the shape is unknown."""
    import numpy as np
    from scipy import sparse
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline) or len(model.steps) < 2:
        return None
    pre = model.steps[0][1]
    if not isinstance(pre, ColumnTransformer) or not hasattr(pre, "transformers_"):
        return None
    middle = [step for _, step in model.steps[1:-1]]
    parts: list[tuple[Any, list[str] | str, bool]] = []
    for name, trans, cols in pre.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        if isinstance(cols, str):
            if cols not in features:
                return None
        elif isinstance(cols, list | tuple) and all(isinstance(c, str) and c in features for c in cols):
            cols = list(cols)
            if not cols:
                continue
        else:
            return None
        if name == "remainder" and trans != "passthrough":
            return None
        if isinstance(trans, str):
            if trans != "passthrough":
                return None
            trans = None
        else:
            trans = copy.deepcopy(trans)
            _strip_feature_names(trans)
        names = [cols] if isinstance(cols, str) else cols
        numeric = all(features[c] in ("numeric", "datetime") for c in names)
        parts.append((trans, cols, numeric))
    if not parts:
        return None
    sparse_out = bool(getattr(pre, "sparse_output_", False))

    def value(kind: str, v: Any) -> Any:
        if kind == "datetime":
            return to_seconds(v)
        if v is None:
            return "" if kind == "text" else NAN
        return str(v) if kind == "categorical" and not isinstance(v, str) else v

    def transform(records: list[dict[str, Any]]) -> Any:
        outs = []
        for trans, cols, numeric in parts:
            if isinstance(cols, str):
                kind = features[cols]
                X = np.array([value(kind, r[cols]) for r in records], dtype=object)
            else:
                X = np.array([[value(features[c], r[c]) for c in cols] for r in records],
                             dtype=np.float64 if numeric else object)
            outs.append(X if trans is None else trans.transform(X))
        if sparse_out:
            from sklearn.utils.validation import check_array

            Xt = sparse.hstack([check_array(x, accept_sparse=True, ensure_all_finite=False)
                                for x in outs]).tocsr()
        else:
            Xt = np.hstack([x.toarray() if sparse.issparse(x) else x for x in outs])  # type: ignore[union-attr]
        for step in middle:
            Xt = step.transform(Xt)
        return Xt

    return transform


# --- the scorer ---------------------------------------------------------------------------


@dataclass
class Scorer:
    """A loaded model with its schema; build it with :meth:`load`."""

    model: Any
    features: dict[str, str]
    task: str
    metadata: dict[str, Any]
    classes: list[Any] | None
    positive_index: int | None
    adapter: Any
    fast: Callable[[list[dict[str, Any]]], Any] | None
    has_proba: bool

    @classmethod
    def load(cls, bundle_dir: Path) -> Scorer:
        """Load a bundle's model (types checked against the trusted list) and prebuild the paths."""
        from workbench.development.stages import load_model
        from workbench.operations.bundle import read_bundle

        info = read_bundle(Path(bundle_dir))
        model_file = Path(bundle_dir) / "model.skops"
        model = load_model(model_file)  # refuses types the workbench does not trust
        want = str(info.metadata.get("model_digest") or "")
        if want.startswith("md5:"):
            import hashlib

            got = hashlib.md5(model_file.read_bytes(), usedforsecurity=False).hexdigest()
            if got != want[4:]:
                raise WorkbenchError(f"{model_file} is not the model of {info.metadata.get('version')} "
                                     f"(its md5 differs from {want}): rebuild the bundle")
        features = {f["name"]: f["type"] for f in info.schema["features"]}
        task = str(info.schema.get("task") or "classification")
        classes = None
        positive_index = None
        if task == "classification" and hasattr(model, "classes_"):
            classes = [c.item() if hasattr(c, "item") else c for c in model.classes_]
            positive = info.schema.get("positive_class")
            if len(classes) == 2:
                positive_index = classes.index(positive) if positive in classes else 1
        final = model.steps[-1][1] if hasattr(model, "steps") else model
        scorer = cls(model=model, features=features, task=task, metadata=info.metadata, classes=classes,
                     positive_index=positive_index, adapter=record_adapter(features), fast=None,
                     has_proba=task == "classification" and hasattr(final, "predict_proba"))
        scorer.fast = scorer._checked_fast()
        return scorer

    # --- parsing -------------------------------------------------------------------------

    def parse(self, body: bytes) -> list[dict[str, Any]]:
        """Validate a JSON body (a list of records); raises pydantic's ValidationError."""
        return self.adapter.validate_json(body)

    def parse_python(self, records: Any) -> list[dict[str, Any]]:
        """Validate already-decoded records (what the TUI or a test hands over)."""
        return self.adapter.validate_python(records)

    # --- predicting ----------------------------------------------------------------------

    def records_frame(self, records: list[dict[str, Any]]) -> Any:
        """Validated records as the DataFrame ``coerce_features`` would have made in training."""
        import numpy as np
        import pandas as pd

        cols: dict[str, Any] = {}
        for name, kind in self.features.items():
            values = [r[name] for r in records]
            if kind == "numeric":
                cols[name] = np.array([NAN if v is None else v for v in values], dtype=np.float64)
            elif kind == "datetime":
                cols[name] = np.array([to_seconds(v) for v in values], dtype=np.float64)
            elif kind == "text":
                cols[name] = np.array(["" if v is None else v for v in values], dtype=object)
            else:
                cols[name] = np.array([NAN if v is None else (v if isinstance(v, str) else str(v))
                                       for v in values], dtype=object)
        return pd.DataFrame(cols)

    def _final(self) -> Any:
        return self.model.steps[-1][1] if hasattr(self.model, "steps") else self.model

    def _raw(self, X: Any, *, fast: bool) -> tuple[Any, Any]:
        """(labels, probabilities or None) from the final estimator (fast) or the pipeline."""
        import numpy as np

        est = self._final() if fast else self.model
        if self.has_proba:
            proba = est.predict_proba(X)
            labels = np.asarray(est.classes_ if fast else self.model.classes_)[np.argmax(proba, axis=1)]
            return labels, proba
        return est.predict(X), None

    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Predictions for validated records: ``{"prediction": ..., "score": ...}`` each."""
        if self.fast is not None:
            labels, proba = self._raw(self.fast(records), fast=True)
        else:
            labels, proba = self._raw(self.records_frame(records), fast=False)
        return self._shape(labels, proba)

    def _shape(self, labels: Any, proba: Any) -> list[dict[str, Any]]:
        out = []
        values = labels.tolist()
        if proba is None:
            return [{"prediction": v} for v in values]
        if self.positive_index is not None:
            scores = proba[:, self.positive_index].tolist()
            return [{"prediction": v, "score": s} for v, s in zip(values, scores, strict=True)]
        best = proba.max(axis=1).tolist()
        for v, s in zip(values, best, strict=True):
            out.append({"prediction": v, "score": s})
        return out

    def _checked_fast(self) -> Callable[[list[dict[str, Any]]], Any] | None:
        """The fast path, if it reproduces the pipeline on probe rows; else None."""
        import warnings

        import numpy as np

        try:
            fast = _compile_fast(self.model, self.features)
            if fast is None:
                return None
            probes = _probe_records(self.features)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want_labels, want_proba = self._raw(self.records_frame(probes), fast=False)
                got_labels, got_proba = self._raw(fast(probes), fast=True)
            if list(want_labels) != list(got_labels):
                return None
            if want_proba is not None and not np.allclose(want_proba, got_proba, rtol=1e-9, atol=1e-12):
                return None
            if self.task != "classification" and not np.allclose(
                    np.asarray(want_labels, dtype=float), np.asarray(got_labels, dtype=float), rtol=1e-9):
                return None
            return fast
        except Exception:  # noqa: BLE001 - any surprise means: use the pipeline itself
            return None

    def predict_frame(self, frame: Any) -> tuple[list[Any], list[float] | None]:
        """Labels and scores (None without probabilities) for a coerced feature frame."""
        labels, proba = self._raw(frame, fast=False)
        shaped = self._shape(labels, proba)
        scores = [r["score"] for r in shaped] if proba is not None else None
        return [r["prediction"] for r in shaped], scores


def _probe_records(features: dict[str, str]) -> list[dict[str, Any]]:
    """A few rows with ordinary, odd and missing values of every kind (for the fast-path check)."""
    numeric = [0.0, 1.5, None, -3.25, 1e6]
    categorical = ["a", None, "b", "unseen", 7]
    text = ["", "hello world", None, "a b c d", "x"]
    dates = ["1970-01-01T00:00:00", "2023-11-14 22:13:20", None, "2001-09-09T01:46:40+02:00", "2008-01-10"]
    pick: dict[str, list[Any]] = {"numeric": numeric, "categorical": categorical, "text": text, "datetime": dates}
    return [{name: pick[kind][i] for name, kind in features.items()} for i in range(5)]


# --- batch scoring -------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    """What ``predict`` wrote."""

    input: str
    output: str
    rows: int
    version: str
    passthrough: tuple[str, ...]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"input": self.input, "output": self.output, "rows": self.rows, "version": self.version,
                "passthrough": list(self.passthrough), "seconds": round(self.seconds, 3)}


def _format(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv",):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise WorkbenchError(f"{what} {path.name} is neither .csv nor .parquet: give a CSV or Parquet file")


def read_batch(path: Path) -> Any:
    """A CSV or Parquet file as a DataFrame (one-line errors for what people get wrong)."""
    import pandas as pd

    path = Path(path)
    fmt = _format(path, "input")
    if not path.is_file():
        raise WorkbenchError(f"input {path} does not exist: give the path of a CSV or Parquet file")
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, low_memory=False)
    except Exception as exc:  # noqa: BLE001 - parser errors are many; the user needs one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WorkbenchError(f"cannot read {path.name} as {fmt} ({first}): check the file") from None


def check_frame(frame: Any, features: dict[str, str], name: str) -> Any:
    """The feature columns coerced as in training, after the service's schema check.

    Missing feature columns, non-numbers in a numeric column, infinities and
    unparseable dates are refused with the column and the first bad row named.
    """
    import numpy as np
    import pandas as pd

    from workbench.development.stages import coerce_features

    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise WorkbenchError(f"{name} lacks the feature column(s) {', '.join(missing[:8])}: "
                             "the model needs every training feature (see the bundle's schema.json)")
    coerced = coerce_features(frame, features)
    for col, kind in features.items():
        if kind not in ("numeric", "datetime"):
            continue
        raw = frame[col]
        bad = coerced[col].isna() & raw.notna()
        if kind == "numeric":
            bad |= np.isinf(coerced[col].to_numpy())
            if pd.api.types.is_bool_dtype(raw):
                bad |= raw.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            want = "a number" if kind == "numeric" else "an ISO 8601 date-time"
            raise WorkbenchError(f"{name}, column {col!r}, row {row + 1}: {raw.iloc[row]!r} is not {want}: "
                                 "fix the file (empty cells are fine: they are imputed)")
    return coerced


def score_file(project_path: Path, input_path: Path, output_path: Path, *, version: str | None = None,
               stage: str = "production", progress: CountProgress | None = None,
               cancel: threading.Event | None = None) -> BatchResult:
    """Score a CSV/Parquet file with a registered version (default: the one in production).

    The output has the input's columns (identifiers and any other non-feature columns
    pass through unchanged), then ``prediction`` and, for classifiers with
    probabilities, ``score``. It is written through a temporary file and a rename.
    ``progress(rows_done, rows_total)`` is called after each chunk; ``cancel`` stops
    between chunks and writes nothing.
    """
    import time

    from workbench.operations.bundle import ensure_bundle
    from workbench.versioning.outputs import refuse_versioned_output
    from workbench.versioning.registry import resolve_version

    started = time.perf_counter()
    input_path, output_path = Path(input_path).absolute(), Path(output_path).absolute()
    out_fmt = _format(output_path, "output")
    if output_path == input_path:
        raise WorkbenchError("--output is the input file: write the predictions to another file")
    if not output_path.parent.is_dir():
        raise WorkbenchError(f"the folder of {output_path} does not exist: create it or choose another --output")
    refuse_versioned_output(output_path)  # never over data, a model or a file git or DVC keeps
    target, _ = resolve_version(project_path, version, stage)
    frame = read_batch(input_path)
    taken = [c for c in ("prediction", "score") if c in frame.columns]
    if taken:
        raise WorkbenchError(f"{input_path.name} already has a column {taken[0]!r}: rename it, "
                             "the output adds prediction and score")
    scorer = Scorer.load(ensure_bundle(project_path, target.version))
    coerced = check_frame(frame, scorer.features, input_path.name)
    total = len(frame)
    labels: list[Any] = []
    scores: list[float] | None = [] if scorer.has_proba else None
    if progress:
        progress(0, total)
    for start in range(0, total, BATCH_CHUNK):
        if cancel is not None and cancel.is_set():
            raise CancelledError("batch scoring was cancelled; nothing was written")
        part = coerced.iloc[start:start + BATCH_CHUNK]
        got, sc = scorer.predict_frame(part)
        labels.extend(got)
        if scores is not None and sc is not None:
            scores.extend(sc)
        if progress:
            progress(min(total, start + BATCH_CHUNK), total)
    out = frame.copy()
    out["prediction"] = labels
    if scores is not None:
        out["score"] = scores
    tmp = output_path.with_name(f".{output_path.name}.{os.getpid()}.tmp")
    try:
        if out_fmt == "parquet":
            out.to_parquet(tmp, index=False)
        else:
            out.to_csv(tmp, index=False)
        os.replace(tmp, output_path)
    finally:
        tmp.unlink(missing_ok=True)
    passthrough = tuple(str(c) for c in frame.columns if c not in scorer.features)
    return BatchResult(input=str(input_path), output=str(output_path), rows=total, version=target.version,
                       passthrough=passthrough, seconds=time.perf_counter() - started)
