"""After `train`: no stray files, `status` says which experiment the workspace holds, `exp discard`.

On a regression project made in the test (300 rows, a numeric target, missing values, a
categorical column), on real git + DVC.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import git, run_cli, run_tool
from tests.regression_project import copy_regression_project


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_evaluate_writes_exactly_the_plots_dvc_yaml_declares(task):
    from workbench.development.pipeline import build_dvc_yaml
    from workbench.development.stages import PLOT_FILES, TASK_PLOTS

    dvc_yaml = build_dvc_yaml({"task": task, "sources": [{"path": "data/x.csv"}]})
    declared = [next(iter(p)) for p in dvc_yaml["stages"]["evaluate"]["plots"]]
    assert declared == [PLOT_FILES[name] for name in TASK_PLOTS[task]]


def _train(path) -> str:
    done = run_cli("train", "--json", cwd=path)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)["experiments"][0]["name"]


def _status(path) -> dict:
    done = run_cli("status", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _porcelain(path) -> list[str]:
    return git(path, "status", "--porcelain", "--untracked-files=all").splitlines()


def test_train_status_discard_on_a_regression_project(tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))
    path = copy_regression_project(tmp_path, tmp_path_factory)
    assert _porcelain(path) == []
    assert _status(path)["workspace"] is None

    # A first train: only the declared plots, and status names the experiment.
    first = _train(path)
    assert not any((path / "plots" / f).exists() for f in ("roc.json", "prc.json", "confusion.json"))
    assert sorted(p.name for p in (path / "plots").iterdir()) == ["importance.json", "predictions.json"]
    status = _status(path)
    assert status["workspace"]["experiment"] == first
    assert status["workspace"]["promote"] == f"mlops-workbench exp promote {first}"
    assert status["workspace"]["discard"] == "mlops-workbench exp discard"
    training = next(s for s in status["steps"] if s["id"] == "training")
    assert training["state"] == "attention" and f"holds experiment {first}" in training["detail"]
    assert any(f"holds experiment {first}" in b for b in status["blockers"])

    # Discarding it (HEAD has no run yet) removes every output; --remove deletes its ref too.
    done = run_cli("exp", "discard", "--remove", cwd=path)
    assert done.returncode == 0, done.stderr
    assert f"Discarded experiment {first}" in done.stdout
    assert _porcelain(path) == []
    assert git(path, "for-each-ref", "--format=%(refname)", f"refs/exps/*/*/{first}").strip() == ""
    assert _status(path)["workspace"] is None

    # Train, promote: HEAD has the run. A second train leaves nothing untracked.
    promoted = _train(path)
    assert run_cli("exp", "promote", promoted, "--quiet", cwd=path).returncode == 0
    assert _porcelain(path) == [] and _status(path)["workspace"] is None
    head = git(path, "rev-parse", "HEAD")
    done = run_cli("train", "-S", "model.params.alpha=5", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    second = json.loads(done.stdout)["experiments"][0]["name"]
    changed = _porcelain(path)
    assert changed and not any(line.startswith("??") for line in changed), changed
    assert _status(path)["workspace"]["experiment"] == second

    # Someone's own work: an unrelated edit and a staged file stay as they are; a hand edit
    # of params.yaml is not an experiment's, so discard refuses in one line, writing nothing.
    readme = path / "README.md"
    readme.write_text(readme.read_text() + "\nwork in progress\n")
    (path / "notes.txt").write_text("staged for the next commit\n")
    git(path, "add", "notes.txt")
    params = path / "params.yaml"
    ours = params.read_bytes()
    params.write_bytes(ours + b"# tuned by hand\n")
    lock = (path / "dvc.lock").read_bytes()
    done = run_cli("exp", "discard", cwd=path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mlops-workbench: error: params.yaml has edits in the work tree that are no experiment's: "
        "commit them (git commit params.yaml) or undo them (git checkout -- params.yaml), then discard again"]
    assert params.read_bytes() == ours + b"# tuned by hand\n" and (path / "dvc.lock").read_bytes() == lock
    params.write_bytes(ours)

    done = run_cli("exp", "discard", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["experiment"] == second and "params.yaml" in out["restored"] and "dvc.lock" in out["restored"]
    assert "models/model.skops" in out["checked_out"] and out["removed_ref"] is False
    assert sorted(_porcelain(path)) == [" M README.md", "A  notes.txt"]  # only the user's work
    assert git(path, "rev-parse", "HEAD") == head
    assert _status(path)["workspace"] is None
    listed = json.loads(run_cli("exp", "list", "--json", cwd=path).stdout)["experiments"]
    assert second in [e["name"] for e in listed]  # still an experiment, promotable later
    assert "up to date" in run_tool(path, "dvc", "status")  # the outputs are HEAD's dvc.lock's

    done = run_cli("exp", "discard", cwd=path)
    assert done.returncode == 0 and "Nothing to discard" in done.stdout
