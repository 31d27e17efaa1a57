"""Training runs as DVC experiments: one with ``dvc exp run``, a grid with DVC's queue.

Every run is checked before DVC starts: each ``-S`` key must exist in params.yaml
(new keys are allowed only under ``model.params``, where scikit-learn checks them), and
the model and its hyperparameters are validated for every grid point. A grid larger
than :data:`SWEEP_LIMIT` points is refused before anything is queued. Results live in
DVC's experiment refs (``refs/exps``), so ``dvc exp show`` sees exactly what the
workbench ran; nothing is committed to the branch here.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError, WorkbenchError

Progress = Callable[[str], None]
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
        key = key.strip()
        if not sep or not key or not re.fullmatch(r"[A-Za-z_][\w.\-]*", key):
            raise WorkbenchError(f"{what} {item!r} does not parse: write it as key=value, e.g. model.params.C=0.5")
        out[key] = value.strip()
    return out


def yaml_value(text: Any) -> Any:
    """The value DVC will write for ``-S key=text`` (DVC parses it as YAML)."""
    import yaml

    if not isinstance(text, str):
        return text
    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def as_dvc_text(value: Any) -> str:
    """A Python value as text for ``-S`` that DVC parses back to the same value."""
    if isinstance(value, str):
        return value if yaml_value(value) == value else json.dumps(value)
    return json.dumps(value)


def _checked_params(root: Path, overrides: Mapping[str, Any]) -> dict[str, Any]:
    from workbench.development.pipeline import check_params_structure, set_key
    from workbench.development.stages import read_params

    params = copy.deepcopy(read_params(root))
    for key, value in overrides.items():
        set_key(params, key, yaml_value(value), allow_new_under=("model.params",))
    return check_params_structure(params)


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
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ExperimentResult:
    """Check the overrides, then ``dvc exp run -S key=value ...`` in the workspace.

    Returns the experiment's name (from DVC) and the metrics it wrote. On cancel DVC is
    interrupted like Ctrl-C and :class:`CancelledError` is raised.
    """
    from workbench.versioning.dvc import run_dvc

    root = Path(project_path).absolute()
    overrides = dict(set_params or {})
    params = _checked_params(root, overrides)
    args = ["exp", "run"]
    if name:
        if not re.fullmatch(r"[A-Za-z0-9][\w.\-]*", name):
            raise WorkbenchError(f"experiment name {name!r} is not valid: use letters, digits, '-', '_' or '.'")
        args += ["--name", name]
    for key, value in overrides.items():
        args += ["-S", f"{key}={as_dvc_text(yaml_value(value))}"]
    stage_path_env()
    params_file = root / "params.yaml"
    original = params_file.read_bytes()
    try:
        run = run_dvc(args, root, progress=progress, cancel=cancel)
    except CancelledError:
        # DVC writes the -S values into params.yaml before running; put the user's file back.
        from workbench.fsutil import atomic_write_bytes

        if params_file.read_bytes() != original:
            atomic_write_bytes(params_file, original)
        raise
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
    import math

    from workbench.versioning.dvc import run_dvc

    root = Path(project_path).absolute()
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
    fixed = dict(set_params or {})
    overlap = [k for k in sweep if k in fixed]
    if overlap:
        raise WorkbenchError(f"{overlap[0]} is both set (-S) and swept (--sweep): keep one")
    points = grid_points(sweep)
    for point in points:
        try:
            _checked_params(root, {**fixed, **point})
        except WorkbenchError as exc:
            where = ", ".join(f"{k}={v}" for k, v in point.items())
            raise WorkbenchError(f"sweep point {where}: {exc}") from None
    stage_path_env()
    say = progress or (lambda _line: None)
    args = ["exp", "run", "--queue"]
    for key, value in fixed.items():
        args += ["-S", f"{key}={as_dvc_text(yaml_value(value))}"]
    for key, values in sweep.items():
        texts = [as_dvc_text(yaml_value(v)) for v in values]
        if any("," in t for t in texts):
            raise WorkbenchError(f"--sweep {key}: values may not contain ',' (lists cannot be swept)")
        args += ["-S", f"{key}={','.join(texts)}"]
    queued = run_dvc(args, root, progress=progress, cancel=cancel)
    say(f"queued {size} experiment(s); running them with {jobs} worker(s)")
    try:
        ran = run_dvc(["exp", "run", "--run-all", "--jobs", str(jobs)], root, progress=progress,
                      cancel=cancel, check=False)
    except CancelledError:
        run_dvc(["queue", "stop", "--kill"], root, check=False)
        run_dvc(["queue", "remove", "--queued"], root, check=False)
        raise
    queued_names = re.findall(r"Queued experiment '([^']+)'", queued.output)
    metrics = experiment_metrics(root, queued_names)
    names = [n for n in queued_names if n in metrics]
    failed = tuple(n for n in queued_names if n not in metrics)
    if not names and ran.returncode != 0:
        raise WorkbenchError(f"the sweep failed: {ran.last_error_line()}")
    return SweepResult(names=tuple(names), points=tuple(points), metrics=metrics, failed=failed,
                       seconds=queued.seconds + ran.seconds)


def experiment_metrics(root: Path, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """metrics.json of named experiments, read from their refs with git (no DVC import)."""
    from workbench.versioning.git import repo_root, run_git

    git_root = repo_root(root) or root
    prefix = Path(root).resolve().relative_to(Path(git_root).resolve()).as_posix()
    refs = run_git(git_root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps", check=False)
    by_name: dict[str, str] = {}
    for line in refs.splitlines():
        ref, _, sha = line.partition(" ")
        by_name[ref.rsplit("/", 1)[-1]] = sha
    out: dict[str, dict[str, float]] = {}
    for name in names:
        sha = by_name.get(name)
        if not sha:
            continue
        path = "metrics.json" if prefix in ("", ".") else f"{prefix}/metrics.json"
        text = run_git(git_root, "show", f"{sha}:{path}", check=False)
        try:
            data = json.loads(text)
        except ValueError:
            continue
        out[name] = {k: v for k, v in data.items() if isinstance(v, int | float)}
    return out
