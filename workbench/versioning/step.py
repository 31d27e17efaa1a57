"""A workbench step as one transaction: check, write, commit — or put everything back.

Usage::

    with begin_step(project_path, "requirements", paths=["workbench.yaml"]) as step:
        step.write_text("workbench.yaml", text)
        step.summary = "set the success metric"
    step.commit  # the new commit id (None if nothing changed)

Before anything is written the step takes the project lock and refuses if any path
it will write carries uncommitted edits. If the body raises, every file the step
wrote is restored to what it was (or removed if it was new) and nothing is committed.

A process killed in the middle of a step (kill -9, a power cut of the terminal, OOM)
runs no rollback, so the step keeps a *journal* in the git dir
(``.git/mlops-workbench/step-journal/``): before each file is first written, its old bytes
(or "it did not exist") are saved there. The next step on the project, holding the
lock, finds the journal of the dead process and finishes its work: when the step's
commit was made, the files match it and the journal is dropped; otherwise every file
is put back, the index entries the dead step staged are unstaged, and the user hears
what was put back. So after a kill the project is either at the step's commit or as it
was before it — never half-way.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.fsutil import atomic_write_bytes, atomic_write_text
from workbench.lifecycle import STEP_BY_ID, step_title
from workbench.versioning import dvc, git
from workbench.versioning.locks import ProjectLock, recover_stale_locks


def resolve_role(project_path: Path, step_id: str, who: git.Identity, role: str | None) -> str:
    """The role a commit is made in: explicit, else the team member matching the git identity,
    else the step's default role."""
    from workbench.project import ROLES, Project

    if role:
        if role not in ROLES:
            raise WorkbenchError(f"role {role!r} is not known: use one of {', '.join(ROLES)}")
        return role
    project = Project(project_path)
    if project.is_project():
        try:
            team = project.read_charter().team
        except WorkbenchError:
            team = ()
        for member in team:
            if (member.email and member.email.lower() == who.email.lower()) or (
                member.name.lower() == who.name.lower()
            ):
                return member.role
    step = STEP_BY_ID.get(step_id)
    return step.default_role if step else "business_owner"


@dataclass
class StepTransaction:
    """The files one step writes and how to put them back."""

    project_path: Path
    root: Path
    step_id: str
    role: str
    summary: str = ""
    body: str = ""
    trailers: dict[str, str] = field(default_factory=dict)  # more ``Key: value`` trailers of the commit
    commit: str | None = None
    messages: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    _backups: dict[str, bytes | None] = field(default_factory=dict)
    _new_dirs: list[Path] = field(default_factory=list)
    _new_trees: list[str] = field(default_factory=list)
    _checked: list[str] = field(default_factory=list)  # clean when the step began: safe to unstage
    _push: bool = False
    _journal: Journal | None = None

    def rel(self, path: str) -> str:
        """A project-relative path as git sees it from the repository root."""
        full = (self.project_path / path).resolve()
        try:
            return full.relative_to(self.root).as_posix()
        except ValueError:
            raise WorkbenchError(f"{path} is outside the project: steps write only inside it") from None

    def _remember(self, path: str) -> str:
        rel = self.rel(path)
        if rel not in self._backups:
            git.refuse_dirty(self.root, [rel])
            full = self.root / rel
            self._backups[rel] = full.read_bytes() if full.exists() else None
            missing = full.parent
            while not missing.exists() and missing.parent != missing and missing != self.root:
                if not missing.parent.exists():
                    missing = missing.parent
                    continue
                self._new_dirs.append(missing)  # the topmost folder this step creates
                break
            self._checked.append(rel)
            if self._journal is not None:
                self._journal.record(rel, self._backups[rel], self._new_dirs, checked=True)
        if rel not in self.written:
            self.written.append(rel)
        return rel

    def write_text(self, path: str, text: str) -> None:
        """Write a text file of the step (atomically) and include it in the commit."""
        rel = self._remember(path)
        atomic_write_text(self.root / rel, text)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a binary file of the step (atomically) and include it in the commit."""
        rel = self._remember(path)
        atomic_write_bytes(self.root / rel, data)

    def copy_in(self, source: Path, path: str) -> None:
        """Copy a file or folder from outside into the project as ``path`` (new), as part of the step.

        ``path`` must not exist yet. The copy is the step's: the rollback and the crash
        recovery remove it, so a killed ``data add`` does not leave a stray copy that
        blocks the next attempt.
        """
        rel = self.rel(path)
        full = self.root / rel
        if full.exists():
            raise WorkbenchError(f"{rel} already exists in the project: rename {source} or remove {rel} first")
        if source.is_dir():
            self._new_trees.append(rel)
            if self._journal is not None:
                self._journal.record_tree(rel)
            shutil.copytree(source, full)
        else:
            self.protect(path)  # journaled as "did not exist", but not staged: DVC tracks it
            full.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, full)

    def protect(self, path: str) -> None:
        """Save ``path`` as it is now so the rollback and the crash recovery put it back.

        For files a tool (``dvc exp apply``, ``dvc add``) is about to write: no dirty check
        (the caller vouches), but unlike :meth:`include` alone the old bytes are kept.
        Call it before the tool runs, then :meth:`include` the files to commit.
        """
        rel = self.rel(path)
        if rel in self._backups:
            return
        full = self.root / rel
        self._backups[rel] = full.read_bytes() if full.is_file() else None
        if self._journal is not None:
            self._journal.record(rel, self._backups[rel], self._new_dirs)

    def include(self, path: str) -> None:
        """Commit a file that a tool (git, DVC) has just written for this step.

        No dirty check and no backup: the caller vouches that the file is the step's own.
        """
        rel = self.rel(path)
        if rel not in self.written:
            self.written.append(rel)

    def dvc_add(self, targets: Sequence[str], *, progress: dvc.Progress | None = None,
                cancel: threading.Event | None = None) -> list[str]:
        """Track data with ``dvc add``; the pointers join the commit and the data is pushed after it."""
        for target in targets:
            for p in dvc.pointer_paths(target):
                self._remember(p)
        written = dvc.add(self.project_path, targets, progress=progress, cancel=cancel)
        self._push = True
        return written

    def rollback(self) -> None:
        """Put every written file back as it was before the step."""
        _put_back(self.root, self._backups, self._new_dirs, self._new_trees, self._checked)
        if self._journal is not None:
            self._journal.remove()


def _put_back(root: Path, backups: dict[str, bytes | None], new_dirs: Sequence[Path],
              new_trees: Sequence[str], unstage: Sequence[str]) -> None:
    """Restore files (and their index entries) to what they were before a step."""
    for rel in new_trees:
        shutil.rmtree(root / rel, ignore_errors=True)
    for rel, data in backups.items():
        full = root / rel
        if data is None:
            if full.is_symlink() or full.is_file():
                full.unlink()
        else:
            atomic_write_bytes(full, data)
    for top in reversed(list(new_dirs)):
        # Folders the step created go too, unless something else now lives in them.
        if top.is_dir():
            for folder in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True):
                _rmdir_if_empty(folder)
        _rmdir_if_empty(top)
    # The step may have staged its files (``git add``) before it failed or died; the paths
    # were clean when the step began (refuse_dirty), so HEAD's entries are the user's state.
    _unstage(root, list(unstage))


def _unstage(root: Path, paths: Sequence[str]) -> None:
    if not paths:
        return
    staged = [p for p in git.run_git(root, "diff", "--cached", "--name-only", "-z", "--no-renames",
                                     "--", *paths, check=False).split("\0") if p]
    if not staged:
        return
    if git.has_head(root):
        git.run_git(root, "reset", "--quiet", "--", *staged)
    else:
        git.run_git(root, "rm", "--cached", "--quiet", "--", *staged)


JOURNAL_NAME = "mlops-workbench/step-journal"  # beside train's exp-run.json


class Journal:
    """A step's undo record in the git dir, so a killed process's step can be finished later.

    ``journal.json`` names the step, its process and HEAD before it, and for each path
    the file holding its old bytes (``null``: it did not exist). A backup is written
    before its path is recorded, and a path is recorded before the step writes it.
    """

    def __init__(self, git_dir: Path, step_id: str, head: str | None) -> None:
        self.folder = Path(git_dir) / JOURNAL_NAME
        self.data: dict = {"pid": os.getpid(), "started": time.time(), "step": step_id,
                           "head": head, "paths": {}, "checked": [], "new_dirs": [], "new_trees": []}
        self._open = False

    def _save(self) -> None:
        if not self._open:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            self._open = True
        atomic_write_text(self.folder / "journal.json", json.dumps(self.data))

    def record(self, rel: str, old: bytes | None, new_dirs: Sequence[Path], *,
               checked: bool = False) -> None:
        backup = None
        if old is not None:
            if not self._open:
                self._save()
            backup = f"{len(self.data['paths'])}.bak"
            (self.folder / backup).write_bytes(old)
        self.data["paths"][rel] = backup
        if checked:
            self.data["checked"].append(rel)
        self.data["new_dirs"] = [str(d) for d in new_dirs]
        self._save()

    def record_tree(self, rel: str) -> None:
        self.data["new_trees"].append(rel)
        self._save()

    def remove(self) -> None:
        if self._open:
            # Drop journal.json first: a journal without it is an empty leftover, never a half one.
            (self.folder / "journal.json").unlink(missing_ok=True)
            shutil.rmtree(self.folder, ignore_errors=True)
            self._open = False


def recover_interrupted_step(root: Path, git_dir: Path) -> list[str]:
    """Finish the step of a killed process from its journal (the caller holds the project lock).

    Returns one message per thing done; ``[]`` when there was nothing to recover.
    """
    from workbench.versioning.locks import _pid_alive

    folder = Path(git_dir) / JOURNAL_NAME
    if not folder.exists():
        return []
    try:
        data = json.loads((folder / "journal.json").read_text(encoding="utf-8"))
        step_id, old_head = str(data["step"]), data.get("head")
        paths: dict[str, str | None] = dict(data["paths"])
        pid = int(data.get("pid", -1))
    except FileNotFoundError:
        shutil.rmtree(folder, ignore_errors=True)  # created, nothing recorded yet
        return []
    except (ValueError, KeyError, TypeError, OSError):
        shutil.rmtree(folder, ignore_errors=True)
        return ["removed an unreadable step journal left by a killed workbench"]
    if pid == os.getpid() or _pid_alive(pid, data.get("started")):
        return []  # not a dead process's (the lock says who writes; this is a safety net)
    title = step_title(step_id)
    now = git.head(root) if git.has_head(root) else None
    if now != old_head:
        parent = git.run_git(root, "rev-parse", "--verify", "--quiet", "HEAD^", check=False) or None
        step = git.run_git(root, "log", "-1", f"--format=%(trailers:key={git.TRAILER_STEP},valueonly)",
                           check=False).strip()
        shutil.rmtree(folder, ignore_errors=True)
        if parent == old_head and step == step_id:
            return [f"the {title} step of pid {pid}, which was killed, had already committed "
                    f"({(now or '')[:7]}); nothing to put back"]
        return [f"the {title} step of pid {pid} was killed, but HEAD has moved since: "
                "its files were left as they are"]
    backups: dict[str, bytes | None] = {}
    for rel, name in paths.items():
        backups[rel] = None if name is None else (folder / name).read_bytes()
    trees = [str(t) for t in data.get("new_trees", [])]
    _put_back(root, backups, [Path(d) for d in data.get("new_dirs", [])], trees,
              [str(c) for c in data.get("checked", [])])
    shutil.rmtree(folder, ignore_errors=True)
    names = ", ".join(sorted([*paths, *trees])) or "nothing"
    return [f"the {title} step of pid {pid} was killed before it committed; put back as they were "
            f"before it: {names}"]


def _rmdir_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


@contextmanager
def begin_step(
    project_path: Path,
    step_id: str,
    *,
    paths: Sequence[str] = (),
    role: str | None = None,
    summary: str = "",
    push: bool = True,
    progress: dvc.Progress | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[StepTransaction]:
    """Run a step as a transaction (see the module docstring)."""
    project_path = Path(project_path).absolute()
    root = git.repo_root(project_path)
    if root is None:
        raise WorkbenchError(f"{project_path} is not inside a git repository: create the project first")
    who = git.identity(project_path)
    gdir = git.git_dir(root)
    cleared = recover_stale_locks(project_path, gdir)
    with ProjectLock(gdir, step_title(step_id)) as lock:
        # After the lock: while another process's train runs, DVC keeps HEAD detached, and
        # the second writer must hear "busy", not "detached". Mid-rebase/merge or detached
        # for real, a commit now would be lost.
        git.refuse_unsafe_state(root, gdir)
        tx = StepTransaction(
            project_path=project_path.resolve(), root=root, step_id=step_id,
            role=resolve_role(project_path, step_id, who, role), summary=summary,
        )
        tx.messages.extend(cleared + lock.cleared)
        tx.messages.extend(recover_interrupted_step(root, gdir))
        git.refuse_dirty(root, [tx.rel(p) for p in paths])
        tx._journal = Journal(gdir, step_id, git.head(root) if git.has_head(root) else None)
        try:
            yield tx
            if cancel is not None and cancel.is_set():
                from workbench.errors import CancelledError

                raise CancelledError(f"{step_title(step_id)} was cancelled; nothing was committed")
            message = git.format_message(step_title(step_id), tx.summary or "update", step_id,
                                         tx.role, tx.body, tx.trailers)
            tx.commit = git.commit_paths(root, tx.written, message)
        except BaseException:
            tx.rollback()
            raise
        tx._journal.remove()
    if tx._push and tx.commit and push:
        try:
            dvc.push(project_path, progress=progress, cancel=cancel)
        except WorkbenchError as exc:
            tx.messages.append(f"committed, but pushing data to the DVC remote failed: {exc}; "
                               "run 'dvc push' when the remote is reachable")
    if os.environ.get("MLOPS_WORKBENCH_TRACE"):  # stderr: stdout may be a --json document
        print(f"[step] {step_id} -> {tx.commit}", file=sys.stderr)
    return
