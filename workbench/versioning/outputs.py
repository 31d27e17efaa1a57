"""Where a command may write a file the user names (``predict --output``, ``model bundle --output``).

Such a file is the user's, outside the versioning contract, so it must never land on what
git or DVC keeps: replacing ``data/transactions.csv`` with predictions silently changes
the training data (DVC sees a modified output, the next ``dvc add`` or ``repro`` records
it). :func:`refuse_versioned_output` refuses, in one line naming the path and what tracks
it, any path that

- lies inside a ``.git`` or ``.dvc`` folder (or the repository's git dir),
- is tracked by git (in the index, staged new files included), or holds tracked files,
- is named by a ``.dvc`` pointer's ``outs`` or by a ``dvc.yaml`` stage's ``deps``, ``outs``,
  ``metrics`` or ``plots`` (or the top-level ``plots``), is inside such a folder or holds one.

A path outside any git repository passes. git is asked once (``ls-files``); the pointers
and ``dvc.yaml`` files are the ones git knows of or that are not ignored.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.versioning import git


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


def _entry_paths(entries: Any) -> Iterator[str]:
    """Paths of a dvc.yaml/.dvc list: ``- path``, ``- path: {...}`` or ``- {path: ...}``."""
    if isinstance(entries, dict):
        entries = [entries]
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict):
            if isinstance(entry.get("path"), str):
                yield entry["path"]
            else:
                yield from (k for k in entry if isinstance(k, str))


def _load_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def dvc_tracked(root: Path, files: list[str]) -> Iterator[tuple[Path, str]]:
    """(absolute path, the file that names it) for every path the DVC files in ``files`` name."""
    for rel in files:
        name = rel.rsplit("/", 1)[-1]
        full = root / rel
        if name.endswith(".dvc") and name != ".dvc":
            data = _load_yaml(full)
            if isinstance(data, dict):
                for out in _entry_paths(data.get("outs")):
                    yield (full.parent / out).resolve(), rel
        elif name == "dvc.yaml":
            data = _load_yaml(full)
            if not isinstance(data, dict):
                continue
            for top in _entry_paths(data.get("plots")):
                yield (full.parent / top).resolve(), rel
            stages = data.get("stages")
            for stage in (stages.values() if isinstance(stages, dict) else []):
                if not isinstance(stage, dict):
                    continue
                wdir = full.parent / str(stage.get("wdir") or ".")
                for key in ("deps", "outs", "metrics", "plots"):
                    for path in _entry_paths(stage.get(key)):
                        if "${" not in path:
                            yield (wdir / path).resolve(), rel


def versioned_reason(path: Path) -> tuple[str, str] | None:
    """(the path as shown, why it must not be written by a command's output), or None when it may be."""
    full = Path(os.path.abspath(path))
    try:
        full = full.resolve()
    except OSError:
        pass
    for i, part in enumerate(full.parts):
        if part in (".git", ".dvc"):
            shown = Path(*full.parts[i:]).as_posix()
            return shown, f"it is inside {part}/, which {'git' if part == '.git' else 'DVC'} keeps"
    probe = full if full.is_dir() else full.parent
    while not probe.is_dir() and probe.parent != probe:
        probe = probe.parent
    root = git.repo_root(probe)
    if root is None:
        return None
    try:
        rel = full.relative_to(root).as_posix()
    except ValueError:
        return None
    shown = rel
    gdir = git.git_dir(root).resolve()
    if full == gdir or gdir in full.parents:
        return shown, "it is inside the repository's git folder"
    tracked = git.run_git(root, "ls-files", "-z", "--cached", "--full-name", "--", rel, check=False)
    first = next((f for f in tracked.split("\0") if f), None)
    if first == rel:
        return shown, "it is tracked by git"
    listing = git.run_git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                          "--full-name", "--", "*.dvc", "dvc.yaml", "*/dvc.yaml", check=False)
    for named, where in dvc_tracked(root, sorted({f for f in listing.split("\0") if f})):
        if _overlaps(full, named):
            what = named.relative_to(root).as_posix() if root in named.parents else str(named)
            if named == full:
                return shown, f"it is tracked by DVC ({where} names it)"
            if named in full.parents:
                return shown, f"it is inside {what}, which DVC tracks ({where})"
            return shown, f"it holds {what}, which DVC tracks ({where})"
    if first is not None:
        return shown, f"it holds files git tracks ({first})"
    return None


def refuse_versioned_output(path: Path, option: str = "--output") -> None:
    """Raise a one-line :class:`WorkbenchError` when ``path`` is one git or DVC keeps."""
    found = versioned_reason(path)
    if found:
        shown, why = found
        raise WorkbenchError(f"{option} {shown} would overwrite what the project versions: {why}; "
                             "choose a path that nothing tracks")
