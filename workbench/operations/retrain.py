"""Retraining: new labelled data becomes a new data version, an experiment, a validation, a proposal.

``retrain(project)`` is ``mlops-workbench retrain``. It never promotes anything: promotion
stays a decision people take through the same gates as the first model (review, register,
promote), so the result ends with the exact commands to run, not with a new stage.

Usage::

    mlops-workbench retrain [--data PATH] [--name EXP] [--json] [-q] [--role ROLE] [-C PATH]

What it does, in order (everything is checked before anything is written):

1. **The new data.** ``--data PATH`` (a CSV, TSV or Parquet file with the target column
   filled in), or else the batch of the latest monitoring report when that batch has
   labels (``monitoring/batches/...`` or a file inside the project, tracked by DVC). Rows
   without a label are left out (with a note); no labelled row at all, a missing target
   column, and columns missing, extra or of another type than the training source's are
   refused in one line that names them. Data whose bytes were added before (its md5 is in
   the history of the source's pointer) is refused too: adding it again would duplicate
   its rows.
2. **A new version of the training data.** The rows are appended to the training source
   (the last of ``sources`` in params.yaml, the file the pipeline's ``prepare`` stage
   reads): a CSV/TSV keeps its bytes and gets the new lines after them, a Parquet file is
   rewritten with the same schema; atomically, then ``dvc add`` and ``dvc push``, in one
   ``monitoring`` commit, ``Monitoring & triggering: retraining data: +N rows from PATH
   (SOURCE vK)``. The ``.dvc`` pointer's md5 changes, so the history says which data each
   later experiment and model saw; K counts the commits that changed the pointer.
3. **An experiment** on it: ``dvc exp run`` (:func:`workbench.development.training.run_experiment`;
   named ``--name`` or ``retrain-vK``).
4. **Validation** of that experiment with every gate, ``no_regression`` against the
   version GTO's registry has in production (:func:`workbench.development.validation.validate`,
   which commits ``reports/validation.json`` + ``.md`` as ``validate EXPERIMENT`` does).
5. **A proposal**: the commands that promote the candidate through review and registry.

Exit codes: 0 the candidate passes the gates (promotion proposed), 1 a gate fails (named),
2 unusable input (one line on stderr; nothing written, nothing committed), 75 the project is
busy, 130 cancelled (Ctrl-C). A cancel or failure after step 2 keeps the data commit (it is
a complete step) and says how to continue: ``mlops-workbench train`` then ``validate``.

JSON (schema 1), ``retrain --json``::

    {"schema": 1,
     "data": {"source": "data/x.csv", "pointer": "data/x.csv.dvc", "version": K,
              "md5_before": str, "md5": str, "rows_before": n, "rows_added": n, "rows_unlabelled": n,
              "from": "PATH", "from_report": "2026-06-01-1" | null, "commit": str},
     "experiment": "retrain-v2",
     "metrics": {"accuracy": 0.96, ...},
     "validation": {"passed": bool, "failed_gates": ["no_regression", ...], "commit": str | null,
                    "gates": [{"name", "passed", "why"}]},
     "proposal": ["mlops-workbench exp promote retrain-v2", ...],   # [] when a gate fails
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError, WorkbenchError
from workbench.project import Project

Progress = Callable[[str], None]
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
    """The new version of the training source that the appended rows made."""

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
    commit: str | None = None
    messages: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "pointer": self.pointer, "version": self.version,
                "md5_before": self.md5_before, "md5": self.md5, "rows_before": self.rows_before,
                "rows_added": self.rows_added, "rows_unlabelled": self.rows_unlabelled, "from": self.display,
                "from_report": self.from_report, "commit": self.commit}


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

    @property
    def failed_gates(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.gates if g.passed is False)

    @property
    def exit_code(self) -> int:
        """0 the candidate passes the gates, 1 a gate fails."""
        return 0 if self.passed else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "data": self.data.to_json(),
            "experiment": self.experiment,
            "metrics": self.metrics,
            "validation": {"passed": self.passed, "failed_gates": list(self.failed_gates),
                           "commit": self.validation_commit,
                           "gates": [{"name": g.name, "passed": g.passed, "why": g.why} for g in self.gates]},
            "proposal": list(self.proposal),
            "messages": list(self.messages),
        }


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


def _pointer_md5(pointer: Path) -> str | None:
    import yaml

    try:
        data = yaml.safe_load(pointer.read_text(encoding="utf-8")) or {}
        return str(data["outs"][0]["md5"])
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return None


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
    out = git.run_git(git_root, "log", "--format=%B%x00", "--", rel, check=False)
    return [m for m in out.split("\0") if m.strip()]


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


def plan_retraining(project_path: str | Path, data: str | Path | None = None, *,
                    cwd: str | Path | None = None, progress: Progress | None = None) -> _Plan:
    """Find and check the new data against the training source; write nothing."""
    import os

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
    md5_before = _pointer_md5(root / pointer) or ""
    if _md5(source_path) != md5_before:
        raise WorkbenchError(f"{source_rel} differs from its DVC pointer {pointer}: commit your change with "
                             f"'dvc add {source_rel}' and git, or undo it with 'dvc checkout {source_rel}'")

    from_report: str | None = None
    if data is None:
        new_path, display, from_report = _latest_labelled_batch(root, target)
    else:
        display = str(data)
        new_path = Path(data).expanduser()
        if not new_path.is_absolute():
            new_path = Path(cwd or Path.cwd()) / new_path
        new_path = Path(os.path.abspath(new_path))
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
    version = len(_pointer_history(root, pointer)) + 1
    return _Plan(root=root, source=source, source_rel=source_rel, pointer=pointer, fmt=fmt, md5_before=md5_before,
                 rows_before=len(old), columns=columns, new_rows=rows, unlabelled=len(new) - n_labelled,
                 new_md5=new_md5, display=display, from_report=from_report, version=version, notes=notes)


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


def add_retraining_data(plan: _Plan, *, role: str | None = None, progress: Progress | None = None,
                        cancel: threading.Event | None = None) -> NewDataVersion:
    """Append the planned rows to the source, ``dvc add`` it, commit one ``monitoring`` step, push."""
    from workbench.fsutil import atomic_write_bytes
    from workbench.versioning.dvc import pointer_paths
    from workbench.versioning.step import begin_step

    n = len(plan.new_rows)
    summary = f"retraining data: +{n:,} rows from {plan.display} ({plan.source_rel} v{plan.version})"
    content = _appended_bytes(plan)
    with begin_step(plan.root, "monitoring", paths=pointer_paths(plan.source_rel), role=role, summary=summary,
                    progress=progress, cancel=cancel) as step:
        step.protect(plan.source_rel)  # DVC tracks it (not staged); a rollback puts the old bytes back
        if progress:
            progress(f"appending {n:,} rows to {plan.source_rel}")
        atomic_write_bytes(plan.root / plan.source_rel, content)
        step.dvc_add([plan.source_rel], progress=progress, cancel=cancel)
        md5 = _pointer_md5(plan.root / plan.pointer) or ""
        step.body = "\n".join([
            f"Appended {n:,} labelled rows from {plan.display} to {plan.source_rel} "
            f"({plan.rows_before:,} -> {plan.rows_before + n:,} rows).",
            *([f"From monitoring report {plan.from_report}."] if plan.from_report else []),
            f"Data version {plan.version}: md5 {plan.md5_before} -> {md5}.",
            "",
            f"Retraining-Data-MD5: {plan.new_md5}",
        ])
    return NewDataVersion(
        source=plan.source_rel, pointer=plan.pointer, version=plan.version, md5_before=plan.md5_before, md5=md5,
        rows_before=plan.rows_before, rows_added=n, rows_unlabelled=plan.unlabelled, display=plan.display,
        from_report=plan.from_report, commit=step.commit, messages=tuple(step.messages),
    )


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


def retrain(
    project_path: str | Path,
    data: str | Path | None = None,
    *,
    name: str | None = None,
    role: str | None = None,
    cwd: str | Path | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> RetrainResult:
    """New data version (one commit), an experiment, its validation (one commit), a proposal."""
    from workbench.development.training import run_experiment
    from workbench.development.validation import validate

    project = Project(project_path)
    plan = plan_retraining(project.path, data, cwd=cwd, progress=progress)
    exp_name = _experiment_name(project.path, name, plan.version)
    if cancel is not None and cancel.is_set():
        raise CancelledError("retraining was cancelled; nothing was written")
    new_data = add_retraining_data(plan, role=role, progress=progress, cancel=cancel)
    messages = [*plan.notes, *new_data.messages]
    after = (f"the new data is committed ({(new_data.commit or '')[:7]}, {plan.source_rel} v{plan.version}); "
             "continue with 'mlops-workbench train' and 'mlops-workbench validate EXPERIMENT'")
    try:
        if progress:
            progress(f"training experiment {exp_name} on {plan.source_rel} v{plan.version} (dvc exp run)")
        run = run_experiment(project.path, name=exp_name, progress=progress, cancel=cancel)
        if progress:
            progress(f"validating {run.name} against the gates (no_regression: the production model)")
        checked = validate(project.path, run.name, role=role, progress=progress, cancel=cancel)
    except CancelledError:
        raise CancelledError(f"retraining was cancelled: {after}") from None
    except WorkbenchError as exc:
        raise type(exc)(f"{exc}; {after}") from None
    messages += list(checked.messages)
    return RetrainResult(
        data=new_data, experiment=run.name, metrics=dict(run.metrics), passed=checked.passed,
        gates=tuple(checked.gates), validation_commit=checked.commit,
        proposal=proposal(project.path, run.name) if checked.passed else (), messages=tuple(messages),
    )


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


__all__ = ["AfterMonitor", "NewDataVersion", "POLICIES", "RetrainResult", "add_retraining_data", "after_monitor",
           "plan_retraining", "proposal", "retrain", "retraining_policy"]
