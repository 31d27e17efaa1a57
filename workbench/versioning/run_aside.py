"""The user's work moved aside around a DVC command, and put back byte for byte.

The plumbing :mod:`workbench.versioning.run_journal` uses around ``dvc exp run`` and
``dvc exp apply``: which paths to move aside, saving them in the git dir (bytes and mode),
setting them to HEAD's version, and putting them and the index back. The journal that
makes this safe against a kill lives in ``run_journal``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

# --- the user's work is moved aside around DVC, and put back byte for byte ------------------
#
# ``dvc exp run`` commits every modified tracked file and everything staged into the
# experiment, and resets the index when it ends; ``dvc exp apply`` overwrites tracked files
# and resets the index too. So around either, every path the user changed (staged or not)
# that is not the pipeline's own is saved in the git dir (bytes and mode), set to HEAD's
# version in the work tree and the index, and put back afterwards with the index as it
# was (``git write-tree`` before, ``git read-tree`` after). The journal (exp-run.json)
# lists them before anything is touched, so a kill -9 at any moment is put right by the
# next workbench command (every writer takes the project lock, and the lock finishes a
# dead run's journal first: :func:`finish_dead_run`).


def _git_z(top: Path, *args: str) -> list[str]:
    from workbench.versioning.git import run_git

    return [p for p in run_git(top, *args, check=False).split("\0") if p]


def _repo(root: Path) -> tuple[Path, str]:
    """(the repository's work tree, the project's folder in it: "" or "sub/")."""
    from workbench.versioning.exp_git import repo_info

    info = repo_info(root)
    return info.top, info.prefix


def _user_changes(top: Path) -> list[str]:
    """Repository-relative paths whose index or work-tree state differs from HEAD (tracked or staged)."""
    staged = _git_z(top, "diff", "--cached", "--name-only", "-z", "--no-renames", "HEAD")
    unstaged = _git_z(top, "diff", "--name-only", "-z", "--no-renames")
    return sorted(set(staged) | set(unstaged))


def pipeline_outputs(root: Path) -> list[str]:
    """What a pipeline run writes: dvc.lock, every stage's outs/metrics/plots, their .gitignore files."""
    import yaml

    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return ["dvc.lock"]
    found: list[str] = ["dvc.lock"]
    for stage in stages.values() if isinstance(stages, dict) else ():
        for key in ("outs", "metrics", "plots"):
            for entry in (stage.get(key) or []) if isinstance(stage, dict) else ():
                name = next(iter(entry), None) if isinstance(entry, dict) else entry
                if isinstance(name, str) and name and not Path(name).is_absolute() and ".." not in Path(name).parts:
                    found += [name, (Path(name).parent / ".gitignore").as_posix()]
    return list(dict.fromkeys(found))


def _pipeline_files(root: Path) -> list[str]:
    """Project-relative files (or folders) that belong in an experiment: params.yaml and what the pipeline writes."""
    return ["params.yaml", *pipeline_outputs(root)]


def _pipeline_reads(root: Path) -> list[str]:
    """Project-relative paths the pipeline reads that it does not write: dvc.yaml, deps, other params files."""
    import yaml

    found = ["dvc.yaml"]
    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return found
    written = set(pipeline_outputs(root))
    for stage in stages.values() if isinstance(stages, dict) else ():
        if not isinstance(stage, dict):
            continue
        for dep in stage.get("deps") or []:
            if isinstance(dep, str) and dep and dep.rstrip("/") not in written:
                found.append(dep.rstrip("/"))
        for entry in stage.get("params") or []:
            if isinstance(entry, dict):
                found += [str(k) for k in entry if str(k) != "params.yaml"]
    return list(dict.fromkeys(found))


def _under(path: str, names: Sequence[str]) -> bool:
    """Whether ``path`` is one of ``names``, inside one of them, or the ``.dvc`` pointer of one."""
    for name in names:
        name = name.rstrip("/")
        if path == name or path.startswith(name + "/") or path == name + ".dvc":
            return True
        if path.endswith(".dvc") and name.startswith(path[:-len(".dvc")] + "/"):
            return True  # the pointer of a tracked folder the dep lives in
    return False


def _paths_to_move_aside(root: Path, include: Sequence[str], *, keep: Sequence[str] | None = None,
                         refuse_reads: bool = True) -> list[str]:
    """The user's changed paths (repository-relative) that must not go into the experiment.

    Refused (one line, nothing written) when one of them is a file the pipeline reads:
    moved aside, the run would not use the user's edit; kept, the experiment would hold
    a change of the user's that no commit has.
    """
    top, prefix = _repo(root)
    keep = list(_pipeline_files(root) if keep is None else keep) + [p.strip("/") for p in include]
    reads = _pipeline_reads(root)
    aside: list[str] = []
    for path in _user_changes(top):
        rel = path[len(prefix):] if prefix and path.startswith(prefix) else (None if prefix else path)
        if rel is not None and _under(rel, keep):
            continue
        if refuse_reads and rel is not None and _under(rel, reads):
            raise WorkbenchError(
                f"{rel} has uncommitted changes and the pipeline reads it, so the experiment would "
                f"match no commit: commit it (git add {rel} && git commit) or undo the change "
                "(git stash), then train again")
        aside.append(path)
    return aside


def _index_tree(top: Path) -> str:
    from workbench.versioning.git import run_git

    tree = run_git(top, "write-tree", check=False).strip()
    if not tree:
        raise WorkbenchError("the index has unresolved merge conflicts: resolve them (git status "
                             "lists them) or abort the merge, then train again")
    return tree


def _save_aside(top: Path, folder: Path, paths: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Copy each path's work-tree state into ``folder``; path -> {file, mode, link}."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    saved: dict[str, dict[str, Any]] = {}
    for n, rel in enumerate(paths):
        full = top / rel
        entry: dict[str, Any] = {"file": None, "mode": None, "link": None}
        if full.is_symlink():
            entry["link"] = os.readlink(full)
        elif full.is_file():
            name = f"{n}.bak"
            shutil.copyfile(full, folder / name)
            entry.update(file=name, mode=full.stat().st_mode & 0o7777)
        elif full.is_dir():
            raise WorkbenchError(f"{rel} was a tracked file and is now a folder: put it back or commit "
                                 "the change, then train again")
        saved[rel] = entry
    return saved


def _set_to_head(top: Path, paths: Sequence[str]) -> None:
    """Work tree and index of ``paths`` as HEAD has them (paths HEAD lacks are removed)."""
    from workbench.versioning.git import run_git

    if not paths:
        return
    in_head = set(_git_z(top, "ls-tree", "-r", "-z", "--name-only", "--full-tree", "HEAD", "--", *paths))
    old = [p for p in paths if p in in_head]
    new = [p for p in paths if p not in in_head]
    if old:
        run_git(top, "checkout", "HEAD", "--", *old)
    if new:
        run_git(top, "rm", "--cached", "--quiet", "--ignore-unmatch", "--", *new)
        for rel in new:
            full = top / rel
            if full.is_symlink() or full.is_file():
                full.unlink()


def _put_back_aside(top: Path, folder: Path, saved: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The work-tree state of each saved path, byte for byte (and mode); the names put back."""
    import filecmp
    import tempfile

    back: list[str] = []
    for rel, entry in saved.items():
        full = top / rel
        link, name = entry.get("link"), entry.get("file")
        if link is not None:
            if full.is_symlink() and os.readlink(full) == link:
                continue
            if full.is_symlink() or full.is_file():
                full.unlink()
            full.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(link, full)
        elif name is None:
            if not (full.is_symlink() or full.is_file()):
                continue
            full.unlink()
        else:
            src = folder / str(name)
            mode = int(entry.get("mode") or 0o644)
            if (full.is_file() and not full.is_symlink() and filecmp.cmp(src, full, shallow=False)
                    and full.stat().st_mode & 0o7777 == mode):
                continue
            full.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{full.name}.", suffix=".wb-restore", dir=full.parent)
            try:
                with os.fdopen(fd, "wb") as out, open(src, "rb") as data:
                    out.write(data.read())
                os.chmod(tmp, mode)
                if full.is_dir() and not full.is_symlink():
                    import shutil

                    shutil.rmtree(full)
                os.replace(tmp, full)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        back.append(rel)
    return back


def _restore_index(top: Path, tree: str, head: str, paths: Sequence[str]) -> bool:
    """The index as it was (``tree``); when HEAD has moved (a promote committed), only ``paths``."""
    from workbench.versioning.git import run_git

    if not re.fullmatch(r"[0-9a-f]{40,64}", tree or ""):
        return False
    now_head = run_git(top, "rev-parse", "--verify", "-q", "HEAD", check=False).strip()
    changed = False
    if now_head == head:
        if run_git(top, "write-tree", check=False).strip() != tree:
            run_git(top, "read-tree", tree)
            changed = True
    elif paths:
        import subprocess

        listed = {rec.split("\t", 1)[1]: rec for rec in _git_z(top, "ls-tree", "-r", "-z", "--full-tree", tree,
                                                               "--", *paths) if "\t" in rec}
        lines = [listed.get(p, f"0 {'0' * len(tree)}\t{p}") for p in paths]
        subprocess.run(["git", "update-index", "-z", "--index-info"], cwd=top, check=True,
                       input="\0".join(lines).encode("utf-8", "surrogateescape") + b"\0",
                       capture_output=True)
        changed = True
    run_git(top, "update-index", "-q", "--refresh", check=False)
    return changed
