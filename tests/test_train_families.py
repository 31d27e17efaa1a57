"""Switching model families, sweeping across them, and -S keys checked before DVC starts.

On a regression project made through the real CLI (ridge with alpha to start; made once per
worker and copied per test): a family switch starts from that family's defaults, a sweep
across families gives each point its own family's defaults, a new hyperparameter needs no
Hydra ``+`` (and the ``+`` form is accepted), and a wrong key or a wrong value is one line
before anything runs.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.conftest import git, run_cli
from tests.regression_project import copy_regression_project
from workbench.errors import WorkbenchError


@pytest.fixture
def houses(tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))
    return copy_regression_project(tmp_path, tmp_path_factory)


def _hyper(path, name: str) -> tuple[str, dict]:
    """(model.name, model.params) of an experiment, read from its commit."""
    import yaml

    done = run_cli("exp", "show", name, "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    rev = json.loads(done.stdout)["experiment"]["rev"]
    model = yaml.safe_load(git(path, "show", f"{rev}:params.yaml"))["model"]
    return model["name"], model["params"]


def _no_run(path, before: str) -> None:
    assert git(path, "status", "--porcelain") == before
    assert git(path, "for-each-ref", "refs/exps").strip() == ""


def test_switching_the_family_starts_from_its_defaults(houses):
    path = houses
    done = run_cli("train", "-S", "model.name=hist_gradient_boosting", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    name = json.loads(done.stdout)["experiments"][0]["name"]
    assert _hyper(path, name) == ("hist_gradient_boosting", {"learning_rate": 0.1, "max_iter": 100})

    # A new hyperparameter of the family (not in params.yaml yet) needs no Hydra '+', and
    # the '+' form DVC's own hint suggests is accepted too.
    done = run_cli("train", "-S", "model.name=ridge", "-S", "model.params.positive=true",
                   "-S", "+model.params.tol=0.001", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    assert "+model" not in done.stderr and "Could not override" not in done.stderr
    name = json.loads(done.stdout)["experiments"][0]["name"]
    assert _hyper(path, name) == ("ridge", {"alpha": 1.0, "positive": True, "tol": 0.001})


def test_a_sweep_across_families(houses):
    path = houses
    done = run_cli("train", "--sweep", "model.name=linear_regression,hist_gradient_boosting",
                   "--sweep", "split.seed=1,2", "-j", "2", "--json", cwd=path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["failed"] == [] and len(out["experiments"]) == 4
    got = sorted((*_hyper(path, row["name"]), row["metrics"]["r2"] > 0.5) for row in out["experiments"])
    got = [(n, json.dumps(p, sort_keys=True), ok) for n, p, ok in got]
    assert got == sorted([("linear_regression", "{}", True)] * 2
                         + [("hist_gradient_boosting", '{"learning_rate": 0.1, "max_iter": 100}', True)] * 2)


@pytest.mark.parametrize(("args", "expected"), [
    (["-S", "model.name=random_forest", "-S", "model.params.max_dept=3"],
     "model 'random_forest' has no hyperparameter 'max_dept' (did you mean 'max_depth'?): valid ones are "),
    (["-S", "model.params.max_dept=3"], "model 'ridge' has no hyperparameter 'max_dept'"),
    (["-S", "model.name=hist_gradient_boosting", "-S", "model.params.alpha=2"],
     "model 'hist_gradient_boosting' has no hyperparameter 'alpha'"),
    (["-S", "model.name=random_forest", "-S", "model.params.n_estimators=many"],
     "model.params.n_estimators='many' is not valid for random_forest: it must be an integer of at least 1"),
    (["-S", "model.params.alpha=-1"], "model.params.alpha=-1 is not valid for ridge: it must be at least 0"),
    (["-S", "model.name=hist_gradient_boosting", "-S", "model.params.learning_rate=0"],
     "model.params.learning_rate=0 is not valid for hist_gradient_boosting: it must be above 0"),
    (["-S", "model.params=[1]"], "model.params must be a mapping of hyperparameters"),
    (["-S", "~model.params=null"], "-S '~model.params=null' does not parse: write it as key=value"),
    (["--sweep", "model.name=linear_regression,random_forest", "-S", "model.params.max_dept=2"],
     "sweep point model.name=linear_regression: model 'linear_regression' has no hyperparameter 'max_dept'"),
])
def test_bad_keys_and_values_are_one_line_before_dvc_starts(houses, args, expected):
    path = houses
    before = git(path, "status", "--porcelain")
    done = run_cli("train", *args, cwd=path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "+model" not in lines[0] and "Hydra" not in lines[0]
    _no_run(path, before)


def test_cheap_value_checks_never_refuse_what_scikit_learn_accepts():
    """Every rule in CHEAP_CHECKS is probed against each family's own constraints."""
    from workbench.development.models import (
        CHEAP_CHECKS,
        MODELS,
        PARAM_NAMES,
        _cheap_value_error,
        estimator_class,
    )

    probes = [None, True, False, -1, 0, 1, 2, 0.0, 0.5, 1.5, 3, "many", "1", [1.0]]
    checked = 0
    for task in MODELS:
        for name, (_, cls_name) in MODELS[task].items():
            cls = estimator_class(task, name)
            for key in CHEAP_CHECKS:
                if key not in PARAM_NAMES[cls_name]:
                    continue
                for value in probes:
                    if _cheap_value_error(key, value) is None:
                        continue
                    with pytest.raises((ValueError, TypeError)):
                        cls(**{key: value})._validate_params()
                    checked += 1
    assert checked > 100


def test_the_checks_do_not_import_scikit_learn(houses):
    """Names and cheap values are judged in the CLI process without scikit-learn (~1.3 s)."""
    code = ("import sys\nfrom workbench.development.training import _resolve\n"
            "from workbench.errors import WorkbenchError\n"
            "r = _resolve(sys.argv[1], {'model.name': 'random_forest', 'model.params.max_depth': '4'},"
            " values=False)\n"
            "print(r.dvc_sets)\n"
            "try:\n    _resolve(sys.argv[1], {'model.params.alpha': '-2'}, values=False)\n"
            "except WorkbenchError as exc:\n    print(exc)\n"
            "print('sklearn' in sys.modules)\n")
    import subprocess

    done = subprocess.run([sys.executable, "-c", code, str(houses)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    sets, error, imported = done.stdout.strip().splitlines()
    assert sets == ("('~model.params', '++model.params.n_estimators=100', '++model.params.max_depth=4', "
                    "'model.name=random_forest')")
    assert error == "model.params.alpha=-2 is not valid for ridge: it must be at least 0"
    assert imported == "False"


def test_resolve_refuses_a_params_section_that_is_not_a_mapping(houses):
    from workbench.development.training import _resolve

    with pytest.raises(WorkbenchError, match="model.params must be a mapping"):
        _resolve(houses, {"model.params": "5"}, values=False)
    with pytest.raises(WorkbenchError, match="deleting a key"):
        _resolve(houses, {"~model.params": "null"}, values=False)
