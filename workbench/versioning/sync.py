"""``sync``: share everything a teammate needs through the git remote ``origin`` and the DVC remote,
and bring in what others shared, in one previewable step.

Order (each part only when there is something to do):

1. ``git fetch --prune --no-tags origin`` of the branch, and of ``refs/tags``, ``refs/exps`` and
   ``refs/notes`` into a private namespace (``refs/workbench/origin/...``), so the three-way status
   compares what is here with what is there without touching a local ref;
   ``dvc status -c`` says which DVC objects are missing locally or on the remote. ``--dry-run``
   stops here.
2. Pull: a fast-forward, or a rebase of the user's own local commits onto the remote branch,
   done in a temporary worktree, so a real conflict names the files and leaves the user's
   checkout exactly as it was (the rebase is aborted). The checkout is then moved with
   ``git reset --keep``, which never overwrites an uncommitted edit; a file a pull would change
   that carries uncommitted edits refuses the pull, naming it. Registry tags, experiment refs
   and notes that are only there are added here (notes merged with ``cat_sort_uniq``).
   When the pull changed ``dvc.yaml``, ``params.yaml``, ``dvc.lock`` or data pointers,
   ``dvc pull`` fetches the data and ``dvc status`` says whether the pipeline is up to date;
   ``dvc.lock`` is never merged by hand.
3. Push: DVC objects first (``dvc push``, ``dvc exp push`` for experiments only here), then git:
   the branch, registry tags only here, ``refs/notes/workbench``. Data goes before the pointers,
   so a sync stopped midway (the store gone) leaves nothing a teammate could pull without its
   data, and the next sync finishes the job.

A registry race (a version tag here whose name another person pushed first with other content,
or a stage assignment made here while someone else assigned a stage of that artifact since) is
not pushed: the result names who did what (the tagger) and how to redo it; exit 1.

Exit codes: 0 in sync; 1 conflicts to resolve (races, a rebase conflict, a rejected push, a
store that went away); 2 bad input (no remote, uncommitted edits in the way, wrong credentials);
75 busy (the project lock).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.progress import Progress
from workbench.versioning import dvc, git
from workbench.versioning.exp_refs import parse_exp_ref
from workbench.versioning.locks import ProjectLock, recover_stale_locks
from workbench.versioning.remote import GIT_REMOTE_NAME, read_remotes, s3_error_line
from workbench.versioning.sync_push import ENDPOINT_GONE_SECONDS, _push, _watched_dvc
from workbench.versioning.sync_result import (
    NOTES_REF,
    NS,
    Race,
    SyncError,
    SyncResult,
    _dvc_failure,
)

_REGISTRY_TAG = re.compile(r"^(?P<artifact>[^@#/]+)(?:@(?P<version>v[^#!]+)|#(?P<stage>[^#]+)#(?P<n>\d+))$")
_PIPELINE_FILES = ("dvc.yaml", "params.yaml", "dvc.lock")

__all__ = ["ENDPOINT_GONE_SECONDS", "NOTES_REF", "NS", "Race", "SyncError", "SyncResult", "current_branch", "sync",
           "team_status"]


# --- reading refs -------------------------------------------------------------------------


def _refs(root: Path, *prefixes: str) -> dict[str, str]:
    out = git.run_git(root, "for-each-ref", "--format=%(objectname) %(refname)", *prefixes, check=False)
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, name = line.partition(" ")
        refs[name] = sha
    return refs


def _registry_tags(refs: dict[str, str], prefix: str) -> dict[str, str]:
    return {name[len(prefix):]: sha for name, sha in refs.items()
            if name.startswith(prefix) and _REGISTRY_TAG.match(name[len(prefix):])}


def _exps(refs: dict[str, str], prefix: str) -> dict[str, tuple[str, str]]:
    """{refs/exps/... : (sha, name)} for the experiment refs under ``prefix``."""
    out: dict[str, tuple[str, str]] = {}
    for name, sha in refs.items():
        if not name.startswith(prefix):
            continue
        ref = "refs/exps/" + name[len(prefix):]
        parsed = parse_exp_ref(ref, sha)
        if parsed is not None:
            out[ref] = (sha, parsed.name)
    return out


def _tagger(root: Path, ref: str) -> tuple[str, str]:
    out = git.run_git(root, "for-each-ref", "--format=%(taggername) %(taggeremail)|%(taggerdate:iso-strict)", ref,
                      check=False)
    who, _, when = out.partition("|")
    return (who.strip() or "someone"), when.strip()


def _is_ancestor(root: Path, a: str, b: str) -> bool:
    import subprocess as sp

    return sp.run(["git", "merge-base", "--is-ancestor", a, b], cwd=root, env=git._git_env(),
                  capture_output=True, stdin=sp.DEVNULL).returncode == 0


def current_branch(root: Path) -> str:
    branch = git.run_git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if not branch:
        raise WorkbenchError("HEAD is detached: check out your branch (git switch main) and sync again")
    return branch


# --- the three-way status -----------------------------------------------------------------


def _fetch(root: Path) -> None:
    try:
        git.run_git(root, "fetch", "--quiet", "--prune", "--no-tags", GIT_REMOTE_NAME,
                    f"+refs/heads/*:refs/remotes/{GIT_REMOTE_NAME}/*", f"+refs/tags/*:{NS}/tags/*",
                    f"+refs/exps/*:{NS}/exps/*", f"+refs/notes/*:{NS}/notes/*")
    except WorkbenchError as exc:
        raise WorkbenchError(f"cannot fetch from the git remote '{GIT_REMOTE_NAME}' "
                             f"({str(exc).removeprefix('git fetch failed: ')}): check it with "
                             "'mlops-workbench remote show'") from None


def _three_way(root: Path, branch: str, result: SyncResult) -> dict[str, Any]:
    refs = _refs(root, "refs/heads", f"refs/remotes/{GIT_REMOTE_NAME}", "refs/tags", "refs/exps", NOTES_REF,
                 NS)
    tracking = f"refs/remotes/{GIT_REMOTE_NAME}/{branch}"
    remote_head = refs.get(tracking)
    if remote_head:
        counts = git.run_git(root, "rev-list", "--left-right", "--count", f"HEAD...{tracking}").split()
        result.ahead, result.behind = int(counts[0]), int(counts[1])
    else:
        result.ahead = int(git.run_git(root, "rev-list", "--count", "HEAD") or 0)
    here_tags = _registry_tags(refs, "refs/tags/")
    there_tags = _registry_tags(refs, f"{NS}/tags/")
    result.tags_here = sorted(t for t in here_tags if here_tags[t] != there_tags.get(t))
    result.tags_there = sorted(t for t in there_tags if there_tags[t] != here_tags.get(t))
    here_exps = _exps(refs, "refs/exps/")
    there_exps = _exps(refs, f"{NS}/exps/")
    result.exps_here = sorted(n for r, (s, n) in here_exps.items() if there_exps.get(r, ("",))[0] != s)
    result.exps_there = sorted(n for r, (s, n) in there_exps.items() if here_exps.get(r, ("",))[0] != s)
    notes_here, notes_there = refs.get(NOTES_REF), refs.get(f"{NS}/notes/workbench")
    if notes_here == notes_there:
        result.notes = "in sync"
    elif not notes_there:
        result.notes = "only here"
    elif not notes_here:
        result.notes = "only there"
    elif _is_ancestor(root, notes_there, notes_here):
        result.notes = "ahead"
    elif _is_ancestor(root, notes_here, notes_there):
        result.notes = "behind"
    else:
        result.notes = "diverged"
    return {"remote_head": remote_head, "here_tags": here_tags, "there_tags": there_tags,
            "here_exps": here_exps, "there_exps": there_exps, "notes_here": notes_here,
            "notes_there": notes_there}


def _dvc_cloud_status(path: Path, result: SyncResult, cancel: threading.Event | None) -> None:
    remotes = read_remotes(path)
    if not remotes.dvc_url:
        return
    run = _watched_dvc(["status", "-c", "--json"], path, remotes, None, cancel)
    if run.returncode != 0:
        raise _dvc_failure("status -c", run.output, remotes)
    text = run.output.strip()
    start = text.find("{")
    data = json.loads(text[start:]) if start >= 0 else {}
    for out, state in _flatten_status(data):
        if state == "new":
            result.dvc_missing_remote.append(out)
        elif state in ("deleted", "missing"):
            result.dvc_missing_local.append(out)
    result.dvc_checked = True


def _flatten_status(data: Any) -> list[tuple[str, str]]:
    """(path, state) pairs from ``dvc status -c --json`` (a flat {path: state} map in DVC 3)."""
    pairs: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str):
                pairs.append((key, value))
            else:
                pairs.extend(_flatten_status(value))
    elif isinstance(data, list):
        for item in data:
            pairs.extend(_flatten_status(item))
    return pairs


# --- races --------------------------------------------------------------------------------


def _races(root: Path, state: dict[str, Any], result: SyncResult) -> list[Race]:
    here, there = state["here_tags"], state["there_tags"]
    races: list[Race] = []
    only_there = [t for t in there if t not in here]
    for tag in result.tags_here:
        m = _REGISTRY_TAG.match(tag)
        assert m is not None
        artifact = m["artifact"]
        if m["version"]:
            if tag in there:  # same version number, other content
                by, when = _tagger(root, f"{NS}/tags/{tag}")
                races.append(Race(tag, "version", tag, by, when,
                                  f"git tag -d '{tag}', sync, then 'mlops-workbench model register' "
                                  "(it takes the next free version)"))
            continue
        n = int(m["n"])
        rivals = [t for t in ([tag] if tag in there else []) + only_there
                  if (rm := _REGISTRY_TAG.match(t)) and rm["artifact"] == artifact and rm["n"] and int(rm["n"]) >= n]
        if rivals:
            theirs = sorted(rivals, key=lambda t: int(t.rsplit("#", 1)[1]))[-1]
            by, when = _tagger(root, f"{NS}/tags/{theirs}")
            races.append(Race(tag, "stage", theirs, by, when,
                              f"git tag -d '{tag}', sync, check 'mlops-workbench model list', then "
                              f"'mlops-workbench model promote VERSION --stage {m['stage']}' again"))
    return races


# --- pulling ------------------------------------------------------------------------------


def _dirty_in(root: Path, files: list[str]) -> list[str]:
    return sorted(git.changed_paths(root, files)) if files else []


def _rebase_in_worktree(root: Path, gdir: Path, onto: str, commits: list[str]) -> tuple[str | None, list[str]]:
    """Replay ``commits`` onto ``onto`` in a temporary worktree: (new head, []) or (None, conflicting files)."""
    wt = gdir / "workbench-sync-worktree"
    if wt.exists():
        git.run_git(root, "worktree", "remove", "--force", str(wt), check=False)
        shutil.rmtree(wt, ignore_errors=True)
    git.run_git(root, "worktree", "prune")
    git.run_git(root, "worktree", "add", "--quiet", "--detach", str(wt), onto)
    try:
        for sha in commits:
            done = subprocess.run(["git", "cherry-pick", "--allow-empty", "--keep-redundant-commits", sha],
                                  cwd=wt, env=git._git_env(), capture_output=True, stdin=subprocess.DEVNULL)
            if done.returncode != 0:
                files = git.run_git(wt, "diff", "--name-only", "--diff-filter=U").split("\n")
                git.run_git(wt, "cherry-pick", "--abort", check=False)
                return None, [f for f in files if f]
        return git.head(wt), []
    finally:
        git.run_git(root, "worktree", "remove", "--force", str(wt), check=False)
        shutil.rmtree(wt, ignore_errors=True)
        git.run_git(root, "worktree", "prune", check=False)


def _pull_branch(root: Path, gdir: Path, branch: str, state: dict[str, Any], result: SyncResult) -> str | None:
    """Bring the remote branch in; return the old HEAD when HEAD moved."""
    tracking = f"refs/remotes/{GIT_REMOTE_NAME}/{branch}"
    if not result.behind:
        return None
    old = git.head(root)
    if not result.ahead:
        target, how = state["remote_head"], "fast-forward"
    else:
        me = git.identity(root).email.lower()
        mine = git.run_git(root, "log", "--reverse", "--format=%H %ae", f"{tracking}..HEAD").splitlines()
        others = sorted({ln.split(" ", 1)[1] for ln in mine if ln.split(" ", 1)[1].lower() != me})
        if others:
            result.conflict_files = ["(branch)"]
            result.messages.append(
                f"your branch and {GIT_REMOTE_NAME}/{branch} diverged and the local commits include others' "
                f"({', '.join(others)}): merge by hand (git pull --rebase), then sync again")
            return None
        target, conflicts = _rebase_in_worktree(root, gdir, state["remote_head"],
                                                [ln.split(" ", 1)[0] for ln in mine])
        how = "rebase"
        if target is None:
            result.conflict_files = conflicts
            hint = (" (dvc.lock is never merged by hand: keep the remote's with 'git checkout "
                    f"{GIT_REMOTE_NAME}/{branch} -- dvc.lock', then 'dvc repro')") if "dvc.lock" in conflicts else ""
            result.messages.append(
                f"your commits and {GIT_REMOTE_NAME}/{branch} both changed {', '.join(conflicts)}: nothing was "
                f"changed here; resolve it with 'git pull --rebase {GIT_REMOTE_NAME} {branch}' (edit the files, "
                f"git add them, git rebase --continue){hint}, then sync again")
            return None
    files = git.run_git(root, "diff", "--name-only", "-z", old, target).split("\0")
    files = [f for f in files if f]
    dirty = _dirty_in(root, files)
    if dirty:
        raise WorkbenchError(
            f"uncommitted edits in {', '.join(dirty)}, which the pull would change: commit them "
            "(git add ... && git commit) or move them aside, then sync again; nothing was changed")
    git.run_git(root, "reset", "--quiet", "--keep", target)
    result.pulled, result.pulled_files = how, files
    if how == "rebase":
        result.ahead = int(git.run_git(root, "rev-list", "--count", f"{tracking}..HEAD") or 0)
    result.behind = 0
    return old


def _pull_refs(root: Path, state: dict[str, Any], result: SyncResult, races: list[Race]) -> None:
    here, there = state["here_tags"], state["there_tags"]
    for tag in result.tags_there:
        if tag not in here:
            git.run_git(root, "update-ref", f"refs/tags/{tag}", there[tag], "")
        elif not any(r.tag == tag for r in races):
            races.append(Race(tag, "version", tag, *_tagger(root, f"{NS}/tags/{tag}"),
                              f"git tag -d '{tag}' and sync again"))
    for ref, (sha, _name) in state["there_exps"].items():
        if ref not in state["here_exps"]:
            git.run_git(root, "update-ref", ref, sha, "")
    if result.notes in ("only there", "behind"):
        git.run_git(root, "update-ref", NOTES_REF, state["notes_there"])
    elif result.notes == "diverged":
        git.run_git(root, "notes", "--ref=workbench", "merge", "--quiet", "-s", "cat_sort_uniq",
                    f"{NS}/notes/workbench")


def _after_pull(path: Path, result: SyncResult, cancel: threading.Event | None, progress: Progress | None) -> None:
    """``dvc pull`` the data of what the pull brought (or what is missing here); then the pipeline's state."""
    touched = [f for f in result.pulled_files
               if f.endswith(".dvc") or Path(f).name in _PIPELINE_FILES]
    if not touched and not result.dvc_missing_local:
        return
    remotes = read_remotes(path)
    if remotes.dvc_url:
        if progress is not None:
            progress(f"fetching data from {remotes.dvc_url}")
        run = _watched_dvc(["pull"], path, remotes, progress, cancel)
        if run.returncode != 0:
            line = s3_error_line(run.output, remotes)
            result.messages.append(line or f"dvc pull did not fetch everything ({run.last_error_line()}): "
                                   "run 'dvc pull' when the teammate who pushed has run sync")
        else:
            result.dvc_missing_local = []
    if not touched:
        return
    if any(Path(f).name in ("dvc.yaml", "params.yaml") or f.endswith(".dvc") for f in touched) \
            or "dvc.lock" in touched:
        run = dvc.run_dvc(["status", "--json"], path, check=False, cancel=cancel)
        text = run.output.strip()
        start = text.find("{")
        try:
            stale = json.loads(text[start:]) if start >= 0 else {}
        except ValueError:
            stale = {"?": "?"}
        if run.returncode == 0 and not stale:
            result.pipeline = "up to date"
        else:
            stages = ", ".join(sorted(k for k in stale if not k.endswith(".dvc"))) or "data"
            result.pipeline = (f"not up to date after the pull ({stages} changed): run 'dvc repro' "
                               "(or 'mlops-workbench train') to re-derive dvc.lock")


# --- the command --------------------------------------------------------------------------


def sync(path: str | Path, *, dry_run: bool = False, progress: Progress | None = None,
         cancel: threading.Event | None = None) -> SyncResult:
    """Fetch, show the three-way status, pull, push (see the module docstring)."""
    path = Path(path).absolute()
    root = git.repo_root(path)
    if root is None or not (path / ".dvc").is_dir():
        raise WorkbenchError(f"{path} is not a workbench project: open a project folder (or -C PATH)")
    url = git.run_git(root, "remote", "get-url", GIT_REMOTE_NAME, check=False)
    if not url:
        raise WorkbenchError("this project has no shared git remote: set one with "
                             "'mlops-workbench remote set --git URL [--dvc URL]'")
    branch = current_branch(root)
    gdir = git.git_dir(root)
    say = progress or (lambda _line: None)
    cleared = recover_stale_locks(path, gdir)
    with ProjectLock(gdir, "Sync") as lock:
        result = SyncResult(branch=branch, remote=url, dry_run=dry_run, messages=cleared + lock.cleared)
        say(f"fetching from {url}")
        _fetch(root)
        state = _three_way(root, branch, result)
        _dvc_cloud_status(path, result, cancel)
        races = _races(root, state, result)
        result.found = json.loads(json.dumps(result.status_json()))
        if dry_run:
            result.races = races
            return result
        _pull_branch(root, gdir, branch, state, result)
        if result.conflict_files:
            result.races = races
            return result
        _pull_refs(root, state, result, races)
        _after_pull(path, result, cancel, progress)
        _push(path, root, branch, state, result, races, cancel, progress)
        result.races = races
        return result


# --- read-only, for status (no network) ---------------------------------------------------


def team_status(path: str | Path, limit: int = 5) -> dict[str, Any]:
    """Who did the last steps (authors and trailers) and ahead/behind from the last fetch (refs only)."""
    path = Path(path)
    root = git.repo_root(path)
    if root is None:
        return {}
    fmt = "%H%x1f%an%x1f%ae%x1f%aI%x1f%(trailers:key=Workbench-Step,valueonly,separator=)%x1f" \
          "%(trailers:key=Workbench-Role,valueonly,separator=)%x1f%s%x1e"
    out = git.run_git(root, "log", f"-{limit}", f"--format={fmt}", check=False)
    steps = []
    for rec in out.split("\x1e"):
        parts = rec.strip("\n").split("\x1f")
        if len(parts) >= 7:
            steps.append({"commit": parts[0][:7], "author": parts[1], "email": parts[2], "when": parts[3],
                          "step": parts[4].strip() or None, "role": parts[5].strip() or None, "summary": parts[6]})
    remote: dict[str, Any] = {"name": GIT_REMOTE_NAME, "url": None, "ahead": None, "behind": None,
                              "fetched": False}
    url = git.run_git(root, "config", "--get", f"remote.{GIT_REMOTE_NAME}.url", check=False)
    if url:
        remote["url"] = url
        branch = git.run_git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        tracking = f"refs/remotes/{GIT_REMOTE_NAME}/{branch}"
        if branch and git.run_git(root, "rev-parse", "--verify", "--quiet", tracking, check=False):
            counts = git.run_git(root, "rev-list", "--left-right", "--count", f"HEAD...{tracking}").split()
            remote.update(ahead=int(counts[0]), behind=int(counts[1]), fetched=True)
            theirs = git.run_git(root, "log", "--format=%an", f"HEAD..{tracking}", check=False).splitlines()
            remote["teammates_since_sync"] = sorted(set(theirs))
    return {"last_steps": steps, "remote": remote}
