"""Clone a teammate's workbench project from its shared git remote: ``git clone``, the
experiment refs and notes, then ``dvc pull``.

The URL is checked first with the same parse and reach as ``remote set`` (one line, nothing
written). The destination must be a new or empty folder; a clone that fails, is cancelled or
turns out not to be a workbench project is removed again, so nothing half-made is left.
A ``dvc pull`` that cannot fetch everything (the store unreachable, credentials missing on this
machine) leaves the clone, which is complete as git, and says what to run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import CancelledError, WorkbenchError
from workbench.progress import Progress
from workbench.versioning import dvc, git
from workbench.versioning.remote import GIT_REMOTE_NAME, check_git_url, read_remotes, s3_error_line

CONFIG_NAME = "workbench.yaml"


@dataclass(frozen=True)
class ClonedProject:
    path: Path
    messages: tuple[str, ...]


def default_folder(url: str, parent: Path) -> Path:
    """``parent/<repository name>`` for ``url`` (``.../team/churn.git`` -> ``parent/churn``)."""
    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git") or "project"
    return parent / name


def _check_destination(dest: Path) -> bool:
    """True when ``dest`` must be made (it does not exist); an existing one must be an empty folder."""
    if not dest.exists():
        if not dest.parent.is_dir():
            raise WorkbenchError(f"the folder {dest.parent} does not exist: choose a folder to clone into")
        return True
    if not dest.is_dir():
        raise WorkbenchError(f"{dest} is a file: choose a new or empty folder to clone into")
    if any(dest.iterdir()):
        raise WorkbenchError(f"{dest} is not empty: choose a new or empty folder to clone into")
    return False


_COUNTER = re.compile(r"\d+% \(\d+/\d+\)")


def _worth_showing(line: str) -> bool:
    """git's counters (``Receiving objects:  42% (8/19)``) only once they are done, and not the
    bare-repository HEAD warning that :func:`_check_out_a_branch` settles."""
    if _COUNTER.search(line) and not line.endswith("done."):
        return False
    return not line.startswith("warning: remote HEAD refers to nonexistent ref")


def _git_clone(url: str, dest: Path, progress: Progress, cancel: threading.Event | None) -> None:
    """``git clone --progress``, its progress lines (split on carriage returns) to ``progress``."""
    proc = subprocess.Popen(["git", "clone", "--progress", url, str(dest)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=git._git_env())
    assert proc.stderr is not None
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.1):
            if cancel is not None and cancel.is_set():
                proc.terminate()
                return

    watcher = threading.Thread(target=watch, name="clone-cancel", daemon=True)
    watcher.start()
    lines: list[str] = []
    buffer = b""
    try:
        while chunk := proc.stderr.read1(4096):  # type: ignore[attr-defined]
            buffer += chunk
            *done, buffer = buffer.replace(b"\r", b"\n").split(b"\n")
            for raw in done:
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    lines.append(line)
                    if _worth_showing(line):
                        progress(line)
        proc.wait()
    finally:
        stop.set()
        watcher.join(timeout=5)
    if cancel is not None and cancel.is_set():
        raise CancelledError("the clone was cancelled: nothing was kept")
    if proc.returncode != 0:
        fatal = next((ln for ln in reversed(lines) if ln.startswith("fatal:")), lines[-1] if lines else "")
        raise WorkbenchError(f"git clone of {url} failed ({fatal.removeprefix('fatal:').strip() or 'no reason given'})"
                             ": check the URL and your access")


def _check_out_a_branch(dest: Path) -> None:
    """A bare repository made by ``git init --bare`` names ``master`` as its HEAD even when only
    ``main`` was pushed: git then clones without a checkout. Check out main (else master, else the
    only branch) as git would have."""
    if git.run_git(dest, "rev-parse", "--verify", "--quiet", "HEAD", check=False):
        return
    prefix = f"refs/remotes/{GIT_REMOTE_NAME}/"
    branches = [ref.removeprefix(prefix) for ref in
                git.run_git(dest, "for-each-ref", "--format=%(refname)", prefix, check=False).splitlines()]
    branches = [b for b in branches if b and b != "HEAD"]
    chosen = next((b for b in ("main", "master") if b in branches), branches[0] if len(branches) == 1 else None)
    if chosen is not None:
        git.run_git(dest, "checkout", "--quiet", "-B", chosen, "--track", f"{GIT_REMOTE_NAME}/{chosen}")


def clone_project(url: str, dest: str | Path, *, progress: Progress | None = None,
                  cancel: threading.Event | None = None) -> ClonedProject:
    """Clone the workbench project at ``url`` into ``dest`` and fetch its data (see the module docstring)."""
    say = progress or (lambda _line: None)
    dest = Path(dest).expanduser().absolute()
    url = check_git_url(url)
    made = _check_destination(dest)
    say(f"cloning {url} into {dest}")
    try:
        _git_clone(url, dest, say, cancel)
        _check_out_a_branch(dest)
        if not (dest / CONFIG_NAME).is_file():
            raise WorkbenchError(f"{url} holds no {CONFIG_NAME} on its default branch: it is not a workbench "
                                 "project (nothing was kept)")
    except BaseException:
        if made:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in dest.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise
    say("fetching experiments and notes")
    git.run_git(dest, "fetch", "--quiet", GIT_REMOTE_NAME, "+refs/exps/*:refs/exps/*",
                "+refs/notes/*:refs/notes/*", check=False)
    messages: list[str] = [f"cloned {url} into {dest}"]
    remotes = read_remotes(dest)
    if (dest / ".dvc").is_dir() and remotes.dvc_url:
        say(f"fetching data from {remotes.dvc_url} (dvc pull)")
        run = dvc.run_dvc(["pull"], dest, check=False, progress=say, cancel=cancel)
        if run.returncode != 0:
            line = s3_error_line(run.output, remotes)
            messages.append(line or f"dvc pull did not fetch everything ({run.last_error_line()}): the git part "
                            f"is complete; run 'dvc pull' in {dest} when the DVC remote answers")
        else:
            messages.append(f"data fetched from {remotes.dvc_url}")
    elif (dest / ".dvc").is_dir():
        messages.append("the project has no DVC remote: its data is not shared (mlops-workbench remote set --dvc URL)")
    return ClonedProject(path=dest, messages=tuple(messages))
