"""A gate's report names the exact model bytes it judged (issue 14, items 10 and 12).

Real git + DVC repositories (the diagnosis template of ``tests/test_validation.py``: an
experiment ``weak`` in DVC's refs, ``good`` committed at HEAD), real ``dvc commit`` and
``dvc repro --force`` in subprocesses, the real ``mlops-workbench`` CLI.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import git, run_cli, run_tool
from tests.test_validation import copy_of, trained_template, validated_template

MODEL = "models/model.skops"


@pytest.fixture
def trained(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    return copy_of(trained_template(tmp_path_factory), tmp_path, monkeypatch)


@pytest.fixture
def validated(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    return copy_of(validated_template(tmp_path_factory), tmp_path, monkeypatch)


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def lock_model(path: Path) -> str:
    lock = yaml.safe_load((path / "dvc.lock").read_text())
    return next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == MODEL)


def replace_model(path: Path, data: bytes) -> None:
    """Swap the model file as a person would (DVC may link it to its cache: never write through)."""
    model = path / MODEL
    model.unlink()
    model.write_bytes(data)
    run_tool(path, "dvc", "commit", "-f", "-q")
    git(path, "add", "dvc.lock")
    git(path, "commit", "-q", "-m", "swap the model")


def experiment_model(path: Path, name: str) -> bytes:
    ref = next(line.split()[0] for line in git(path, "for-each-ref", "--format=%(objectname) %(refname)",
                                               "refs/exps").splitlines() if line.endswith("/" + name))
    lock = yaml.safe_load(git(path, "show", f"{ref}:dvc.lock"))
    digest = next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == MODEL)
    return (path / ".dvc" / "cache" / "files" / "md5" / digest[:2] / digest[2:]).read_bytes()


def test_a_model_file_that_does_not_load_fails_validation_and_is_not_registered(trained):
    path = trained
    replace_model(path, b"this is not a zip file at all\n" * 40)
    garbage = md5((path / MODEL).read_bytes())
    assert lock_model(path) == garbage  # dvc.lock now names the garbage as the train stage's output

    done = run_cli("validate", cwd=path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    fail = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1 and fail[0].startswith("FAIL  Model file is the trained one")
    assert f"the model md5:{garbage} cannot be loaded" in fail[0]
    assert "Result: FAILED — 0 pass, 1 fail, 6 skipped" in done.stdout
    report = json.loads((path / "reports/validation.json").read_text())
    assert report["passed"] is False
    assert report["model"]["digest"] == f"md5:{garbage}" and report["model"]["file_md5"] == garbage
    assert {g["name"]: g["passed"] for g in report["gates"]}["model_file"] is False
    assert all(g["why"] == "not run: the model file failed its check" for g in report["gates"][1:])
    assert "Workbench-Step: validation" in git(path, "log", "-1", "--format=%B")

    before = git(path, "tag", "--list")
    refused = run_cli("model", "register", cwd=path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "the validation of this model failed its model file check" in lines[0]
    assert git(path, "tag", "--list") == before


def test_metrics_of_another_model_are_not_this_models_score(trained):
    """A valid model swapped in with ``dvc commit``: metrics.json (and the evaluate stage's
    lock record) are still the old model's; validation scores the new bytes and fails."""
    path = trained
    recorded = json.loads((path / "metrics.json").read_text())
    weak = experiment_model(path, "weak")
    replace_model(path, weak)
    done = run_cli("validate", "--json", cwd=path)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    gate = {g["name"]: g for g in report["gates"]}["model_file"]
    assert gate["passed"] is False and report["model"]["digest"] == f"md5:{md5(weak)}"
    assert gate["why"].startswith("metrics.json is not the score of this model file: ")
    rows = {d["metric"]: d for d in gate["details"]}
    assert rows["recall"]["recorded"] == recorded["recall"] != rows["recall"]["scored"]


def test_a_report_for_model_a_does_not_count_for_model_b(validated):
    from workbench.versioning.evidence import promotion_blockers

    path = validated
    report = json.loads((path / "reports/validation.json").read_text())
    assert report["passed"] and report["model"]["digest"] == f"md5:{lock_model(path)}"
    replace_model(path, experiment_model(path, "weak"))
    assert promotion_blockers(path)[0] == ("the validation report is for another model: "
                                           "run `mlops-workbench validate` again")
    approve = run_cli("review", "approve", "--comment", "looks fine", cwd=path)
    assert approve.returncode == 2
    assert "the validation report is for another model" in approve.stderr
    registered = json.loads(run_cli("model", "register", "--json", cwd=path).stdout)
    assert registered["validation"] == "other model"
    promote = run_cli("model", "promote", registered["version"], "--stage", "production", cwd=path)
    assert promote.returncode == 2 and "the validation report is for another model" in promote.stderr


def test_the_same_commit_data_and_seed_give_the_same_model_file(trained):
    """``dvc repro --force`` twice: the model's md5 and dvc.lock do not change."""
    from workbench.development.stages import TEST_FILE, _xy, load_model, read_params

    path = trained
    lock = (path / "dvc.lock").read_bytes()
    first = md5((path / MODEL).read_bytes())
    assert first == lock_model(path)
    for _ in range(2):
        run_tool(path, "dvc", "repro", "--force", "-q")
        assert md5((path / MODEL).read_bytes()) == first
        assert (path / "dvc.lock").read_bytes() == lock
    assert git(path, "status", "--porcelain").strip() == ""
    import pandas as pd

    params = read_params(path)
    X, _y = _xy(pd.read_parquet(path / TEST_FILE), params)
    model = load_model(path / MODEL)
    # the canonical file is the fitted pipeline: it predicts what a fresh fit in this process predicts
    from workbench.development.stages import TRAIN_FILE, build_pipeline

    Xt, yt = _xy(pd.read_parquet(path / TRAIN_FILE), params)
    fresh = build_pipeline(params).fit(Xt, yt)
    assert (model.predict(X) == fresh.predict(X)).all()
    assert (model.predict_proba(X) == fresh.predict_proba(X)).all()


@pytest.mark.parametrize("family", ["logistic_regression", "random_forest", "hist_gradient_boosting", "ridge",
                                    "dummy"])
def test_every_family_saves_canonically_and_loads_with_the_trusted_types(tmp_path, family):
    import numpy as np
    import pandas as pd
    import skops.io as sio

    from workbench.development.model_file import write_model
    from workbench.development.stages import build_pipeline, coerce_features, load_model

    rng = np.random.default_rng(7)
    n = 300
    frame = pd.DataFrame({
        "income": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 12, n)),
        "region": rng.choice(["north", "south", "east", None], n),
        "note": rng.choice(["late payment", "new customer", "loyal customer since 2019"], n),
        "segment": rng.choice(["bronze", "silver", "gold"], n),
    })
    params = {"task": "classification", "target": "segment", "split": {"seed": 3},
              "features": {"income": "numeric", "region": "categorical", "note": "text"},
              "preprocessing": {"text": {"tfidf": {"max_features": 4}}}, "model": {"name": family, "params": {}}}
    X = coerce_features(frame, params["features"])
    paths, models = [], []
    for i in range(2):  # two separate fits, as two rebuilds would make
        models.append(build_pipeline(params).fit(X, frame["segment"]))
        paths.append(tmp_path / f"model{i}.skops")
        write_model(models[-1], paths[-1])
    assert sio.dumps(models[0]) != sio.dumps(models[1])  # skops alone names its members by id()
    assert paths[0].read_bytes() == paths[1].read_bytes()
    model = models[1]
    loaded = load_model(paths[0])
    assert (loaded.predict(X) == model.predict(X)).all()


def test_the_reproducibility_gate_compares_the_model_file(trained):
    """The same model re-saved by skops' own writer (new member names): metrics are equal,
    but the retrained file is not these bytes, so the sign-off could not cover a rebuild."""
    import skops.io as sio

    from workbench.development.stages import load_model

    path = trained
    model = load_model(path / MODEL)
    replace_model(path, sio.dumps(model))
    done = run_cli("validate", "--json", cwd=path)
    assert done.returncode == 1, done.stdout + done.stderr
    gates = {g["name"]: g for g in json.loads(done.stdout)["gates"]}
    assert gates["model_file"]["passed"] is True  # the same model: it scores the recorded metrics
    repro = gates["reproducibility"]
    assert repro["passed"] is False and "gave a different model file" in repro["why"]
    assert repro["retrained_model"] != repro["model"] == f"md5:{lock_model(path)}"
