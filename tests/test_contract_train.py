"""The versioning contract around ``train`` and ``exp promote`` (issue 13, items 1-3), on real git + DVC.

A user works the way people do: a README edit in progress, a new file staged, a staged
edit with more unstaged edits on top, a file made executable. ``train`` and ``exp promote``
keep all of it out of the experiment and out of the promote commit, and leave it exactly
as it was (bytes, mode, index entries). One writer at a time: a second command started at
any moment of a train is told the project is busy (exit 75, one line) and the first
finishes unharmed. A run that does not finish (failing stage, Ctrl-C, kill -9) leaves the
workspace and the index exactly as before.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from tests.conftest import git, run_cli, run_tool

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
ENV = {"PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}
PIPELINE_FILES = {"params.yaml", "dvc.lock", "metrics.json", "plots/roc.json", "plots/prc.json",
                  "plots/confusion.json", "plots/predictions.json", "plots/importance.json",
                  "reports/training_env.json", "reports/reference.json", "models/.gitignore",
                  "data/prepared/.gitignore"}
BUSY = r"mlops-workbench: error: the project is busy: train is running since \d\d:\d\d:\d\d, pid {pid}; try again when it ends"


@pytest.fixture
def pipeline_project(make_sample, monkeypatch) -> Path:
    from workbench.development.pipeline import configure_pipeline

    monkeypatch.setenv("PATH", ENV["PATH"])
    path = make_sample("diagnosis")
    configure_pipeline(path)
    return path


def user_work(path: Path) -> None:
    """A README edit in progress, a new file staged, a staged edit with more on top, a mode change."""
    with open(path / "README.md", "a", encoding="utf-8") as fh:
        fh.write("\nA paragraph I am still writing.\n")
    (path / "notes").mkdir()
    (path / "notes" / "todo.md").write_text("- ask Dana about the threshold\n", encoding="utf-8")
    git(path, "add", "notes/todo.md")
    with open(path / "generate.py", "a", encoding="utf-8") as fh:
        fh.write("\n# staged line\n")
    git(path, "add", "generate.py")
    with open(path / "generate.py", "a", encoding="utf-8") as fh:
        fh.write("# unstaged line on top\n")
    os.chmod(path / "generate.py", 0o755)


def gitdir(path: Path) -> Path:
    return Path(git(path, "rev-parse", "--absolute-git-dir").strip())


def files(path: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of the work tree (not .git, not DVC's cache/tmp): bytes and mode."""
    out = {}
    for dirpath, dirnames, names in os.walk(path):
        rel = Path(dirpath).relative_to(path)
        if rel == Path("."):
            dirnames[:] = [d for d in dirnames if d != ".git"]
        if rel == Path(".dvc"):
            dirnames[:] = [d for d in dirnames if d not in ("cache", "tmp")]
        for name in names:
            full = Path(dirpath) / name
            out[(rel / name).as_posix()] = (full.read_bytes(), full.stat().st_mode & 0o7777)
    return out


def index(path: Path) -> bytes:
    """The index entries exactly (mode, object, stage, path) and the staged diff."""
    return (subprocess.run(["git", "ls-files", "-s"], cwd=path, capture_output=True, check=True).stdout
            + subprocess.run(["git", "diff", "--cached", "--binary"], cwd=path, capture_output=True,
                             check=True).stdout)


def exp_refs(path: Path) -> list[str]:
    return [r for r in git(path, "for-each-ref", "--format=%(refname)", "refs/exps").split()
            if "/exec/" not in r]


def user_state(path: Path) -> dict[str, object]:
    """The user's files (bytes, mode), their index entries, and what is staged against HEAD."""
    keep = ("README.md", "notes/todo.md", "generate.py")
    got = files(path)
    entries = subprocess.run(["git", "ls-files", "-s", "--", *keep], cwd=path, capture_output=True,
                             check=True).stdout
    staged = subprocess.run(["git", "diff", "--cached", "--binary"], cwd=path, capture_output=True,
                            check=True).stdout
    return {"files": {k: got.get(k) for k in keep}, "entries": entries, "staged": staged}


def committed(path: Path, rev: str) -> set[str]:
    return set(git(path, "show", "--name-only", "--format=", rev).split())


def start(path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "workbench", *args], cwd=path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, **ENV}, start_new_session=True)


def read_until(proc: subprocess.Popen[str], text: str, seen: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} never came: {''.join(seen)}")


def tree(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    root = psutil.Process(proc.pid)
    return [root, *root.children(recursive=True)]


def pause(proc: subprocess.Popen[str]) -> None:
    for p in tree(proc):
        p.suspend()


def resume(proc: subprocess.Popen[str]) -> None:
    for p in tree(proc):
        p.resume()


def kill_tree(proc: subprocess.Popen[str]) -> None:
    procs = tree(proc)
    for p in procs:
        p.suspend()
    for p in procs:
        p.kill()
    proc.communicate()
    psutil.wait_procs(procs, timeout=30)


# --- 1. the user's work stays out of experiments and promotions ----------------------------


def test_train_and_promote_hold_only_pipeline_files_and_leave_the_users_work_as_it_was(pipeline_project):
    path = pipeline_project
    user_work(path)
    before = user_state(path)

    done = run_cli("train", "-S", "model.params.C=0.5", cwd=path, env=ENV)
    assert done.returncode == 0, done.stderr
    [ref] = exp_refs(path)
    in_exp = committed(path, ref)
    assert in_exp and in_exp <= PIPELINE_FILES, git(path, "show", "--stat", "--format=", ref)
    assert user_state(path) == before  # bytes, mode, staged entries: exactly as before
    assert git(path, "diff", "--cached", "--name-only").split() == ["generate.py", "notes/todo.md"]

    name = ref.rsplit("/", 1)[-1]
    promoted = run_cli("exp", "promote", name, cwd=path, env=ENV)
    assert promoted.returncode == 0, promoted.stderr
    in_promote = committed(path, "HEAD")
    assert "params.yaml" in in_promote and in_promote <= PIPELINE_FILES, in_promote
    assert user_state(path) == before
    status = git(path, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(status) == sorted([" M README.md", "MM generate.py", "A  notes/todo.md"]), status


def test_a_sweep_queues_only_pipeline_files_and_leaves_the_users_work_as_it_was(pipeline_project):
    """``dvc exp run --queue`` snapshots the workspace (modified and staged files) into each point."""
    path = pipeline_project
    user_work(path)
    before = user_state(path)
    done = run_cli("train", "--quiet", "--sweep", "model.params.C=0.5,2", "--json", cwd=path, env=ENV)
    assert done.returncode == 0, done.stderr
    names = {e["name"] for e in json.loads(done.stdout)["experiments"]}
    refs = exp_refs(path)
    assert len(names) == 2 and {r.rsplit("/", 1)[-1] for r in refs} == names
    for ref in refs:
        in_exp = committed(path, ref)
        assert "params.yaml" in in_exp and in_exp <= PIPELINE_FILES, (ref, in_exp)
    assert user_state(path) == before


def test_train_refuses_an_uncommitted_edit_of_a_file_the_pipeline_reads(pipeline_project):
    path = pipeline_project
    user_work(path)
    with open(path / "data" / "breast_cancer.csv.dvc", "a", encoding="utf-8") as fh:
        fh.write("# edited by hand\n")
    before, state = files(path), index(path)
    done = run_cli("train", cwd=path, env=ENV)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "data/breast_cancer.csv.dvc has uncommitted changes and the pipeline reads it" \
        in lines[0], done.stderr
    assert files(path) == before and index(path) == state and exp_refs(path) == []
    assert not (gitdir(path) / "mlops-workbench" / "exp-run.json").exists()


def test_include_puts_the_callers_new_data_pointer_in_the_experiment(pipeline_project):
    """What retrain does: new data tracked with dvc add, then an experiment that holds its pointer."""
    from workbench.development.training import run_experiment
    from workbench.errors import WorkbenchError

    path = pipeline_project
    csv = path / "data" / "breast_cancer.csv"
    lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    csv.write_text("".join(lines + lines[1:40]), encoding="utf-8")  # a new batch of rows
    run_tool(path, "dvc", "add", "data/breast_cancer.csv")
    user_work(path)
    with pytest.raises(WorkbenchError, match="data/breast_cancer.csv.dvc has uncommitted changes"):
        run_experiment(path)
    before = user_state(path)
    result = run_experiment(path, include=["data/breast_cancer.csv.dvc"])
    [ref] = exp_refs(path)
    assert ref.endswith("/" + result.name)
    assert committed(path, ref) <= PIPELINE_FILES | {"data/breast_cancer.csv.dvc"}
    assert "data/breast_cancer.csv.dvc" in committed(path, ref)
    assert user_state(path) == before


# --- 2. one writer at a time -----------------------------------------------------------------


def test_a_second_command_at_any_moment_of_a_train_is_busy_and_the_first_finishes(pipeline_project):
    path = pipeline_project
    user_work(path)
    before = user_state(path)
    journal = gitdir(path) / "mlops-workbench" / "exp-run.json"
    first = start(path, "train", "-S", "model.params.C=0.7")
    seen: list[str] = []
    seconds = [
        ("Running stage 'prepare'", ["train"]),
        ("Running stage 'train'", ["stage", "prepare"]),
        ("Running stage 'evaluate'", ["train", "--sweep", "model.params.C=0.1,1"]),
        ("Ran experiment(s)", ["exp", "promote", "anything"]),
    ]
    try:
        for moment, args in seconds:
            read_until(first, moment, seen)
            pause(first)
            try:
                kept = journal.read_bytes()
                second = run_cli(*args, cwd=path, env=ENV)
                assert second.returncode == 75, (moment, args, second.stderr)
                assert re.fullmatch(BUSY.format(pid=first.pid), second.stderr.strip()), second.stderr
                assert journal.read_bytes() == kept  # the second touched no journal
            finally:
                resume(first)
        rest, _ = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            kill_tree(first)
    out = "".join(seen) + rest
    assert first.returncode == 0, out
    assert "NoneType" not in out and "Traceback" not in out
    [ref] = exp_refs(path)
    assert (path / "dvc.lock").read_bytes() == subprocess.run(
        ["git", "show", f"{ref}:dvc.lock"], cwd=path, capture_output=True, check=True).stdout
    assert committed(path, ref) <= PIPELINE_FILES
    assert user_state(path) == before
    assert not journal.exists() and not (gitdir(path) / "mlops-workbench.lock").exists()


def test_the_project_lock_nests_in_one_thread_and_is_busy_for_others(project):
    from workbench.errors import ProjectBusyError
    from workbench.versioning.locks import LOCK_NAME, ProjectLock, hold_project_lock
    from workbench.versioning.step import begin_step

    gdir = gitdir(project)
    with hold_project_lock(project, "train"):
        with begin_step(project, "requirements", summary="nested in a held lock") as step:
            step.write_text("reports/nested.md", "nested\n")
        assert (gdir / LOCK_NAME).exists()  # the outer holder still has it

        failed: list[BaseException] = []

        def other_thread() -> None:
            try:
                with ProjectLock(gdir, "another thread"):
                    pass
            except ProjectBusyError as exc:
                failed.append(exc)

        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        assert len(failed) == 1 and "the project is busy: train is running since" in str(failed[0])
        other = run_cli("charter", "set", "--problem", "Another process.", cwd=project)
        assert other.returncode == 75 and f"pid {os.getpid()}" in other.stderr, other.stderr
    assert step.commit == git(project, "rev-parse", "HEAD").strip()
    assert not (gdir / LOCK_NAME).exists()
    with ProjectLock(gdir, "after"):
        pass


# --- 3. a run that does not finish leaves everything as before -----------------------------


def test_a_failed_or_interrupted_train_leaves_params_outputs_and_index_as_before(pipeline_project):
    from workbench.development.training import run_experiment

    path = pipeline_project
    run_experiment(path)  # outputs and dvc.lock exist now: they must survive the failures too
    user_work(path)
    before, state, refs = files(path), index(path), exp_refs(path)

    # refused before DVC starts (a regression model on a classification task)
    bad = run_cli("train", "-S", "model.name=linear_regression", "-S", "model.params={}", cwd=path, env=ENV)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert files(path) == before and index(path) == state

    # fails in the train stage: DVC has written the -S values (merged its own way) into params.yaml
    bad = run_cli("train", "--quiet", "-S", "model.params={}", "-S", "model.params.solver=bogus", cwd=path, env=ENV)
    assert bad.returncode == 2, bad.stderr
    assert "nothing was recorded" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert files(path) == before and index(path) == state and exp_refs(path) == refs

    # Ctrl-C while a stage runs
    proc = start(path, "train", "-S", "model.params.C=0.3")
    seen: list[str] = []
    read_until(proc, "Running stage 'train'", seen)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=300)
    assert proc.returncode == 130, "".join(seen) + rest
    assert files(path) == before and index(path) == state and exp_refs(path) == refs


def test_kill_9_during_train_is_put_back_by_the_next_workbench_command(pipeline_project):
    path = pipeline_project
    user_work(path)
    before, state = files(path), index(path)
    head = git(path, "rev-parse", "HEAD").strip()
    proc = start(path, "train", "-S", "model.params.C=0.2")
    seen: list[str] = []
    read_until(proc, "Running stage 'train'", seen)
    pause(proc)
    # While DVC runs the user's work is out of its sight (moved aside, journaled in .git).
    assert (path / "README.md").read_bytes() == subprocess.run(
        ["git", "show", "HEAD:README.md"], cwd=path, capture_output=True, check=True).stdout
    journal = json.loads((gitdir(path) / "mlops-workbench" / "exp-run.json").read_text(encoding="utf-8"))
    assert set(journal["aside"]) == {"README.md", "generate.py", "notes/todo.md"}
    kill_tree(proc)

    nxt = run_cli("charter", "set", "--problem", "Written after a killed train.", cwd=path, env=ENV)
    assert nxt.returncode == 0, nxt.stderr
    assert "an experiment run was interrupted" in nxt.stderr and "is back as it was" in nxt.stderr, nxt.stderr
    assert committed(path, "HEAD") == {"workbench.yaml"}
    assert git(path, "rev-parse", "HEAD~1").strip() == head
    now = files(path)
    assert {k: v for k, v in now.items() if k != "workbench.yaml"} == \
        {k: v for k, v in before.items() if k != "workbench.yaml"}
    assert git(path, "diff", "--cached", "--name-only").split() == ["generate.py", "notes/todo.md"]
    assert not (gitdir(path) / "mlops-workbench" / "exp-run.json").exists()
    # The index entries are the user's (the charter commit changed only workbench.yaml's).
    lines_before = [ln for ln in state.split(b"\n") if b"workbench.yaml" not in ln]
    lines_now = [ln for ln in index(path).split(b"\n") if b"workbench.yaml" not in ln]
    assert lines_now == lines_before
