"""The whole run (``retrain``), ``retrain discard``, and what the policy makes of a monitoring report."""

from __future__ import annotations

import re
import shlex
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError, WorkbenchError
from workbench.operations.retrain.data_version import note_text, stage_data
from workbench.operations.retrain.journal import (
    drop_journal,
    kept_for_inspection,
    recover_interrupted_retrain,
    reject,
    restore_workspace,
    write_journal,
)
from workbench.operations.retrain.plan import Plan, plan_retraining
from workbench.operations.retrain.results import Discarded, NewDataVersion, RetrainResult
from workbench.operations.retrain.settings import retraining_policy
from workbench.progress import Progress
from workbench.project import Project
from workbench.versioning.locks import holding_project_lock


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


def _candidate(root: Path, plan: Plan, exp_name: str, journal: dict[str, Any], existed: dict[str, bool], *,
               progress: Progress | None, cancel: threading.Event | None) -> tuple[NewDataVersion, Any, str | None]:
    """(the data version, the experiment run, its commit): the rows staged and trained on, the note written.

    On any failure the workspace is put back as HEAD has it and the journal dropped.
    """
    from workbench.development.training import run_experiment
    from workbench.development.validation import list_experiments
    from workbench.versioning import git
    from workbench.versioning.exp_git import write_note

    put_back = "the workspace is as it was (HEAD's data and pipeline); nothing was committed"
    try:
        new_data = stage_data(plan, progress=progress, cancel=cancel)
        write_journal(root, {**journal, "phase": "experiment"})
        if progress:
            progress(f"training experiment {exp_name} on {plan.source_rel} v{plan.version} (dvc exp run)")
        run = run_experiment(root, name=exp_name, include=[plan.pointer], progress=progress, cancel=cancel)
        exp_commit = list_experiments(root).get(run.name)
        if exp_commit:
            top = git.repo_root(root) or root
            write_note(top, exp_commit, note_text(plan, new_data))
    except BaseException as exc:
        restore_workspace(root, plan.pipeline_files, existed, plan.pointer)
        drop_journal(root)
        if isinstance(exc, CancelledError):
            raise CancelledError(f"retraining was cancelled: {put_back}") from None
        if isinstance(exc, WorkbenchError):
            raise type(exc)(f"{exc}; {put_back}") from None
        raise
    return new_data, run, exp_commit


def _validated(root: Path, experiment: str, *, role: str | None, progress: Progress | None,
               cancel: threading.Event | None) -> Any:
    """``validate EXPERIMENT`` on the candidate; a failure to validate drops the journal and names the candidate."""
    from workbench.development.validation import validate

    kept_hint = (f"the candidate is kept as experiment {experiment}: validate it with 'mlops-workbench validate "
                 f"{shlex.quote(experiment)}' or discard it with 'mlops-workbench retrain discard "
                 f"{shlex.quote(experiment)}'")
    try:
        if progress:
            progress(f"validating {experiment} against the gates (no_regression: the production model)")
        return validate(root, experiment, role=role, progress=progress, cancel=cancel)
    except CancelledError:
        drop_journal(root)
        raise CancelledError(f"retraining was cancelled during the validation; {kept_hint}") from None
    except WorkbenchError as exc:
        drop_journal(root)
        raise type(exc)(f"{exc}; {kept_hint}") from None


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

    from workbench.versioning import git

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
    write_journal(root, journal)
    new_data, run, exp_commit = _candidate(root, plan, exp_name, journal, existed, progress=progress, cancel=cancel)
    # The candidate lives in its experiment: the workspace goes back to HEAD whatever the verdict.
    if progress:
        progress(f"putting {plan.pointer}, {plan.source_rel} and the pipeline's outputs back as HEAD has them")
    restore_workspace(root, plan.pipeline_files, existed, plan.pointer, progress)
    write_journal(root, {**journal, "phase": "validation"})
    messages += [*plan.notes, *new_data.messages]
    checked = _validated(root, run.name, role=role, progress=progress, cancel=cancel)
    messages += list(checked.messages)
    rejected_commit = None
    kept: list[str] = []
    if not checked.passed:
        failed = [g.name for g in checked.gates if g.passed is False]
        kept = kept_for_inspection(root, new_data, run.name, exp_commit, checked.commit)
        rejected_commit = reject(root, run.name, head, failed, kept, role=role, report_id=plan.from_report)
    drop_journal(root)
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
