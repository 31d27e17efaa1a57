"""The ``monitoring`` step: run the check, track the batch with DVC, commit the report."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.operations.monitoring.batch import Batch
from workbench.operations.monitoring.compare import run_monitor
from workbench.operations.monitoring.history import next_report_id
from workbench.operations.monitoring.report import MonitorReport
from workbench.operations.monitoring.settings import FOLDER
from workbench.paths import BATCHES_FOLDER
from workbench.progress import Progress
from workbench.project import Project

# --- the step ---------------------------------------------------------------------------------


def _pointer_for(root: Path, rel: str) -> str | None:
    """The .dvc pointer that tracks ``rel`` (its own, or a tracked parent folder's)."""
    parts = Path(rel).parts
    for i in range(len(parts), 0, -1):
        candidate = Path(*parts[:i]).as_posix() + ".dvc"
        if (root / candidate).is_file():
            return candidate
    return None


def monitor(
    project_path: str | Path,
    current: str | Path | None = None,
    *,
    reference: str | Path | None = None,
    all_log: bool = False,
    role: str | None = None,
    cwd: str | Path | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
) -> MonitorReport:
    """Run the check and commit the report with the batch's DVC pointer (one ``monitoring`` step).

    A batch from outside the project is copied to ``monitoring/batches/<id>-<name>``; one
    inside it is tracked where it is (re-added when it differs from its pointer); the
    prediction log lines taken are written to ``monitoring/batches/<id>-predictions.parquet``.
    Each is ``dvc add``-ed in the step and pushed after the commit.
    """
    from workbench.versioning.dvc import pointer_md5
    from workbench.versioning.step import begin_step

    project = Project(project_path)
    now = now or datetime.now(UTC)
    report, batch = run_monitor(project.path, current, reference=reference, all_log=all_log, cwd=cwd,
                                progress=progress, cancel=cancel, now=now)
    root = project.path
    made: list[Path] = []
    try:
        with begin_step(root, "monitoring", role=role, summary=report.summary, progress=progress,
                        cancel=cancel) as step:
            report_id = next_report_id(root, now)
            notes = list(report.notes)
            pointer: str | None
            if batch.source == "prediction_log":
                data_rel, pointer = _track_log_batch(root, batch, report_id, step, made, cancel)
            else:
                data_rel, pointer = _track_file_batch(root, batch, report_id, step, made, notes, cancel)
            md5 = pointer_md5(root / pointer) if pointer else None
            batch_info = {**report.batch, "path": data_rel, "dvc": pointer, "dvc_md5": md5}
            report = replace(report, id=report_id, batch=batch_info, notes=tuple(notes))
            step.write_text(f"{FOLDER}/{report_id}.json",
                            json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
            step.write_text(f"{FOLDER}/{report_id}.md", report.to_markdown())
            step.summary = report.summary
            reasons = "\n".join(f"- {r}" for r in report.reasons)
            step.body = "\n".join(x for x in (
                step.body, f"Report: {FOLDER}/{report_id}.md",
                f"Batch: {data_rel} (md5 {md5})" if md5 else f"Batch: {data_rel}",
                f"\nWhy action is recommended:\n{reasons}" if reasons else "") if x)
    except BaseException:
        for path in made:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    return replace(report, commit=step.commit, messages=tuple(step.messages))


def _track_log_batch(root: Path, batch: Batch, report_id: str, step: Any, made: list[Path],
                     cancel: threading.Event | None) -> tuple[str, str]:
    """Write the prediction log lines taken to ``monitoring/batches/<id>-predictions.parquet``, dvc-add it."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from workbench.fsutil import atomic_write_bytes

    data_rel = f"{BATCHES_FOLDER}/{report_id}-predictions.parquet"
    table = batch.table
    for key, values in batch.extra_columns.items():
        name = f"_{key}"
        table = table.append_column(name, pa.array(
            [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values],
            type=pa.string()))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    dest = root / data_rel
    atomic_write_bytes(dest, sink.getvalue())
    made.append(dest)
    step.dvc_add([data_rel], cancel=cancel)
    return data_rel, f"{data_rel}.dvc"


def _track_file_batch(root: Path, batch: Batch, report_id: str, step: Any, made: list[Path],
                      notes: list[str], cancel: threading.Event | None) -> tuple[str, str | None]:
    """Copy a batch file from outside in, or track one inside where it is; the pointer, if any."""
    from workbench.paths import inside as _inside
    from workbench.versioning import git
    from workbench.versioning.dvc import file_md5, pointer_md5
    from workbench.versioning.run_journal import pipeline_outputs

    assert batch.path is not None
    inside = _inside(batch.path, root)
    # A pipeline output (data/prepared/test.parquet) changes with every repro and is
    # DVC's already: the report keeps a copy of it, like a file from outside.
    if inside is None or not inside.parts or inside.parts[0] in (".git", ".dvc") or \
            inside.as_posix() in pipeline_outputs(root):
        data_rel = f"{BATCHES_FOLDER}/{report_id}-{batch.path.name}"
        step.copy_in(batch.path, data_rel)  # journaled: a kill -9 leaves no stray copy
        made.append(root / data_rel)
        step.dvc_add([data_rel], cancel=cancel)
        step.body = f"Batch copied from {batch.path}."
        return data_rel, f"{data_rel}.dvc"
    data_rel = inside.as_posix()
    own = f"{data_rel}.dvc"
    tracking = _pointer_for(root, data_rel)
    repo = git.repo_root(root)
    in_git = repo is not None and git.is_tracked(repo, batch.path)
    if tracking == own and batch.path.is_file() and \
            pointer_md5(root / own) == file_md5(batch.path):
        step.include(own)
        return data_rel, own
    if tracking is not None and tracking != own:
        step.include(tracking)
        notes.append(f"the batch is inside {tracking[:-4]}, tracked by DVC as a whole")
        return data_rel, tracking
    if in_git:
        notes.append(f"{data_rel} is tracked by git, not DVC: its version is the commit's")
        return data_rel, None
    step.dvc_add([data_rel], cancel=cancel)
    return data_rel, own
