"""Register data sources: track them with DVC, record them in workbench.yaml, one commit.

``add_sources`` tracks files already in the project (used when a project is made from a
sample); ``add_data`` is ``mlops-workbench data add``: any file or folder, validated first.
``progress`` here is ``progress(line: str)``: DVC's output streams through it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.paths import inside as _inside
from workbench.paths import user_path
from workbench.progress import Progress
from workbench.project import CONFIG_NAME, Project, dump_config
from workbench.versioning.step import begin_step


def _format_of(path: str) -> str:
    lower = path.lower()
    if lower.endswith(".parquet") or lower.endswith(".pq"):
        return "parquet"
    if lower.endswith(".tsv") or lower.endswith(".tab"):
        return "tsv"
    return "csv"


def add_sources(
    project_path: Path,
    paths: Sequence[str],
    *,
    incoming: Sequence[str] = (),
    role: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    extra_files: dict[str, str] | None = None,
) -> tuple[str | None, list[str]]:
    """``dvc add`` project-relative data files, list them under ``data.sources``, commit.

    ``incoming`` files (later production batches) are tracked but not listed as sources.
    Returns the commit id and any messages (stale locks cleared, push problems).
    """
    project = Project(project_path)
    config = project.read_config()
    data = config.setdefault("data", {})
    sources = data.setdefault("sources", [])
    known = {s.get("path") for s in sources if isinstance(s, dict)}
    for rel in paths:
        if rel not in known:
            sources.append({"name": Path(rel).stem, "path": rel, "format": _format_of(rel)})
    names = ", ".join(paths)
    batches = f"{len(incoming)} incoming batch" + ("es" if len(incoming) != 1 else "")
    summary = f"track {names}" + (f" and {batches}" if incoming else "")
    with begin_step(project.path, "data_availability", paths=[CONFIG_NAME], role=role,
                    summary=summary, progress=progress, cancel=cancel) as step:
        for name, text in (extra_files or {}).items():
            step.write_text(name, text)
        step.dvc_add([*paths, *incoming], progress=progress, cancel=cancel)
        step.write_text(CONFIG_NAME, dump_config(config))
    return step.commit, step.messages


# --- data add: one source from anywhere, validated before anything is written ---------------


@dataclass(frozen=True)
class AddedSource:
    """What :func:`add_data` did."""

    name: str
    path: str  # project-relative, as recorded in workbench.yaml
    format: str
    files: int
    rows: int
    columns: int
    copied_from: str | None  # the outside path the data was copied from (None: tracked in place)
    notes: tuple[str, ...] = ()
    commit: str | None = None
    messages: tuple[str, ...] = ()
    replaced: bool = False  # the source was registered already and is tracked again


def refuse_untrackable_name(given: str, rel: str) -> None:
    """Refuse a name git's ``.gitignore`` cannot hold as DVC writes it (and git cannot show plainly).

    DVC lists a tracked file in ``.gitignore`` by name: a newline splits that entry (the raw
    data is then left untracked in git, one ``git add`` from being committed), a trailing
    space is dropped by git (same result), and other control characters make names people
    cannot read or type. Each part of the path is checked.
    """

    for part in rel.split("/"):
        bad = next((ch for ch in part if ord(ch) < 32 or ord(ch) == 127), None)
        if bad is not None:
            what = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab"}.get(
                bad, f"the control character {bad!r}")
            raise WorkbenchError(f"{given!r}: the name {part!r} holds {what}, which git and DVC cannot "
                                 "track faithfully: rename it without control characters, then add it")
        if part != part.rstrip():
            raise WorkbenchError(f"{given!r}: the name {part!r} ends with a space, which git drops from "
                                 "DVC's .gitignore entry: rename it without the trailing space, then add it")


def _locate_source(project: Project, path: str | Path, cwd: str | Path | None) -> tuple[Path, Path | None]:
    """The source's absolute path and its path inside the project (None when outside)."""
    given = str(path)
    src = user_path(path, cwd)
    if not src.exists():
        raise WorkbenchError(f"{given} does not exist: check the path (quote it if it has spaces)")
    inside = _inside(src, project.path)
    if inside is not None and (not inside.parts or inside.parts[0] in (".git", ".dvc")):
        raise WorkbenchError(f"{given} is the project itself or its .git/.dvc folder: "
                             "give a data file or a folder of data files")
    if src.is_dir() and _inside(project.path, src) is not None:
        raise WorkbenchError(f"{given} contains the project itself ({project.path}): give a data "
                             "file or a folder that holds only data files")
    refuse_untrackable_name(given, src.name if inside is None else inside.as_posix())
    return src, inside


def _read_every_file(src: Path, given: str, progress: Progress | None,
                     cancel: threading.Event | None) -> tuple[list[Path], list[Any], int, tuple[str, ...]]:
    """``(files, formats, rows, columns)`` after reading every file completely (readable, not
    empty, consistent rows; the files of a folder share their columns)."""
    from workbench.design.data_read import data_files, read_table, sniff

    files = data_files(src, given)
    formats: list[Any] = []
    rows = 0
    columns: tuple[str, ...] = ()
    for i, file in enumerate(files):
        display = given if file == src else f"{given}/{file.relative_to(src).as_posix()}"
        if progress:
            progress(f"checking {display}")
        fmt = sniff(file, display)
        table, fmt = read_table(fmt, cancel=cancel)
        if i and table.column_names != list(columns):
            raise WorkbenchError(f"{display} has other columns than {formats[0].display}: the files "
                                 "of a folder source must share their columns; add them one by one")
        columns = tuple(table.column_names)
        rows += table.num_rows
        formats.append(fmt)
        del table
    return files, formats, rows, columns


def _record_source(project: Project, config: dict[str, Any], src: Path, inside: Path | None,
                   name: str | None, fmt: Any) -> tuple[str, str, bool]:
    """Write the source into ``config``'s ``data.sources`` (replacing one at the same path):
    ``(project-relative path, source name, replaced)``."""
    from workbench.versioning import git

    data = config.setdefault("data", {})
    sources = data.setdefault("sources", [])
    if inside is None:
        rel = f"data/{src.name}"  # copy_in refuses, under the lock, when it exists already
    else:
        rel = inside.as_posix()
        root = git.repo_root(project.path)
        if root is not None and git.is_tracked(root, src):
            raise WorkbenchError(f"{rel} is tracked by git, so DVC cannot track it: run "
                                 f"'git rm -r --cached \"{rel}\"' and commit, then add it again")
    source_name = (name or Path(rel).stem).strip()
    if not source_name:
        raise WorkbenchError("the source name is empty: pass --name NAME")
    existing = next((s for s in sources if isinstance(s, dict) and s.get("path") == rel), None)
    clash = next((s for s in sources if isinstance(s, dict) and s.get("name") == source_name
                  and s is not existing), None)
    if clash is not None:
        raise WorkbenchError(f"a source named {source_name!r} exists already ({clash.get('path')}): "
                             "pass another --name")
    record: dict[str, object] = {"name": source_name, "path": rel, "format": fmt.format}
    record.update(fmt.options())
    if existing is not None:
        existing.clear()
        existing.update(record)
    else:
        sources.append(record)
    return rel, source_name, existing is not None


def add_data(
    project_path: str | Path,
    path: str | Path,
    *,
    name: str | None = None,
    role: str | None = None,
    cwd: str | Path | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> AddedSource:
    """Validate a CSV/TSV/Parquet file (or a folder of them) and register it as a source.

    A path outside the project is copied into the project's ``data/`` folder first; a path
    inside is tracked in place. The data is ``dvc add``-ed, recorded under ``data.sources``
    (with any non-default encoding or delimiter the sniffer found) and committed as one
    ``data_availability`` step; it is pushed to the DVC remote after the commit. Any
    problem with the file raises a one-line :class:`WorkbenchError` before anything is
    written; a failure later removes the copy again and rolls the step back.
    """

    project = Project(project_path)
    config = project.read_config()
    given = str(path)
    src, inside = _locate_source(project, path, cwd)
    files, formats, rows, columns = _read_every_file(src, given, progress, cancel)
    rel, source_name, replaced = _record_source(project, config, src, inside, name, formats[0])

    # Copy, track, record, commit. The copy is part of the step: a failure rolls it back,
    # and after a kill -9 the step journal lets the next write remove it (so the next
    # attempt is not refused because of a stray copy).
    shape = f"{rows:,} rows x {len(columns)} columns"
    with begin_step(project.path, "data_availability", paths=[CONFIG_NAME], role=role,
                    summary=f"add source {source_name} ({rel}, {shape})", progress=progress,
                    cancel=cancel) as step:
        if inside is None:
            if progress:
                progress(f"copying {given} to {rel}")
            step.copy_in(src, rel)  # refuses when rel exists (checked again under the lock)
            step.body = f"Copied from {src}."
        step.dvc_add([rel], progress=progress, cancel=cancel)
        step.write_text(CONFIG_NAME, dump_config(config))
    return AddedSource(
        name=source_name, path=rel, format=formats[0].format, files=len(files), rows=rows,
        columns=len(columns), copied_from=str(src) if inside is None else None,
        notes=tuple(n for f in formats for n in f.notes), commit=step.commit,
        messages=tuple(step.messages), replaced=replaced,
    )
