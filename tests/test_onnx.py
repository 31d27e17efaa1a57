"""The ONNX path: skl2onnx conversion checked against skops, the bundle's model.onnx, onnxruntime serving.

Every model family the workbench trains, inside the workbench's own preprocessing
Pipeline (imputers, scaler, one-hot, tf-idf), on small team-like data made here: a
3-class target, a categorical column with missing values, missing numbers, a date; and a
regression target in the thousands.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _isolated_env, run_cli
from tests.test_registry import VENV_BIN, add_evidence, build_trained_project
from tests.test_serving import free_port, post, request, start_server, stop

FEATURES = {"amount": "numeric", "age": "numeric", "opened": "datetime", "region": "categorical"}
WITH_TEXT = {"amount": "numeric", "region": "categorical", "note": "text"}
#: the families whose bundle carries model.onnx (the others are named in the README with the reason)
CONVERTS = {("classification", "logistic_regression"), ("regression", "linear_regression"),
            ("regression", "ridge")}
FAMILIES = [("classification", n) for n in ("logistic_regression", "ridge", "random_forest",
                                             "hist_gradient_boosting", "dummy")] + \
           [("regression", n) for n in ("linear_regression", "ridge", "random_forest",
                                        "hist_gradient_boosting", "dummy")]


def team_frame(n: int = 400) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    amount = rng.gamma(2.0, 150.0, size=n)
    age = np.where(rng.random(n) < 0.12, np.nan, rng.integers(18, 90, size=n).astype(float))
    region = rng.choice(["north", "south", "east", "west", None], size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    frame = pd.DataFrame({
        "amount": amount, "age": age, "region": region,
        "opened": pd.date_range("2023-01-01", periods=n, freq="7h").strftime("%Y-%m-%dT%H:%M:%S"),
        "note": rng.choice(["late payment", "new customer", "", "asked for refund twice"], size=n),
    })
    frame["tier"] = np.where(amount > 400, "gold", np.where(amount > 150, "silver", "bronze"))
    flip = rng.random(n) < 0.15
    frame.loc[flip, "tier"] = rng.choice(["gold", "silver", "bronze"], size=int(flip.sum()))
    frame["spend"] = amount * 3.5 + np.nan_to_num(age, nan=40) * 12 + rng.normal(0, 50, size=n) + 1000
    return frame


def fit_and_export(tmp_path: Path, task: str, name: str, features: dict[str, str],
                   tolerance: float | None = None) -> tuple[bytes | None, dict[str, Any]]:
    from workbench.development.model_file import write_model
    from workbench.development.stages import build_pipeline, coerce_features
    from workbench.operations import onnx_export

    frame = team_frame()
    train, test = frame.iloc[:300], frame.iloc[300:].reset_index(drop=True)
    target = "tier" if task == "classification" else "spend"
    params = {"task": task, "features": features, "target": target,
              "model": {"name": name, "params": {}}, "split": {"seed": 0}}
    pipeline = build_pipeline(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(coerce_features(train, features), train[target])
    model_file = tmp_path / "model.skops"
    write_model(pipeline, model_file)
    schema = {"task": task, "features": [{"name": k, "type": v} for k, v in features.items()]}
    return onnx_export.export(model_file, schema, test,
                              onnx_export.TOLERANCE if tolerance is None else tolerance)


@pytest.mark.parametrize(("task", "name"), FAMILIES)
def test_each_family_converts_within_1e5_or_says_why(tmp_path, task, name):
    data, record = fit_and_export(tmp_path, task, name, FEATURES)
    if (task, name) in CONVERTS:
        assert record["onnx"] is True, record
        assert data is not None and data[:2]  # a serialized ModelProto
        assert record["rows_checked"] == 100
        assert record["max_abs_diff"] < 1e-5
        assert record["reason"] is None
    else:
        assert record["onnx"] is False and data is None
        assert record["reason"], record  # one line saying why (converter missing, or the check's figure)
        if name == "dummy":
            assert "no converter" in record["reason"]
        if record["max_abs_diff"] is not None:  # converted, but not close enough: the figure is recorded
            assert "not under 1e-05" in record["reason"]
            assert record["max_abs_diff"] >= 1e-5


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_text_features_keep_skops_only_and_say_tfidf(tmp_path, task):
    name = "logistic_regression" if task == "classification" else "linear_regression"
    data, record = fit_and_export(tmp_path, task, name, WITH_TEXT)
    assert data is None and record["onnx"] is False
    assert "text feature(s) note (tf-idf) do not convert" in record["reason"]


def test_a_tolerance_of_zero_keeps_skops_only_with_the_figure(tmp_path):
    data, record = fit_and_export(tmp_path, "classification", "logistic_regression", FEATURES, tolerance=0.0)
    assert data is None and record["onnx"] is False
    assert record["rows_checked"] == 100 and record["max_abs_diff"] is not None
    assert "does not match the skops model on the test set" in record["reason"]


def test_missing_values_are_imputed_as_skops_does(tmp_path):
    """Records with every feature missing score the same through the ONNX input path."""
    import numpy as np

    from workbench.development.stages import load_model
    from workbench.operations import onnx_export
    from workbench.operations.predict import Scorer
    from workbench.operations.record_schema import record_adapter

    data, record = fit_and_export(tmp_path, "classification", "logistic_regression", FEATURES)
    assert record["onnx"]
    model = load_model(tmp_path / "model.skops")
    base = Scorer(model=model, features=FEATURES, task="classification", metadata={}, classes=list(model.classes_),
                  positive_index=None, adapter=record_adapter(FEATURES), fast=None, has_proba=True)
    _, fill = onnx_export._prepared(model, FEATURES)
    scoring = onnx_export.OnnxScoring(base, onnx_export.session(data), fill)
    records = [{"amount": None, "age": None, "opened": None, "region": None},
               {"amount": 120.0, "age": 33.0, "opened": "2023-03-01T10:00:00", "region": "unseen"},
               {"amount": 900.0, "age": None, "opened": "2023-02-01T10:00:00", "region": "north"}]
    want = base.predict_records(records)
    got = scoring.predict_records(records)
    assert [g["prediction"] for g in got] == [w["prediction"] for w in want]
    assert np.max(np.abs(np.array([g["score"] for g in got]) - [w["score"] for w in want])) < 1e-5


# --- a bundle of a trained, registered project, and its service --------------------------------


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> dict[str, Any]:
    from workbench.versioning.registry import register_model

    base = tmp_path_factory.mktemp("onnx-project")
    path = build_trained_project(base, tmp_path_factory)
    env = {**_isolated_env(base / "home"), "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        add_evidence(path)
        register_model(path)
    return {"path": path, "env": env, "base": base}


def test_bundle_holds_model_onnx_and_its_check(registered, tmp_path):
    import pandas as pd

    path, env = registered["path"], registered["env"]
    out = tmp_path / "bundle"
    done = run_cli("model", "bundle", "v1.0.0", "--output", str(out), cwd=path, env=env)
    assert done.returncode == 0, done.stderr
    assert "ONNX: model.onnx matches the skops model on" in done.stdout
    assert (out / "model.onnx").is_file()
    meta = json.loads((out / "metadata.json").read_text())
    rows = len(pd.read_parquet(path / "data/prepared/test.parquet"))
    assert meta["onnx"]["onnx"] is True and meta["onnx"]["rows_checked"] == rows > 0
    assert meta["onnx"]["max_abs_diff"] < 1e-5 and meta["onnx"]["reason"] is None
    as_json = json.loads(run_cli("model", "bundle", "v1.0.0", "--output", str(out), "--json",
                                 cwd=path, env=env).stdout)
    assert "model.onnx" in as_json["files"] and as_json["onnx"]["onnx"] is True


def test_a_forced_mismatch_keeps_skops_only_and_says_why(registered, tmp_path):
    from workbench.operations.bundle import build_bundle

    out = tmp_path / "skops-only"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in registered["env"].items():
            mp.setenv(key, value)
        result = build_bundle(registered["path"], "v1.0.0", out, onnx_tolerance=0.0)
    assert not (out / "model.onnx").exists() and "model.onnx" not in result.files
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["onnx"]["onnx"] is False
    assert "max absolute difference" in meta["onnx"]["reason"] and "not under 0" in meta["onnx"]["reason"]


def test_served_onnx_and_skops_answer_the_same(registered, tmp_path):
    import pandas as pd

    from workbench.operations.bundle import build_bundle

    path, env = registered["path"], registered["env"]
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        build_bundle(path, "v1.0.0", tmp_path / "onnx")
        build_bundle(path, "v1.0.0", tmp_path / "skops", onnx_tolerance=0.0)
    frame = pd.read_parquet(path / "data/prepared/test.parquet")
    features = [f["name"] for f in json.loads((tmp_path / "onnx/schema.json").read_text())["features"]]
    records = json.loads(frame[features].head(40).to_json(orient="records"))
    records[1] = {k: None for k in records[1]}  # every field missing: both impute
    answers = {}
    for kind in ("onnx", "skops"):
        proc, port = start_server(["--bundle", str(tmp_path / kind), "--log-dir", str(tmp_path / f"log-{kind}")],
                                  cwd=tmp_path, env=env)
        try:
            status, meta = request(port, "/metadata")
            assert status == 200 and meta["runtime"] == ("onnxruntime" if kind == "onnx" else "skops")
            batch = post(port, records)
            single = [post(port, [r]) for r in records[:5]]
        finally:
            stop(proc)
        assert batch[0] == 200 and all(s[0] == 200 for s in single)
        answers[kind] = (batch[1]["predictions"], [s[1]["predictions"][0] for s in single])
    (onnx_batch, onnx_single), (skops_batch, skops_single) = answers["onnx"], answers["skops"]
    for got, want in ((onnx_batch, skops_batch), (onnx_single, skops_single)):
        assert [g["prediction"] for g in got] == [w["prediction"] for w in want]
        assert max(abs(g["score"] - w["score"]) for g, w in zip(got, want, strict=True)) < 1e-5
    assert onnx_single == onnx_batch[:5]  # one record at a time answers as in a batch


def test_a_corrupted_model_onnx_refuses_to_serve_in_one_line(registered, tmp_path):
    from workbench.operations.bundle import build_bundle

    with pytest.MonkeyPatch.context() as mp:
        for key, value in registered["env"].items():
            mp.setenv(key, value)
        build_bundle(registered["path"], "v1.0.0", tmp_path / "b")
    onnx_file = tmp_path / "b" / "model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:-10] + b"0123456789")
    done = run_cli("serve", "--bundle", str(tmp_path / "b"), "--port", str(free_port()),
                   env=registered["env"], timeout=120)
    assert done.returncode == 2, done.stderr
    assert "model.onnx is not the verified ONNX model of this bundle" in done.stderr
    assert "Traceback" not in done.stderr
