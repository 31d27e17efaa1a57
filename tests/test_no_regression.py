"""The no_regression gate on a regression project (issue 14, item 11), real git + DVC + GTO.

A diabetes-like data set is made in the test (442 rows, 10 numeric features, a target in
the hundreds with noise of about 55). Production (v1.0.0, GTO tags) is
a ridge model. Then:

- a retrain on held-out rows from the same distribution passes: both models are scored on
  the same, current test rows in one run, with a relative tolerance that knows rmse and
  mae are lower-is-better (the old gate compared the candidate's rmse with production's
  stored rmse from the old split, absolute 0.02 in target units, and failed it);
- a clearly worse model (ridge with alpha 1e5: about the mean) fails, and passes only when its metrics are
  given a tolerance that large (``per_metric``);
- the report shows both scores, the tolerance and the direction; bad settings are one line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import git, run_cli
from tests.test_registry import VENV_BIN, one_line_error

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
GATES = {"success_metric": {"enabled": False}, "baseline": {"enabled": False},
         "no_regression": {"enabled": True, "tolerance": 0.02},
         "slices": {"enabled": False}, "fairness": {"enabled": False}, "reproducibility": {"enabled": False}}


def diabetes_like(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, len(FEATURES)))
    frame = pd.DataFrame(x.round(5), columns=FEATURES)
    frame["sex"] = rng.choice([1, 2], n)
    weights = np.array([4.5, -15, 37.5, 22.5, -12, 7.5, -18, 9, 33, 6])
    signal = x @ weights
    frame["progression"] = (152 + signal + rng.normal(0, 55, n)).round(1)
    return frame


def cli(path: Path, *args: str) -> str:
    done = run_cli(*args, cwd=path)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def production_template(tmp_path_factory) -> Path:
    """A regression project: data, pipeline, a ridge model promoted and in production (GTO)."""
    import gto.api

    from tests.conftest import _isolated_env, configure_identity

    base = tmp_path_factory.mktemp("no-regression")
    configure_identity(base / "home")
    path = base / "diabetes"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _isolated_env(base / "home").items():
            mp.setenv(key, value)
        mp.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
        cli(base, "new", str(path), "--task", "regression", "--metric", "rmse <= 80",
            "--problem", "Predict disease progression a year ahead.", "--remote", str(base / "remote"))
        diabetes_like(442, seed=1).to_csv(base / "diabetes.csv", index=False)
        cli(path, "data", "add", str(base / "diabetes.csv"))
        cli(path, "pipeline", "--target", "progression", "--model", "ridge", "--split", "random")
        config = yaml.safe_load((path / "workbench.yaml").read_text())
        config["gates"] = GATES
        (path / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        git(path, "commit", "-q", "-m", "Only the no_regression gate", "--", "workbench.yaml")
        cli(path, "train", "--name", "first", "--quiet")
        cli(path, "exp", "promote", "first", "--quiet")
        gto.api.register(str(path), "model", "HEAD", version="v1.0.0")
        gto.api.assign(str(path), "model", "production", version="v1.0.0")
    return path


@pytest.fixture
def production(production_template, tmp_path, monkeypatch) -> Path:
    import shutil

    monkeypatch.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    dest = tmp_path / "diabetes"
    shutil.copytree(production_template, dest, symlinks=True)
    return dest


def regression_gate(report: dict) -> dict:
    return next(g for g in report["gates"] if g["name"] == "no_regression")


def test_held_out_data_passes_and_a_clearly_worse_model_fails(production, tmp_path):
    from workbench.development.training import run_experiment
    from workbench.development.validation import validate

    path = production
    stored = json.loads((path / "metrics.json").read_text())
    held_out = tmp_path / "held_out.csv"
    diabetes_like(200, seed=2).to_csv(held_out, index=False)

    # a retrain on held-out rows of the same distribution: the same test rows for both models
    done = run_cli("retrain", "--data", str(held_out), "--json", "-q", cwd=path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["validation"]["passed"] is True, out["validation"]
    report = json.loads((path / "reports/validation.json").read_text())
    gate = regression_gate(report)
    assert gate["passed"] is True and "production v1.0.0" in gate["why"]
    assert gate["production"]["digest"].startswith("md5:") and gate["relative"] is True
    rows = {d["metric"]: d for d in gate["details"]}
    assert set(rows) == {"rmse", "mae", "r2"}
    assert rows["rmse"]["direction"] == "lower is better" and rows["r2"]["direction"] == "higher is better"
    assert rows["rmse"]["tolerance"] == 0.02 and rows["rmse"]["passed"] is True
    # production was scored on the candidate's (new) test rows, less the rows it was trained on
    # (the grown data's split mixes some in), not read from its old metrics.json
    assert gate["test_rows"] > 0 and gate["left_out_rows"] > 0 and rows["rmse"]["production"] != stored["rmse"]
    assert f"{gate['left_out_rows']} rows production v1.0.0 was trained on left out" in gate["why"]
    markdown = (path / "reports/validation.md").read_text()
    assert "| metric | direction | candidate | production |" in markdown and "lower is better" in markdown
    assert f"both scored on the same {gate['test_rows']} test rows" in gate["why"]

    # a clearly worse model: ridge shrunk to (almost) the mean is far behind on every metric
    worse = run_experiment(path, {"model.params.alpha": 100000}, name="mean-only")
    result = validate(path, worse.name)
    gate = {g.name: g for g in result.gates}["no_regression"]
    assert result.passed is False and gate.passed is False
    assert gate.why.startswith("worse than production v1.0.0 by more than the tolerance")
    rows = {d["metric"]: d for d in gate.details}
    assert rows["rmse"]["candidate"] > rows["rmse"]["production"] and rows["rmse"]["passed"] is False
    assert rows["rmse"]["relative_change"] < -0.02 and rows["r2"]["passed"] is False

    # tolerances per metric: large enough for rmse and mae, r2 still fails; the old scalar form works
    config = yaml.safe_load((path / "workbench.yaml").read_text())
    config["gates"]["no_regression"] = {"tolerance": 0.02, "per_metric": {"rmse": 5, "mae": 5}}
    (path / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(path, "commit", "-q", "-m", "per-metric tolerances", "--", "workbench.yaml")
    again = {g.name: g for g in validate(path, worse.name).gates}["no_regression"]
    rows = {d["metric"]: d for d in again.details}
    assert (rows["rmse"]["passed"], rows["mae"]["passed"], rows["r2"]["passed"]) == (True, True, False)
    assert rows["rmse"]["tolerance"] == 5 and again.threshold == {"mae": 5, "r2": 0.02, "rmse": 5}


@pytest.mark.parametrize(("setting", "expected"), [
    ({"per_metric": {"rmse": "a lot"}}, "gates.no_regression.per_metric.rmse 'a lot' is not a number"),
    ({"per_metric": {"auc": 0.1}}, "gates.no_regression.per_metric names 'auc', not a regression metric"),
    ({"per_metric": [0.1]}, "gates.no_regression.per_metric [0.1] must map metrics to tolerances"),
    ({"per_metric": {"rmse": -1}}, "gates.no_regression.per_metric.rmse -1 must be at least 0"),
])
def test_bad_per_metric_tolerances_are_one_line(production, setting, expected):
    path = production
    config = yaml.safe_load((path / "workbench.yaml").read_text())
    config["gates"]["no_regression"] = {"tolerance": 0.02, **setting}
    (path / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    head = git(path, "rev-parse", "HEAD")
    assert expected in one_line_error(run_cli("validate", cwd=path))
    assert git(path, "rev-parse", "HEAD") == head
