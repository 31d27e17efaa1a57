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
