"""Faults on real git + DVC projects: kill -9 mid-operation, two writers, a long session.

A seeded subset of ``benchmarks/faults.py`` (which runs the full 50 trials and 1,000
operations): 8 kill trials (charter set 3, usecase score 2, data add of a CSV in the
project 2, train 1 with the user's staged and unstaged edits present), a deterministic
kill inside a step's commit, two real writers racing, and 300 core operations in this process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.faults import (
    OPERATIONS,
    SLOW_HOOK,
    Templates,
    consistency,
    edits_intact,
    fsck,
    git_dir,
    held_lock_race,
    kill_tree,
    long_session,
    make_user_edits,
    measure,
    race,
    run_cli,
    run_kill_trials,
    snapshot,
    stale_locks,
    start_cli,
)
from tests.conftest import git

SEED = 7
#: Round robin over this list: charter set 3, usecase score 2, data add in place 2, train 1.
SCHEDULE = ["charter set", "usecase score", "data add in place", "train",
            "charter set", "usecase score", "data add in place", "charter set"]


@pytest.fixture
def templates(tmp_path: Path, make_sample) -> Templates:
    return Templates(tmp_path, source=make_sample)


def test_kill_9_at_seeded_points_leaves_a_consistent_project(templates: Templates, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    durations = {name: measure(OPERATIONS[name], templates.copy(OPERATIONS[name]), outside)
                 for name in dict.fromkeys(SCHEDULE)}
    results = run_kill_trials(templates, outside, SCHEDULE, len(SCHEDULE), SEED, durations)
    failures = [f"{r.operation} killed at {r.delay * 1000:.0f} ms ({r.outcome}): {'; '.join(r.problems)}"
                for r in results if not r.ok]
    assert not failures, "\n".join(failures)
    assert len(results) == 8 and {r.operation for r in results} == set(SCHEDULE)
    assert any(not r.finished for r in results)  # the kills came while the work was going on


def test_kill_inside_the_commit_is_put_back_by_the_next_write(templates: Templates) -> None:
    """Killed while git commits (a slow pre-commit hook holds it there): the lock, the index
    and workbench.yaml are left mid-step; the next write clears the locks and puts the file back."""
    project = templates.copy(OPERATIONS["charter set"])
    make_user_edits(project)
    before = snapshot(project)
    gdir = git_dir(project)
    hook = gdir / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(SLOW_HOOK.format(seconds=60), encoding="utf-8")
    hook.chmod(0o755)
    proc = start_cli(["charter", "set", "--problem", "Killed while committing."], project)
    try:
        import time

        deadline = time.monotonic() + 60
        while not (gdir / "hook-started").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.01)
    finally:
        kill_tree(proc)
    hook.unlink()
    (gdir / "hook-started").unlink()
    assert set(stale_locks(project)) == {"workbench lock", "index.lock"}
    # Half-way: the step's file is written and staged, nothing is committed.
    assert git(project, "rev-parse", "HEAD").strip() == before.head
    assert "workbench.yaml" in git(project, "diff", "--cached", "--name-only")
    assert fsck(project)[0]
    assert run_cli(["status"], project).returncode == 0

    again = run_cli(["usecase", "score", "card-fraud-scoring", "feasibility=2"], project)
    assert again.returncode == 0, again.stderr
    assert "stale workbench lock" in again.stderr and "index.lock" in again.stderr
    assert "was killed before it committed; put back as they were before it: workbench.yaml" in again.stderr
    assert stale_locks(project) == []
    assert not (gdir / "mlops-workbench" / "step-journal").exists()
    outcome, problems = consistency(project, OPERATIONS["usecase score"], before)
    assert (outcome, problems) == ("committed", [])
    assert "Killed while committing" not in (project / "workbench.yaml").read_text(encoding="utf-8")
    assert edits_intact(project, before) == []
    assert fsck(project)[0]


def test_two_writers_are_serialized_or_told_busy(templates: Templates) -> None:
    project = templates.copy(OPERATIONS["charter set"])
    make_user_edits(project)
    result = race(project, rounds=4)
    assert result.ok, result.bad
    assert result.both_committed + result.one_busy == 4

    first, second, pid = held_lock_race(project, hold=2.0)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 75
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "busy" in lines[0] and f"pid {pid}" in lines[0], second.stderr
    assert fsck(project)[0]
    assert stale_locks(project) == []


def test_a_long_session_leaks_no_processes_or_descriptors(templates: Templates) -> None:
    project = templates.copy(OPERATIONS["charter set"])
    make_user_edits(project)
    before = snapshot(project)
    session = long_session(project, 300)  # the benchmark runs 1,000
    assert session.commits == 15
    assert session.fds_end - session.fds_start <= 3, session
    assert session.children_end <= session.children_start, session
    assert session.git_children_max <= 1, session
    assert edits_intact(project, before) == []
    assert fsck(project)[0]
