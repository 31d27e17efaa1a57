"""The new version of the training data: the rows appended and ``dvc add``-ed, in the workspace only."""

from __future__ import annotations

import io
import threading

from workbench.errors import CancelledError, WorkbenchError
from workbench.operations.retrain.plan import Plan
from workbench.operations.retrain.results import NewDataVersion
from workbench.progress import Progress
from workbench.versioning.dvc import pointer_md5
from workbench.versioning.git import TRAILER_MONITORING_REPORT


def _appended_bytes(plan: Plan) -> bytes:
    """The source's new content: old bytes + new lines (CSV/TSV), or the concatenated table (Parquet)."""
    source_path = plan.root / plan.source_rel
    if plan.fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        old = pq.read_table(source_path)
        try:
            extra = pa.Table.from_pandas(plan.new_rows, schema=old.schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
            raise WorkbenchError(f"{plan.display} does not fit the schema of {plan.source_rel} "
                                 f"({str(exc).splitlines()[0][:120]}): convert the columns to its types") from None
        sink = io.BytesIO()
        pq.write_table(pa.concat_tables([old, extra]), sink)
        return sink.getvalue()
    old_bytes = source_path.read_bytes()
    first = old_bytes.split(b"\n", 1)[0]
    newline = "\r\n" if first.endswith(b"\r") else "\n"
    if old_bytes and not old_bytes.endswith(b"\n"):
        old_bytes += newline.encode()
    text = plan.new_rows.to_csv(header=False, index=False, sep="\t" if plan.fmt == "tsv" else ",",
                                lineterminator=newline)
    return old_bytes + text.encode("utf-8")


def stage_data(plan: Plan, *, progress: Progress | None = None,
                cancel: threading.Event | None = None) -> NewDataVersion:
    """Append the planned rows to the source and ``dvc add`` it, in the workspace only; push the object."""
    from workbench.fsutil import atomic_write_bytes
    from workbench.versioning import dvc

    n = len(plan.new_rows)
    content = _appended_bytes(plan)
    if progress:
        progress(f"appending {n:,} rows to {plan.source_rel} (the workspace only: nothing is committed)")
    atomic_write_bytes(plan.root / plan.source_rel, content)
    dvc.add(plan.root, [plan.source_rel], progress=progress, cancel=cancel)
    md5 = pointer_md5(plan.root / plan.pointer) or ""
    messages: list[str] = []
    in_remote = False
    try:
        pushed = dvc.push(plan.root, [plan.pointer], progress=progress, cancel=cancel)
        in_remote = pushed is not None
    except CancelledError:
        raise
    except WorkbenchError as exc:
        messages.append(f"pushing the new data version to the DVC remote failed: {exc}; it is in the local DVC "
                        "cache only (run 'dvc push' when the remote is reachable)")
    return NewDataVersion(
        source=plan.source_rel, pointer=plan.pointer, version=plan.version, md5_before=plan.md5_before, md5=md5,
        rows_before=plan.rows_before, rows_added=n, rows_unlabelled=plan.unlabelled, display=plan.display,
        from_report=plan.from_report, commit=None, messages=tuple(messages), rows_duplicate=plan.duplicates,
        in_remote=in_remote,
    )


def note_text(plan: Plan, data: NewDataVersion) -> str:
    """The experiment's note: where its rows came from (``exp promote`` copies it into its commit)."""
    lines = [f"retraining data: +{data.rows_added:,} rows from {plan.display} ({plan.source_rel} v{plan.version}, "
             f"{plan.rows_before:,} -> {plan.rows_before + data.rows_added:,} rows; md5 {plan.md5_before} -> "
             f"{data.md5})"]
    if plan.from_report:
        lines.append(f"From monitoring report {plan.from_report}.")
    lines.append(f"Retraining-Data-MD5: {plan.new_md5}")
    if plan.from_report:
        lines.append(f"{TRAILER_MONITORING_REPORT}: {plan.from_report}")
    return "\n".join(lines)
