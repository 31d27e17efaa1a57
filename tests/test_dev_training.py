"""Stages, reproducibility, DVC experiments, skops trust and sweeps, on real git + DVC repos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, run_cli
from workbench.errors import WorkbenchError

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))


def _shell_env() -> dict[str, str]:
    """The environment of a shell with the venv activated (what a team types dvc in)."""
    return {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}


def _dvc(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["dvc", *args], cwd=path, env=_shell_env(), capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def _outputs(path: Path) -> dict[str, str]:
    names = ["metrics.json", "plots/roc.json", "plots/prc.json", "plots/confusion.json",
             "plots/predictions.json", "plots/importance.json", "reports/training_env.json"]
    return {n: (path / n).read_text() for n in names}


@pytest.fixture
def pipeline_project(make_sample, monkeypatch):
    from workbench.development.pipeline import configure_pipeline

    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # restored after stage_path_env()
    path = make_sample("diagnosis")
    configure_pipeline(path)
    return path


def test_dvc_repro_from_a_shell_reproduces_identical_metrics(pipeline_project):
    path = pipeline_project
    first = _dvc(path, "repro")
    assert first.returncode == 0, first.stdout + first.stderr
    metrics = json.loads((path / "metrics.json").read_text())
    assert set(metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    assert metrics["roc_auc"] > 0.95
    env = json.loads((path / "reports/training_env.json").read_text())
    assert env["scikit-learn"] and env["numpy"] and env["skops"]
    roc = json.loads((path / "plots/roc.json").read_text())["roc"]
    assert roc[0]["fpr"] == 0.0 and roc[-1]["tpr"] == 1.0
    assert json.loads((path / "plots/importance.json").read_text())["importance"]
    before = _outputs(path)

    again = _dvc(path, "repro", "--force")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _outputs(path) == before  # same commit + data -> byte-identical metrics and plots

    shown = _dvc(path, "metrics", "show", "--json")
    assert shown.returncode == 0
    assert json.dumps(metrics["f1"]) in shown.stdout

    # A tampered model holding a type the workbench does not trust is refused, in one line.
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    model = path / "models" / "model.skops"
    model.unlink()  # DVC may link outputs from the cache; never write through into it
    sio.dump(FunctionTransformer(func=eval), model)
    done = run_cli("stage", "evaluate", cwd=path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not trust: builtins.eval" in lines[0], done.stderr
    assert _outputs(path) == before  # nothing written


def test_run_experiment_is_a_dvc_experiment(pipeline_project):
    from workbench.development.training import run_experiment

    path = pipeline_project
    head = git(path, "rev-parse", "HEAD").strip()
    lines: list[str] = []
    result = run_experiment(path, {"model.params.C": 0.5}, progress=lines.append)
    assert result.name and result.metrics["accuracy"] > 0.9
    assert result.params["model"]["params"]["C"] == 0.5
    assert any("Running stage 'train'" in ln for ln in lines)
    assert git(path, "rev-parse", "HEAD").strip() == head  # an experiment, not a branch commit
    shown = _dvc(path, "exp", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    exps = [e for row in data for e in (row.get("experiments") or [])]
    names = [e.get("name") for e in exps]
    assert result.name in names
    exp = next(e for e in exps if e.get("name") == result.name)
    rev = exp["revs"][0]["data"]
    assert rev["params"]["params.yaml"]["data"]["model"]["params"]["C"] == 0.5
    assert rev["metrics"]["metrics.json"]["data"] == result.metrics


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-S", "model.name=xgboost"], "model 'xgboost' is not a classification model"),
        (["-S", "model.params.max_itr=5"], "no hyperparameter 'max_itr' (did you mean 'max_iter'?)"),
        (["-S", "split.sed=1"], "params.yaml has no key 'split.sed'"),
        (["--sweep", "model.params.C=" + ",".join(str(i) for i in range(1, 101)),
          "--sweep", "split.seed=" + ",".join(str(i) for i in range(100))],
         "the sweep has 10000 points, above the limit of 256"),
        (["--sweep", "model.params.C=1,-2"], "sweep point model.params.C=-2: model 'logistic_regression'"),
    ],
)
def test_train_bad_input_is_one_line_exit_2_nothing_run(pipeline_project, args, expected):
    path = pipeline_project
    done = run_cli("train", *args, cwd=path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert git(path, "status", "--porcelain").strip() == ""
    assert git(path, "for-each-ref", "refs/exps").strip() == ""


def test_trusted_types_cover_every_model_family():
    """Each family's fitted pipeline loads with exactly the workbench's trusted types."""
    import numpy as np
    import pandas as pd
    import skops.io as sio

    from workbench.development.model_file import TRUSTED_TYPES
    from workbench.development.models import MODELS
    from workbench.development.stages import build_pipeline

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "c": rng.choice(["a", "b"], size=60),
                          "t": rng.choice(["red printer jam", "login fails again"], size=60)})
    frame["y"] = (frame["x"] > 0).astype(int)
    features = {"x": "numeric", "c": "categorical", "t": "text"}
    for task in MODELS:
        for name in MODELS[task]:
            params = {"task": task, "target": "y", "features": features, "split": {"seed": 1},
                      "model": {"name": name,
                                "params": {"n_estimators": 3} if name == "random_forest" else {}}}
            pipe = build_pipeline(params).fit(frame[list(features)], frame["y"])
            untrusted = set(sio.get_untrusted_types(data=sio.dumps(pipe)))
            assert untrusted <= set(TRUSTED_TYPES), (name, untrusted - set(TRUSTED_TYPES))


def test_model_params_checked_before_a_run():
    from workbench.development.models import check_params

    assert check_params("regression", "ridge", {"alpha": 2.0}) == {"alpha": 2.0}
    with pytest.raises(WorkbenchError, match="valid ones are .*n_estimators"):
        check_params("classification", "random_forest", {"n_estimator": 5})
    with pytest.raises(WorkbenchError, match="'n_estimators' parameter"):
        check_params("classification", "random_forest", {"n_estimators": "many"})
    with pytest.raises(WorkbenchError, match="use one of dummy, linear_regression"):
        check_params("regression", "logistic_regression", {})


@pytest.mark.slow
def test_sweep_runs_a_grid_through_the_dvc_queue(pipeline_project):
    from workbench.development.training import run_sweep

    path = pipeline_project
    result = run_sweep(path, {"model.params.C": [0.1, 10]}, jobs=1)
    assert len(result.names) == 2 and result.failed == ()
    assert len(result.metrics) == 2
    assert all(m["accuracy"] > 0.8 for m in result.metrics.values())
    refs = git(path, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    assert {r.rsplit("/", 1)[-1] for r in refs} >= set(result.names)


def test_cancel_stops_the_run_and_puts_params_back(pipeline_project):
    import threading

    from workbench.development.training import run_experiment
    from workbench.errors import CancelledError

    path = pipeline_project
    original = (path / "params.yaml").read_bytes()
    cancel = threading.Event()

    def progress(line: str) -> None:
        if "Running stage" in line:
            cancel.set()

    with pytest.raises(CancelledError):
        run_experiment(path, {"model.params.C": 0.25}, progress=progress, cancel=cancel)
    assert (path / "params.yaml").read_bytes() == original
    refs = git(path, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    assert [r for r in refs if not r.startswith("refs/exps/exec/")] == []  # no experiment recorded


def test_ctrl_c_on_train_stops_dvc_exit_130_and_the_workspace_is_as_it_was(pipeline_project):
    """A person pressing Ctrl-C in the terminal: SIGINT to the real command while DVC runs."""
    import signal
    import time

    path = pipeline_project
    assert git(path, "status", "--porcelain", "--untracked-files=all") == ""
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "train", "-S", "model.params.C=0.3"],
                            cwd=path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, env=_shell_env())
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        seen.append(line)
        if "Running stage" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    out = "".join(seen) + rest
    assert proc.returncode == 130, out
    assert "Traceback" not in out
    assert git(path, "status", "--porcelain", "--untracked-files=all") == ""
    assert not (path / "dvc.lock").exists() and not (path / "data" / "prepared").exists()
    refs = git(path, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    assert [r for r in refs if not r.startswith("refs/exps/exec/")] == []
    assert not list(Path(git(path, "rev-parse", "--absolute-git-dir").strip(), "mlops-workbench").glob("exp-run*"))
    # and the next run works
    again = run_cli("train", "-S", "model.params.C=0.3", cwd=path, env=_shell_env())
    assert again.returncode == 0, again.stderr
