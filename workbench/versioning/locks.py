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

One operation at a time, nested only in the holding thread: :func:`hold_project_lock`
takes the lock for a whole operation (``train``, ``exp promote``, a stage); a step begun
inside it (the same thread) nests, while another thread of this process, or another
process, is told the project is busy. It is not reentrant per process: this process's own
pid in the lock file does not let a second holder in. DVC's children (the ``mlops-workbench stage`` commands ``dvc exp run``
starts) get the holder's token in :data:`TOKEN_ENV` and are let through.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ProjectBusyError

LOCK_NAME = "mlops-workbench.lock"
#: Set in DVC's environment while this process holds the lock: a stage DVC starts shows it.
TOKEN_ENV = "MLOPS_WORKBENCH_LOCK_TOKEN"


@dataclass
class _Holding:
    thread: int
    depth: int
    token: str


_HELD: dict[str, _Holding] = {}  # lock path -> who in this process holds it
_HELD_GUARD = threading.Lock()


def held_token(cwd: str | Path | None = None) -> str | None:
    """The token of the project lock the calling thread holds (for DVC's children), if any.

    With ``cwd``, only the lock of the repository that contains it counts: a thread id is
    reused once its thread ends, so a lock of another project (a worker abandoned with it
    held) must never lend its token to this project's stages.
    """
    me = threading.get_ident()
    here = Path(cwd).resolve() if cwd is not None else None
    with _HELD_GUARD:
        for key, holding in _HELD.items():
            if holding.thread != me:
                continue
            top = Path(key).resolve().parent.parent  # <repo>/.git/mlops-workbench.lock
            if here is None or here == top or top in here.parents:
                return holding.token
    return None


def _pid_alive(pid: int, started: float | None = None) -> bool:
    import psutil

    if pid <= 0 or not psutil.pid_exists(pid):
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False  # killed, not yet reaped (a container's pid 1 may never reap it)
        # A recycled pid belongs to a process created after the lock was taken.
        return started is None or process.create_time() <= started + 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return psutil.pid_exists(pid)


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock."""

    pid: int
    host: str
    started: float
    operation: str
    token: str = ""

    def describe(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.started))
        return f"pid {self.pid} ({self.operation}, since {when})"

    def busy(self) -> ProjectBusyError:
        """The one line a second writer hears."""
        when = time.strftime("%H:%M:%S", time.localtime(self.started))
        return ProjectBusyError(f"the project is busy: {self.operation} is running since {when}, "
                                f"pid {self.pid}; try again when it ends")


def _read_info(path: Path) -> LockInfo | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(int(raw["pid"]), str(raw["host"]), float(raw["started"]), str(raw["operation"]),
                        str(raw.get("token", "")))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, OSError):
        # Written by a process killed between create and write: treat as dead.
        return LockInfo(-1, socket.gethostname(), 0.0, "unknown")


def _is_stale(info: LockInfo) -> bool:
    return info.host == socket.gethostname() and not _pid_alive(info.pid, info.started)


class ProjectLock:
    """An exclusive, cross-process write lock for one project.

    Nested in one thread only: taken again by the thread that holds it, it nests (the file
    goes when the outermost holder lets go). Another thread of this process (the same pid),
    or another process, gets :class:`ProjectBusyError`. The outermost acquisition also finishes what
    a killed ``train`` left (its journal): :func:`_recover_runs`.
    """

    def __init__(self, git_dir: Path, operation: str) -> None:
        self.path = Path(git_dir) / LOCK_NAME
        self.git_dir = Path(git_dir)
        self.operation = operation
        self.cleared: list[str] = []
        self.token = ""
        self._held = False
        self._nested = False

    def _key(self) -> str:
        return os.path.abspath(self.path)

    def acquire(self) -> ProjectLock:
        me = threading.get_ident()
        with _HELD_GUARD:
            holding = _HELD.get(self._key())
            if holding is not None:
                if holding.thread != me:
                    raise (_read_info(self.path) or LockInfo(os.getpid(), socket.gethostname(), time.time(),
                                                             "another task")).busy()
                holding.depth += 1
                self.token, self._held, self._nested = holding.token, True, True
                return self
        token = uuid.uuid4().hex
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                "operation": self.operation, "token": token}
        for _ in range(3):
            try:
                _create_with_content(self.path, json.dumps(info))
            except FileExistsError:
                holder = _read_info(self.path)
                if holder is None:
                    continue
                if _is_stale(holder):
                    self.cleared.extend(clear_stale_project_lock(self.git_dir, holder))
                    continue
                raise holder.busy() from None
            with _HELD_GUARD:
                _HELD[self._key()] = _Holding(me, 1, token)
            self.token, self._held = token, True
            try:
                self.cleared.extend(_recover_runs(self.git_dir))
            except BaseException:
                self.release()
                raise
            return self
        raise ProjectBusyError("the project lock keeps changing hands: try again in a moment")

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        with _HELD_GUARD:
            holding = _HELD.get(self._key())
            if holding is not None and holding.token == self.token:
                holding.depth -= 1
                if holding.depth > 0:
                    return
                del _HELD[self._key()]
        if not self._nested:
            holder = _read_info(self.path)
            if holder is not None and holder.token == self.token:
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> ProjectLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _recover_runs(git_dir: Path) -> list[str]:
    """Put back what a killed ``train``/``exp promote`` left (its journal in the git dir).

    Every writer takes the project lock, so every writer finishes a dead run's journal
    before it starts: the user's edits moved aside for the run come back at the next
    workbench command, whatever it is.
    """
    if not (Path(git_dir) / "mlops-workbench" / "exp-run.json").exists():
        return []
    from workbench.versioning.run_journal import finish_dead_run  # the journal's owner

    return finish_dead_run(Path(git_dir))


@contextmanager
def hold_project_lock(project_path: str | Path, operation: str, *,
                      dvc_locks: bool = True) -> Iterator[list[str]]:
    """Hold the project lock for a whole operation; yields the messages of what was cleared.

    Stale locks (a killed process's) are cleared as :func:`begin_step` clears them; a live
    holder makes this raise :class:`ProjectBusyError` (exit 75, one line) before anything
    is written. A process started by the holder's DVC run (its ``TOKEN_ENV`` matches the
    lock) is let through without taking it. ``dvc_locks=False`` skips DVC's own locks (a
    stage runs while DVC holds them).
    """
    from workbench.errors import WorkbenchError
    from workbench.versioning import git

    root = git.repo_root(Path(project_path))
    if root is None:
        raise WorkbenchError(f"{project_path} is not inside a git repository: create the project first")
    gdir = git.git_dir(root)
    token = os.environ.get(TOKEN_ENV, "")
    if token:
        holder = _read_info(gdir / LOCK_NAME)
        if holder is not None and holder.token == token and not _is_stale(holder):
            yield []  # started by the holder's own DVC run
            return
    cleared = recover_stale_locks(Path(project_path), gdir, dvc_locks=dvc_locks)
    with ProjectLock(gdir, operation) as lock:
        if lock._nested:
            yield cleared + lock.cleared
            return
        # DVC run through its Python API starts stages with this process's environment.
        previous = os.environ.get(TOKEN_ENV)
        os.environ[TOKEN_ENV] = lock.token
        try:
            yield cleared + lock.cleared
        finally:
            if previous is None:
                os.environ.pop(TOKEN_ENV, None)
            else:
                os.environ[TOKEN_ENV] = previous


def _create_with_content(path: Path, text: str) -> None:
    """Create ``path`` holding ``text`` in one step; FileExistsError if it is already there.

    A plain ``O_EXCL`` create leaves an empty file for a moment, and another process
    reading it then would take it for a lock left by a killed process and clear it:
    two writers. Writing a private file first and hard-linking it into place makes
    the lock appear complete or not at all.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _git_running_in(git_dir: Path) -> bool:
    """Whether a live git process works in the repository of ``git_dir`` (it may own index.lock)."""
    import psutil

    work_tree = Path(git_dir).parent.resolve()
    for proc in psutil.process_iter(["name", "cwd"]):
        try:
            if proc.info["name"] != "git" or not proc.info["cwd"]:
                continue
            cwd = Path(proc.info["cwd"]).resolve()
        except (psutil.Error, OSError):
            continue
        if cwd == work_tree or work_tree in cwd.parents or cwd == Path(git_dir).resolve():
            return True
    return False


def clear_stale_project_lock(git_dir: Path, holder: LockInfo) -> list[str]:
    """Remove a dead process's project lock and the git index.lock it left; say what was done."""
    messages: list[str] = []
    lock = Path(git_dir) / LOCK_NAME
    if _read_info(lock) not in (holder, None):
        return messages  # another process cleared it and took the lock meanwhile
    lock.unlink(missing_ok=True)
    who = f"pid {holder.pid}" if holder.pid > 0 else "a process"
    messages.append(
        f"cleared a stale workbench lock left by {who} ({holder.operation}), which is no longer running"
    )
    index_lock = Path(git_dir) / "index.lock"
    if index_lock.exists() and not _git_running_in(Path(git_dir)):
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


def recover_stale_locks(project_path: Path, git_dir: Path | None, *, dvc_locks: bool = True) -> list[str]:
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
                raise holder.busy()
    if not dvc_locks:
        return messages
    tmp = Path(project_path) / ".dvc" / "tmp"
    lock_file = tmp / "lock"
    if lock_file.exists() and _dvc_lock_held(lock_file):
        text = lock_file.read_text(encoding="utf-8", errors="replace").strip()
        raise ProjectBusyError(
            f"DVC is busy in this project (lock held by pid {text or '?'}): "
            "wait for it to finish and try again"
        )
    # DVC's repository lock (``lock``) is an OS lock: the kernel frees it when its process
    # dies and the file with the old pid in it is normal, so there is nothing to clear.
    # ``rwlock`` is different: it lists the pids running pipeline stages, and a killed
    # DVC leaves its entries behind.
    rwlock = tmp / "rwlock"
    if rwlock.exists():
        messages.extend(_recover_rwlock(rwlock, tmp / "rwlock.lock"))
    return messages


def _recover_rwlock(rwlock: Path, guard: Path) -> list[str]:
    """Drop the entries of dead pids from DVC's rwlock (holding DVC's own guard while editing)."""
    fd = os.open(guard, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for _attempt in range(50):  # DVC holds the guard only for a moment while it edits
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                time.sleep(0.02)
        else:
            raise ProjectBusyError("DVC is busy in this project: wait for it to finish and try again")
        try:
            try:
                data = json.loads(rwlock.read_text(encoding="utf-8") or "{}")
            except FileNotFoundError:
                return []
            except ValueError:
                data = None
            if not isinstance(data, dict):
                rwlock.unlink(missing_ok=True)
                return ["removed a corrupted DVC rwlock file"]
            infos = [(mode, path, info)
                     for mode in ("write", "read")
                     for path, value in (data.get(mode) or {}).items()
                     for info in (value if isinstance(value, list) else [value])]
            live = [info for _, _, info in infos
                    if _pid_alive(int(info.get("pid", -1))) and int(info.get("pid", -1)) != os.getpid()]
            if live:
                info = live[0]
                raise ProjectBusyError(
                    f"DVC is busy in this project: pid {info.get('pid')} is running "
                    f"'{_short_cmd(str(info.get('cmd', 'dvc')))}'; wait for it to finish and try again"
                )
            dead = sorted({int(info.get("pid", -1)) for _, _, info in infos
                           if not _pid_alive(int(info.get("pid", -1)))})
            if not dead:
                return []
            cleaned: dict[str, dict] = {"read": {}, "write": {}}
            for mode, path, info in infos:
                if int(info.get("pid", -1)) in dead:
                    continue
                if mode == "write":
                    cleaned["write"][path] = info
                else:
                    cleaned["read"].setdefault(path, []).append(info)
            from workbench.fsutil import atomic_write_text

            atomic_write_text(rwlock, json.dumps({k: v for k, v in cleaned.items() if v}))
            pids = ", ".join(str(p) for p in dead)
            return [f"cleared stale DVC pipeline locks left by pid {pids}, which is no longer running"]
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _short_cmd(cmd: str) -> str:
    """``.../dvc/__main__.py repro`` -> ``dvc repro``."""
    head, _, rest = cmd.partition(" ")
    return f"dvc {rest}".strip() if head.endswith(("__main__.py", "dvc")) else cmd


def holding_project_lock(operation: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate ``f(project_path, ...)`` to run holding the project lock (:func:`hold_project_lock`).

    What was cleared on the way in goes to the call's ``progress`` keyword, when it has one.
    """
    import functools

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def held(project_path: str | Path, *args: Any, **kwargs: Any) -> Any:
            with hold_project_lock(Path(project_path).absolute(), operation) as cleared:
                say = kwargs.get("progress")
                for line in cleared:
                    if say is not None:
                        say(line)
                return func(project_path, *args, **kwargs)

        return held

    return wrap
