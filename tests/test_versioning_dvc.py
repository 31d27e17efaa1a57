"""DVC as a real subprocess: output streams while it runs, cancel stops the whole tree,
failures are one line."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from test_versioning_step import copy_project

from workbench.errors import CancelledError, WorkbenchError
from workbench.versioning import dvc

TALK = """\
import time
for i in range(3):
    print(f"tick {i}", flush=True)
    if i < 2:
        time.sleep(1.2)
"""


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of a per-worker template project (faster than conftest's, same content)."""
    return copy_project(tmp_path, tmp_path_factory)


def write_pipeline(project: Path, cmd: str, name: str = "work") -> None:
    (project / "dvc.yaml").write_text(f"stages:\n  {name}:\n    cmd: {cmd}\n", encoding="utf-8")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_output_lines_arrive_while_dvc_runs(project: Path) -> None:
    (project / "talk.py").write_text(TALK, encoding="utf-8")
    write_pipeline(project, f"{sys.executable} talk.py")
    arrived: dict[str, float] = {}

    def progress(line: str) -> None:
        if line.startswith("tick"):
            arrived[line] = time.monotonic()

    run = dvc.run_dvc(["repro"], project, progress=progress)
    ended = time.monotonic()
    assert run.returncode == 0
    assert list(arrived) == ["tick 0", "tick 1", "tick 2"]
    # The first line reached us while the stage was still sleeping, not at the end.
    assert ended - arrived["tick 0"] > 2.0, (ended, arrived)
    assert arrived["tick 1"] - arrived["tick 0"] > 1.0
    assert "tick 2" in run.output


def test_cancel_stops_a_long_stage_and_leaves_no_process(project: Path) -> None:
    write_pipeline(project, "sleep 30")
    cancel = threading.Event()
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            dvc.run_dvc(["repro"], project, cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertions below
            outcome["error"] = exc
        outcome["done"] = time.monotonic()

    me = psutil.Process()
    # a session fixture's server (the object store) may be this worker's child already
    already = {p.pid for p in me.children(recursive=True)}
    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 60
    tree: list[psutil.Process] = []
    while time.monotonic() < deadline:
        tree = me.children(recursive=True)
        if any(p.name() == "sleep" for p in tree if alive(p.pid)):
            break
        time.sleep(0.1)
    else:
        cancel.set()
        thread.join()
        pytest.fail(f"the stage never started: {outcome}")
    pids = [p.pid for p in tree if p.pid not in already]
    started = time.monotonic()
    cancel.set()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), CancelledError), outcome
    assert "cancelled" in str(outcome["error"])
    assert outcome["done"] - started < 5
    time.sleep(0.2)
    assert [pid for pid in pids if alive(pid)] == []


def test_failing_command_is_one_line(project: Path) -> None:
    with pytest.raises(WorkbenchError) as info:
        dvc.run_dvc(["repro", "no-such-stage"], project)
    message = str(info.value)
    assert message.startswith("dvc repro failed:") and "\n" not in message
    assert "no-such-stage" in message or "dvc.yaml" in message
    run = dvc.run_dvc(["repro", "no-such-stage"], project, check=False)
    assert run.returncode != 0
    # The same project: its default remote is the folder beside it.
    assert dvc.default_remote(project) == str(project.parent / "churn.dvc-storage")
    assert os.path.isdir(dvc.default_remote(project))


def test_missing_dvc_command_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_WORKBENCH_DVC", "/nonexistent/dvc")
    with pytest.raises(WorkbenchError, match="DVC is not installed") as info:
        dvc.run_dvc(["status"], tmp_path)
    assert "\n" not in str(info.value)
    with pytest.raises(WorkbenchError, match="DVC is not installed"):
        dvc.check_dvc()


def test_broken_dvc_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "dvc"
    script.write_text("#!/bin/sh\necho 'Traceback: ImportError: dvc is broken' >&2\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setenv("MLOPS_WORKBENCH_DVC", str(script))
    with pytest.raises(WorkbenchError, match=r"DVC is broken \(Traceback: ImportError: dvc is broken\)"):
        dvc.check_dvc()

