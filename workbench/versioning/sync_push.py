"""The push half of ``sync``: DVC objects first, then git (the branch, registry tags only
here, ``refs/notes/workbench``); and :func:`_watched_dvc`, the DVC run every transfer of
sync goes through, stopped when the S3 endpoint goes away."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

from workbench.progress import Progress
from workbench.versioning import dvc, git
from workbench.versioning.remote import GIT_REMOTE_NAME, read_remotes
from workbench.versioning.sync_result import NOTES_REF, Race, SyncError, SyncResult, _dvc_failure

#: A store whose endpoint refuses connections this many seconds in a row has gone away: DVC's
#: S3 client would otherwise retry every object with back-off for many minutes.
ENDPOINT_GONE_SECONDS = 8.0


def _watched_dvc(args: list[str], path: Path, remotes: Any, progress: Progress | None,
                 cancel: threading.Event | None) -> dvc.DvcRun:
    """``dvc ARGS``, stopped when the S3 endpoint stops answering (or on the user's cancel)."""
    import socket
    import time
    import urllib.parse

    from workbench.errors import CancelledError

    endpoint = urllib.parse.urlsplit(remotes.dvc_endpoint) if remotes.dvc_endpoint else None
    if endpoint is None or not endpoint.hostname:
        return dvc.run_dvc(args, path, check=False, progress=progress, cancel=cancel)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    stop, done = threading.Event(), threading.Event()
    gone: list[bool] = []

    def watch() -> None:
        down_since: float | None = None
        while not done.wait(0.5):
            if cancel is not None and cancel.is_set():
                stop.set()
                return
            try:
                socket.create_connection((endpoint.hostname, port), timeout=2).close()
                down_since = None
            except OSError:
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since >= ENDPOINT_GONE_SECONDS:
                    gone.append(True)
                    stop.set()
                    return

    watcher = threading.Thread(target=watch, name="endpoint-watch", daemon=True)
    watcher.start()
    try:
        return dvc.run_dvc(args, path, check=False, progress=progress, cancel=stop)
    except CancelledError:
        if gone:
            raise SyncError(f"the DVC remote {remotes.dvc_url} at {remotes.dvc_endpoint} stopped answering during "
                            f"dvc {args[0]}; nothing more was pushed: run sync again when it is back") from None
        raise
    finally:
        done.set()
        watcher.join(timeout=5)


def _push(path: Path, root: Path, branch: str, state: dict[str, Any], result: SyncResult, races: list[Race],
          cancel: threading.Event | None, progress: Progress | None) -> None:
    remotes = read_remotes(path)
    raced = {r.tag for r in races}
    if remotes.dvc_url and (result.dvc_missing_remote or result.ahead or result.pulled or not result.dvc_checked):
        if progress is not None:
            progress(f"pushing DVC objects to {remotes.dvc_url}")
        run = _watched_dvc(["push"], path, remotes, progress, cancel)
        if run.returncode != 0:
            raise _dvc_failure("push", run.output, remotes)
        if result.dvc_missing_remote:
            result.pushed.append(f"DVC objects of {len(result.dvc_missing_remote)} output(s)")
    here_only = [n for r, (s, n) in state["here_exps"].items() if state["there_exps"].get(r, ("",))[0] != s]
    if here_only:
        args = ["exp", "push", GIT_REMOTE_NAME, *sorted(set(here_only))]
        if not remotes.dvc_url:
            args.insert(2, "--no-cache")
        run = _watched_dvc(args, path, remotes, progress, cancel)
        if run.returncode != 0:
            raise _dvc_failure("exp push", run.output, remotes)
        result.pushed.append(f"{len(set(here_only))} experiment(s)")
    specs: list[str] = []
    if result.ahead:
        specs.append(f"HEAD:refs/heads/{branch}")
    tags = [t for t in result.tags_here if t not in raced and t not in state["there_tags"]]
    specs += [f"refs/tags/{t}:refs/tags/{t}" for t in tags]
    notes_now = git.run_git(root, "rev-parse", "--verify", "--quiet", NOTES_REF, check=False)
    if notes_now and notes_now != state["notes_there"]:
        specs.append(f"{NOTES_REF}:{NOTES_REF}")
    if not specs:
        return
    done = subprocess.run(["git", "push", "--porcelain", GIT_REMOTE_NAME, *specs], cwd=root, env=git._git_env(),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        text = (done.stderr + "\n" + done.stdout)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        reason = next((ln.removeprefix("remote:").strip() for ln in lines
                       if ln.startswith("remote:") and ln.removeprefix("remote:").strip()), "")
        if "non-fast-forward" in text or "fetch first" in text or "stale info" in text:
            raise SyncError(f"someone pushed to {GIT_REMOTE_NAME} during this sync: run sync again")
        rejected = next((ln for ln in lines if ln.startswith("!")), "")
        raise SyncError(f"the git remote '{GIT_REMOTE_NAME}' rejected the push"
                        f" ({reason or rejected or lines[-1] if lines else 'no reason given'}): check your access "
                        "to it; nothing else was changed there")
    if result.ahead:
        result.pushed.append(f"{result.ahead} commit(s) on {branch}")
        result.ahead = 0
        if not git.run_git(root, "config", "--get", f"branch.{branch}.remote", check=False):
            git.run_git(root, "branch", "--quiet", f"--set-upstream-to={GIT_REMOTE_NAME}/{branch}", check=False)
    if tags:
        result.pushed.append(f"{len(tags)} registry tag(s)")
    if notes_now and notes_now != state["notes_there"]:
        result.pushed.append("notes")
