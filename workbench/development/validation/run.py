"""``validate``: run every gate on one model and commit the report as the ``validation`` step."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from workbench.development.validation.gates import (
    _baseline_gate,
    _model_file_gate,
    _model_file_problem,
    _regression_gate,
    _reproducibility_gate,
    _success_gate,
)
from workbench.development.validation.jobs import (
    _read_metrics,
    _run_jobs,
    _workbench_stages,
    _write_params,
)
from workbench.development.validation.report import render_markdown
from workbench.development.validation.scoring import (
    _data_columns,
    _fairness_gate,
    _score_test,
    _Scored,
    _slice_gate,
)
from workbench.development.validation.settings import (
    GATE_NAMES,
    MODEL_GATE,
    STAGE_FILES,
    GateResult,
    Progress,
    ValidationResult,
    _check_cancel,
    _gate_settings,
    _now,
    _say,
    _skipped,
)
from workbench.development.validation.snapshot import _git_prefix, _Snapshot, _snapshot
from workbench.errors import WorkbenchError
from workbench.versioning.evidence import MODEL_FILE, VALIDATION_FILE, VALIDATION_REPORT
from workbench.versioning.locks import holding_project_lock


@holding_project_lock("validate")
def validate(
    project_path: str | Path,
    experiment: str | None = None,
    *,
    role: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ValidationResult:
    """Run the gates on the workspace model (or ``experiment``); write and commit the report."""
    from workbench.project import Project
    from workbench.versioning import git
    from workbench.versioning.dvc import file_md5

    project = Project(project_path)
    root = project.path
    config = project.read_config()
    git_root, _prefix = _git_prefix(root)
    with tempfile.TemporaryDirectory(prefix="mlops-workbench-validate-") as tmp:
        work = Path(tmp)
        snap = _snapshot(root, experiment, work / "model", progress)
        settings, write_defaults = _gate_settings(config, snap.params)
        written = [VALIDATION_FILE, VALIDATION_REPORT] + (["workbench.yaml"] if write_defaults else [])
        step_paths = [(root / p).resolve().relative_to(git_root).as_posix() for p in written]
        git.refuse_dirty(git_root, step_paths)  # fail before the slow part, not after it
        task = str(snap.params.get("task") or "classification")
        _check_group_columns(settings, snap)
        _check_cancel(cancel)
        _say(progress, f"validating {'experiment ' + experiment if experiment else 'the workspace model'} "
                       f"{snap.digest}")
        broken = _model_file_problem(snap)
        if broken is not None:
            failed_file = GateResult(MODEL_GATE, False, f"md5:{snap.file_md5}" if snap.file_md5 else None,
                                     snap.digest, broken)
            not_run = [GateResult(n, None, None, None, "not run: the model file failed its check")
                       for n in GATE_NAMES]
            return _finish(project, snap, settings, write_defaults, written, [failed_file, *not_run],
                           None, role=role, cancel=cancel)

        # The cheap gates first, so a charter metric or slice metric that cannot work fails early.
        success = (_success_gate(config, snap.metrics) if settings["success_metric"]["enabled"]
                   else _skipped("success_metric"))
        regression = (_regression_gate(settings["no_regression"], root, snap, work, progress, cancel)
                      if settings["no_regression"]["enabled"] else _skipped("no_regression"))
        scored, group_gates = _group_gates(settings, task, snap, progress)
        _check_cancel(cancel)

        # Baseline and reproducibility: one subprocess, two temporary folders.
        jobs, repro_custom = _retrain_jobs(settings, snap, work)
        outcome: dict[str, str | None] = {}
        if jobs:
            _say(progress, "training the dummy baseline and retraining the model from the same data")
            outcome = _run_jobs(jobs, progress, cancel)
        _check_cancel(cancel)

        scored_error = outcome.get("scored")
        rescored = (_read_metrics(work / "scored" / "metrics.json")
                    if not repro_custom and scored_error is None else None)
        gates: list[GateResult] = [_model_file_gate(snap, rescored, scored_error, repro_custom), success]
        if settings["baseline"]["enabled"]:
            base = _read_metrics(work / "baseline" / "metrics.json") if outcome.get("baseline") is None else None
            gates.append(_baseline_gate(settings["baseline"], snap.metrics, base, outcome.get("baseline")))
        else:
            gates.append(_skipped("baseline"))
        gates.append(regression)
        gates += group_gates
        if not settings["reproducibility"]["enabled"]:
            gates.append(_skipped("reproducibility"))
        elif repro_custom:
            gates.append(GateResult("reproducibility", None, None, 0.0,
                                    "dvc.yaml runs your own stage commands: check with 'dvc repro --force'"))
        else:
            error = outcome.get("reproducibility")
            retrained = _read_metrics(work / "retrain" / "metrics.json") if error is None else None
            model_md5 = file_md5(work / "retrain" / MODEL_FILE) if error is None else None
            gates.append(_reproducibility_gate(snap.metrics, retrained, error, snap.digest, model_md5))
        _check_cancel(cancel)

    return _finish(project, snap, settings, write_defaults, written, gates, scored, role=role, cancel=cancel)


def _check_group_columns(settings: dict[str, Any], snap: _Snapshot) -> None:
    """Refuse a slices or fairness column that is not in the data (before anything is written)."""
    for name in ("slices", "fairness"):
        gate = settings[name]
        if gate["enabled"] and gate["column"]:
            columns = _data_columns(snap)
            if gate["column"] not in columns:
                raise WorkbenchError(
                    f"gates.{name}.column {gate['column']!r} is not a column of the data: use one of "
                    f"{', '.join(columns[:15])} (or null to skip the gate) in workbench.yaml")


def _group_gates(settings: dict[str, Any], task: str, snap: _Snapshot,
                 progress: Progress | None) -> tuple[_Scored | None, list[GateResult]]:
    """The slices and fairness gates (the test rows are scored once, when either needs them)."""
    scored = None
    group_gates: list[GateResult] = []
    if any(settings[n]["enabled"] and settings[n]["column"] for n in ("slices", "fairness")):
        _say(progress, "scoring the test rows for slices and fairness")
        scored = _score_test(snap)
    for name, run in (("slices", _slice_gate), ("fairness", _fairness_gate)):
        gate = settings[name]
        if not gate["enabled"]:
            group_gates.append(_skipped(name))
        elif not gate["column"]:
            hint = ("set gates.slices.column to a categorical column" if name == "slices"
                    else "set data.sensitive_columns or gates.fairness.column")
            group_gates.append(GateResult(name, None, None, None,
                                          f"no column chosen: {hint} in workbench.yaml"))
        else:
            assert scored is not None
            group_gates.append(run(gate, task, snap, scored))
    return scored, group_gates


def _retrain_jobs(settings: dict[str, Any], snap: _Snapshot,
                  work: Path) -> tuple[list[dict[str, Any]], bool]:
    """The stage jobs to run (baseline, scored, reproducibility), and whether dvc.yaml is custom."""
    jobs: list[dict[str, Any]] = []
    if settings["baseline"]["enabled"]:
        base_dir = work / "baseline"
        base_params = json.loads(json.dumps(snap.params))
        base_params["model"] = {"name": "dummy", "params": {}}
        _write_params(base_dir, base_params)
        for rel in STAGE_FILES:
            (base_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(snap.folder / rel, base_dir / rel)
        jobs.append({"id": "baseline", "dir": str(base_dir), "stages": ["train", "evaluate"]})
    repro_custom = not _workbench_stages(snap.dvc_yaml)
    if not repro_custom:  # score the exact model bytes again: metrics.json must be theirs
        score_dir = work / "scored"
        _write_params(score_dir, snap.params)
        for rel in (MODEL_FILE, *STAGE_FILES):
            (score_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(snap.folder / rel, score_dir / rel)
        jobs.append({"id": "scored", "dir": str(score_dir), "stages": ["evaluate"]})
    if settings["reproducibility"]["enabled"] and not repro_custom:
        repro_dir = work / "retrain"
        _write_params(repro_dir, snap.params)
        for source in snap.sources:
            (repro_dir / source["path"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(snap.folder / source["path"], repro_dir / source["path"])
        jobs.append({"id": "reproducibility", "dir": str(repro_dir),
                     "stages": ["prepare", "train", "evaluate"]})
    return jobs, repro_custom


def _finish(project: Any, snap: _Snapshot, settings: dict[str, Any], write_defaults: bool, written: list[str],
            gates: list[GateResult], scored: _Scored | None, *, role: str | None,
            cancel: threading.Event | None) -> ValidationResult:
    """Write and commit the report for ``gates`` (every path of validate ends here)."""
    from workbench.project import dump_config
    from workbench.versioning.step import begin_step

    root = project.path
    task = str(snap.params.get("task") or "classification")
    passed = all(g.passed is not False for g in gates)
    report = {
        "schema": 1,
        "passed": passed,
        "validated_at": _now(),
        "model": {"digest": snap.digest, "file_md5": snap.file_md5, "experiment": snap.experiment,
                  "commit": snap.commit,
                  "family": str((snap.params.get("model") or {}).get("name") or ""),
                  "params": (snap.params.get("model") or {}).get("params") or {}},
        "task": task,
        "target": snap.params.get("target"),
        "metrics": snap.metrics,
        "data": {"sources": snap.sources, "test_rows": None if scored is None else int(len(scored.y))},
        "gates": [g.to_json() for g in gates],
        "settings": settings,
    }
    failed = [g.name for g in gates if g.passed is False]
    who = f"experiment {snap.experiment}" if snap.experiment else f"model {snap.digest[4:12]}"
    summary = (f"{who} passes {sum(g.passed is True for g in gates)} gate(s)" if passed
               else f"{who} fails {', '.join(failed)}")
    with begin_step(root, "validation", paths=written, role=role, summary=summary,
                    cancel=cancel) as step:
        if write_defaults:
            config = project.read_config()
            config["gates"] = settings
            step.write_text("workbench.yaml", dump_config(config))
        step.write_text(VALIDATION_FILE, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        step.write_text(VALIDATION_REPORT, render_markdown(report))
        step.body = "\n".join(f"{g.state:<7}  {g.name}: {g.why}" for g in gates)
    messages = tuple(snap.notes) + tuple(step.messages)
    if write_defaults:
        messages += ("wrote the default gates to workbench.yaml (edit them under 'gates:')",)
    return ValidationResult(passed=passed, gates=tuple(gates), report=report, commit=step.commit,
                            messages=messages)
