"""The gates that compare with other models: success metric, baseline, no regression, model file, reproducibility."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

from workbench.development.validation.jobs import _read_metrics, _run_jobs, _write_params
from workbench.development.validation.settings import (
    LOWER_IS_BETTER,
    MODEL_GATE,
    REGISTRY_ARTIFACT,
    STAGE_FILES,
    GateResult,
    Progress,
    _better,
    _fmt,
    _say,
    metric_direction,
)
from workbench.development.validation.snapshot import (
    _git_prefix,
    _load_yaml,
    _lock_md5s,
    _show,
    _Snapshot,
)
from workbench.errors import WorkbenchError
from workbench.paths import MODEL_FILE

# --- the gates -------------------------------------------------------------------------


def _success_gate(config: dict[str, Any], metrics: dict[str, float]) -> GateResult:
    from workbench.design.requirements import success_gate
    from workbench.project import charter_from_config

    clauses = success_gate(charter_from_config(config))
    if not clauses:
        return GateResult("success_metric", None, None, None,
                          "the charter has no success metric: set one with "
                          "'mlops-workbench charter set --metric ...'")
    text = " and ".join(str(c) for c in clauses)
    details, reasons, values = [], [], {}
    for clause in clauses:
        value = metrics.get(clause.metric)
        ok = value is not None and clause.holds(value)
        values[clause.metric] = value
        details.append({"metric": clause.metric, "value": value, "op": clause.op, "target": clause.target,
                        "passed": ok, "primary": clause.primary})
        if value is None:
            reasons.append(f"metrics.json has no {clause.metric}")
        elif not ok:
            reasons.append(f"{clause.metric} {_fmt(value)} misses the target {clause}")
    if reasons:
        return GateResult("success_metric", False, values, text, "; ".join(reasons), tuple(details))
    shown = ", ".join(f"{c.metric} {_fmt(values[c.metric])} {c.op} {c.target:g}" for c in clauses)
    return GateResult("success_metric", True, values, text, f"meets the charter: {shown}", tuple(details))


def _baseline_gate(settings: dict[str, Any], metrics: dict[str, float],
                   baseline: dict[str, float] | None, error: str | None) -> GateResult:
    metric, margin = settings["metric"], settings["margin"]
    if baseline is None:
        return GateResult("baseline", False, metrics.get(metric), None,
                          f"the dummy baseline could not be trained: {error}")
    value, base = metrics.get(metric), baseline.get(metric)
    if value is None or base is None:
        return GateResult("baseline", False, value, None,
                          f"{metric} is missing from the {'model' if value is None else 'baseline'}'s "
                          "metrics: choose another gates.baseline.metric")
    lower = metric in LOWER_IS_BETTER
    required = round(base - margin if lower else base + margin, 6)
    gain = _better(metric, value, base)
    passed = gain >= margin - 1e-12
    details = ({"metric": k, "model": metrics.get(k), "baseline": v} for k, v in sorted(baseline.items()))
    why = (f"{metric} {_fmt(value)} vs the dummy baseline {_fmt(base)}: "
           f"{'better' if gain >= 0 else 'worse'} by {abs(gain):.4g}, "
           f"{'at least' if passed else 'less than'} the margin {margin:g}")
    return GateResult("baseline", passed, value, required, why, tuple(details))


def production_model(project_path: Path) -> dict[str, Any] | None:
    """The version GTO's registry has in ``production`` (version, commit, tag), or None."""
    root = Path(project_path).absolute()
    git_root, _prefix = _git_prefix(root)
    try:
        from workbench.project import Project

        registry = (Project(root).read_config().get("registry") or {})
    except WorkbenchError:
        registry = {}
    artifact = str(registry.get("artifact") or registry.get("name") or REGISTRY_ARTIFACT)
    from workbench.versioning.registry import production_version

    return production_version(git_root, artifact)


def _regression_skip(why: str, tolerance: float, production: dict[str, Any] | None = None,
                     passed: bool | None = None) -> GateResult:
    return GateResult("no_regression", passed, None, tolerance, why,
                      extra={"production": production} if production else {})


def _regression_gate(settings: dict[str, Any], root: Path, snap: _Snapshot, work: Path,
                     progress: Progress | None = None, cancel: threading.Event | None = None) -> GateResult:
    """Candidate and production scored on the same current test rows in one run; relative tolerances."""
    from workbench.development.stages import PARAMS_FILE, TEST_FILE
    from workbench.versioning.workspace import output_at

    tolerance = settings["tolerance"]
    production = production_model(root)
    if production is None:
        return _regression_skip("no production model yet", tolerance)
    name = f"production {production['version']}"
    git_root, prefix = _git_prefix(root)
    sha = production["commit"]
    prod_params = _load_yaml(_show(git_root, sha, prefix + PARAMS_FILE), f"params.yaml of {name}")
    prod_md5 = _lock_md5s(_load_yaml(_show(git_root, sha, prefix + "dvc.lock"),
                                     f"dvc.lock of {name}")).get(MODEL_FILE)
    if not prod_md5 or not prod_params.get("features"):
        return _regression_skip(f"{name} has no model or params.yaml at {sha[:7]}: nothing to compare",
                                tolerance, production)
    production = {**production, "digest": f"md5:{prod_md5}"}
    if str(prod_params.get("target")) != str(snap.params.get("target")):
        return _regression_skip(f"{name} predicts {prod_params.get('target')!r}, this model "
                                f"{snap.params.get('target')!r}: not comparable, not judged", tolerance, production)
    import pyarrow.parquet as pq

    test_file = snap.folder / TEST_FILE
    columns = set(pq.ParquetFile(test_file).schema_arrow.names)
    missing = sorted(c for c in prod_params["features"] if c not in columns)
    if missing:
        return _regression_skip(f"{name} needs column(s) {', '.join(missing[:6])} that the current test rows "
                                "lack: not comparable, not judged", tolerance, production)
    folder = work / "no_regression"
    prod_lock = _lock_md5s(_load_yaml(_show(git_root, sha, prefix + "dvc.lock"), f"dvc.lock of {name}"))
    try:
        output_at(root, sha, MODEL_FILE, prod_md5, folder / "production" / MODEL_FILE)
        seen_md5 = prod_lock.get(STAGE_FILES[0])
        seen = (output_at(root, sha, STAGE_FILES[0], seen_md5, folder / "production-train.parquet")
                if seen_md5 else None)
    except WorkbenchError as exc:
        return _regression_skip(f"{name} could not be read, so nothing was compared: {exc}",
                                tolerance, production, passed=False)
    test, left_out = _unseen_test_rows(test_file, seen)
    test_rows = len(test)
    if test_rows == 0:
        return _regression_skip(f"every current test row was in the training rows of {name}: nothing left to "
                                "compare on, not judged", tolerance, production)
    jobs = []
    for job, params in (("candidate", snap.params), ("production", prod_params)):
        _write_params(folder / job, params)
        for rel in STAGE_FILES:  # evaluate reads the train rows too (for the monitoring reference)
            (folder / job / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(snap.folder / rel, folder / job / rel)
        test.to_parquet(folder / job / TEST_FILE, index=False)
        jobs.append({"id": f"no_regression_{job}", "dir": str(folder / job), "stages": ["evaluate"]})
    (folder / "candidate" / MODEL_FILE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(snap.folder / MODEL_FILE, folder / "candidate" / MODEL_FILE)
    _say(progress, f"scoring this model and {name} on the same {test_rows} test rows")
    outcome = _run_jobs(jobs, progress, cancel)
    scores: dict[str, dict[str, float]] = {}
    for job in ("candidate", "production"):
        error = outcome.get(f"no_regression_{job}")
        got = _read_metrics(folder / job / "metrics.json") if error is None else None
        if got is None:
            who = "this model" if job == "candidate" else name
            return _regression_skip(f"{who} could not be scored on the current test rows: {error}", tolerance,
                                    production, passed=False)
        scores[job] = got
    return _judge_regression(settings, name, production, scores["candidate"], scores["production"],
                             test_rows, left_out)


def _unseen_test_rows(test_file: Path, seen: Path | None) -> tuple[Any, int]:
    """The current test rows, less those production was trained on, and how many were left out.

    A new split of grown data mixes them in, and a model scored on rows it has seen looks
    better than it is.
    """
    import pandas as pd

    test = pd.read_parquet(test_file)
    left_out = 0
    if seen is not None:
        trained_on = pd.read_parquet(seen)
        common = [c for c in test.columns if c in trained_on.columns]
        known = set(pd.util.hash_pandas_object(trained_on[common], index=False).to_numpy().tolist())
        keep = ~pd.util.hash_pandas_object(test[common], index=False).isin(known).to_numpy()
        left_out = int((~keep).sum())
        test = test[keep].reset_index(drop=True)
    return test, left_out


def _judge_regression(settings: dict[str, Any], name: str, production: dict[str, Any],
                      cand: dict[str, float], prod: dict[str, float], test_rows: int,
                      left_out: int) -> GateResult:
    """Compare the two scores metric by metric, each with its direction and relative tolerance."""
    tolerance = settings["tolerance"]
    per_metric = dict(settings.get("per_metric") or {})
    wanted = settings.get("metrics") or sorted(set(prod) & set(cand))
    details, worse = [], []
    for metric in wanted:
        value, before = cand.get(metric), prod.get(metric)
        direction = metric_direction(metric)
        tol = float(per_metric.get(metric, tolerance))
        row: dict[str, Any] = {"metric": metric, "direction": f"{direction} is better" if direction else "unknown",
                               "candidate": value, "production": before, "change": None,
                               "relative_change": None, "tolerance": tol, "passed": None}
        details.append(row)
        if value is None or before is None or direction is None:
            continue
        better = before - value if direction == "lower" else value - before
        # relative to production's score (absolute when that is 0, where a ratio means nothing)
        relative = better / abs(before) if abs(before) > 1e-12 else better
        ok = relative >= -tol - 1e-12
        row.update(change=round(value - before, 6), relative_change=round(relative, 6), passed=ok)
        if not ok:
            worse.append(f"{metric} {_fmt(value)} vs {_fmt(before)} ({abs(relative):.1%} worse, "
                         f"tolerance {tol * 100:g}%)")
    values = {d["metric"]: d["candidate"] for d in details}
    threshold = {d["metric"]: d["tolerance"] for d in details}
    extra = {"production": production, "test_rows": test_rows, "left_out_rows": left_out, "relative": True}
    judged = [d for d in details if d["passed"] is not None]
    if not judged:
        return GateResult("no_regression", None, values, threshold,
                          f"no metric in common with {name}: nothing to compare", tuple(details), extra=extra)
    where = f"both scored on the same {test_rows} test rows" + (
        f", {left_out} rows {name} was trained on left out" if left_out else "")
    if worse:
        why = f"worse than {name} by more than the tolerance ({where}): {'; '.join(worse)}"
    else:
        others = ", ".join(f"{m} {t * 100:g}%" for m, t in per_metric.items() if m in values)
        why = (f"no metric worse than {name} by more than {tolerance * 100:g}%" + (f" ({others})" if others else "")
               + f", {where}")
    return GateResult("no_regression", not worse, values, threshold, why, tuple(details), extra=extra)


def _model_file_problem(snap: _Snapshot) -> str | None:
    """Why the model bytes cannot be validated at all (None when they are the trained model and load)."""
    from workbench.development.stages import load_model

    expected = snap.digest.split(":", 1)[-1]
    if snap.file_md5 != expected:
        return (f"the bytes found for {MODEL_FILE} have md5 {snap.file_md5}, not the {expected} the train "
                "stage recorded in dvc.lock: run 'dvc checkout models/model.skops' (or 'dvc pull') and validate "
                "again")
    try:
        load_model(snap.folder / MODEL_FILE)
    except WorkbenchError as exc:
        text = str(exc).replace(str(snap.folder / MODEL_FILE), MODEL_FILE)
        return f"the model {snap.digest} cannot be loaded: {text}"
    return None


def _model_file_gate(snap: _Snapshot, rescored: dict[str, float] | None, error: str | None,
                     custom: bool) -> GateResult:
    """The model bytes are the train stage's output and metrics.json is their score.

    For the workbench's own stages the exact bytes are scored again by the evaluate stage on
    the recorded test split (same code, same data: the numbers must be equal to the last
    digit); for a team's own stage commands, dvc.lock's evaluate record must name the same
    model bytes.
    """
    value = f"md5:{snap.file_md5}"
    if custom:
        readers = [st for st in (snap.lock.get("stages") or {}).values() if isinstance(st, dict)
                   and any(isinstance(d, dict) and d.get("path") == MODEL_FILE for d in st.get("deps") or [])]
        for stage in readers:
            dep = next(d for d in stage.get("deps") or [] if isinstance(d, dict) and d.get("path") == MODEL_FILE)
            if "md5:" + str(dep.get("md5")) != snap.digest:
                return GateResult(MODEL_GATE, False, value, snap.digest,
                                  f"dvc.lock's evaluate record scored model md5:{dep.get('md5')}, not the trained "
                                  f"{snap.digest}: metrics.json is not this model's; run 'dvc repro' and commit")
        return GateResult(MODEL_GATE, True, value, snap.digest,
                          f"{snap.digest} is the train stage's output in dvc.lock, loads with the trusted types, "
                          "and dvc.lock's evaluate record scored it")
    if rescored is None:
        return GateResult(MODEL_GATE, False, value, snap.digest, f"scoring the model file failed: {error}")
    details, differ = [], []
    for metric in sorted(set(snap.metrics) | set(rescored)):
        a, b = snap.metrics.get(metric), rescored.get(metric)
        details.append({"metric": metric, "recorded": a, "scored": b, "same": a == b})
        if a != b:
            differ.append(f"{metric} {_fmt(a)} recorded vs {_fmt(b)} scored")
    if differ:
        return GateResult(MODEL_GATE, False, value, snap.digest,
                          "metrics.json is not the score of this model file: " + "; ".join(differ[:3])
                          + " (run 'dvc repro' and commit, then validate)", tuple(details))
    return GateResult(MODEL_GATE, True, value, snap.digest,
                      f"{snap.digest} is the train stage's output in dvc.lock, loads with the trusted types, and "
                      f"scores the recorded {len(details)} metrics exactly", tuple(details))


def _reproducibility_gate(recorded: dict[str, float], retrained: dict[str, float] | None,
                          error: str | None, model: str | None = None,
                          retrained_md5: str | None = None) -> GateResult:
    if retrained is None:
        return GateResult("reproducibility", False, None, 0.0, f"retraining failed: {error}")
    details, differ = [], []
    biggest = 0.0
    for metric in sorted(set(recorded) | set(retrained)):
        a, b = recorded.get(metric), retrained.get(metric)
        same = a == b
        if a is not None and b is not None:
            biggest = max(biggest, abs(a - b))
        details.append({"metric": metric, "recorded": a, "retrained": b, "same": same})
        if not same:
            differ.append(f"{metric} {_fmt(a)} recorded vs {_fmt(b)} retrained")
    same_model = model is None or retrained_md5 is None or model == f"md5:{retrained_md5}"
    extra = {"model": model, "retrained_model": f"md5:{retrained_md5}" if retrained_md5 else None}
    if differ:
        why = ("retraining from the same commit and data gave different metrics: " + "; ".join(differ[:4])
               + " (is the pipeline up to date? see 'dvc status')")
    elif not same_model:
        why = (f"retraining from the same commit and data gave a different model file: md5:{retrained_md5} "
               f"vs {model} (train it again with 'dvc repro --force' and commit, then validate)")
    else:
        why = (f"retraining from the same commit and data gave the same {len(details)} metrics exactly"
               + (" and a byte-identical model file" if retrained_md5 else ""))
    return GateResult("reproducibility", not differ and same_model, round(biggest, 6), 0.0, why, tuple(details),
                      extra=extra)
