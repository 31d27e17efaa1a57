"""DVC as a subprocess: streamed output, cancellation, one-line errors.

Long DVC work runs as ``python -m dvc ...`` in its own process group so that its
printing never touches the terminal the TUI owns and a cancel (or Ctrl-C in the
TUI) stops exactly that process tree. ``MLOPS_WORKBENCH_DVC`` may name another DVC
command (for example a DVC installed elsewhere).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError, WorkbenchError
from workbench.progress import Progress


def dvc_command() -> list[str]:
    """The command that runs DVC."""
    override = os.environ.get("MLOPS_WORKBENCH_DVC", "").strip()
    if override:
        return shlex.split(override)
    return [sys.executable, "-m", "dvc"]


def dvc_env(cwd: str | Path | None = None) -> dict[str, str]:
    """DVC's environment: no analytics, no update checks, no colour codes in streamed output."""
    env = dict(os.environ)
    env["DVC_NO_ANALYTICS"] = "1"
    env["DVC_NO_UPDATER"] = "1"
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    # DVC writes its config with the locale's encoding: under a C/ASCII locale a project
    # path with non-ASCII characters would fail with a UnicodeEncodeError.
    env.setdefault("PYTHONUTF8", "1")
    env.setdefault("PYTHONIOENCODING", "utf-8")
    # While this thread holds the project lock, the stages DVC runs (``mlops-workbench
    # stage ...``) are the holder's own work: the token lets them through the lock.
    from workbench.versioning.locks import TOKEN_ENV, held_token

    token = held_token(cwd)
    if token:
        env[TOKEN_ENV] = token
    return env


@dataclass(frozen=True)
class DvcRun:
    """What one DVC command did."""

    args: tuple[str, ...]
    returncode: int
    output: str
    seconds: float
    cancelled: bool = False

    def last_error_line(self) -> str:
        lines = [ln.strip() for ln in self.output.splitlines() if ln.strip()]
        invalid = invalid_file_line(lines)
        if invalid:
            return invalid
        for line in reversed(lines):
            if line.startswith("ERROR"):
                return line.removeprefix("ERROR:").strip()
        return lines[-1] if lines else f"exit code {self.returncode}"


_INVALID = re.compile(r"""^(?:ERROR:\s*)?'(?:\./)?(.+?)' validation failed""")
_WHERE = re.compile(r"^(.+?), in (.+?), line (\d+)")


def invalid_file_line(lines: Sequence[str]) -> str | None:
    """DVC's schema error for a .dvc pointer or dvc.yaml (a multi-line box) as one line and a way out."""
    for i, line in enumerate(lines):
        found = _INVALID.match(line)
        if not found:
            continue
        name = found.group(1)
        detail = next((m for m in (_WHERE.match(ln) for ln in lines[i + 1:i + 3]) if m), None)
        what = f" ({detail.group(2)} at line {detail.group(3)}: {detail.group(1)})" if detail else ""
        if name.endswith(".dvc"):
            data = name[:-len(".dvc")]
            return (f"{name} is not a valid DVC pointer{what}: track the data again (dvc add {data}), "
                    f"or put back the committed pointer if you edited it (git checkout HEAD -- {name})")
        return (f"{name} is not valid for DVC{what}: fix it by hand or put back the committed one "
                f"(git checkout HEAD -- {name})")
    return None


def run_dvc(
    args: Sequence[str],
    cwd: Path,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> DvcRun:
    """Run ``dvc ARGS`` in ``cwd``, streaming each output line to ``progress``.

    ``cancel`` (a plain Event) stops the process group: SIGINT first, as Ctrl-C would,
    so DVC can clean up; SIGKILL after 10 s. A cancelled run raises
    :class:`CancelledError`; a failing one raises a one-line :class:`WorkbenchError`
    unless ``check`` is false.
    """
    cmd = [*dvc_command(), *args]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=str(cwd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dvc_env(cwd),
            start_new_session=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
    except FileNotFoundError:
        raise WorkbenchError(
            f"DVC is not installed ({cmd[0]} not found): run 'make venv' or 'pip install dvc'"
        ) from None
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            # Once cancelled, DVC's last words are its reaction to the SIGINT (a
            # KeyboardInterrupt traceback when it was still importing): kept in the run's
            # output, not shown; the caller says what the cancel left.
            if progress is not None and not (cancel is not None and cancel.is_set()):
                progress(line)

    reader = threading.Thread(target=pump, name="dvc-output", daemon=True)
    reader.start()
    cancelled = False
    deadline = None if timeout is None else started + timeout
    while proc.poll() is None:
        if cancel is not None and cancel.wait(0.05):
            cancelled = True
            _stop(proc)
            break
        if cancel is None:
            try:
                proc.wait(0.05)
            except subprocess.TimeoutExpired:
                pass
        if deadline is not None and time.monotonic() > deadline:
            _stop(proc)
            raise WorkbenchError(f"dvc {' '.join(args)} took longer than {timeout:.0f} s and was stopped")
    proc.wait()
    reader.join(timeout=5)
    run = DvcRun(tuple(args), proc.returncode, "\n".join(lines), time.monotonic() - started, cancelled)
    if cancelled:
        raise CancelledError(f"dvc {args[0]} was cancelled; nothing was committed")
    if check and run.returncode != 0:
        raise WorkbenchError(f"dvc {args[0]} failed: {run.last_error_line()}")
    return run


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGINT the process group, then SIGKILL it if it has not ended in 10 s."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def check_dvc(cwd: Path | None = None) -> str:
    """DVC's version, or a one-line error when DVC is missing or broken."""
    cmd = [*dvc_command(), "--version"]
    try:
        done = subprocess.run(
            cmd, cwd=str(cwd) if cwd else None, capture_output=True, text=True,
            env=dvc_env(), timeout=60, stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise WorkbenchError(
            f"DVC is not installed ({cmd[0]} not found): run 'make venv' or 'pip install dvc'"
        ) from None
    except subprocess.TimeoutExpired:
        raise WorkbenchError("DVC did not answer 'dvc --version' within 60 s: check your DVC install") from None
    version = done.stdout.strip().splitlines()[-1:] if done.stdout.strip() else []
    if done.returncode != 0 or not version:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise WorkbenchError(
            f"DVC is broken ({detail}): reinstall it with 'make venv' or 'pip install --force-reinstall dvc'"
        )
    return version[0].strip()


def init(path: Path, *, subdir: bool = False) -> None:
    """``dvc init`` (``--subdir`` when the git repository's root is a parent folder)."""
    args = ["init", "--quiet"] + (["--subdir"] if subdir else [])
    run_dvc(args, path)
    run_dvc(["config", "core.analytics", "false"], path)
    run_dvc(["config", "core.autostage", "false"], path)


def add_remote(path: Path, name: str, url: str) -> None:
    """Add ``url`` as the project's default remote."""
    if url.isascii():
        run_dvc(["remote", "add", "--default", "--force", name, url], path)
        return
    # DVC 3 writes its config through ConfigObj with no encoding, which fails on any
    # non-ASCII character (a project folder called "prøject"); DVC reads the file as UTF-8
    # (PYTHONUTF8 in dvc_env), so the workbench writes these two settings itself.
    from configobj import ConfigObj

    config_file = Path(path) / ".dvc" / "config"
    config = ConfigObj(str(config_file), encoding="utf-8")
    config.setdefault("core", {})["remote"] = name
    config[f'remote "{name}"'] = {"url": url}
    config.write()


def default_remote(path: Path) -> str | None:
    """The URL of the project's default DVC remote, read from ``.dvc/config`` (+ ``config.local``).

    A relative local path is returned as an absolute one, as DVC resolves it.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.read([path / ".dvc" / "config", path / ".dvc" / "config.local"], encoding="utf-8")
    name = parser.get("core", "remote", fallback=None)
    if not name:
        return None
    section = f"'remote \"{name}\"'"
    for candidate in (section, f'remote "{name}"'):
        if parser.has_section(candidate):
            url = parser.get(candidate, "url", fallback=None)
            if url and "://" not in url and not os.path.isabs(url):
                # DVC reads a relative local path relative to the .dvc folder.
                url = os.path.normpath(os.path.join(path, ".dvc", url))
            return url
    return None


def cache_dirs(root: Path) -> list[Path]:
    """DVC cache folders: ``cache.dir`` from the project's DVC config (``config.local``, then
    ``config``), then the default ``.dvc/cache``. Read as text, without DVC (it costs seconds)."""
    dirs: list[Path] = []
    for name in ("config.local", "config"):
        path = root / ".dvc" / name
        if not path.is_file():
            continue
        section = ""
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stripped = line.strip()
            if stripped.startswith("["):
                section = stripped.strip("[]").strip().strip("'\"")
            elif section == "cache" and "=" in stripped:
                key, _, value = stripped.partition("=")
                if key.strip() == "dir" and value.strip():
                    folder = Path(value.strip())
                    dirs.append(folder if folder.is_absolute() else root / ".dvc" / folder)
    dirs.append(root / ".dvc" / "cache")
    return dirs


def cached_file(root: Path, md5: str) -> Path | None:
    """The DVC cache's copy of the object ``md5`` (DVC 3's ``files/md5`` layout, then DVC 2's), or None."""
    for folder in cache_dirs(root):
        for candidate in (folder / "files" / "md5" / md5[:2] / md5[2:], folder / md5[:2] / md5[2:]):
            if candidate.is_file():
                return candidate
    return None


def pointer_paths(target: str) -> list[str]:
    """The files ``dvc add TARGET`` writes in git: the ``.dvc`` pointer and the folder's ``.gitignore``."""
    target = target.rstrip("/")
    parent = os.path.dirname(target)
    gitignore = os.path.join(parent, ".gitignore") if parent else ".gitignore"
    return [f"{target}.dvc", gitignore]


def yaml_value(text: Any) -> Any:
    """The value DVC will write for ``-S key=text`` (DVC parses it as YAML)."""
    import yaml

    if not isinstance(text, str):
        return text
    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def as_dvc_text(value: Any) -> str:
    """A Python value as text for ``-S`` that DVC parses back to the same value."""
    if isinstance(value, str):
        return value if yaml_value(value) == value else json.dumps(value)
    return json.dumps(value)


def file_md5(path: Path) -> str:
    """The md5 of a file's bytes, as DVC records it for a file output (hex digest)."""
    import hashlib

    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pointer_md5(pointer: Path) -> str | None:
    """The md5 a ``.dvc`` pointer records for its (first) output; None if unreadable or empty.

    Read as YAML, without DVC: the data check, retraining, status and the data check view
    compare it with the md5 a report recorded, so it must stay cheap.
    """
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when PyYAML has it
        data = yaml.load(pointer.read_text(encoding="utf-8"), Loader=loader) or {}  # noqa: S506 (safe)
        md5 = data["outs"][0]["md5"]
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return None
    return str(md5) if md5 else None  # a hand-emptied ``md5:`` (null) records no md5, not "None"


def add(path: Path, targets: Sequence[str], *, progress: Progress | None = None,
        cancel: threading.Event | None = None) -> list[str]:
    """``dvc add`` the targets (paths relative to the project); return the git paths it wrote."""
    if not targets:
        return []
    run_dvc(["add", "--quiet", *targets], path, progress=progress, cancel=cancel)
    written: list[str] = []
    for target in targets:
        for p in pointer_paths(target):
            if p not in written:
                written.append(p)
    return written


def push(path: Path, targets: Sequence[str] = (), *, progress: Progress | None = None,
         cancel: threading.Event | None = None) -> DvcRun | None:
    """Push to the default remote when one is set; None when there is none."""
    if default_remote(path) is None:
        return None
    return run_dvc(["push", *targets], path, progress=progress, cancel=cancel)
