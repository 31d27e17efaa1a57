"""Locks with real processes: stale ones are cleared with a message, live ones mean "busy"."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import git, run_cli
from test_versioning_step import copy_project

from workbench.errors import ProjectBusyError
from workbench.versioning import dvc
from workbench.versioning.locks import LOCK_NAME, recover_stale_locks
from workbench.versioning.step import begin_step


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of a per-worker template project (faster than conftest's, same content)."""
    return copy_project(tmp_path, tmp_path_factory)


def git_dir(path: Path) -> Path:
    return Path(git(path, "rev-parse", "--absolute-git-dir").strip())


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_project_lock(gdir: Path, pid: int, started: float | None = None) -> None:
    (gdir / LOCK_NAME).write_text(json.dumps({
        "pid": pid, "host": socket.gethostname(),
        "started": time.time() - 5 if started is None else started, "operation": "Training",
    }), encoding="utf-8")


def test_lock_of_a_dead_process_is_cleared_and_the_step_succeeds(project: Path) -> None:
    gdir = git_dir(project)
    pid = dead_pid()
    write_project_lock(gdir, pid)
    (gdir / "index.lock").write_text("", encoding="utf-8")  # the dead process's git left this
    with begin_step(project, "requirements", summary="after a crash") as step:
        step.write_text("reports/x.md", "x\n")
    assert step.commit == head(project)
    assert any(f"stale workbench lock left by pid {pid}" in m for m in step.messages), step.messages
    assert any("index.lock" in m for m in step.messages), step.messages
    assert not (gdir / LOCK_NAME).exists() and not (gdir / "index.lock").exists()
    assert git(project, "status", "--porcelain") == ""


def test_lock_of_a_live_process_is_busy(project: Path, tmp_path: Path) -> None:
    gdir = git_dir(project)
    holder = subprocess.Popen(["sleep", "60"])
    try:
        write_project_lock(gdir, holder.pid, started=time.time())
        old = head(project)
        with pytest.raises(ProjectBusyError, match="busy") as info:
            with begin_step(project, "requirements") as step:
                step.write_text("reports/x.md", "x\n")
        assert f"pid {holder.pid}" in str(info.value) and "\n" not in str(info.value)
        assert head(project) == old and not (project / "reports").exists()
        assert json.loads((gdir / LOCK_NAME).read_text())["pid"] == holder.pid  # left alone
        with pytest.raises(ProjectBusyError, match="busy"):
            recover_stale_locks(project, gdir)

        # Through the CLI: a plain git folder whose lock a live process holds.
        folder = tmp_path / "plain"
        folder.mkdir()
        git(folder, "init", "-q")
        write_project_lock(git_dir(folder), holder.pid, started=time.time())
        result = run_cli("new", str(folder), "--name", "plain")
        assert result.returncode == ProjectBusyError.exit_code, result.stderr
        assert "busy" in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert sorted(p.name for p in folder.iterdir()) == [".git"]
        assert not (tmp_path / "plain.dvc-storage").exists()
    finally:
        holder.kill()
        holder.wait()


def _rwlock_pids(project: Path) -> set[int]:
    try:
        data = json.loads((project / ".dvc" / "tmp" / "rwlock").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    pids = {int(i["pid"]) for i in (data.get("write") or {}).values()}
    pids |= {int(i["pid"]) for infos in (data.get("read") or {}).values() for i in infos}
    return pids


def test_dvc_killed_while_holding_its_locks_is_recovered(project: Path) -> None:
    (project / "in.txt").write_text("input\n", encoding="utf-8")
    stage = "stages:\n  copy:\n    cmd: {cmd}\n    deps: [in.txt]\n    outs: [out.txt]\n"
    (project / "dvc.yaml").write_text(stage.format(cmd="sleep 60 && cp in.txt out.txt"), encoding="utf-8")
    git(project, "add", "in.txt", "dvc.yaml")
    git(project, "commit", "-q", "-m", "pipeline by hand")
    gdir = git_dir(project)

    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro"], cwd=project, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dvc.dvc_env())
    try:
        deadline = time.monotonic() + 60
        while proc.pid not in _rwlock_pids(project):
            assert proc.poll() is None and time.monotonic() < deadline, "dvc repro never took its lock"
            time.sleep(0.1)
        # Once the stage's command runs, DVC has let go of its repository lock: only the
        # rwlock says that DVC is at work.
        dvc_proc = psutil.Process(proc.pid)
        while not any(p.name() == "sleep" for p in dvc_proc.children(recursive=True)):
            assert time.monotonic() < deadline, "the stage never started"
            time.sleep(0.1)
        with pytest.raises(ProjectBusyError, match=f"DVC is busy in this project: pid {proc.pid} is "
                           "running 'dvc repro'") as info:
            recover_stale_locks(project, gdir)
        assert "\n" not in str(info.value)
        with pytest.raises(ProjectBusyError, match="DVC is busy"):
            with begin_step(project, "data_engineering") as step:
                step.write_text("params.yaml", "seed: 1\n")
        assert not (project / "params.yaml").exists()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    assert proc.pid in _rwlock_pids(project)  # left behind by the killed process
    messages = recover_stale_locks(project, gdir)
    assert messages == [f"cleared stale DVC pipeline locks left by pid {proc.pid}, which is no longer running"]
    assert proc.pid not in _rwlock_pids(project)
    assert recover_stale_locks(project, gdir) == []  # nothing left to clear

    with begin_step(project, "data_engineering", paths=["dvc.yaml"], summary="faster stage") as step:
        step.write_text("dvc.yaml", stage.format(cmd="cp in.txt out.txt"))
    assert step.commit == head(project)
    dvc.run_dvc(["repro"], project)
    assert (project / "out.txt").read_text(encoding="utf-8") == "input\n"


DVC_LOCK_HOLDER = """\
import sys, zc.lockfile
lock = zc.lockfile.LockFile(sys.argv[1])  # what DVC's repository lock is
print("ready", flush=True)
sys.stdin.readline()
"""


def test_dvc_repository_lock_held_by_a_live_process_is_busy(tmp_path: Path) -> None:
    tmp = tmp_path / ".dvc" / "tmp"
    tmp.mkdir(parents=True)
    child = subprocess.Popen([sys.executable, "-c", DVC_LOCK_HOLDER, str(tmp / "lock")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(ProjectBusyError, match=f"DVC is busy in this project \\(lock held by pid {child.pid}\\)"):
            recover_stale_locks(tmp_path, None)
    finally:
        child.communicate("\n", timeout=30)
    # Released (the file with the old pid stays, as DVC leaves it): not busy, nothing to say.
    assert (tmp / "lock").exists()
    assert recover_stale_locks(tmp_path, None) == []


HOLDER = """\
import sys
from pathlib import Path
from workbench.versioning.step import begin_step

with begin_step(Path(sys.argv[1]), "requirements", summary="held open") as step:
    step.write_text("reports/first.md", "first\\n")
    print("ready", flush=True)
    sys.stdin.readline()
print(step.commit, flush=True)
"""


def test_two_processes_one_project_the_second_is_busy(project: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(project)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        old = head(project)
        with pytest.raises(ProjectBusyError, match=f"the project is busy: Requirements.* is running since .*, pid {child.pid}; try again when it ends"):
            with begin_step(project, "use_cases") as step:
                step.write_text("reports/second.md", "second\n")
        assert not (project / "reports" / "second.md").exists()
        assert head(project) == old
        out, err = child.communicate("\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert out.strip() == head(project)
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == ["reports/first.md"]
    assert git(project, "status", "--porcelain") == ""
    subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=project, check=True,
                   capture_output=True)
    assert not (git_dir(project) / LOCK_NAME).exists()
    # And the second attempt works now that the first is done.
    with begin_step(project, "use_cases", summary="second") as step:
        step.write_text("reports/second.md", "second\n")
    assert step.commit == head(project)


CONTENDER = """\
import sys, time
from pathlib import Path
from workbench.errors import ProjectBusyError
from workbench.versioning.locks import ProjectLock

gdir, log = Path(sys.argv[1]), Path(sys.argv[2])
while time.time() < float(sys.argv[3]):
    pass
wins = 0
for _ in range(150):
    try:
        with ProjectLock(gdir, "contend"):
            with open(log, "a") as fh:
                fh.write("in\\n")
                fh.flush()
                time.sleep(0.001)
                fh.write("out\\n")
            wins += 1
    except ProjectBusyError:
        pass
print(wins)
"""


def test_the_project_lock_admits_one_process_at_a_time(tmp_path: Path) -> None:
    gdir = tmp_path / ".git"
    gdir.mkdir()
    log = tmp_path / "log"
    start = str(time.time() + 1.0)
    procs = [subprocess.Popen([sys.executable, "-c", CONTENDER, str(gdir), str(log), start],
                              stdout=subprocess.PIPE, text=True) for _ in range(3)]
    wins = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(wins) > 0
    lines = log.read_text().splitlines()
    assert lines == ["in", "out"] * sum(wins)  # never two holders at once
    assert not (gdir / LOCK_NAME).exists()
