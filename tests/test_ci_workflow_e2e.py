"""The generated CI workflow, run step by step on a fresh clone of a sample project.

The workflow file is the one ``mlops-workbench ci init`` commits; the test reads it from the
clone (``yaml.safe_load``), so it follows the real file, and runs each step's ``run:`` in
order in a real shell with the venv first on PATH, as a CI runner would after checkout and
Python setup. The install step is replaced by a no-op (the venv is installed already).
``dvc pull`` reads the project's local DVC remote, the same one the project pushed to.

Expected exit codes: every step 0, except ``check`` which may be 0 (all clear) or 3
(monitoring recommends action, which does not fail the build). A gate raised in
workbench.yaml fails the build: ``validate`` exits 1 and so does ``check``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import _isolated_env, git, run_cli
from tests.test_registry import VENV_BIN, build_trained_project

WORKFLOW = ".github/workflows/mlops-workbench.yml"


@pytest.fixture(scope="module")
def ci_template(tmp_path_factory) -> Path:
    """A trained diagnosis project with a data check on record, the CI workflow, all pushed to DVC."""
    base = tmp_path_factory.mktemp("ci-template")
    path = build_trained_project(base, tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _isolated_env(base / "home").items():
            mp.setenv(key, value)
        mp.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
        for args in (["data", "check", "-q"], ["ci", "init"]):
            done = run_cli(*args, cwd=path)
            assert done.returncode == 0, done.stdout + done.stderr
        done = subprocess.run([sys.executable, "-m", "dvc", "push", "-q"], cwd=path, capture_output=True,
                              text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stdout + done.stderr
    assert not git(path, "status", "--porcelain").strip()
    return path


@pytest.fixture
def origin(ci_template, tmp_path) -> Path:
    dest = tmp_path / "origin" / "diagnosis"
    shutil.copytree(ci_template, dest, symlinks=True)
    return dest


def _run_steps(origin: Path, checkout: Path) -> list[tuple[str, int, str]]:
    """``git clone`` (CI's checkout), then every ``run:`` step of the workflow file, in order."""
    done = subprocess.run(["git", "clone", "-q", str(origin), str(checkout)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    workflow = yaml.safe_load((checkout / WORKFLOW).read_text())
    job = workflow["jobs"]["check"]
    assert "defaults" not in job  # the project is the repository's top: steps run in the checkout
    env = {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}
    results = []
    for step in job["steps"]:
        if "run" not in step:
            assert step["uses"].startswith(("actions/checkout@", "actions/setup-python@"))
            continue
        command = "true" if step.get("id") == "install" else step["run"]
        ran = subprocess.run(command, shell=True, cwd=checkout, env=env, capture_output=True, text=True,
                             timeout=300, stdin=subprocess.DEVNULL)
        results.append((step.get("id") or step["name"], ran.returncode, ran.stdout + ran.stderr))
    return results


def test_the_workflow_steps_pass_in_order_on_a_fresh_clone(origin, tmp_path):
    from workbench.operations.cicd import workflow_steps

    results = _run_steps(origin, tmp_path / "ci" / "checkout")
    ids = [r[0] for r in results if not r[0].startswith(("Set a git identity", "Work on a branch"))]
    assert ids == [s.id for s in workflow_steps()] == ["install", "pull", "repro", "validate", "check"]
    codes = {name: code for name, code, _ in results}
    for name, code, output in results:
        allowed = (0, 3) if name == "check" else (0,)
        assert code in allowed, f"step {name} exited {code}:\n{output}"
    checkout = tmp_path / "ci" / "checkout"
    assert (checkout / "models/model.skops").is_file()  # dvc pull restored what the remote holds
    assert codes["check"] == 0  # no monitoring report yet: nothing recommends action
    assert "Testing & validation:" in git(checkout, "log", "-1", "--format=%s")


def test_a_raised_gate_fails_the_build(origin, tmp_path):
    config = yaml.safe_load((origin / "workbench.yaml").read_text())
    config["gates"] = {"baseline": {"enabled": True, "metric": "recall", "margin": 0.99},
                       "reproducibility": {"enabled": False}}
    (origin / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(origin, "commit", "-q", "-m", "Raise the baseline gate", "--", "workbench.yaml")

    results = _run_steps(origin, tmp_path / "ci" / "checkout")
    codes = {name: code for name, code, _ in results}
    failing = next(name for name, code, _ in results if code != 0)
    assert failing == "validate" and codes["validate"] == 1, results
    assert codes["check"] == 1  # even when run after a failure (if: always()), check fails the build
    output = dict((name, out) for name, _, out in results)
    assert "baseline" in output["check"] or "failing gates" in output["check"]
