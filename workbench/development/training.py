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

A run that does not finish (cancelled, failed, or its DVC killed) leaves the workspace
as it was: DVC writes the ``-S`` values into params.yaml and stages files before it
runs, and the workbench puts both back. Should the workbench itself be killed too, a
journal in ``<git dir>/mlops-workbench/exp-run.json`` lets the next run (or ``exp
list``, or promote) do it: :func:`recover_interrupted_run`.
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


def _checked_params(root: Path, overrides: Mapping[str, Any], *, values: bool = True) -> dict[str, Any]:
    """params.yaml with the overrides, checked; hyperparameter values only when ``values``."""
    import contextlib

    from workbench.development.models import names_only
    from workbench.development.pipeline import check_params_structure, set_key
    from workbench.development.stages import read_params

    params = copy.deepcopy(read_params(root))
    for key, value in overrides.items():
        set_key(params, key, yaml_value(value), allow_new_under=("model.params",))
    with contextlib.nullcontext() if values else names_only():
        return check_params_structure(params)


# --- leaving the workspace as it was when a run does not finish ------------------------


def _journal_path(root: Path) -> Path:
    from workbench.development.exp_git import git_text

    found = git_text(root, "rev-parse", "--absolute-git-dir", check=False).strip()
    if not found:
        raise WorkbenchError(f"{root} is not inside a git repository: create the project first")
    return Path(found) / "mlops-workbench" / "exp-run.json"


def _staged(root: Path) -> set[str]:
    from workbench.development.exp_git import git_text

    return {p for p in git_text(root, "diff", "--cached", "--name-only", "-z", "--relative", check=False)
            .split("\0") if p}


def _begin_journal(root: Path, original: bytes, overrides: Mapping[str, Any]) -> Path:
    import time

    from workbench.fsutil import atomic_write_text

    from workbench.development.exp_git import git_text

    path = _journal_path(root)
    outputs = _snapshot_outputs(root, path.parent / "exp-run-outputs")
    atomic_write_text(path, json.dumps({
        "outputs": outputs,
        "pid": os.getpid(), "started": time.time(), "params": original.decode("utf-8", "replace"),
        "head": git_text(root, "rev-parse", "--verify", "-q", "HEAD", check=False).strip(),
        "branch": git_text(root, "symbolic-ref", "-q", "HEAD", check=False).strip(),
        "overrides": {k: as_dvc_text(yaml_value(v)) for k, v in overrides.items()},
        "staged": sorted(_staged(root)),
        # The index as a tree (its objects are written now): what the user had staged, exactly.
        "index_tree": git_text(root, "write-tree", check=False).strip(),
    }))
    return path


def pipeline_outputs(root: Path) -> list[str]:
    """What a pipeline run writes: dvc.lock, every stage's outs/metrics/plots, their .gitignore files."""
    import yaml

    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return ["dvc.lock"]
    found: list[str] = ["dvc.lock"]
    for stage in stages.values() if isinstance(stages, dict) else ():
        for key in ("outs", "metrics", "plots"):
            for entry in (stage.get(key) or []) if isinstance(stage, dict) else ():
                name = next(iter(entry), None) if isinstance(entry, dict) else entry
                if isinstance(name, str) and name and not Path(name).is_absolute() and ".." not in Path(name).parts:
                    found += [name, (Path(name).parent / ".gitignore").as_posix()]
    return list(dict.fromkeys(found))


def _snapshot_outputs(root: Path, backup: Path) -> dict[str, bool]:
    """Keep a copy of each pipeline output (path -> existed) so an unfinished run can be undone.

    Files are hard-linked when they can be (DVC removes an output before a stage writes it,
    so the old inode keeps the old bytes) and copied otherwise.
    """
    import shutil

    shutil.rmtree(backup, ignore_errors=True)
    existed: dict[str, bool] = {}
    for rel in pipeline_outputs(root):
        for parent in Path(rel).parents:
            if parent != Path("."):
                existed.setdefault(f"{parent.as_posix()}/", (root / parent).is_dir())
        src = root / rel
        existed[rel] = src.exists()
        if not existed[rel]:
            continue
        dst = backup / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, copy_function=shutil.copy2)
        elif rel.endswith((".gitignore", ".lock", ".json", ".yaml")):
            shutil.copy2(src, dst)  # small text files a tool may rewrite in place
        else:
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
    return existed


def _restore_outputs(root: Path, backup: Path, existed: Mapping[str, bool]) -> list[str]:
    """Put the pipeline outputs back as the snapshot saw them; the names of those changed."""
    import filecmp
    import shutil

    changed: list[str] = []
    for rel, was in existed.items():
        if rel.endswith("/"):
            continue  # folders: handled after the files
        here, saved = root / rel, backup / rel
        if not was:
            if here.is_dir() and not here.is_symlink():
                shutil.rmtree(here, ignore_errors=True)
                changed.append(rel)
            elif here.exists() or here.is_symlink():
                here.unlink()
                changed.append(rel)
            continue
        if not saved.exists():
            continue
        if saved.is_dir():
            same = here.is_dir() and not filecmp.dircmp(saved, here).diff_files and \
                not filecmp.dircmp(saved, here).left_only and not filecmp.dircmp(saved, here).right_only
            if not same:
                if here.is_dir() and not here.is_symlink():
                    shutil.rmtree(here)
                elif here.exists() or here.is_symlink():
                    here.unlink()
                shutil.copytree(saved, here, copy_function=shutil.copy2)
                changed.append(rel)
        elif not (here.is_file() and filecmp.cmp(saved, here, shallow=False)):
            if here.is_dir() and not here.is_symlink():
                shutil.rmtree(here)
            tmp = here.with_name(f".{here.name}.wb-restore")
            here.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(saved, tmp)
            os.replace(tmp, here)
            changed.append(rel)
    # Folders the run created go too, when nothing else lives in them (deepest first).
    for rel in sorted((r for r, was in existed.items() if r.endswith("/") and not was),
                      key=lambda r: r.count("/"), reverse=True):
        try:
            (root / rel).rmdir()
        except OSError:
            pass
    shutil.rmtree(backup, ignore_errors=True)
    return changed


def _undo_run(root: Path, journal: Mapping[str, Any]) -> list[str]:
    """Reattach HEAD, put back params.yaml (if it is still DVC's write), unstage what the run staged.

    ``dvc exp run`` detaches HEAD at the baseline while it runs and reattaches it at the
    end; killed in between, it leaves HEAD detached, and the next ``dvc exp run`` would
    then keep it detached for good. Only ``git symbolic-ref`` is used: the work tree and
    the index are not touched.
    """
    import yaml

    from workbench.development.pipeline import set_key
    from workbench.fsutil import atomic_write_text
    from workbench.versioning.git import run_git

    messages: list[str] = []
    branch, head = str(journal.get("branch") or ""), str(journal.get("head") or "")
    if branch.startswith("refs/heads/") and head:
        now_branch = run_git(root, "symbolic-ref", "-q", "HEAD", check=False).strip()
        now_head = run_git(root, "rev-parse", "--verify", "-q", "HEAD", check=False).strip()
        tip = run_git(root, "rev-parse", "--verify", "-q", branch, check=False).strip()
        if not now_branch and now_head == head == tip:
            run_git(root, "symbolic-ref", "HEAD", branch)
            messages.append(f"HEAD reattached to {branch[len('refs/heads/'):]} (DVC had left it detached)")
    params_file = root / "params.yaml"
    original = str(journal.get("params", ""))
    try:
        current = params_file.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current is not None and current != original:
        try:
            expected = yaml.safe_load(original) or {}
            for key, value in dict(journal.get("overrides") or {}).items():
                set_key(expected, key, yaml_value(value), allow_new_under=("model.params",))
            ours = yaml.safe_load(current) == expected
        except (yaml.YAMLError, WorkbenchError):
            ours = False
        if ours:
            atomic_write_text(params_file, original)
            messages.append("params.yaml put back as it was before the unfinished run")
        else:
            messages.append("params.yaml was edited during the unfinished run; left as it is")
    outputs = journal.get("outputs")
    if isinstance(outputs, dict):
        put_back = _restore_outputs(root, _journal_path(root).parent / "exp-run-outputs", outputs)
        if put_back:
            messages.append(f"pipeline outputs put back as they were: {', '.join(put_back)}")
    tree = str(journal.get("index_tree") or "")
    if re.fullmatch(r"[0-9a-f]{40,64}", tree):
        now_tree = run_git(root, "write-tree", check=False).strip()
        if now_tree and now_tree != tree:
            run_git(root, "read-tree", tree)
            run_git(root, "update-index", "-q", "--refresh", check=False)
            messages.append("the index (what you had staged) put back as it was before the run")
        return messages
    before = set(journal.get("staged") or [])
    extra = sorted(_staged(root) - before)
    if extra:
        run_git(root, "restore", "--staged", "--", *extra, check=False)
        messages.append(f"unstaged {', '.join(extra)} (staged by the unfinished run)")
    return messages


def recover_interrupted_run(project_path: str | Path) -> list[str]:
    """Undo what a killed ``train`` left (see the module docstring); one message per repair."""
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
    messages = _undo_run(root, journal)
    path.unlink(missing_ok=True)
    return ["an experiment run was interrupted (its process was killed); nothing was recorded"] + messages


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

    ``include``: project-relative paths the caller changed on purpose that belong in the
    experiment (retraining's data pointer); DVC captures modified tracked files anyway.

    Returns the experiment's name (from DVC) and the metrics it wrote. On cancel DVC is
    interrupted like Ctrl-C and :class:`CancelledError` is raised.
    """
    from workbench.versioning.dvc import run_dvc

    root = Path(project_path).absolute()
    overrides = dict(set_params or {})
    for line in [*recover_interrupted_run(root), *_clear_stale_locks(root)]:
        if progress is not None:
            progress(line)
    params = _checked_params(root, overrides, values=False)
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
    journal_file = _begin_journal(root, original, overrides)
    try:
        journal = json.loads(journal_file.read_text(encoding="utf-8"))
        try:
            run = run_dvc(args, root, progress=progress, cancel=cancel, check=False)
        except CancelledError:
            # DVC writes the -S values into params.yaml before running; put the user's file back.
            _undo_run(root, journal)
            raise
        if run.returncode != 0:
            _undo_run(root, journal)
            why = _stage_error(run.output)
            if why:
                raise WorkbenchError(f"{why} (nothing was recorded)")
            if run.returncode < 0:
                raise WorkbenchError(f"dvc exp run was stopped by signal {-run.returncode} before it "
                                     "finished: nothing was recorded and params.yaml is as it was")
            raise WorkbenchError(f"dvc exp failed: {run.last_error_line()}")
    finally:
        import shutil

        journal_file.unlink(missing_ok=True)
        shutil.rmtree(journal_file.parent / "exp-run-outputs", ignore_errors=True)
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
    for line in recover_interrupted_run(root):
        if progress is not None:
            progress(line)
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
