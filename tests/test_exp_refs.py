"""Only DVC experiments are experiments: DVC's own refs under refs/exps, ORIG_HEAD and stashes are not."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import git, run_cli
from workbench.versioning.exp_refs import parse_exp_ref

BASE = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(("ref", "objtype", "name"), [
    (f"refs/exps/01/{BASE[2:]}/exp-a", "commit", "exp-a"),
    (f"refs/exps/01/{BASE[2:]}/exp-a", "tag", None),
    ("refs/exps/stash", "commit", None),
    ("refs/exps/apply/ORIG_HEAD", "commit", None),
    ("refs/exps/apply/stash", "commit", None),
    ("refs/exps/exec/EXEC_HEAD", "commit", None),
    ("refs/exps/exec/EXEC_APPLY", "commit", None),
    ("refs/exps/celery/stash", "commit", None),
    ("refs/exps/celery/failed", "commit", None),
    ("refs/exps/temp/abc", "commit", None),
    (f"refs/exps/01/{BASE[2:]}", "commit", None),
    ("refs/stash", "commit", None),
    ("ORIG_HEAD", "commit", None),
    ("refs/heads/main", "commit", None),
])
def test_what_an_experiment_ref_is(ref, objtype, name):
    exp = parse_exp_ref(ref, "f" * 40, objtype)
    assert (exp.name if exp else None) == name
    if exp:
        assert exp.baseline == BASE


def test_validate_nosuch_lists_only_experiments(make_sample, monkeypatch):
    """After a promote (``dvc exp apply`` leaves refs/exps/apply/ORIG_HEAD and .../stash), a
    ``git reset`` (ORIG_HEAD) and a ``git stash``, the only experiments are the ones DVC ran."""
    from workbench.development.pipeline import configure_pipeline
    from workbench.development.training import run_experiment

    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))
    path = make_sample("diagnosis")
    configure_pipeline(path)
    first = run_experiment(path, {"model.params.C": 0.5}, name="first-try").name
    promoted = run_cli("exp", "promote", first, "--quiet", cwd=path)
    assert promoted.returncode == 0, promoted.stderr
    second = run_experiment(path, {"model.params.C": 2.0}, name="second-try").name
    refs = git(path, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    assert "refs/exps/apply/ORIG_HEAD" in refs and "refs/exps/apply/stash" in refs  # DVC's own
    git(path, "reset", "-q")  # git's ORIG_HEAD
    assert (path / ".git" / "ORIG_HEAD").is_file()
    readme = path / "README.md"
    readme.write_text(readme.read_text() + "\nwork in progress\n")
    git(path, "stash", "-q")  # refs/stash
    assert git(path, "rev-parse", "-q", "--verify", "refs/stash").strip()

    done = run_cli("validate", "nosuch", cwd=path)
    assert done.returncode == 2
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1, done.stderr
    assert f"use one of {first}, {second} " in line, line
    assert "ORIG_HEAD" not in line and "stash" not in line and "EXEC" not in line

    # The history, the timeline and the sweep's metrics reader agree on the same two.
    listed = json.loads(run_cli("exp", "list", "--json", cwd=path).stdout)["experiments"]
    assert sorted(e["name"] for e in listed if not e["is_baseline"]) == sorted([first, second])
    history = json.loads(run_cli("history", "--json", cwd=path).stdout)["entries"]
    assert sorted(e["ref"] for e in history if e["kind"] == "experiment") == sorted([first, second])
    from workbench.development.training import experiment_metrics

    assert set(experiment_metrics(path, [first, second, "ORIG_HEAD", "stash"])) == {first, second}
