"""A workbench step as one transaction: check, write, commit — or put everything back.

Usage::

    with begin_step(project_path, "requirements", paths=["workbench.yaml"]) as step:
        step.write_text("workbench.yaml", text)
        step.summary = "set the success metric"
    step.commit  # the new commit id (None if nothing changed)

Before anything is written the step takes the project lock and refuses if any path
it will write carries uncommitted edits. If the body raises, every file the step
wrote is restored to what it was (or removed if it was new) and nothing is committed.
"""

from __future__ import annotations

import os
import threading
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
    commit: str | None = None
    messages: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    _backups: dict[str, bytes | None] = field(default_factory=dict)
    _new_dirs: list[Path] = field(default_factory=list)
    _push: bool = False

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
        for rel, data in self._backups.items():
            full = self.root / rel
            if data is None:
                if full.exists():
                    full.unlink()
            else:
                atomic_write_bytes(full, data)
        for top in reversed(self._new_dirs):
            # Folders the step created go too, unless something else now lives in them.
            for folder in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True):
                _rmdir_if_empty(folder)
            _rmdir_if_empty(top)


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
        tx = StepTransaction(
            project_path=project_path.resolve(), root=root, step_id=step_id,
            role=resolve_role(project_path, step_id, who, role), summary=summary,
        )
        tx.messages.extend(cleared + lock.cleared)
        git.refuse_dirty(root, [tx.rel(p) for p in paths])
        try:
            yield tx
            if cancel is not None and cancel.is_set():
                from workbench.errors import CancelledError

                raise CancelledError(f"{step_title(step_id)} was cancelled; nothing was committed")
            message = git.format_message(step_title(step_id), tx.summary or "update", step_id,
                                         tx.role, tx.body)
            tx.commit = git.commit_paths(root, tx.written, message)
        except BaseException:
            tx.rollback()
            raise
    if tx._push and tx.commit and push:
        try:
            dvc.push(project_path, progress=progress, cancel=cancel)
        except WorkbenchError as exc:
            tx.messages.append(f"committed, but pushing data to the DVC remote failed: {exc}; "
                               "run 'dvc push' when the remote is reachable")
    if os.environ.get("MLOPS_WORKBENCH_TRACE"):
        print(f"[step] {step_id} -> {tx.commit}")
    return
