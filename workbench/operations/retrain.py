"""Retraining: new labelled data becomes a candidate (an experiment), a validation, a proposal.

``retrain(project)`` is ``mlops-workbench retrain``. It never promotes anything: promotion
stays a decision people take through the same gates as the first model (review, register,
promote), so the result ends with the exact commands to run, not with a new stage. And a
candidate never reaches the branch by itself: the new data version lives in the
candidate's DVC experiment (``refs/exps``) until ``exp promote`` commits it together with
the ``dvc.lock``, metrics and model it produced, so HEAD always reproduces.

Usage::

    mlops-workbench retrain [--data PATH] [--name EXP] [--allow-duplicates] [--json] [-q] [--role ROLE] [-C PATH]
    mlops-workbench retrain discard EXP [--json] [-C PATH]

What it does, in order (everything is checked before anything is written):

1. **The new data.** ``--data PATH`` (a CSV, TSV or Parquet file with the target column
   filled in), or else the batch of the latest monitoring report when that batch has
   labels (``monitoring/batches/...`` or a file inside the project, tracked by DVC). Rows
   without a label are left out (with a note); no labelled row at all, a missing target
   column, and columns missing, extra or of another type than the training source's are
   refused in one line that names them. Rows that are already in the source (the same
   value in every column) are counted, said and left out (``--allow-duplicates`` appends
   them anyway); when every row is already there, retraining is refused. Data whose bytes
   were added before (its md5 is in the history of the source's pointer) is refused too.
   The pipeline's own files (``params.yaml``, ``dvc.yaml``, ``dvc.lock``, the metrics and
   plots, the source's pointer) must be as HEAD has them: the candidate is HEAD's pipeline
   on the new data, and retraining puts these files back afterwards.
2. **A new version of the training data, in the workspace only.** The rows are appended
   to the training source (the last of ``sources`` in params.yaml, the file the pipeline's
   ``prepare`` stage reads): a CSV/TSV keeps its bytes and gets the new lines after them, a
   Parquet file is rewritten with the same schema; atomically, then ``dvc add`` (the data
   object goes to the DVC cache) and ``dvc push`` of it to the remote. Nothing is committed.
3. **An experiment** on it: ``dvc exp run`` with the changed pointer inside the experiment
   (:func:`workbench.development.training.run_experiment`, ``include=[pointer]``; named
   ``--name`` or ``retrain-vK``, K counting the versions of the source). The experiment
   commit holds the pointer, ``dvc.lock``, metrics and plots; a git note on it
   (``refs/notes/workbench``) says where the rows came from, and ``exp promote`` copies it
   into the promotion commit.
4. **The workspace back to HEAD**: the pointer, the data and the pipeline's outputs are put
   back as HEAD has them (``git restore`` of those files, ``dvc checkout``), whatever the
   verdict: ``git status`` is as before the run.
5. **Validation** of that experiment with every gate, ``no_regression`` against the
   version GTO's registry has in production (:func:`workbench.development.validation.validate`,
   which commits ``reports/validation.json`` + ``.md`` as ``validate EXPERIMENT`` does).
6. **A proposal** when it passes: the commands that promote the candidate through review
   and registry (``exp promote`` first, which commits pointer + dvc.lock + outputs
   together). When a gate fails, a second commit (a ``monitoring`` step, "retraining
   candidate ... rejected") puts the validation report back to the one HEAD's model had,
   so the report, ``status`` and ``check`` keep judging the model HEAD holds; the
   rejected report stays in the history (the validation commit), the experiment in
   ``refs/exps``, the data object in the DVC cache and remote. ``retrain discard EXP``
   removes the experiment (``dvc exp remove``).

A journal (``<git dir>/mlops-workbench/retrain.json``) records a run while it goes: a
``retrain`` killed at any moment is finished by the next ``retrain`` (or ``retrain discard``):
the workspace goes back to HEAD, and a failed validation left at HEAD gets its rejection
commit.

Exit codes: 0 the candidate passes the gates (promotion proposed), 1 a gate fails (named),
2 unusable input (one line on stderr; nothing written, nothing committed), 75 the project is
busy, 130 cancelled (Ctrl-C; the workspace is put back).

JSON (schema 1), ``retrain --json``::

    {"schema": 1,
     "data": {"source": "data/x.csv", "pointer": "data/x.csv.dvc", "version": K,
              "md5_before": str, "md5": str, "rows_before": n, "rows_added": n, "rows_unlabelled": n,
              "rows_duplicate": n, "from": "PATH", "from_report": "2026-06-01-1" | null,
              "commit": null, "in_remote": bool},
     "experiment": "retrain-v2", "experiment_commit": str,
     "metrics": {"accuracy": 0.96, ...},
     "validation": {"passed": bool, "failed_gates": ["no_regression", ...], "commit": str | null,
                    "gates": [{"name", "passed", "why"}]},
     "proposal": ["mlops-workbench exp promote retrain-v2", ...],   # [] when a gate fails
     "rejected": null | {"commit": str, "kept": [str], "discard": "mlops-workbench retrain discard retrain-v2"},
     "messages": [str]}

The policy, in workbench.yaml (default ``manual``)::

    retraining:
      policy: manual      # monitor prints a suggestion to run 'mlops-workbench retrain'
      # policy: automatic # a monitor that recommends action, on a labelled batch, retrains
      #                   # up to validation (never promotion)

:func:`after_monitor` is what ``monitor`` calls after a report that recommends action.
"""

from __future__ import annotations

import hashlib
import io
import re
import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError, WorkbenchError
from workbench.paths import user_path
from workbench.progress import Progress
from workbench.project import Project
from workbench.versioning.dvc import pointer_md5
from workbench.versioning.locks import holding_project_lock

SCHEMA = 1
POLICIES = ("manual", "automatic")
DEFAULT_POLICY = "manual"
_MD5_LINE = re.compile(r"^Retraining-Data-MD5:[ \t]*([0-9a-f]{32})", re.MULTILINE)


# --- the policy ---------------------------------------------------------------------------


def retraining_policy(config: dict[str, Any]) -> str:
    """``retraining.policy`` from workbench.yaml: manual (default) or automatic; a typo is an error."""
    raw = config.get("retraining")
    if raw is None:
        return DEFAULT_POLICY
    if not isinstance(raw, dict):
        raise WorkbenchError("retraining in workbench.yaml is not a mapping: write it as "
                             "'retraining: {policy: manual}' (or automatic)")
    policy = raw.get("policy")
    if policy is None:
        return DEFAULT_POLICY
    if not isinstance(policy, str) or policy.strip().lower() not in POLICIES:
        raise WorkbenchError(f"retraining.policy in workbench.yaml is {policy!r}: use manual or automatic")
    return policy.strip().lower()


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDataVersion:
    """The new version of the training source that the appended rows made (in the experiment)."""

    source: str  # project-relative data file
    pointer: str  # its .dvc file
    version: int
    md5_before: str
    md5: str
    rows_before: int
    rows_added: int
    rows_unlabelled: int
    display: str  # the new data, as given
    from_report: str | None
    commit: str | None = None  # never on the branch: the data version lives in the experiment
    messages: tuple[str, ...] = ()
    rows_duplicate: int = 0  # incoming rows already in the source (left out unless --allow-duplicates)
    in_remote: bool = False  # the data object was pushed to the DVC remote

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "pointer": self.pointer, "version": self.version,
                "md5_before": self.md5_before, "md5": self.md5, "rows_before": self.rows_before,
                "rows_added": self.rows_added, "rows_unlabelled": self.rows_unlabelled,
                "rows_duplicate": self.rows_duplicate, "from": self.display,
                "from_report": self.from_report, "commit": self.commit, "in_remote": self.in_remote}


@dataclass(frozen=True)
class RetrainResult:
    """What ``retrain`` did: the data version, the experiment, its validation, the proposal."""

    data: NewDataVersion
    experiment: str
    metrics: dict[str, float]
    passed: bool
    gates: tuple[Any, ...]  # validation.GateResult
    validation_commit: str | None
    proposal: tuple[str, ...]
    messages: tuple[str, ...] = ()
    experiment_commit: str | None = None
    rejected_commit: str | None = None  # the step that put HEAD's validation report back
    kept: tuple[str, ...] = ()  # what a rejection keeps, and where (for people)

    @property
    def failed_gates(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.gates if g.passed is False)

    @property
    def exit_code(self) -> int:
        """0 the candidate passes the gates, 1 a gate fails."""
        return 0 if self.passed else 1

    @property
    def discard(self) -> str:
        return f"mlops-workbench retrain discard {shlex.quote(self.experiment)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "data": self.data.to_json(),
            "experiment": self.experiment,
            "experiment_commit": self.experiment_commit,
            "metrics": self.metrics,
            "validation": {"passed": self.passed, "failed_gates": list(self.failed_gates),
                           "commit": self.validation_commit,
                           "gates": [{"name": g.name, "passed": g.passed, "why": g.why} for g in self.gates]},
            "proposal": list(self.proposal),
            "rejected": None if self.passed else {"commit": self.rejected_commit, "kept": list(self.kept),
                                                  "discard": self.discard},
            "messages": list(self.messages),
        }


@dataclass(frozen=True)
class Discarded:
    """``retrain discard EXP``: the experiment removed."""

    experiment: str
    commit: str
    messages: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "experiment": self.experiment, "commit": self.commit,
                "messages": list(self.messages)}


# --- finding and checking the new data ----------------------------------------------------


@dataclass
class _Plan:
    """Everything checked, nothing written yet."""

    root: Path
    source: dict[str, Any]
    source_rel: str
    pointer: str
    fmt: str
    md5_before: str
    rows_before: int
    columns: list[str]
    new_rows: Any  # DataFrame, source column order, labelled rows only
    unlabelled: int
    new_md5: str
    display: str
    from_report: str | None
    version: int
    notes: list[str] = field(default_factory=list)
    duplicates: int = 0
    pipeline_files: list[str] = field(default_factory=list)  # git files retraining puts back afterwards


def _format(rel: str, given: str | None = None) -> str:
    fmt = (given or "").lower()
    if fmt in ("csv", "tsv", "parquet"):
        return fmt
    lower = rel.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    return "tsv" if lower.endswith((".tsv", ".tab")) else "csv"


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read(path: Path, fmt: str, display: str) -> Any:
    """A data file as pandas reads it for the pipeline (the prepare stage's reader)."""
    import pandas as pd

    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", low_memory=False)
    except pd.errors.EmptyDataError:
        raise WorkbenchError(f"{display} is empty: give a file with a header and labelled rows") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError, OSError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkbenchError(f"{display} cannot be read as {fmt.upper()} ({why[:120]}): give a UTF-8 CSV, "
                             "TSV or Parquet file with the training data's columns") from None


def _kind(series: Any) -> str | None:
    """numeric | boolean | datetime | text, or None for a column without values (fits anything)."""
    import pandas as pd

    if series.notna().sum() == 0:
        return None
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "text"


def _names(items: list[str], limit: int = 8) -> str:
    return ", ".join(items[:limit]) + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _git_rel(root: Path, rel: str) -> tuple[Path, str]:
    from workbench.versioning import git

    git_root = git.repo_root(root)
    if git_root is None:
        raise WorkbenchError(f"{root} is not inside a git repository: create the project first")
    return git_root, (root / rel).resolve().relative_to(git_root.resolve()).as_posix()


def _pointer_history(root: Path, pointer: str) -> list[str]:
    """Commit messages that changed the pointer, newest first."""
    from workbench.versioning import git

    git_root, rel = _git_rel(root, pointer)
    return git.commit_messages(git_root, rel)


def _latest_labelled_batch(root: Path, target: str) -> tuple[Path, str, str]:
    """(path, display, report id) of the latest report's batch, when it is a labelled file."""
    import json

    from workbench.operations.monitoring import latest_report

    newest = latest_report(root)
    how = "pass labelled data with 'mlops-workbench retrain --data PATH' (a CSV/TSV/Parquet file with the " \
          f"target column {target!r} filled in)"
    if newest is None:
        raise WorkbenchError(f"no labelled new data: there is no monitoring report yet; {how}")
    try:
        report = json.loads(newest.read_text(encoding="utf-8"))
        batch = report.get("batch") or {}
    except (OSError, ValueError, AttributeError):
        raise WorkbenchError(f"the latest monitoring report {newest.name} is not readable: {how}") from None
    rel = batch.get("path")
    if batch.get("source") == "prediction_log" or not rel:
        raise WorkbenchError(f"no labelled new data: the latest monitoring report ({newest.stem}) checked the "
                             f"prediction log, which has no labels; {how}")
    if (report.get("performance") is None and target
            and "no target column" in str(report.get("performance_note") or "")):
        raise WorkbenchError(f"no labelled new data: the batch of the latest monitoring report ({rel}) has no "
                             f"target column {target!r}; {how}")
    path = root / str(rel)
    if not path.is_file():
        raise WorkbenchError(f"the batch of the latest monitoring report ({rel}) is not in the workspace: "
                             f"run 'dvc pull {rel}', or {how}")
    return path, str(rel), newest.stem


def _pipeline_files(root: Path, pointer: str) -> list[str]:
    """The git-side files of the pipeline a retrain changes and puts back (project-relative)."""
    from workbench.versioning.run_journal import pipeline_outputs

    files = ["params.yaml", "dvc.yaml", pointer, *pipeline_outputs(root)]
    return [f for f in dict.fromkeys(files) if not f.endswith(".gitignore")]


def _refuse_changed_pipeline(root: Path, files: list[str]) -> None:
    """One line when a pipeline file differs from HEAD: the candidate must be HEAD's pipeline."""
    from workbench.versioning.workspace import dirty_paths

    dirty = dirty_paths(root, files)
    if not dirty:
        return
    first = sorted(dirty)[0]
    others = f" (and {len(dirty) - 1} more)" if len(dirty) > 1 else ""
    raise WorkbenchError(
        f"{first}{others} differs from HEAD: retraining runs HEAD's pipeline on the new data and puts these "
        f"files back afterwards; commit it, promote the experiment the workspace holds "
        f"('mlops-workbench exp promote NAME'), or undo it ('git checkout -- {first}' then 'dvc checkout'), "
        "then retrain")


def _row_hashes(frame: Any, like: Any) -> Any:
    """One 64-bit hash per row, the values normalised by the source's column kinds (``like``)."""
    import pandas as pd

    norm = {}
    for c in like.columns:
        s = frame[c]
        if pd.api.types.is_bool_dtype(like[c]):
            norm[c] = s.astype(object).map(lambda v: None if v is None or v is pd.NA or v != v else bool(v))
        elif pd.api.types.is_numeric_dtype(like[c]):
            norm[c] = pd.to_numeric(s, errors="coerce").astype("float64")
        else:
            norm[c] = s.astype(object).map(lambda v: None if v is None or v is pd.NA or v != v else str(v))
    table = pd.DataFrame({c: v.to_numpy() for c, v in norm.items()}, index=range(len(frame)))
    return pd.util.hash_pandas_object(table, index=False).to_numpy()


def plan_retraining(project_path: str | Path, data: str | Path | None = None, *,
                    cwd: str | Path | None = None, progress: Progress | None = None,
                    allow_duplicates: bool = False) -> _Plan:
    """Find and check the new data against the training source; write nothing."""

    import pandas as pd

    from workbench.development.stages import read_params

    project = Project(project_path)
    config = project.read_config()
    retraining_policy(config)
    root = project.path
    say = progress or (lambda _line: None)
    params = read_params(root)
    target = str(params.get("target") or "")
    sources = [s if isinstance(s, dict) else {"path": str(s)} for s in params.get("sources") or []]
    if not target or not sources:
        raise WorkbenchError("params.yaml names no target or no data sources: run 'mlops-workbench pipeline' first")
    source = sources[-1]
    source_rel = str(source.get("path") or "")
    pointer = f"{source_rel}.dvc"
    source_path = root / source_rel
    if not (root / pointer).is_file():
        raise WorkbenchError(f"the training source {source_rel} is not tracked by DVC (no {pointer}): "
                             f"run 'mlops-workbench data add {source_rel}' first")
    if not source_path.is_file():
        raise WorkbenchError(f"the training source {source_rel} is not in the workspace: run 'dvc pull {source_rel}'")
    md5_before = pointer_md5(root / pointer) or ""
    if _md5(source_path) != md5_before:
        raise WorkbenchError(f"{source_rel} differs from its DVC pointer {pointer}: commit your change with "
                             f"'dvc add {source_rel}' and git, or undo it with 'dvc checkout {source_rel}'")
    pipeline_files = _pipeline_files(root, pointer)
    _refuse_changed_pipeline(root, pipeline_files)

    from_report: str | None = None
    if data is None:
        new_path, display, from_report = _latest_labelled_batch(root, target)
    else:
        display = str(data)
        new_path = user_path(data, cwd)
        if not new_path.exists():
            raise WorkbenchError(f"{display} does not exist: give the new data as a CSV, TSV or Parquet file")
        if new_path.is_dir():
            raise WorkbenchError(f"{display} is a folder: give one CSV, TSV or Parquet file")
    if new_path.resolve() == source_path.resolve():
        raise WorkbenchError(f"{display} is the training source itself: give the new data, not {source_rel}")

    new_md5 = _md5(new_path)
    for message in _pointer_history(root, pointer):
        if new_md5 in _MD5_LINE.findall(message):
            raise WorkbenchError(f"{display} was added to {source_rel} before (same bytes, md5 {new_md5[:12]}): "
                                 "retraining on it again would duplicate its rows; give new data")

    say(f"reading {display}")
    fmt = _format(source_rel, source.get("format"))
    new = _read(new_path, _format(new_path.name), display)
    say(f"reading the training source {source_rel}")
    old = _read(source_path, fmt, source_rel)
    columns = [str(c) for c in old.columns]
    new.columns = [str(c) for c in new.columns]
    if target not in new.columns:
        raise WorkbenchError(f"{display} has no target column {target!r}: retraining needs labelled rows, so add "
                             f"the column with the true outcomes")
    missing = [c for c in columns if c not in new.columns]
    if missing:
        raise WorkbenchError(f"{display} lacks column(s) {_names(missing)} of the training source {source_rel}: "
                             "give the new data with the same columns")
    extra = [c for c in new.columns if c not in columns]
    if extra:
        raise WorkbenchError(f"{display} has column(s) {_names(extra)} that the training source {source_rel} has "
                             "not: remove them (the source's columns are " + _names(columns) + ")")
    retyped = []
    for c in columns:
        was, now = _kind(old[c]), _kind(new[c])
        if was is None or now is None or was == now or {was, now} == {"datetime", "text"}:
            continue
        retyped.append(f"{c} ({was} in {source_rel}, {now} in {display})")
    if retyped:
        raise WorkbenchError(f"{display} has column(s) of another type: {_names(retyped, 4)}; fix the data feed "
                             "or convert the column(s)")
    labelled = new[target].notna()
    n_labelled = int(labelled.sum())
    if n_labelled == 0:
        raise WorkbenchError(f"{display} has no labelled rows (target {target!r} is empty in all {len(new):,}): "
                             "retraining needs the true outcomes")
    rows = new.loc[labelled, columns].reset_index(drop=True)
    # Integer columns of the source stay integers (a CSV column with a gap reads as float).
    for c in columns:
        if pd.api.types.is_integer_dtype(old[c]) and pd.api.types.is_float_dtype(rows[c]):
            values = rows[c].dropna()
            if (values == values.round()).all():
                rows[c] = rows[c].astype("Int64")
    notes = []
    if n_labelled < len(new):
        notes.append(f"{len(new) - n_labelled:,} row(s) of {display} have no label ({target}) and were left out")
    # Rows already in the source (the same value in every column) would be counted twice.
    import numpy as np

    seen = rows.index[np.isin(_row_hashes(rows, old[columns]), _row_hashes(old[columns], old[columns]))]
    duplicates = len(seen)
    if duplicates and not allow_duplicates:
        if duplicates == len(rows):
            raise WorkbenchError(f"all {len(rows):,} labelled rows of {display} are already in {source_rel} (the "
                                 "same value in every column): there is nothing new to retrain on; pass "
                                 "--allow-duplicates to append them again")
        rows = rows.drop(index=seen).reset_index(drop=True)
        notes.append(f"{duplicates:,} of the {n_labelled:,} labelled rows of {display} are already in {source_rel} "
                     "(the same value in every column) and were left out; pass --allow-duplicates to append "
                     "them anyway")
    elif duplicates:
        notes.append(f"{duplicates:,} of the {n_labelled:,} labelled rows of {display} are already in "
                     f"{source_rel}; appended again as asked (--allow-duplicates)")
    version = len(_pointer_history(root, pointer)) + 1
    return _Plan(root=root, source=source, source_rel=source_rel, pointer=pointer, fmt=fmt, md5_before=md5_before,
                 rows_before=len(old), columns=columns, new_rows=rows, unlabelled=len(new) - n_labelled,
                 new_md5=new_md5, display=display, from_report=from_report, version=version, notes=notes,
                 duplicates=duplicates, pipeline_files=pipeline_files)


def _appended_bytes(plan: _Plan) -> bytes:
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


def _stage_data(plan: _Plan, *, progress: Progress | None = None,
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


def _note_text(plan: _Plan, data: NewDataVersion) -> str:
    """The experiment's note: where its rows came from (``exp promote`` copies it into its commit)."""
    lines = [f"retraining data: +{data.rows_added:,} rows from {plan.display} ({plan.source_rel} v{plan.version}, "
             f"{plan.rows_before:,} -> {plan.rows_before + data.rows_added:,} rows; md5 {plan.md5_before} -> "
             f"{data.md5})"]
    if plan.from_report:
        lines.append(f"From monitoring report {plan.from_report}.")
    lines.append(f"Retraining-Data-MD5: {plan.new_md5}")
    return "\n".join(lines)


# --- the journal of a run, and putting the workspace back --------------------------------


def _journal_path(root: Path) -> Path:
    from workbench.versioning import git

    return git.git_dir(root) / "mlops-workbench" / "retrain.json"


def _write_journal(root: Path, data: dict[str, Any]) -> None:
    import json

    from workbench.fsutil import atomic_write_text

    path = _journal_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1))


def _drop_journal(root: Path) -> None:
    _journal_path(root).unlink(missing_ok=True)


def _restore_workspace(root: Path, files: list[str], existed: dict[str, bool], pointer: str,
                       progress: Progress | None = None) -> list[str]:
    """The source's pointer and data, and the pipeline's files, back as HEAD has them."""
    from workbench.versioning.workspace import restore_to_head

    created = [f for f in files if not existed.get(f, True)]
    targets = [pointer] + (["dvc.yaml"] if (root / "dvc.yaml").is_file() else [])
    return restore_to_head(root, files, created, targets, progress=progress)


def _reject(root: Path, experiment: str, base: str, failed: list[str], kept: list[str], *,
            role: str | None, report_id: str | None) -> str | None:
    """The ``monitoring`` step that puts back the validation report HEAD's model had at ``base``."""
    from workbench.versioning.evidence import VALIDATION_FILE, VALIDATION_REPORT, commit_reader
    from workbench.versioning.step import begin_step

    read = commit_reader(root, base)
    paths = [VALIDATION_FILE, VALIDATION_REPORT]
    summary = (f"retraining candidate {experiment} rejected ({', '.join(failed) or 'a gate fails'}); "
               "the current model's validation report put back")
    with begin_step(root, "monitoring", paths=paths, role=role, summary=summary) as step:
        for rel in paths:
            old = read(rel)
            if old is None:
                step.protect(rel)
                (root / rel).unlink(missing_ok=True)
                step.include(rel)
            else:
                step.write_bytes(rel, old)
        step.body = "\n".join(["Kept for inspection:", *(f"- {k}" for k in kept),
                               *([f"From monitoring report {report_id}."] if report_id else [])])
    return step.commit


def _kept(root: Path, data: NewDataVersion, experiment: str, exp_commit: str | None,
          validation_commit: str | None) -> list[str]:
    from workbench.versioning.evidence import VALIDATION_REPORT

    where = "the DVC cache and the remote" if data.in_remote else "the local DVC cache"
    kept = [f"experiment {experiment}" + (f" (commit {exp_commit[:7]}, refs/exps)" if exp_commit else "")
            + f": its {data.pointer}, dvc.lock, metrics and model (mlops-workbench exp list; dvc exp show)",
            f"the data version {data.source} md5 {data.md5} ({data.rows_before + data.rows_added:,} rows) in {where}"]
    if validation_commit:
        kept.append(f"its failed validation report in commit {validation_commit[:7]} "
                    f"(git show {validation_commit[:7]}:{VALIDATION_REPORT})")
    kept.append(f"discard the candidate with: mlops-workbench retrain discard {shlex.quote(experiment)}")
    return kept


def recover_interrupted_retrain(project_path: str | Path, progress: Progress | None = None) -> list[str]:
    """Finish what a killed ``retrain`` left (see the module docstring); one message per repair."""
    import json

    from workbench.versioning.locks import _pid_alive

    root = Path(project_path).absolute()
    try:
        path = _journal_path(root)
        journal = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, WorkbenchError):
        return []
    if not isinstance(journal, dict):
        path.unlink(missing_ok=True)
        return []
    if _pid_alive(int(journal.get("pid", -1)), journal.get("started")):
        return []  # still running in another process
    from workbench.versioning import git
    from workbench.versioning.locks import recover_stale_locks
    from workbench.versioning.run_journal import recover_interrupted_run

    experiment = str(journal.get("experiment") or "")
    messages = [f"a retrain ({experiment}) was interrupted (its process was killed); finishing it"]
    messages += recover_interrupted_run(root)
    messages += recover_stale_locks(root, git.git_dir(root))
    files = [str(f) for f in journal.get("files") or []]
    existed = {str(k): bool(v) for k, v in (journal.get("existed") or {}).items()}
    pointer = str(journal.get("pointer") or "")
    if journal.get("phase") in ("data", "experiment") and pointer:
        changed = _restore_workspace(root, files, existed, pointer, progress)
        messages.append("the data pointer, the data and the pipeline's files put back as they were before the "
                        "retrain (HEAD's)" + (f": {', '.join(changed)}" if changed else ""))
    elif journal.get("phase") == "validation":
        from workbench.versioning.evidence import VALIDATION_FILE, read_json

        base = str(journal.get("head") or "")
        report = read_json(root, VALIDATION_FILE) or {}
        ours = (report.get("model") or {}).get("experiment") == experiment
        if ours and report.get("passed") is False and base and git.head(root) != base:
            failed = [str(g.get("name")) for g in report.get("gates") or [] if g.get("passed") is False]
            commit = _reject(root, experiment, base, failed,
                             [f"experiment {experiment} (refs/exps)",
                              f"discard the candidate with: mlops-workbench retrain discard {shlex.quote(experiment)}"],
                             role=journal.get("role"), report_id=journal.get("from_report"))
            messages.append(f"its failed validation got the rejection commit {(commit or '')[:7]}: HEAD's "
                            "validation report is the current model's again")
    path.unlink(missing_ok=True)
    return messages


# --- the whole run -------------------------------------------------------------------------


def _experiment_name(root: Path, name: str | None, version: int) -> str:
    from workbench.development.validation import list_experiments

    known = list_experiments(root)
    if name:
        if not re.fullmatch(r"[A-Za-z0-9][\w.\-]*", name):
            raise WorkbenchError(f"experiment name {name!r} is not valid: use letters, digits, '-', '_' or '.'")
        if name in known:
            raise WorkbenchError(f"an experiment called {name!r} exists already: pass another --name")
        return name
    base = f"retrain-v{version}"
    candidate, n = base, 1
    while candidate in known:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def proposal(project_path: str | Path, experiment: str) -> tuple[str, ...]:
    """The commands that take a passing candidate to production, through review and the registry."""
    from workbench.versioning.registry import read_registry

    try:
        version = read_registry(Path(project_path)).next_version()
    except WorkbenchError:
        version = "v1.0.0"
    return (
        f"mlops-workbench exp promote {shlex.quote(experiment)}",
        "mlops-workbench data check",
        'mlops-workbench review approve --comment "..."',
        f"mlops-workbench model register --version {version}",
        f"mlops-workbench model promote {version} --stage production",
    )


@holding_project_lock("retrain")
def retrain(
    project_path: str | Path,
    data: str | Path | None = None,
    *,
    name: str | None = None,
    role: str | None = None,
    cwd: str | Path | None = None,
    allow_duplicates: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> RetrainResult:
    """A candidate on new data (an experiment), its validation (one commit), a proposal or a rejection."""
    import os
    import time

    from workbench.development.training import run_experiment
    from workbench.development.validation import list_experiments, validate
    from workbench.versioning import git
    from workbench.versioning.exp_git import write_note

    project = Project(project_path)
    root = project.path
    messages = recover_interrupted_retrain(root, progress)
    for line in messages:
        if progress:
            progress(line)
    plan = plan_retraining(root, data, cwd=cwd, progress=progress, allow_duplicates=allow_duplicates)
    exp_name = _experiment_name(root, name, plan.version)
    if cancel is not None and cancel.is_set():
        raise CancelledError("retraining was cancelled; nothing was written")
    head = git.head(root)
    existed = {f: (root / f).exists() for f in plan.pipeline_files}
    journal = {"pid": os.getpid(), "started": time.time(), "head": head, "experiment": exp_name,
               "source": plan.source_rel, "pointer": plan.pointer, "files": plan.pipeline_files,
               "existed": existed, "phase": "data", "role": role, "from_report": plan.from_report}
    _write_journal(root, journal)
    put_back = "the workspace is as it was (HEAD's data and pipeline); nothing was committed"
    try:
        new_data = _stage_data(plan, progress=progress, cancel=cancel)
        _write_journal(root, {**journal, "phase": "experiment"})
        if progress:
            progress(f"training experiment {exp_name} on {plan.source_rel} v{plan.version} (dvc exp run)")
        run = run_experiment(root, name=exp_name, include=[plan.pointer], progress=progress, cancel=cancel)
        exp_commit = list_experiments(root).get(run.name)
        if exp_commit:
            top = git.repo_root(root) or root
            write_note(top, exp_commit, _note_text(plan, new_data))
    except BaseException as exc:
        _restore_workspace(root, plan.pipeline_files, existed, plan.pointer)
        _drop_journal(root)
        if isinstance(exc, CancelledError):
            raise CancelledError(f"retraining was cancelled: {put_back}") from None
        if isinstance(exc, WorkbenchError):
            raise type(exc)(f"{exc}; {put_back}") from None
        raise
    # The candidate lives in its experiment: the workspace goes back to HEAD whatever the verdict.
    if progress:
        progress(f"putting {plan.pointer}, {plan.source_rel} and the pipeline's outputs back as HEAD has them")
    _restore_workspace(root, plan.pipeline_files, existed, plan.pointer, progress)
    _write_journal(root, {**journal, "phase": "validation"})
    messages += [*plan.notes, *new_data.messages]
    kept_hint = (f"the candidate is kept as experiment {run.name}: validate it with 'mlops-workbench validate "
                 f"{shlex.quote(run.name)}' or discard it with 'mlops-workbench retrain discard {shlex.quote(run.name)}'")
    try:
        if progress:
            progress(f"validating {run.name} against the gates (no_regression: the production model)")
        checked = validate(root, run.name, role=role, progress=progress, cancel=cancel)
    except CancelledError:
        _drop_journal(root)
        raise CancelledError(f"retraining was cancelled during the validation; {kept_hint}") from None
    except WorkbenchError as exc:
        _drop_journal(root)
        raise type(exc)(f"{exc}; {kept_hint}") from None
    messages += list(checked.messages)
    rejected_commit = None
    kept: list[str] = []
    if not checked.passed:
        failed = [g.name for g in checked.gates if g.passed is False]
        kept = _kept(root, new_data, run.name, exp_commit, checked.commit)
        rejected_commit = _reject(root, run.name, head, failed, kept, role=role, report_id=plan.from_report)
    _drop_journal(root)
    return RetrainResult(
        data=new_data, experiment=run.name, metrics=dict(run.metrics), passed=checked.passed,
        gates=tuple(checked.gates), validation_commit=checked.commit,
        proposal=proposal(root, run.name) if checked.passed else (), messages=tuple(messages),
        experiment_commit=exp_commit, rejected_commit=rejected_commit, kept=tuple(kept),
    )


@holding_project_lock("retrain discard")
def discard_candidate(project_path: str | Path, experiment: str, *,
                      progress: Progress | None = None) -> Discarded:
    """``retrain discard EXP``: remove a candidate's experiment (``dvc exp remove``) and its note."""
    from workbench.development.validation import list_experiments
    from workbench.versioning import git
    from workbench.versioning.dvc import run_dvc
    from workbench.versioning.exp_git import write_note

    project = Project(project_path)
    project.read_config()
    root = project.path
    messages = recover_interrupted_retrain(root, progress)
    known = list_experiments(root)
    sha = known.get(experiment)
    if sha is None:
        names = ", ".join(sorted(known)[:12]) or "none"
        raise WorkbenchError(f"experiment {experiment!r} is not known: use one of {names} "
                             "(see 'mlops-workbench exp list')")
    run_dvc(["exp", "remove", experiment], root, progress=progress)
    write_note(git.repo_root(root) or root, sha, "")
    messages.append("its data and model stay in the DVC cache (and the remote) until 'dvc gc' removes "
                    "what no commit or experiment uses")
    return Discarded(experiment, sha, tuple(messages))


# --- after a monitoring check ----------------------------------------------------------------


@dataclass(frozen=True)
class AfterMonitor:
    """What the retraining policy made of a monitoring report."""

    policy: str
    suggestion: str | None = None  # one line for people (manual policy, or automatic without labels)
    result: RetrainResult | None = None
    error: str | None = None  # the automatic retraining failed (one line)

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "suggestion": self.suggestion,
                "result": self.result.to_json() if self.result else None, "error": self.error}


def after_monitor(
    project_path: str | Path,
    report: Any,
    *,
    data: str | Path | None = None,
    role: str | None = None,
    cwd: str | Path | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> AfterMonitor | None:
    """Apply the retraining policy to a committed monitoring report; None when no action is recommended.

    manual: a suggestion to run ``mlops-workbench retrain``. automatic: retrain (up to
    validation, never promotion) on ``data`` or on the report's batch when it has labels;
    without labelled data a suggestion says how to give some. A failure of the automatic
    run is returned as ``error`` (the report itself stands).
    """
    project = Project(project_path)
    policy = retraining_policy(project.read_config())
    if not getattr(report, "action_recommended", False):
        return None
    labelled = data is not None or getattr(report, "performance", None) is not None
    if policy == "manual":
        hint = ("mlops-workbench retrain" + (f" --data {shlex.quote(str(data))}" if data is not None else "")
                + ("" if labelled else " --data PATH (labelled new data)"))
        return AfterMonitor(policy, suggestion=f"action recommended: retrain with '{hint}' "
                            "(retraining.policy: manual in workbench.yaml)")
    if not labelled:
        return AfterMonitor(policy, suggestion="action recommended, but the batch has no labels to retrain on: "
                            "run 'mlops-workbench retrain --data PATH' with labelled new data")
    try:
        result = retrain(project.path, data, role=role, cwd=cwd, progress=progress, cancel=cancel)
    except CancelledError:
        raise
    except WorkbenchError as exc:
        return AfterMonitor(policy, error=f"automatic retraining failed: {exc}")
    return AfterMonitor(policy, result=result)


__all__ = ["AfterMonitor", "Discarded", "NewDataVersion", "POLICIES", "RetrainResult", "after_monitor",
           "discard_candidate", "plan_retraining", "proposal", "recover_interrupted_retrain", "retrain",
           "retraining_policy"]
