"""Training runs as DVC experiments: one with ``dvc exp run``, a grid with DVC's queue.

Every run is checked before DVC starts: each ``-S`` key must exist in params.yaml
(new keys are allowed only under ``model.params``), the model must exist and every
hyperparameter name must be one it has. A sweep also checks every grid point's values
with scikit-learn before anything is queued; a single run leaves the values to the
``train`` stage, which checks them with scikit-learn before fitting and fails in one
line (importing scikit-learn in this process would add ~1.3 s to every run; see
:mod:`workbench.development.models`). A grid larger than :data:`SWEEP_LIMIT` points is
refused before anything is queued. Results live in DVC's experiment refs
(``refs/exps``), so ``dvc exp show`` sees exactly what the workbench ran; nothing is
committed to the branch here.

An experiment holds only the pipeline's files (params.yaml, dvc.lock, outputs, metrics,
plots) and what the caller names in ``include``: ``dvc exp run`` (and ``--queue``) would
take every modified tracked file and everything staged, so the user's other changes are
moved aside around it and put back byte for byte, the index exactly as it was
(:func:`workbench.versioning.run_journal.guarded_run`). An uncommitted change to a file the pipeline reads (dvc.yaml, a
dependency such as a ``.dvc`` pointer, another params file) is refused in one line: the
experiment would otherwise match no commit. The project lock is held from before DVC
starts to the end (:func:`workbench.versioning.locks.hold_project_lock`).

A run that does not finish (cancelled, failed, or its DVC killed) leaves the workspace
as it was: DVC writes the ``-S`` values into params.yaml and stages files before it
runs, and the workbench puts params.yaml, the outputs, the user's work and the index
back. Should the workbench itself be killed too, a journal in ``<git
dir>/mlops-workbench/exp-run.json`` (written before anything is moved) lets the next
workbench command that takes the project lock do it:
:func:`workbench.versioning.run_journal.finish_dead_run`.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError, WorkbenchError
from workbench.progress import Progress
from workbench.versioning.dvc import (  # yaml_value: screens still import it from here
    as_dvc_text,
    yaml_value,
)
from workbench.versioning.locks import holding_project_lock
from workbench.versioning.run_journal import guarded_run, recover_interrupted_run

SWEEP_LIMIT = 256
_PATH_LOCK = threading.Lock()


@dataclass(frozen=True)
class ExperimentResult:
    """One finished experiment."""

    name: str
    metrics: dict[str, float]
    params: dict[str, Any]
    seconds: float


@dataclass(frozen=True)
class SweepResult:
    """A grid of experiments run through DVC's queue."""

    names: tuple[str, ...]
    points: tuple[dict[str, Any], ...]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    failed: tuple[str, ...] = ()
    seconds: float = 0.0


def stage_path_env() -> None:
    """Put this interpreter's folder first on PATH so DVC finds ``mlops-workbench`` for stage cmds.

    Equivalent to activating the venv for the DVC subprocesses we start; idempotent.
    """
    bindir = os.path.dirname(os.path.abspath(sys.executable))
    with _PATH_LOCK:
        parts = os.environ.get("PATH", "").split(os.pathsep)
        if not parts or parts[0] != bindir:
            os.environ["PATH"] = os.pathsep.join([bindir, *[p for p in parts if p != bindir]])


def parse_assignments(items: Sequence[str], *, what: str = "-S") -> dict[str, str]:
    """``["model.params.C=0.5"]`` -> ``{"model.params.C": "0.5"}`` (values kept as text)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("+")  # Hydra's "+key" / "++key" (add): the workbench adds as needed
        if not sep or not key or not re.fullmatch(r"[A-Za-z_][\w.\-]*", key):
            raise WorkbenchError(f"{what} {item!r} does not parse: write it as key=value, e.g. model.params.C=0.5")
        out[key] = value.strip()
    return out


_HYPER = "model.params"


@dataclass(frozen=True)
class Resolved:
    """What a set of ``-S`` overrides makes of params.yaml, and how DVC is told.

    ``params`` is the whole checked params.yaml; ``effective`` the overrides as plain
    ``key -> value`` that :func:`workbench.development.pipeline.set_key` turns the old
    params.yaml into the new one (a family switch is one ``model.params`` mapping);
    ``dvc_sets`` the ``-S`` arguments DVC gets, in order.
    """

    params: dict[str, Any]
    effective: dict[str, Any]
    dvc_sets: tuple[str, ...]


def _normal_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Keys without Hydra's ``+``/``++`` (accepted, the workbench adds new keys itself); ``~`` refused."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        name = str(key).strip()
        if name.startswith("~"):
            raise WorkbenchError(f"-S {name} (deleting a key) is not supported: set the key to a value, "
                                 "e.g. -S model.params.max_depth=null")
        out[name.lstrip("+")] = value
    return out


def _resolve(root: Path, overrides: Mapping[str, Any], *, values: bool = True,
             swept: Sequence[str] = ()) -> Resolved:
    """params.yaml with the overrides, checked (hyperparameter values only when ``values``).

    Switching the family (``-S model.name=...``) starts ``model.params`` from that family's
    defaults (:func:`workbench.development.models.family_defaults`) unless ``model.params``
    is given whole; ``model.params.KEY`` overrides apply on top. Every key is checked
    here, before DVC starts, so DVC's and Hydra's own hints ("use +model.params.x") never
    reach the user: hyperparameters go to DVC as ``++model.params.KEY`` (add or override),
    a family switch as ``~model.params`` then one ``++`` per hyperparameter. Keys in
    ``swept`` are left out of ``dvc_sets`` (the sweep passes them).
    """
    import contextlib

    from workbench.development.models import family_defaults, names_only
    from workbench.development.pipeline import check_params_structure, set_key
    from workbench.development.stages import read_params

    overrides = _normal_overrides(overrides)
    base = read_params(root)
    params = copy.deepcopy(base)
    model: dict[str, Any] = params["model"] if isinstance(params.get("model"), dict) else {}
    values_of = {k: yaml_value(v) for k, v in overrides.items()}
    name = values_of.get("model.name", model.get("name"))
    reset = _HYPER in values_of or ("model.name" in values_of and name != model.get("name"))
    effective: dict[str, Any] = {}
    for key, value in values_of.items():
        if reset and key.startswith(_HYPER + "."):
            continue  # applied on top of the new family's params below
        set_key(params, key, value, allow_new_under=(_HYPER,))
        effective[key] = value
    if reset:
        hyper = values_of.get(_HYPER) if _HYPER in values_of else family_defaults(str(name))
        if not isinstance(hyper, dict):
            raise WorkbenchError(f"model.params must be a mapping of hyperparameters, e.g. {{C: 1.0}}, "
                                 f"not {hyper!r}")
        hyper = dict(hyper)
        hyper.update({k[len(_HYPER) + 1:]: v for k, v in values_of.items() if k.startswith(_HYPER + ".")})
        if not isinstance(params.get("model"), dict):
            raise WorkbenchError("params.yaml has no section 'model': run 'mlops-workbench pipeline' again")
        params["model"]["params"] = hyper
        effective.pop(_HYPER, None)
        effective[_HYPER] = hyper
    with contextlib.nullcontext() if values else names_only():
        checked = check_params_structure(params)
    sets: list[str] = []
    if reset:
        if isinstance(model.get("params"), dict):
            sets.append(f"~{_HYPER}")
        leaves = {k: v for k, v in params["model"]["params"].items() if f"{_HYPER}.{k}" not in swept}
        sets += [f"++{_HYPER}.{k}={as_dvc_text(v)}" for k, v in leaves.items()]
        if not leaves and not any(k.startswith(_HYPER + ".") for k in swept):
            sets.append(f"++{_HYPER}={{}}")
    for key, value in effective.items():
        if key == _HYPER or key in swept:
            continue
        sets.append(f"{'++' if key.startswith(_HYPER + '.') else ''}{key}={as_dvc_text(value)}")
    return Resolved(checked, effective, tuple(sets))


def _checked_params(root: Path, overrides: Mapping[str, Any], *, values: bool = True) -> dict[str, Any]:
    """params.yaml with the overrides, checked; hyperparameter values only when ``values``."""
    return _resolve(root, overrides, values=values).params


def _clear_stale_locks(root: Path) -> list[str]:
    """Locks a killed run left (DVC's rwlock entries of dead pids, git's index.lock): cleared, said."""
    from workbench.versioning import git
    from workbench.versioning.locks import recover_stale_locks

    try:
        return recover_stale_locks(root, git.git_dir(root))
    except WorkbenchError:
        raise
    except OSError:
        return []


def _stage_error(output: str) -> str | None:
    """The one-line error a workbench stage printed inside DVC's output, if any."""
    found = re.findall(r"mlops-workbench: (?:internal )?error: (.+)", output)
    return found[-1].strip() if found else None


def _read_metrics(root: Path) -> dict[str, float]:
    try:
        data = json.loads((root / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, int | float)}


def _ran_names(output: str) -> list[str]:
    names: list[str] = []
    for match in re.finditer(r"Ran experiment\(s\):[ \t]*(\S.*)", output):
        names += [n.strip() for n in match.group(1).split(",") if n.strip()]
    return names or re.findall(r"Reproducing experiment '([^']+)'", output)


def run_experiment(
    project_path: str | Path,
    set_params: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    include: Sequence[str] = (),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ExperimentResult:
    """Check the overrides, then ``dvc exp run -S key=value ...`` in the workspace.

    Returns the experiment's name (from DVC) and the metrics it wrote. On cancel DVC is
    interrupted like Ctrl-C and :class:`CancelledError` is raised. The project lock is
    held from before DVC starts to the end. The experiment holds only the pipeline's files
    (params.yaml, dvc.lock, outputs, metrics, plots) and ``include``: project-relative
    paths the caller changed on purpose for this run (retrain's new data pointer). Every
    other change of the user's is moved aside around DVC and put back byte for byte, the
    index as it was; an uncommitted change to a file the pipeline reads is refused.
    """
    from workbench.versioning.dvc import run_dvc
    from workbench.versioning.locks import hold_project_lock

    root = Path(project_path).absolute()
    overrides = dict(set_params or {})
    with hold_project_lock(root, "train") as cleared:
        for line in [*cleared, *recover_interrupted_run(root), *_clear_stale_locks(root)]:
            if progress is not None:
                progress(line)
        from workbench.versioning.git import refuse_unsafe_state
        refuse_unsafe_state(root)  # mid-rebase/merge or on a detached HEAD, a run would be lost
        resolved = _resolve(root, overrides, values=False)
        params = resolved.params
        args = ["exp", "run"]
        if name:
            if not re.fullmatch(r"[A-Za-z0-9][\w.\-]*", name):
                raise WorkbenchError(f"experiment name {name!r} is not valid: use letters, digits, '-', '_' or '.'")
            args += ["--name", name]
        for item in resolved.dvc_sets:
            args += ["-S", item]
        stage_path_env()
        with guarded_run(root, resolved.effective, include=include, progress=progress):
            run = run_dvc(args, root, progress=progress, cancel=cancel, check=False)
            if run.returncode != 0:
                why = _stage_error(run.output)
                if why:
                    raise WorkbenchError(f"{why} (nothing was recorded)")
                if run.returncode < 0:
                    raise WorkbenchError(f"dvc exp run was stopped by signal {-run.returncode} before it "
                                         "finished: nothing was recorded and params.yaml is as it was")
                raise WorkbenchError(f"dvc exp failed: {run.last_error_line()}")
            names = _ran_names(run.output)
            if not names:
                raise WorkbenchError(f"dvc exp run finished without naming an experiment: {run.last_error_line()}")
        return ExperimentResult(name=names[-1], metrics=_read_metrics(root), params=params,
                                seconds=run.seconds)


def grid_points(sweep: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the sweep values (the grid), in a stable order."""
    keys = list(sweep)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(sweep[k] for k in keys))]


def parse_sweeps(items: Sequence[str]) -> dict[str, list[str]]:
    """``["model.params.C=0.1,1,10"]`` -> ``{"model.params.C": ["0.1", "1", "10"]}``."""
    out: dict[str, list[str]] = {}
    for key, text in parse_assignments(items, what="--sweep").items():
        values = [v.strip() for v in text.split(",")]
        if not values or any(v == "" for v in values):
            raise WorkbenchError(f"--sweep {key}={text!r} has an empty value: write key=v1,v2,v3")
        out[key] = values
    return out


def _sweep_grid(sweep: Mapping[str, Sequence[Any]], set_params: Mapping[str, Any] | None, jobs: int,
                limit: int) -> tuple[int, dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """(size, the -S overrides, the swept values, the grid's points), each normalised; refused in one line."""
    import math

    if not sweep:
        raise WorkbenchError("the sweep is empty: give --sweep key=v1,v2")
    if jobs < 1:
        raise WorkbenchError(f"-j {jobs} must be at least 1")
    size = math.prod(len(v) for v in sweep.values())
    if size > limit:
        raise WorkbenchError(
            f"the sweep has {size} points, above the limit of {limit}: sweep fewer values "
            "or run it in parts"
        )
    fixed = _normal_overrides(set_params or {})
    swept = _normal_overrides(sweep)
    overlap = [k for k in swept if k in fixed]
    if overlap:
        raise WorkbenchError(f"{overlap[0]} is both set (-S) and swept (--sweep): keep one")
    return size, fixed, swept, grid_points(swept)


def _queue_sweep(root: Path, sweep: dict[str, Any], fixed: dict[str, Any], *, progress: Progress | None,
                 cancel: threading.Event | None) -> tuple[list[str], float]:
    """(the queued experiments' names, seconds): the grid queued with ``dvc exp run --queue``, per family."""
    from workbench.versioning.dvc import run_dvc

    # A family switch resets model.params, so the points of each family are queued apart
    # (one `dvc exp run --queue` per model.name swept, with that family's -S set); the
    # other swept keys are a DVC/Hydra sweep (k=v1,v2) within each.
    families = {k: sweep[k] for k in sweep if k in ("model.name", _HYPER)}
    others = [k for k in sweep if k not in families]
    texts = {k: [as_dvc_text(yaml_value(v)) for v in sweep[k]] for k in others}
    for key in others:
        if any("," in t for t in texts[key]):
            raise WorkbenchError(f"--sweep {key}: values may not contain ',' (lists cannot be swept)")
    queued_names: list[str] = []
    queued_seconds = 0.0
    try:
        with guarded_run(root, fixed, outputs=False, what="train --sweep", progress=progress):
            for family in grid_points(families) if families else [{}]:
                first = {k: sweep[k][0] for k in others}
                resolved = _resolve(root, {**fixed, **family, **first}, values=False, swept=others)
                args = ["exp", "run", "--queue"]
                for item in resolved.dvc_sets:
                    args += ["-S", item]
                for key in others:
                    args += ["-S", f"{'++' if key.startswith(_HYPER + '.') else ''}{key}={','.join(texts[key])}"]
                # each queue call takes a snapshot of the workspace: the user's work is aside
                queued = run_dvc(args, root, progress=progress, cancel=cancel)
                queued_names += re.findall(r"Queued experiment '([^']+)'", queued.output)
                queued_seconds += queued.seconds
    except BaseException:
        if queued_names:  # the points queued so far are not left behind for a later run
            run_dvc(["queue", "remove", "--queued"], root, check=False)
        raise
    return queued_names, queued_seconds


@holding_project_lock("train --sweep")
def run_sweep(
    project_path: str | Path,
    sweep: Mapping[str, Sequence[Any]],
    set_params: Mapping[str, Any] | None = None,
    *,
    jobs: int = 1,
    limit: int = SWEEP_LIMIT,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SweepResult:
    """Queue the grid with ``dvc exp run --queue`` and run it with ``dvc exp run --run-all -j N``."""
    from workbench.versioning.dvc import run_dvc

    root = Path(project_path).absolute()
    size, fixed, swept, points = _sweep_grid(sweep, set_params, jobs, limit)
    for line in recover_interrupted_run(root):
        if progress is not None:
            progress(line)
    from workbench.versioning.git import refuse_unsafe_state
    refuse_unsafe_state(root)  # mid-rebase/merge or on a detached HEAD, a run would be lost
    for point in points:
        try:
            _checked_params(root, {**fixed, **point})
        except WorkbenchError as exc:
            where = ", ".join(f"{k}={v}" for k, v in point.items())
            raise WorkbenchError(f"sweep point {where}: {exc}") from None
    stage_path_env()
    say = progress or (lambda _line: None)
    queued_names, queued_seconds = _queue_sweep(root, swept, fixed, progress=progress, cancel=cancel)
    say(f"queued {size} experiment(s); running them with {jobs} worker(s)")
    try:
        ran = run_dvc(["exp", "run", "--run-all", "--jobs", str(jobs)], root, progress=progress,
                      cancel=cancel, check=False)
    except CancelledError:
        run_dvc(["queue", "stop", "--kill"], root, check=False)
        run_dvc(["queue", "remove", "--queued"], root, check=False)
        raise
    metrics = experiment_metrics(root, queued_names)
    names = [n for n in queued_names if n in metrics]
    failed = tuple(n for n in queued_names if n not in metrics)
    if not names and ran.returncode != 0:
        raise WorkbenchError(f"the sweep failed: {ran.last_error_line()}")
    return SweepResult(names=tuple(names), points=tuple(points), metrics=metrics, failed=failed,
                       seconds=queued_seconds + ran.seconds)


def experiment_metrics(root: Path, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """metrics.json of named experiments, read from their refs with git (no DVC import)."""
    from workbench.versioning.exp_refs import experiments_by_name
    from workbench.versioning.git import file_at, repo_root

    git_root = repo_root(root) or root
    prefix = Path(root).resolve().relative_to(Path(git_root).resolve()).as_posix()
    by_name = experiments_by_name(git_root)
    out: dict[str, dict[str, float]] = {}
    for name in names:
        sha = by_name.get(name)
        if not sha:
            continue
        path = "metrics.json" if prefix in ("", ".") else f"{prefix}/metrics.json"
        text = file_at(git_root, sha, path)
        try:
            data = json.loads(text)
        except ValueError:
            continue
        out[name] = {k: v for k, v in data.items() if isinstance(v, int | float)}
    return out
