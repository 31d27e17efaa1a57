"""Register data sources: track them with DVC, record them in workbench.yaml, one commit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from workbench.project import CONFIG_NAME, Project, dump_config
from workbench.versioning.step import begin_step

Progress = Callable[[str], None]


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
    summary = f"track {names}" + (f" and {len(incoming)} incoming batch(es)" if incoming else "")
    with begin_step(project.path, "data_availability", paths=[CONFIG_NAME], role=role,
                    summary=summary, progress=progress, cancel=cancel) as step:
        for name, text in (extra_files or {}).items():
            step.write_text(name, text)
        step.dvc_add([*paths, *incoming], progress=progress, cancel=cancel)
        step.write_text(CONFIG_NAME, dump_config(config))
    return step.commit, step.messages
