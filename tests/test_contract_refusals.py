"""Refusals of the versioning contract (issue 13, items 5 and 6), on real git and DVC.

A step run while a merge, rebase, cherry-pick, revert or bisect is in progress, or on a
detached HEAD, refuses in one line that names the state and the way out, commits nothing
and writes nothing. ``predict --output`` and ``model bundle --output`` refuse paths that git
or DVC track, or that lie inside ``.git`` / ``.dvc``. Every state is made with real git
commands; every outcome is checked with plain git and file bytes.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from conftest import git, run_cli

PREFIX = "mlops-workbench: error: "


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def snapshot(path: Path) -> dict[str, str]:
    """Every file of the work tree and the git dir's state files, by digest (index included)."""
    out = {}
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path).as_posix()
        if f.is_file() and not rel.startswith((".git/objects/", ".git/logs/", ".dvc/tmp/")):
            out[rel] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def commit_file(path: Path, name: str, text: str, message: str) -> None:
    (path / name).write_text(text)
    git(path, "add", "--", name)
    git(path, "commit", "-q", "-m", message)


def attempt(path: Path, *, step: tuple[str, ...] = ("charter", "set", "--problem", "Churn is costly.")):
    """Run a step in ``path``; return the result after checking that nothing changed."""
    before_head, before = head(path), snapshot(path)
    done = run_cli(*step, "-C", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert head(path) == before_head  # no commit
    assert snapshot(path) == before  # nothing written: work tree, index, state files as they were
    return done.stderr.strip()


def diverge(path: Path, name: str = "notes.txt") -> str:
    """main and a branch ``feature`` that change the same line of ``name``; returns feature's tip."""
    commit_file(path, name, "base\n", "notes: base")
    git(path, "switch", "-q", "-c", "feature")
    commit_file(path, name, "feature\n", "notes: feature")
    tip = head(path)
    git(path, "switch", "-q", "main")
    commit_file(path, name, "main\n", "notes: main")
    return tip


def conflict(path: Path, *args: str) -> None:
    done = subprocess.run(["git", *args], cwd=path, capture_output=True, text=True)
    assert done.returncode != 0, "expected a conflict: " + done.stdout + done.stderr


@pytest.mark.parametrize("backend", ["--merge", "--apply"])
def test_a_conflicted_rebase_refuses_every_step(project: Path, backend: str) -> None:
    diverge(project)
    git(project, "switch", "-q", "feature")
    conflict(project, "rebase", backend, "main")
    assert (project / ".git" / ("rebase-merge" if backend == "--merge" else "rebase-apply")).is_dir()
    line = attempt(project)
    assert "a rebase is in progress (git rebase)" in line
    assert "git rebase --continue" in line and "git rebase --abort" in line
    # the other kinds of step too: a use case, a data source
    assert "rebase is in progress" in attempt(project, step=("usecase", "add", "churn-alerts",
                                                            "--name", "Churn alerts"))
    # and after the abort, the branch is where it was with nothing lost
    git(project, "rebase", "--abort")
    done = run_cli("charter", "set", "--problem", "Churn is costly.", "-C", str(project))
    assert done.returncode == 0, done.stderr


def test_a_merge_conflict_refuses(project: Path) -> None:
    diverge(project)
    conflict(project, "merge", "feature")
    line = attempt(project)
    assert line.startswith(PREFIX + "a merge is in progress (git merge)")
    assert "git merge --abort" in line


def test_a_conflicted_cherry_pick_refuses(project: Path) -> None:
    tip = diverge(project)
    conflict(project, "cherry-pick", tip)
    line = attempt(project)
    assert "a cherry-pick is in progress (git cherry-pick)" in line
    assert "git cherry-pick --continue" in line and "git cherry-pick --abort" in line


def test_a_conflicted_revert_refuses(project: Path) -> None:
    commit_file(project, "notes.txt", "one\n", "notes: one")
    first = head(project)
    commit_file(project, "notes.txt", "two\n", "notes: two")
    conflict(project, "revert", "--no-edit", first)  # reverting "one" conflicts with "two"
    line = attempt(project)
    assert "a revert is in progress (git revert)" in line and "git revert --abort" in line


def test_a_bisect_refuses(project: Path) -> None:
    commit_file(project, "notes.txt", "one\n", "notes: one")
    commit_file(project, "notes.txt", "two\n", "notes: two")
    git(project, "bisect", "start")
    git(project, "bisect", "bad")
    git(project, "bisect", "good", "HEAD~2")  # checks out a commit in between: detached as well
    line = attempt(project)
    assert line.startswith(PREFIX + "a bisect is in progress (git bisect)") and "git bisect reset" in line


def test_a_detached_head_refuses(project: Path) -> None:
    git(project, "switch", "-q", "--detach", "HEAD")
    line = attempt(project)
    assert line.startswith(PREFIX + "HEAD is detached") and "git switch" in line


def test_a_conflicted_workbench_yaml_gets_a_hint_that_works_on_an_unmerged_file(project: Path) -> None:
    config = project / "workbench.yaml"
    git(project, "switch", "-q", "-c", "feature")
    config.write_text(config.read_text().replace("Customers leave without warning.", "Feature text."))
    git(project, "commit", "-q", "-am", "feature problem")
    git(project, "switch", "-q", "main")
    config.write_text(config.read_text().replace("Customers leave without warning.", "Main text."))
    git(project, "commit", "-q", "-am", "main problem")
    conflict(project, "merge", "feature")
    assert git(project, "status", "--porcelain", "--", "workbench.yaml").startswith("UU")
    for step in (("charter", "set", "--problem", "x"), ("status",)):
        before = snapshot(project)
        done = run_cli(*step, "-C", str(project))
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        line = done.stderr.strip()
        assert len(line.splitlines()) == 1
        assert "resolve the conflict in workbench.yaml" in line and "git add workbench.yaml" in line
        assert "git checkout" not in line  # it fails on an unmerged path
        assert snapshot(project) == before


def test_an_unmerged_file_with_no_operation_in_progress_refuses(project: Path) -> None:
    """``git stash pop`` that conflicts leaves unmerged paths but no state file."""
    commit_file(project, "notes.txt", "one\n", "notes: one")
    (project / "notes.txt").write_text("stashed\n")
    git(project, "stash", "push", "-q")
    commit_file(project, "notes.txt", "two\n", "notes: two")
    conflict(project, "stash", "pop")
    line = attempt(project)
    assert "notes.txt has an unresolved merge conflict" in line and "git add notes.txt" in line


def test_train_refuses_mid_rebase_before_dvc_runs(make_sample) -> None:
    from workbench.development.pipeline import configure_pipeline

    project = make_sample("diagnosis")
    configure_pipeline(project)
    diverge(project)
    git(project, "switch", "-q", "feature")
    conflict(project, "rebase", "main")
    line = attempt(project, step=("train", "-S", "model.params.C=0.5"))
    assert "a rebase is in progress" in line
    assert not git(project, "for-each-ref", "refs/exps")  # no experiment either
    line = attempt(project, step=("train", "--sweep", "model.params.C=0.5,1"))
    assert "a rebase is in progress" in line


# --- outputs never overwrite what git or DVC keeps (item 6) ----------------------------------


@pytest.fixture(scope="module")
def deployed_template(tmp_path_factory) -> Path:
    """A trained diagnosis project with v1.0.0 registered and in production (made once)."""
    import os

    from tests.conftest import _isolated_env
    from tests.test_registry import VENV_BIN, add_evidence, build_trained_project
    from workbench.versioning.registry import promote_model, register_model

    base = tmp_path_factory.mktemp("outputs-template")
    path = build_trained_project(base, tmp_path_factory)
    env = {**_isolated_env(base / "home"), "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        add_evidence(path)
        register_model(path)
        promote_model(path, "v1.0.0", "production")
    return path


@pytest.fixture
def deployed(deployed_template: Path, tmp_path: Path) -> Path:
    import shutil

    dest = tmp_path / "diagnosis"
    shutil.copytree(deployed_template, dest, symlinks=True)
    return dest


def batch_file(project: Path, folder: Path) -> Path:
    import pandas as pd

    frame = pd.read_parquet(project / "data/prepared/test.parquet").drop(columns=["diagnosis"]).head(25)
    out = folder / "batch.csv"
    frame.to_csv(out, index=False)
    return out


def bytes_of(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    return {path.name: path.read_bytes()} if path.is_file() else {}


@pytest.mark.parametrize("target, why", [
    ("data/breast_cancer.csv", "tracked by DVC (data/breast_cancer.csv.dvc names it)"),  # the case
    ("data/prepared/test.parquet", "tracked by DVC (dvc.yaml names it)"),  # a stage's out
    ("lookup.csv", "tracked by git"),  # committed
    ("labels/staged.csv", "tracked by git"),  # staged, not committed yet
    (".dvc/config.csv", "inside .dvc/"),
    (".git/predictions.csv", "inside .git/"),
])
def test_predict_output_refuses_what_git_or_dvc_keeps(deployed: Path, tmp_path: Path, target: str,
                                                      why: str) -> None:
    batch = batch_file(deployed, tmp_path)
    commit_file(deployed, "lookup.csv", "code,label\n1,a\n", "a lookup table")
    (deployed / "labels").mkdir()
    (deployed / "labels/staged.csv").write_text("id,label\n1,0\n")
    git(deployed, "add", "labels/staged.csv")
    full = deployed / target
    before, before_head = bytes_of(full), head(deployed)
    status = git(deployed, "status", "--porcelain", "--untracked-files=all")
    done = run_cli("predict", str(batch), "--output", target, cwd=deployed)
    assert done.returncode == 2, done.stdout + done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"--output {target} would overwrite what the project versions" in line and why in line
    assert bytes_of(full) == before  # nothing written
    assert head(deployed) == before_head
    assert git(deployed, "status", "--porcelain", "--untracked-files=all") == status
    assert not list(full.parent.glob(f".{full.name}.*.tmp"))


def test_predict_output_to_a_new_path_still_works(deployed: Path, tmp_path: Path) -> None:
    batch = batch_file(deployed, tmp_path)
    (deployed / "predictions").mkdir()
    done = run_cli("predict", str(batch), "--output", "predictions/scored.csv", cwd=deployed)
    assert done.returncode == 0, done.stderr
    assert (deployed / "predictions/scored.csv").read_text().count("\n") == 26
    outside = tmp_path / "scored.csv"  # and outside any repository
    assert run_cli("predict", str(batch), "--output", str(outside), cwd=deployed).returncode == 0


@pytest.mark.parametrize("target, why", [
    ("data", "holds data/breast_cancer.csv, which DVC tracks"),  # a folder holding tracked data
    ("models", "holds models/model.skops, which DVC tracks (dvc.yaml)"),
    ("data/prepared", "holds data/prepared/train.parquet, which DVC tracks"),
    ("reports", "holds reports/"),
    (".", "holds"),
    (".dvc/bundle", "inside .dvc/"),
    (".git/bundle", "inside .git/"),
])
def test_bundle_output_refuses_what_git_or_dvc_keeps(deployed: Path, target: str, why: str) -> None:
    full = deployed / target
    before, before_head = bytes_of(full), head(deployed)
    done = run_cli("model", "bundle", "v1.0.0", "--output", target, cwd=deployed)
    assert done.returncode == 2, done.stdout + done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"--output {target} would overwrite what the project versions" in line and why in line
    assert bytes_of(full) == before and head(deployed) == before_head


def test_bundle_output_to_a_new_folder_still_works(deployed: Path, tmp_path: Path) -> None:
    done = run_cli("model", "bundle", "v1.0.0", "--output", str(tmp_path / "bundle"), cwd=deployed)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "bundle" / "model.skops").is_file()


def test_a_detached_head_left_by_a_killed_train_is_reattached_by_the_next_step(make_sample) -> None:
    """DVC detaches HEAD while ``dvc exp run`` runs; a train killed then leaves it detached.

    The next step takes the lock, finishes the dead run (HEAD reattached, says so), and only
    then judges the repository's state: it goes ahead on the branch. A plain ``exp list``
    repairs it the same way.
    """
    import sys

    from workbench.development.pipeline import configure_pipeline

    project = make_sample("diagnosis")
    configure_pipeline(project)
    # the journal a real train writes before DVC starts, by a process that is gone now
    script = ("import sys; from pathlib import Path; from workbench.versioning.run_journal import _begin_journal; "
              "root = Path(sys.argv[1]); _begin_journal(root, (root / 'params.yaml').read_bytes(), {})")
    subprocess.run([sys.executable, "-c", script, str(project)], check=True)
    git(project, "switch", "-q", "--detach", "HEAD")  # what DVC does during the run
    before = head(project)
    done = run_cli("charter", "set", "--problem", "Triage aspirates sooner.", "-C", str(project))
    assert done.returncode == 0, done.stderr
    assert "HEAD reattached to main" in done.stderr
    assert git(project, "symbolic-ref", "HEAD").strip() == "refs/heads/main"  # put back
    assert git(project, "rev-parse", "HEAD^").strip() == before  # the step's commit is on main
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == ["workbench.yaml"]


def test_model_register_refuses_a_detached_head(deployed: Path) -> None:
    commit_file(deployed, "notes.txt", "a note\n", "notes")  # a commit that holds the model, unregistered
    git(deployed, "switch", "-q", "--detach", "HEAD")
    tags = git(deployed, "tag", "--list")
    line = attempt(deployed, step=("model", "register", "--no-push"))
    assert line.startswith(PREFIX + "HEAD is detached")
    assert git(deployed, "tag", "--list") == tags  # no version tag on a commit of no branch
