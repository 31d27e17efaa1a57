"""git operations: identity, repository discovery, path states, commits with trailers.

Every call is one ``git`` subprocess, so nothing is shared between threads and no
``git cat-file`` process outlives its operation (GitPython leaks them, and its import
alone costs more than the dashboard's git reads); writes are serialised by the project
lock (:mod:`workbench.versioning.locks`). Commits stage only the paths a step names —
never ``git add -A``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import DirtyPathError, WorkbenchError

TRAILER_STEP = "Workbench-Step"
TRAILER_ROLE = "Workbench-Role"
#: On a commit made from a monitoring report's batch (retraining): the report's id.
TRAILER_MONITORING_REPORT = "Workbench-Monitoring-Report"

_IDENTITY_HELP = (
    "git does not know who you are: run "
    "git config --global user.name \"Your Name\" && "
    "git config --global user.email you@example.com"
)


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    env["LC_ALL"] = env.get("LC_ALL", "C.UTF-8")
    return env


def run_git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run one git command in ``cwd``; return stdout (stripped of the last newline).

    A plain subprocess, not GitPython: the status and the timeline run before the TUI's
    first paint, and importing GitPython alone costs more than those git calls together.
    """
    import subprocess

    env = _git_env()
    env.setdefault("LANGUAGE", "C")  # as GitPython did: git's messages in English, parsed below
    try:
        done = subprocess.run(["git", *args], cwd=str(cwd), env=env, stdin=subprocess.DEVNULL,
                              capture_output=True)
    except FileNotFoundError:
        if not Path(cwd).is_dir():
            raise WorkbenchError(f"git {args[0]} failed: {cwd} is not a folder") from None
        raise WorkbenchError("git is not installed or not on PATH: install git 2.30 or newer") from None
    if done.returncode != 0:
        if not check:
            return ""
        detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
        line = next((ln for ln in detail if ln.strip()), f"exit {done.returncode}")
        raise WorkbenchError(f"git {args[0]} failed: {line.strip()}") from None
    out = done.stdout.decode("utf-8", "surrogateescape")
    return out[:-1] if out.endswith("\n") else out


def git_bytes(cwd: Path, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
    """Run git with ``input`` on stdin; return raw stdout (``b""`` on failure without ``check``).

    For plumbing that streams bytes (``cat-file --batch``, notes): unlike :func:`run_git` the
    output is not decoded or trimmed, and a failure names git's *last* stderr line (the one
    plumbing commands put their reason in).
    """
    import subprocess

    try:
        done = subprocess.run(["git", *args], cwd=str(cwd), input=input, capture_output=True,
                              env=_git_env(), stdin=None if input is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        raise WorkbenchError("git is not installed or not on PATH: install git 2.30 or newer") from None
    if done.returncode != 0 and check:
        lines = [ln for ln in done.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        raise WorkbenchError(f"git {args[0]} failed: {lines[-1] if lines else f'exit {done.returncode}'}")
    return done.stdout if done.returncode == 0 else b""


def git_text(cwd: Path, *args: str, check: bool = True) -> str:
    """:func:`git_bytes` decoded (invalid UTF-8 replaced), untrimmed."""
    return git_bytes(cwd, *args, check=check).decode("utf-8", "replace")


def repo_root(path: Path) -> Path | None:
    """The top folder of the git repository that contains ``path``, or None."""
    probe = Path(path)
    while not probe.exists():
        if probe.parent == probe:
            return None
        probe = probe.parent
    if probe.is_file():
        probe = probe.parent
    # a bare repository, a .git folder or no repository at all: git fails, so None
    top = run_git(probe, "rev-parse", "--show-toplevel", check=False)
    return Path(top).resolve() if top else None


def git_dir(root: Path) -> Path:
    """The ``.git`` folder of the repository at ``root``."""
    return Path(run_git(root, "rev-parse", "--absolute-git-dir"))


@dataclass(frozen=True)
class Identity:
    """Who is acting: the git author of the commits the workbench makes."""

    name: str
    email: str


def identity(cwd: Path) -> Identity:
    """The configured git identity, or a one-line error saying how to set it.

    git may guess an identity from the host name; the workbench does not, because a
    guessed author makes the history lie about who did what.
    """
    probe = Path(cwd)
    while not probe.exists():
        probe = probe.parent
    name = os.environ.get("GIT_AUTHOR_NAME") or run_git(probe, "config", "user.name", check=False)
    email = os.environ.get("GIT_AUTHOR_EMAIL") or run_git(probe, "config", "user.email", check=False)
    if not name.strip() or not email.strip():
        raise WorkbenchError(_IDENTITY_HELP)
    return Identity(name.strip(), email.strip())


def init_repo(path: Path) -> None:
    """``git init`` with ``main`` as the first branch."""
    run_git(path, "init", "--quiet", "--initial-branch=main")


def has_head(root: Path) -> bool:
    """Whether the repository has at least one commit."""
    return bool(run_git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False))


def head(root: Path) -> str:
    """The full id of HEAD."""
    return run_git(root, "rev-parse", "HEAD")


# --- reading history and the index: what the steps ask of git, named ----------------------


def file_at(root: Path, rev: str, path: str) -> str:
    """The text of the repository-relative ``path`` as ``rev`` holds it; "" when it has none."""
    return run_git(root, "show", f"{rev}:{path}", check=False)


def file_log(root: Path, path: str, *, limit: int) -> list[tuple[str, str]]:
    """(commit, author date ISO 8601) of the last ``limit`` commits that changed ``path``, newest first."""
    log = run_git(root, "log", f"-{limit}", "--format=%H%x1f%aI", "--", path, check=False)
    return [(sha, when) for sha, _, when in (line.partition("\x1f") for line in log.splitlines())]


def commit_messages(root: Path, path: str) -> list[str]:
    """The full messages of every commit that changed the repository-relative ``path``, newest first."""
    out = run_git(root, "log", "--format=%B%x00", "--", path, check=False)
    return [m for m in out.split("\0") if m.strip()]


def tag_names(root: Path) -> list[str]:
    """Every tag of the repository (``git tag --list``)."""
    return [t for t in run_git(root, "tag", "--list", check=False).splitlines() if t]


def is_tracked(root: Path, path: str | Path) -> bool:
    """Whether git tracks ``path`` (a file, or any file under a folder)."""
    return bool(run_git(root, "ls-files", "--", str(path), check=False).strip())


def checkout_from_head(root: Path, paths: Sequence[str]) -> None:
    """Work tree and index of ``paths`` (repository-relative, all in HEAD) as HEAD has them."""
    run_git(root, "checkout", "HEAD", "--", *paths)


def remove_from_index(root: Path, paths: Sequence[str]) -> None:
    """Unstage ``paths`` that HEAD does not have (``git rm --cached``); the files stay."""
    run_git(root, "rm", "-q", "--cached", "--ignore-unmatch", "--", *paths)


def changed_paths(root: Path, paths: Iterable[str]) -> dict[str, str]:
    """Paths (relative to ``root``) that differ from HEAD, with git's two-letter status.

    Untracked files show as ``??``; ignored files are left out (DVC owns those).
    """
    paths = [p for p in paths]
    if not paths:
        return {}
    out = run_git(
        root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--", *paths
    )
    result: dict[str, str] = {}
    for record in out.split("\0"):
        if len(record) > 3:
            result[record[3:]] = record[:2]
    return result


#: git's two-letter status codes of a path with an unresolved merge conflict.
UNMERGED = frozenset({"DD", "AU", "UD", "UA", "DU", "AA", "UU"})


def refuse_dirty(root: Path, paths: Sequence[str], *, allow_untracked: Iterable[str] = ()) -> None:
    """Raise :class:`DirtyPathError` if any path carries uncommitted edits.

    A step calls this before it writes: edits it did not make are someone's work,
    and the step must not overwrite or commit them.
    """
    allowed = set(allow_untracked)
    for path, code in changed_paths(root, paths).items():
        if code == "??" and path in allowed:
            continue
        if code in UNMERGED:
            raise DirtyPathError(_conflict_hint(path))
        what = "is not committed yet" if code == "??" else "has uncommitted edits"
        raise DirtyPathError(
            f"{path} {what}: commit or move your changes first "
            f"(git add {path} && git commit), then run the step again"
        )


def _conflict_hint(path: str) -> str:
    # `git checkout -- PATH` fails on an unmerged path, and `git add` alone is what marks it resolved.
    return (f"{path} has an unresolved merge conflict: resolve the conflict in {path} "
            f"(edit out the <<<<<<< ======= >>>>>>> markers), then git add {path}, "
            "then run the step again")


# (file or folder in the git dir, what is in progress, the command, how to finish, how to abort)
_IN_PROGRESS: tuple[tuple[str, str, str, str, str], ...] = (
    ("rebase-merge", "a rebase", "git rebase", "git rebase --continue", "git rebase --abort"),
    ("rebase-apply/applying", "a patch series", "git am", "git am --continue", "git am --abort"),
    ("rebase-apply", "a rebase", "git rebase", "git rebase --continue", "git rebase --abort"),
    ("MERGE_HEAD", "a merge", "git merge", "git commit", "git merge --abort"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick", "git cherry-pick --continue",
     "git cherry-pick --abort"),
    ("REVERT_HEAD", "a revert", "git revert", "git revert --continue", "git revert --abort"),
    ("sequencer/todo", "a cherry-pick or revert of several commits", "git cherry-pick/revert",
     "git cherry-pick --continue or git revert --continue",
     "git cherry-pick --abort or git revert --abort"),
)


def repo_state(root: Path, gdir: Path | None = None) -> str | None:
    """Why a step must not commit now, as one line naming the state and the way out; None if safe.

    Unsafe: a merge, rebase (either backend), ``git am``, cherry-pick, revert or bisect in
    progress, a detached HEAD, or paths with unresolved conflicts. A commit made then is
    lost or misplaced (``git rebase --abort`` drops it; a detached HEAD's commit is on no
    branch). Reads the git dir's state files as ``git status`` does; one subprocess for
    the conflicts.
    """
    gdir = Path(gdir) if gdir is not None else git_dir(root)
    for marker, what, command, finish, abort in _IN_PROGRESS:
        if (gdir / marker).exists():
            return (f"{what} is in progress ({command}): finish it ({finish}) or abort it ({abort}), "
                    "then run the step again")
    if (gdir / "BISECT_LOG").exists():
        return ("a bisect is in progress (git bisect): end it (git bisect reset), "
                "then run the step again")
    try:
        head_text = (gdir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        head_text = "ref: "
    if not head_text.startswith("ref: "):
        if (gdir / "mlops-workbench" / "exp-run.json").exists():  # training's journal of a killed run
            return ("HEAD is detached because a train was interrupted: run 'mlops-workbench exp list' "
                    "(it puts the project back as it was), then run the step again")
        return (f"HEAD is detached (at {head_text[:7]}), so a commit would be on no branch: "
                "switch to your branch (git switch BRANCH, or git switch -c NEW-BRANCH to keep "
                "commits made here), then run the step again")
    unmerged = [rec.partition("\t")[2] for rec in run_git(root, "ls-files", "--unmerged", "-z", "--full-name",
                                                           check=False).split("\0") if "\t" in rec]
    if unmerged:
        return _conflict_hint(unmerged[0])
    return None


def refuse_unsafe_state(path: Path, gdir: Path | None = None) -> None:
    """Raise a one-line :class:`WorkbenchError` when :func:`repo_state` finds the repository unsafe.

    ``path`` is any folder in the repository (the project may be a subfolder of it); a
    folder outside any repository passes (the callers say what is missing themselves).
    """
    if gdir is None:
        out = run_git(Path(path), "rev-parse", "--show-toplevel", "--absolute-git-dir", check=False)
        parts = out.splitlines()
        if len(parts) != 2:
            return
        path, gdir = Path(parts[0]), Path(parts[1])
    why = repo_state(Path(path), gdir)
    if why:
        raise WorkbenchError(why)


def format_message(title: str, summary: str, step_id: str, role: str, body: str = "",
                   trailers: Mapping[str, str] | None = None) -> str:
    """The commit message of a step: ``<Step>: <summary>``, optional body, trailers (the step's
    and role's, then ``trailers``: one ``Key: value`` line each, in git's trailer block)."""
    subject = f"{title}: {summary}".strip().replace("\n", " ")
    parts = [subject]
    if body.strip():
        parts.append(body.strip())
    extra = "".join(f"\n{key}: {' '.join(value.split())}" for key, value in (trailers or {}).items() if value)
    parts.append(f"{TRAILER_STEP}: {step_id}\n{TRAILER_ROLE}: {role}{extra}")
    return "\n\n".join(parts) + "\n"


def commit_paths(root: Path, paths: Sequence[str], message: str) -> str | None:
    """Stage exactly ``paths`` and commit only them; return the new commit id.

    Returns None when none of the paths changed (nothing to record). Anything else the
    user has staged stays staged and out of this commit (``git commit --only``).
    """
    paths = sorted(set(paths))
    if not paths:
        return None
    present = [p for p in paths if (root / p).exists()]
    tracked_missing = [
        p for p in paths if not (root / p).exists() and run_git(root, "ls-files", "--", p)
    ]
    if present:
        run_git(root, "add", "--", *present)
    if tracked_missing:
        run_git(root, "rm", "--cached", "--quiet", "--", *tracked_missing)
    to_commit = present + tracked_missing
    if not to_commit:
        return None
    staged = run_git(root, "diff", "--cached", "--name-only", "-z", "--", *to_commit)
    if not staged.strip("\0") and has_head(root):
        return None
    msg_file = git_dir(root) / "WORKBENCH_COMMIT_MSG"
    msg_file.write_text(message, encoding="utf-8")
    try:
        run_git(root, "commit", "--quiet", "--only", "-F", str(msg_file), "--", *to_commit)
    finally:
        msg_file.unlink(missing_ok=True)
    return head(root)
