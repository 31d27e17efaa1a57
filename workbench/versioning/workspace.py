"""Putting the pipeline's files back as HEAD has them; reading a DVC output as a commit has it.

- :func:`dirty_paths` — which of some paths differ from HEAD (modified, staged, deleted);
- :func:`restore_to_head` — git-tracked paths back to HEAD's bytes (the index is not
  touched), files HEAD does not have removed, then ``dvc checkout --force`` of the DVC
  targets so the data and outputs match HEAD's pointers and ``dvc.lock`` again;
- :func:`output_at` — the bytes of a DVC-tracked output (a model) as commit ``rev``
  records it: from the DVC cache by md5, else from the remote (``dvc.api``), checked
  against that md5.

Retraining uses these to keep a candidate in its experiment only (see
:mod:`workbench.operations.retrain`).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.progress import Progress
from workbench.versioning import git
from workbench.versioning.dvc import cached_file, file_md5, run_dvc


def at_head(root: Path, rel: str) -> bool:
    """Whether HEAD holds ``rel`` (relative to the project folder ``root``)."""
    return bool(git.run_git(root, "rev-parse", "--verify", "-q", f"HEAD:./{rel}", check=False))


def dirty_paths(root: Path, rels: Iterable[str]) -> dict[str, str]:
    """The project-relative paths among ``rels`` that differ from HEAD (untracked ones left out)."""
    rels = list(dict.fromkeys(rels))
    if not rels:
        return {}
    top = git.repo_root(root) or root
    prefix = Path(root).resolve().relative_to(top.resolve()).as_posix()
    prefix = "" if prefix in ("", ".") else prefix + "/"
    found = git.changed_paths(root, rels)
    return {p[len(prefix):] if prefix and p.startswith(prefix) else p: code
            for p, code in found.items() if code != "??"}


def restore_to_head(root: Path, git_paths: Sequence[str], created: Iterable[str] = (),
                    dvc_targets: Sequence[str] = (), *, progress: Progress | None = None,
                    cancel: threading.Event | None = None) -> list[str]:
    """Put ``git_paths`` back as HEAD has them, remove ``created``, ``dvc checkout`` the targets.

    Returns the git paths whose bytes changed. The index is left as it is (``git restore
    --worktree``): the caller checked these paths were clean when it began.
    """
    root = Path(root)
    changed: list[str] = []
    tracked = [p for p in dict.fromkeys(git_paths) if at_head(root, p)]
    for rel in tracked:
        want = git.run_git(root, "rev-parse", f"HEAD:./{rel}", check=False)
        have = git.run_git(root, "hash-object", "--", rel, check=False) if (root / rel).is_file() else ""
        if want != have:
            changed.append(rel)
    if changed:
        git.run_git(root, "restore", "--source=HEAD", "--worktree", "--", *changed)
    for rel in created:
        path = root / rel
        if not at_head(root, rel) and path.is_file():
            path.unlink()
            changed.append(rel)
    if dvc_targets:
        run_dvc(["checkout", "--force", "--quiet", *dvc_targets], root, progress=progress, cancel=cancel)
    return changed


def file_history(root: Path, rel: str, limit: int = 50) -> list[str]:
    """The commits (newest first, at most ``limit``) that changed project-relative ``rel``."""
    out = git.run_git(root, "log", f"-{limit}", "--format=%H", "--", rel, check=False)
    return [line for line in out.splitlines() if line.strip()]


def cache_file(root: Path, md5: str) -> Path | None:
    """The DVC cache's copy of object ``md5`` (DVC 3 and 2 layouts, ``cache.dir`` honoured)."""
    return cached_file(root, md5)


def output_at(root: Path, rev: str, rel: str, md5: str, dest: Path) -> Path:
    """Copy output ``rel`` as commit ``rev`` records it (``md5``) to ``dest``; one-line error if absent."""
    root = Path(root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    cached = cache_file(root, md5)
    if cached is not None:
        shutil.copyfile(cached, dest)
    else:
        try:
            import dvc.api

            with dvc.api.open(rel, repo=str(root), rev=rev, mode="rb") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
        except Exception as exc:  # noqa: BLE001 - no remote, not pushed, offline: one line
            why = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise WorkbenchError(f"{rel} of commit {rev[:7]} is neither in the DVC cache nor readable from the "
                                 f"remote ({why}): run 'dvc pull' on that commit's data") from None
    if file_md5(dest) != md5:
        dest.unlink(missing_ok=True)
        raise WorkbenchError(f"{rel} of commit {rev[:7]} does not have the md5 {md5} its dvc.lock records: "
                             "the DVC cache is damaged; run 'dvc pull --force' for that commit")
    return dest


__all__ = ["at_head", "cache_file", "dirty_paths", "file_history", "output_at", "restore_to_head"]
