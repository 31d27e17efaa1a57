"""Finding and checking the new data against the training source; nothing is written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.operations.retrain.settings import retraining_policy
from workbench.paths import user_path
from workbench.progress import Progress
from workbench.project import Project
from workbench.versioning.dvc import file_md5, pointer_md5

_MD5_LINE = re.compile(r"^Retraining-Data-MD5:[ \t]*([0-9a-f]{32})", re.MULTILINE)


@dataclass
class Plan:
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


def _training_source(root: Path, params: dict[str, Any]) -> tuple[str, dict[str, Any], str, str]:
    """(target, source, source path, pointer) of the training source, tracked by DVC and as its pointer says."""
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
    return target, source, source_rel, pointer


def _new_data_file(root: Path, data: str | Path | None, cwd: str | Path | None, target: str,
                   source_rel: str) -> tuple[Path, str, str | None]:
    """(path, display, report id or None) of the new data: ``--data`` or the latest report's labelled batch."""
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
    if new_path.resolve() == (root / source_rel).resolve():
        raise WorkbenchError(f"{display} is the training source itself: give the new data, not {source_rel}")
    return new_path, display, from_report


def _refuse_added_before(root: Path, pointer: str, new_md5: str, display: str, source_rel: str) -> None:
    """One line when these bytes were appended before (their md5 is in the pointer's history)."""
    for message in _pointer_history(root, pointer):
        if new_md5 in _MD5_LINE.findall(message):
            raise WorkbenchError(f"{display} was added to {source_rel} before (same bytes, md5 {new_md5[:12]}): "
                                 "retraining on it again would duplicate its rows; give new data")


def _refuse_other_columns(new: Any, old: Any, target: str, display: str, source_rel: str) -> list[str]:
    """The source's columns, once the new data has the target and exactly these columns, of the same kinds."""
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
    return columns


def _labelled_rows(new: Any, old: Any, columns: list[str], target: str, display: str) -> tuple[Any, int]:
    """(the labelled rows in the source's column order and integer kinds, how many) of the new data."""
    import pandas as pd

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
    return rows, n_labelled


def _without_duplicates(rows: Any, old: Any, columns: list[str], n_labelled: int, display: str,
                        source_rel: str, allow_duplicates: bool, notes: list[str]) -> tuple[Any, int]:
    """(rows, how many were already in the source): those left out unless ``allow_duplicates``; a note said."""
    import numpy as np

    # Rows already in the source (the same value in every column) would be counted twice.
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
    return rows, duplicates


def plan_retraining(project_path: str | Path, data: str | Path | None = None, *,
                    cwd: str | Path | None = None, progress: Progress | None = None,
                    allow_duplicates: bool = False) -> Plan:
    """Find and check the new data against the training source; write nothing."""
    from workbench.development.stages import read_params

    project = Project(project_path)
    config = project.read_config()
    retraining_policy(config)
    root = project.path
    say = progress or (lambda _line: None)
    target, source, source_rel, pointer = _training_source(root, read_params(root))
    source_path = root / source_rel
    md5_before = pointer_md5(root / pointer) or ""
    if file_md5(source_path) != md5_before:
        raise WorkbenchError(f"{source_rel} differs from its DVC pointer {pointer}: commit your change with "
                             f"'dvc add {source_rel}' and git, or undo it with 'dvc checkout {source_rel}'")
    pipeline_files = _pipeline_files(root, pointer)
    _refuse_changed_pipeline(root, pipeline_files)
    new_path, display, from_report = _new_data_file(root, data, cwd, target, source_rel)
    new_md5 = file_md5(new_path)
    _refuse_added_before(root, pointer, new_md5, display, source_rel)

    say(f"reading {display}")
    fmt = _format(source_rel, source.get("format"))
    new = _read(new_path, _format(new_path.name), display)
    say(f"reading the training source {source_rel}")
    old = _read(source_path, fmt, source_rel)
    columns = _refuse_other_columns(new, old, target, display, source_rel)
    rows, n_labelled = _labelled_rows(new, old, columns, target, display)
    notes = []
    if n_labelled < len(new):
        notes.append(f"{len(new) - n_labelled:,} row(s) of {display} have no label ({target}) and were left out")
    rows, duplicates = _without_duplicates(rows, old, columns, n_labelled, display, source_rel, allow_duplicates,
                                           notes)
    version = len(_pointer_history(root, pointer)) + 1
    return Plan(root=root, source=source, source_rel=source_rel, pointer=pointer, fmt=fmt, md5_before=md5_before,
                rows_before=len(old), columns=columns, new_rows=rows, unlabelled=len(new) - n_labelled,
                new_md5=new_md5, display=display, from_report=from_report, version=version, notes=notes,
                duplicates=duplicates, pipeline_files=pipeline_files)
