"""The project write lock and the recovery of locks left by killed processes.

Two workbench processes on one project must not write at the same time: every write
step holds ``<git dir>/mlops-workbench.lock`` (inside ``.git``, so never committed).
The lock records pid, host and start time. A lock whose process is gone is *stale*:
it is cleared with a message, and so is the ``index.lock`` that the dead process's
git left behind. A lock whose process is alive makes the caller "busy", never a
traceback.

DVC's own locks: ``.dvc/tmp/lock`` is an OS lock (released when its process dies,
the file stays with the dead pid in it) and ``.dvc/tmp/rwlock`` lists pids; both are
checked here so the user hears what happened instead of a DVC error.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ProjectBusyError

LOCK_NAME = "mlops-workbench.lock"


def _pid_alive(pid: int, started: float | None = None) -> bool:
    import psutil

    if pid <= 0 or not psutil.pid_exists(pid):
        return False
    if started is None:
        return True
    try:
        # A recycled pid belongs to a process created after the lock was taken.
        return psutil.Process(pid).create_time() <= started + 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return psutil.pid_exists(pid)


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock."""

    pid: int
    host: str
    started: float
    operation: str

    def describe(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.started))
        return f"pid {self.pid} ({self.operation}, since {when})"


def _read_info(path: Path) -> LockInfo | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(int(raw["pid"]), str(raw["host"]), float(raw["started"]), str(raw["operation"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, OSError):
        # Written by a process killed between create and write: treat as dead.
        return LockInfo(-1, socket.gethostname(), 0.0, "unknown")


def _is_stale(info: LockInfo) -> bool:
    return info.host == socket.gethostname() and not _pid_alive(info.pid, info.started)


class ProjectLock:
    """An exclusive, cross-process write lock for one project (reentrant in one process)."""

    def __init__(self, git_dir: Path, operation: str) -> None:
        self.path = Path(git_dir) / LOCK_NAME
        self.git_dir = Path(git_dir)
        self.operation = operation
        self.cleared: list[str] = []
        self._held = False

    def acquire(self) -> "ProjectLock":
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                "operation": self.operation}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_info(self.path)
                if holder is None:
                    continue
                if holder.pid == os.getpid() and holder.host == socket.gethostname():
                    raise ProjectBusyError(
                        f"this workbench is already running {holder.operation}: wait for it to finish"
                    )
                if _is_stale(holder):
                    self.cleared.extend(clear_stale_project_lock(self.git_dir, holder))
                    continue
                raise ProjectBusyError(
                    f"the project is busy: another workbench, {holder.describe()}, is writing; "
                    "wait for it to finish and try again"
                )
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(info, fh)
            self._held = True
            return self
        raise ProjectBusyError("the project lock keeps changing hands: try again in a moment")

    def release(self) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> "ProjectLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def clear_stale_project_lock(git_dir: Path, holder: LockInfo) -> list[str]:
    """Remove a dead process's project lock and the git index.lock it left; say what was done."""
    messages = []
    (Path(git_dir) / LOCK_NAME).unlink(missing_ok=True)
    who = f"pid {holder.pid}" if holder.pid > 0 else "a process"
    messages.append(
        f"cleared a stale workbench lock left by {who} ({holder.operation}), which is no longer running"
    )
    index_lock = Path(git_dir) / "index.lock"
    if index_lock.exists():
        index_lock.unlink(missing_ok=True)
        messages.append("removed .git/index.lock left by the interrupted git command")
    return messages


def _dvc_lock_held(lock_file: Path) -> bool:
    """Whether a live process holds DVC's OS-level lock on ``lock_file``."""
    try:
        fd = os.open(lock_file, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def recover_stale_locks(project_path: Path, git_dir: Path | None) -> list[str]:
    """Clear locks left by dead processes; return one message per thing cleared.

    Raises :class:`ProjectBusyError` when a live process holds a lock, so the caller
    can tell the user to wait instead of failing later with a DVC or git error.
    """
    messages: list[str] = []
    if git_dir is not None:
        holder = _read_info(Path(git_dir) / LOCK_NAME)
        if holder is not None:
            if _is_stale(holder):
                messages.extend(clear_stale_project_lock(Path(git_dir), holder))
            elif holder.pid != os.getpid():
                raise ProjectBusyError(
                    f"the project is busy: another workbench, {holder.describe()}, is writing; "
                    "wait for it to finish and try again"
                )
    tmp = Path(project_path) / ".dvc" / "tmp"
    lock_file = tmp / "lock"
    if lock_file.exists():
        text = lock_file.read_text(encoding="utf-8", errors="replace").strip()
        if _dvc_lock_held(lock_file):
            raise ProjectBusyError(
                f"DVC is busy in this project (lock held by {text or 'another process'}): "
                "wait for it to finish and try again"
            )
        pid = int(text.split()[0]) if text and text.split()[0].isdigit() else None
        if pid is not None and not _pid_alive(pid):
            lock_file.unlink(missing_ok=True)
            messages.append(f"cleared a stale DVC lock left by pid {pid}, which is no longer running")
    rwlock = tmp / "rwlock"
    if rwlock.exists() and not _dvc_lock_held(tmp / "rwlock.lock"):
        try:
            data = json.loads(rwlock.read_text(encoding="utf-8") or "{}")
        except ValueError:
            data = None
        if data is None:
            rwlock.unlink(missing_ok=True)
            messages.append("removed a corrupted DVC rwlock file")
        else:
            dead: set[int] = set()
            for path, info in list((data.get("write") or {}).items()):
                if not _pid_alive(int(info.get("pid", -1))):
                    dead.add(int(info.get("pid", -1)))
                    del data["write"][path]
            for path, infos in list((data.get("read") or {}).items()):
                keep = [i for i in infos if _pid_alive(int(i.get("pid", -1)))]
                dead.update(int(i.get("pid", -1)) for i in infos if i not in keep)
                if keep:
                    data["read"][path] = keep
                else:
                    del data["read"][path]
            if dead:
                from workbench.fsutil import atomic_write_text

                atomic_write_text(rwlock, json.dumps(data))
                pids = ", ".join(str(p) for p in sorted(dead))
                messages.append(f"cleared stale DVC pipeline locks left by pid {pids}")
    return messages
