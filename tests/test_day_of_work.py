"""A scripted day of work: the versioning contract holds when people work the way people do.

A data scientist has a README edit in progress and a new file staged for their next commit.
Through the real CLI they train (while a second terminal tries to write), sweep, promote,
validate, and retrain twice: once on mislabelled data (rejected) and once on good held-out
data (accepted and promoted). At the end:

- ``git fsck`` is clean;
- the README edit, the staged file and the whole index are byte-identical to the morning's;
- a fresh clone + ``dvc pull`` + ``dvc repro`` reproduces HEAD's ``metrics.json`` byte for
  byte and leaves ``git status`` empty;
- every commit of the day holds only the files its step names.

The starting point is tests/test_retrain.py's diagnosis project (v1.0.0 in production).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import git, run_cli
from tests.test_contract_retrain import assert_head_reproduces, dvc
from tests.test_registry import VENV_BIN
from tests.test_retrain import INCOMING, POINTER, production_template  # noqa: F401 (its fixture)

pytestmark = pytest.mark.slow


def pipeline_files(path: Path) -> set[str]:
    """What the pipeline writes (dvc.yaml's outs, metrics, plots, their .gitignore), params, the pointer."""
    from workbench.versioning.run_journal import pipeline_outputs

    return set(pipeline_outputs(path)) | {"params.yaml", POINTER}

REPORTS = {"reports/validation.json", "reports/validation.md"}


@pytest.fixture
def project(production_template, tmp_path) -> Path:  # noqa: F811
    dest = tmp_path / "diagnosis"
    shutil.copytree(production_template, dest, symlinks=True)
    config = yaml.safe_load((dest / "workbench.yaml").read_text())
    config.setdefault("data", {})["thresholds"] = {"min_rows": 100, "min_positives": 20}
    (dest / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(dest, "commit", "-q", "-m", "Smaller data thresholds", "--", "workbench.yaml")
    done = run_cli("data", "check", "-q", cwd=dest)
    assert done.returncode == 0, done.stdout + done.stderr
    dvc(dest, "push")
    return dest


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}


def _user_state(path: Path) -> tuple[bytes, bytes, str, str]:
    """The user's README bytes, staged file bytes, their index entries and the staged diff."""
    return ((path / "README.md").read_bytes(), (path / "notes" / "ideas.md").read_bytes(),
            git(path, "ls-files", "--stage", "--", "README.md", "notes"),
            git(path, "diff", "--cached", "--binary"))


def _commit_files(path: Path, start: str) -> list[tuple[str, set[str]]]:
    out = []
    for sha in git(path, "rev-list", "--reverse", f"{start}..HEAD").split():
        subject = git(path, "log", "-1", "--format=%s", sha).strip()
        files = set(git(path, "show", "--name-only", "--format=", sha).split())
        out.append((subject, files))
    return out


def test_a_day_of_work_keeps_the_users_edits_and_head_reproducible(project, tmp_path):
    path = project
    ours = pipeline_files(path)
    start = git(path, "rev-parse", "HEAD").strip()

    # the morning: an edit in progress and a new file staged for the next commit
    with (path / "README.md").open("a", encoding="utf-8") as fh:
        fh.write("\nDraft: what the clinicians asked for on Monday.\n")
    (path / "notes").mkdir()
    (path / "notes" / "ideas.md").write_text("- try a forest\n- ask about the Q3 batch\n")
    git(path, "add", "notes/ideas.md")
    morning = _user_state(path)

    # train, while a second terminal tries to write: it is told the project is busy
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "train", "--name", "day-c05",
                             "-S", "model.params.C=0.5"], cwd=path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL, env=_env())
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "Running stage 'train'" in line:
            break
    second = run_cli("charter", "set", "--problem", "Written while a train runs", cwd=path)
    rest, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, "".join(seen) + rest
    assert second.returncode == 75, second.stdout + second.stderr
    assert len(second.stderr.strip().splitlines()) == 1 and "the project is busy: train" in second.stderr
    assert _user_state(path) == morning
    exp_files = set(git(path, "diff", "--name-only", start, "refs/exps/" + next(
        r.split("refs/exps/", 1)[1] for r in git(path, "for-each-ref", "--format=%(refname)", "refs/exps").split()
        if r.endswith("/day-c05"))).split())
    assert exp_files <= ours, exp_files
    assert "README.md" not in exp_files and "notes/ideas.md" not in exp_files

    # a sweep through DVC's queue: each point's experiment holds the pipeline's files only
    done = run_cli("train", "--sweep", "model.params.C=0.1,2", "-j", "1", "--json", cwd=path, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(json.loads(done.stdout)["experiments"]) == 2
    assert _user_state(path) == morning

    # promote the first run: one commit of pipeline files
    done = run_cli("exp", "promote", "day-c05", cwd=path, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert _user_state(path) == morning

    # validate the promoted model: one commit of the reports (pass or fail, the contract holds)
    done = run_cli("validate", "-q", cwd=path, env=_env())
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert _user_state(path) == morning

    # retrain on mislabelled data: rejected; HEAD keeps its model; the workspace is as before
    incoming = pd.read_csv(path / INCOMING)
    bad = tmp_path / "mislabelled.csv"
    shuffled = incoming.copy()
    shuffled["diagnosis"] = 1 - shuffled["diagnosis"]
    shuffled.to_csv(bad, index=False)
    lock_before = git(path, "show", "HEAD:dvc.lock")
    done = run_cli("retrain", "--data", str(bad), "--json", "-q", cwd=path, env=_env())
    assert done.returncode == 1, done.stdout + done.stderr
    assert json.loads(done.stdout)["rejected"] is not None
    assert git(path, "show", "HEAD:dvc.lock") == lock_before
    assert _user_state(path) == morning

    # retrain on good held-out data: accepted, then promoted
    done = run_cli("retrain", "--data", INCOMING, "--json", "-q", cwd=path, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    candidate = json.loads(done.stdout)["experiment"]
    done = run_cli("exp", "promote", candidate, cwd=path, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert _user_state(path) == morning

    # the evening: git fsck, the user's work, the commits of the day, a fresh clone
    fsck = subprocess.run(["git", "fsck", "--no-progress"], cwd=path, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    status = git(path, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(status) == sorted([" M README.md", "A  notes/ideas.md"]), status
    for subject, files in _commit_files(path, start):
        assert "README.md" not in files and "notes/ideas.md" not in files, (subject, files)
        if subject.startswith("Training & experiments: promote"):
            assert files <= ours, (subject, files)
        elif subject.startswith(("Testing & validation", "Monitoring & triggering: retraining candidate")):
            assert files <= REPORTS | {"workbench.yaml"}, (subject, files)
    assert (path / "metrics.json").read_bytes() == subprocess.run(
        ["git", "show", "HEAD:metrics.json"], cwd=path, capture_output=True, check=True).stdout
    assert_head_reproduces(path, tmp_path, "clone-in-the-evening")
