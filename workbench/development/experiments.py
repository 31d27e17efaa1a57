"""The experiment history: every DVC experiment of the project, read straight from git.

DVC keeps an experiment as a commit under ``refs/exps/<baseline[:2]>/<baseline[2:]>/<name>``
whose tree holds the run's ``params.yaml`` and ``metrics.json``. Reading them with one
``git for-each-ref`` and one ``git cat-file --batch`` is far faster than ``dvc exp show``
(which builds a full DVC repo per revision), and agrees with it because it reads the same
blobs and parses YAML the way DVC does (YAML 1.2; see :func:`parse_params`).

Why a cache, and why it is safe
-------------------------------
A commit never changes, so what a commit's params and metrics are is cached by commit
id in ``<git dir>/mlops-workbench/exp-cache.json`` (inside ``.git``: never committed,
never seen by ``git status``; delete it any time, it is rebuilt). A warm history is then
one ``rev-parse``, one ``for-each-ref`` and one JSON read. Notes are cached by the commit
id of the notes ref, so a new note is seen at once.

Notes (a free-text label per experiment) are git notes under ``refs/notes/workbench``
on the experiment commit: stored in git, shared with ``git push origin refs/notes/*``.

Promoting makes the experiment a normal commit of the ``training`` step: ``dvc exp
apply`` and a commit of exactly the files that changed, refused first when a file the
apply would overwrite carries someone's uncommitted edits.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.errors import CancelledError, DirtyPathError, WorkbenchError
from workbench.progress import Progress
from workbench.versioning import exp_git

PARAMS_FILE = "params.yaml"
METRICS_FILE = "metrics.json"
CACHE_VERSION = 1
_CHUNK = 250  # commits per cat-file batch between progress/cancel checks


@dataclass(frozen=True)
class Experiment:
    """One row of the history: a DVC experiment, or a baseline commit it ran from."""

    name: str                  # DVC's experiment name; for a baseline: the branch name, else the short sha
    rev: str                   # full sha of the experiment commit (or of the baseline commit)
    baseline: str              # full sha of the commit it ran from (== rev for a baseline row)
    branch: str | None         # a branch whose tip is the baseline, if any
    created: str               # ISO-8601 commit time
    params: dict[str, Any]     # flattened params.yaml: "model.name", "model.params.C", ...
    metrics: dict[str, float]  # flattened metrics.json (numbers only)
    is_baseline: bool
    note: str                  # the note in refs/notes/workbench, "" if none

    @property
    def short(self) -> str:
        return self.rev[:7]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- parsing (what DVC would read) ------------------------------------------------------

#: Text where YAML 1.1 (PyYAML) and YAML 1.2 (ruamel, what DVC uses) may disagree:
#: exponents, leading zeros, underscores/sexagesimal numbers, dates, yes/no/on/off.
_RISKY_YAML = re.compile(
    r"\d[eE][-+]?\d|(?<![\w.])[-+]?0[0-9ob_]|\d_\d|\d:\d|\d{4}-\d\d?-\d\d?"
    r"|(?<![\w.\-])(?:yes|no|on|off)(?![\w.\-])",
    re.IGNORECASE,
)


def parse_params(text: str) -> Any:
    """params.yaml as DVC reads it (ruamel, YAML 1.2); libyaml when the text cannot differ."""
    import yaml

    if not _RISKY_YAML.search(text) and getattr(yaml, "__with_libyaml__", False):
        try:
            return yaml.load(text, Loader=yaml.CSafeLoader) or {}
        except yaml.YAMLError:
            pass
    from ruamel.yaml import YAML
    from ruamel.yaml import YAMLError as RuamelError

    try:
        return YAML(typ="safe", pure=True).load(text) or {}
    except RuamelError:
        return {}


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"params": {"C": 1}}}`` -> ``{"model.params.C": 1}`` (lists stay values)."""
    out: dict[str, Any] = {}
    if not isinstance(data, Mapping):
        return out
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name))
        else:
            out[name] = dict(value) if isinstance(value, Mapping) else value
    return out


def numeric_metrics(data: Any) -> dict[str, float]:
    """The numbers of a metrics file, flattened."""
    return {k: float(v) for k, v in flatten(data).items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# --- the cache ----------------------------------------------------------------------


def cache_path(git_dir: Path) -> Path:
    return Path(git_dir) / "mlops-workbench" / "exp-cache.json"


def _load_cache(path: Path, prefix: str) -> dict[str, Any]:
    empty = {"version": CACHE_VERSION, "prefix": prefix, "commits": {}, "blobs": {},
             "notes_ref": None, "notes": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return empty
    if (not isinstance(data, dict) or data.get("version") != CACHE_VERSION
            or data.get("prefix") != prefix or not isinstance(data.get("commits"), dict)
            or not isinstance(data.get("blobs"), dict)):
        return empty
    return data


def _save_cache(path: Path, data: dict[str, Any]) -> None:
    from workbench.fsutil import atomic_write_text

    try:
        atomic_write_text(path, json.dumps(data, separators=(",", ":"), default=str))
    except OSError:
        pass  # a read-only .git only costs speed


def _fill_cache(info: exp_git.RepoInfo, cache: dict[str, Any], missing: Sequence[str],
                progress: Progress | None, cancel: threading.Event | None) -> None:
    """Read commit time, params and metrics of ``missing`` commits into the cache."""
    commits, blobs = cache["commits"], cache["blobs"]
    params_path, metrics_path = info.path(PARAMS_FILE), info.path(METRICS_FILE)
    for start in range(0, len(missing), _CHUNK):
        if cancel is not None and cancel.is_set():
            raise CancelledError("reading the experiment history was cancelled")
        chunk = missing[start:start + _CHUNK]
        if progress is not None and len(missing) > _CHUNK:
            progress(f"reading experiments {start + 1}-{start + len(chunk)} of {len(missing)}")
        requests = []
        for sha in chunk:
            requests += [sha, f"{sha}:{params_path}", f"{sha}:{metrics_path}"]
        got = exp_git.cat_file_batch(info.top, requests)
        for sha in chunk:
            commit = got.get(sha)
            if commit is None or commit[1] != "commit":
                continue
            meta = exp_git.parse_commit(commit[2])
            entry: list[Any] = [meta.time, meta.offset_minutes, None, None]
            for slot, req, kind in ((2, f"{sha}:{params_path}", "p"), (3, f"{sha}:{metrics_path}", "m")):
                blob = got.get(req)
                if blob is None or blob[1] != "blob":
                    continue
                oid = blob[0]
                entry[slot] = oid
                if oid in blobs:
                    continue
                text = blob[2].decode("utf-8", "replace")
                if kind == "p":
                    blobs[oid] = _jsonable(flatten(parse_params(text)))
                else:
                    try:
                        blobs[oid] = numeric_metrics(json.loads(text))
                    except ValueError:
                        blobs[oid] = {}
            commits[sha] = entry


# --- listing ------------------------------------------------------------------------


def list_experiments(root: Path, *, progress: Progress | None = None,
                     cancel: threading.Event | None = None) -> list[Experiment]:
    """Every experiment of the project (all baselines, all branches) with its baselines.

    Order: HEAD's baseline first, then the other baselines newest first; each baseline
    row is followed by its experiments, newest first.
    """
    info = exp_git.repo_info(Path(root))
    refs = exp_git.read_refs(info.top)
    path = cache_path(info.git_dir)
    cache = _load_cache(path, info.prefix)
    baselines: dict[str, list[tuple[str, str]]] = {}
    for name, sha, base in refs.exps:
        baselines.setdefault(base, []).append((name, sha))
    tips = set(refs.branches.values()) | ({info.head} if info.head else set())
    wanted = list(dict.fromkeys([sha for _, sha, _ in refs.exps] + list(baselines) + sorted(tips)))
    missing = [sha for sha in wanted if sha not in cache["commits"]]
    changed = bool(missing)
    if missing:
        _fill_cache(info, cache, missing, progress, cancel)
    if refs.notes != cache.get("notes_ref"):
        cache["notes"] = exp_git.read_notes(info.top) if refs.notes else {}
        cache["notes_ref"] = refs.notes
        changed = True
    if changed:
        _save_cache(path, cache)

    commits, blobs, notes = cache["commits"], cache["blobs"], cache["notes"]
    branch_of: dict[str, str] = {}
    for branch, sha in sorted(refs.branches.items()):
        branch_of.setdefault(sha, branch)
    if info.head and info.branch:
        branch_of[info.head] = info.branch

    def row(name: str, sha: str, base: str, is_baseline: bool) -> Experiment | None:
        entry = commits.get(sha)
        if entry is None:
            return None
        meta = exp_git.CommitInfo((), entry[0], entry[1])
        return Experiment(
            name=name, rev=sha, baseline=base, branch=branch_of.get(base), created=meta.iso(),
            params=dict(blobs.get(entry[2], {})) if entry[2] else {},
            metrics=dict(blobs.get(entry[3], {})) if entry[3] else {},
            is_baseline=is_baseline, note=notes.get(sha, ""),
        )

    rows_by_base: list[tuple[int, float, list[Experiment]]] = []
    for base in set(baselines) | tips:
        exps = [r for r in (row(n, s, base, False) for n, s in baselines.get(base, [])) if r]
        head_row = row(branch_of.get(base, base[:7]), base, base, True)
        if not exps and (head_row is None or not (head_row.params or head_row.metrics)):
            continue  # a branch without a pipeline
        exps.sort(key=lambda e: (commits[e.rev][0], e.name), reverse=True)
        group = ([head_row] if head_row else []) + exps
        when = commits[base][0] if base in commits else 0
        rows_by_base.append((0 if base == info.head else 1, -when, group))
    rows_by_base.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, group in rows_by_base for e in group]


def varying_columns(exps: Sequence[Experiment]) -> tuple[list[str], list[str]]:
    """(param keys, metric keys) whose values differ across ``exps`` (the others can be hidden)."""

    def differing(dicts: list[dict[str, Any]]) -> list[str]:
        keys = list(dict.fromkeys(k for d in dicts for k in d))
        out = []
        for key in keys:
            seen = {json.dumps(d.get(key, "\0missing"), sort_keys=True, default=str) for d in dicts}
            if len(seen) > 1:
                out.append(key)
        return out

    return differing([e.params for e in exps]), differing([e.metrics for e in exps])


def metric_keys(exps: Sequence[Experiment]) -> list[str]:
    """Every metric name in ``exps``, in first-seen order."""
    return list(dict.fromkeys(k for e in exps for k in e.metrics))


def sort_by_metric(exps: Sequence[Experiment], metric: str, *, descending: bool | None = None) -> list[Experiment]:
    """Experiments ordered by ``metric`` (best first); those without it last.

    Error metrics (``log_loss``, ``rmse``, ``mae``, ``mse``) sort ascending, the others
    descending, unless ``descending`` says otherwise. An unknown metric is a one-line error.
    """
    known = metric_keys(exps)
    if metric not in known:
        raise WorkbenchError(f"no metric {metric!r} in the history: sort by one of "
                             f"{', '.join(known) or '(no metrics yet: run mlops-workbench train)'}")
    if descending is None:
        descending = not re.search(r"loss|error|rmse|mae|mse", metric)
    have = [e for e in exps if metric in e.metrics and not math.isnan(e.metrics[metric])]
    rest = [e for e in exps if e not in have]
    have.sort(key=lambda e: e.metrics[metric], reverse=descending)
    return have + rest


def get_experiment(root: Path, name: str, *, exps: Sequence[Experiment] | None = None) -> Experiment:
    """The experiment called ``name`` (or a baseline by branch name, or a commit by sha prefix)."""
    exps = list_experiments(root) if exps is None else exps
    name = name.strip()
    matches = [e for e in exps if not e.is_baseline and e.name == name]
    if len(matches) > 1:
        head = exp_git.repo_info(Path(root)).head
        here = [e for e in matches if e.baseline == head]
        if len(here) == 1:
            return here[0]
        raise WorkbenchError(f"{len(matches)} experiments are called {name!r} (on different commits): "
                             f"name one by its sha, e.g. {', '.join(e.short for e in matches[:3])}")
    if matches:
        return matches[0]
    baseline = [e for e in exps if e.is_baseline and (e.name == name or e.branch == name)]
    if baseline:
        return baseline[0]
    if re.fullmatch(r"[0-9a-f]{4,40}", name):
        by_sha = [e for e in exps if e.rev.startswith(name)]
        if len(by_sha) == 1:
            return by_sha[0]
    names = list(dict.fromkeys(e.name for e in exps))
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise WorkbenchError(f"no experiment named {name!r}: {hint}see them with 'mlops-workbench exp list'")


def _delta(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return round(float(b) - float(a), 12)
    return None


def diff_experiments(root: Path, a: str, b: str) -> dict[str, Any]:
    """Params and metrics of two experiments side by side; deltas are ``b - a``.

    ``params`` lists only the keys whose values differ (``unchanged_params`` counts the
    rest); ``metrics`` lists every metric either has.
    """
    exps = list_experiments(root)
    ea, eb = get_experiment(root, a, exps=exps), get_experiment(root, b, exps=exps)
    keys = list(dict.fromkeys([*ea.params, *eb.params]))
    params = [{"key": k, "a": ea.params.get(k), "b": eb.params.get(k), "delta": _delta(ea.params.get(k), eb.params.get(k))}
              for k in keys if ea.params.get(k) != eb.params.get(k) or (k in ea.params) != (k in eb.params)]
    metric_names = list(dict.fromkeys([*ea.metrics, *eb.metrics]))
    metrics = [{"key": k, "a": ea.metrics.get(k), "b": eb.metrics.get(k),
                "delta": _delta(ea.metrics.get(k), eb.metrics.get(k))} for k in metric_names]
    return {"schema": 1, "a": ea.to_json(), "b": eb.to_json(), "params": params,
            "unchanged_params": len(keys) - len(params), "metrics": metrics}


# --- notes --------------------------------------------------------------------------


def set_note(root: Path, name: str, text: str) -> None:
    """Label an experiment: a git note (``refs/notes/workbench``) on its commit; empty text removes it."""
    from workbench.versioning.locks import ProjectLock

    if "\0" in text:
        raise WorkbenchError("the note contains a NUL character: write plain text")
    exp = get_experiment(root, name)
    info = exp_git.repo_info(Path(root))
    with ProjectLock(info.git_dir, "Experiment note"):
        exp_git.write_note(info.top, exp.rev, text)


# --- promote ------------------------------------------------------------------------


def _pipeline_outputs(root: Path) -> set[str]:
    """Project-relative files the pipeline generates (dvc.lock, outs, metrics, plots)."""
    import yaml

    out = {"dvc.lock"}
    try:
        data = yaml.safe_load((Path(root) / "dvc.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return out
    for stage in (data.get("stages") or {}).values():
        if not isinstance(stage, dict):
            continue
        for key in ("outs", "metrics", "plots"):
            for item in stage.get(key) or []:
                name = next(iter(item)) if isinstance(item, dict) and item else item
                if isinstance(name, str):
                    out.add(name.rstrip("/"))
    return out


def _cached_out_dirs(root: Path) -> set[str]:
    """Folders of the pipeline's DVC-cached outs (where DVC writes a .gitignore)."""
    import yaml

    dirs: set[str] = set()
    try:
        data = yaml.safe_load((Path(root) / "dvc.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return dirs
    for stage in (data.get("stages") or {}).values():
        for item in (stage or {}).get("outs") or []:
            name, opts = (next(iter(item.items())) if isinstance(item, dict) else (item, {}))
            if isinstance(name, str) and (opts or {}).get("cache", True) is not False:
                parent = Path(name.rstrip("/")).parent.as_posix()
                dirs.add("" if parent == "." else parent)
    return dirs


def _primary_metric(root: Path, metrics: Mapping[str, float]) -> str | None:
    from workbench.project import Project

    try:
        clauses = Project(root).read_charter().clauses()
        if clauses and clauses[0].metric in metrics:
            return clauses[0].metric
    except WorkbenchError:
        pass
    for name in ("roc_auc", "f1", "accuracy", "r2", "rmse"):
        if name in metrics:
            return name
    return next(iter(metrics), None)


def _status(info: exp_git.RepoInfo) -> dict[str, str]:
    """Dirty paths of the project (relative to the repository top) -> git's status code."""
    return exp_git.worktree_status(info.top, info.prefix)


#: Files the workbench's judgement steps write (validation, review) and the pipeline never reads:
#: a commit that changed only these (and workbench.yaml, see :func:`_kept_files`) since an
#: experiment ran does not make it stale, so ``retrain`` (experiment, then ``validate
#: EXPERIMENT``) can be followed by ``exp promote``. Promoting keeps them as HEAD has them
#: (``dvc exp apply`` would put the baseline's back).
EVIDENCE_FILES = (paths.VALIDATION_REPORT, paths.VALIDATION_MD, paths.MODEL_CARD, paths.REVIEW_FILE)


def _kept_files(root: Path) -> tuple[str, ...]:
    """The evidence files, and workbench.yaml when no stage reads it.

    The stages the workbench writes read params.yaml, never workbench.yaml, so a commit that
    changed only the project's settings since an experiment ran (the default gates the first
    ``validate`` writes, a charter edit, a note on a use case) leaves its results as they
    were; promoting keeps HEAD's settings. A dvc.yaml that names workbench.yaml (a stage of
    the user's own that reads it) makes such a change count again.
    """
    dvc_yaml = Path(root) / "dvc.yaml"
    try:
        reads_config = "workbench.yaml" in dvc_yaml.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        reads_config = True
    return EVIDENCE_FILES if reads_config else (*EVIDENCE_FILES, "workbench.yaml")


def check_promotable(root: Path, exp: Experiment, exps: Sequence[Experiment]) -> list[str]:
    """Refuse (one line) when promoting ``exp`` would overwrite someone's uncommitted work.

    Returns the repository-relative paths the promote commit will hold. A dirty file is
    fine when its content is the experiment's, when the pipeline generates it, or when it
    is what some experiment run left in the workspace (``dvc exp run`` writes params.yaml).
    """
    info = exp_git.repo_info(Path(root))
    if info.head is None:
        raise WorkbenchError("the repository has no commits yet: create the project first")
    changed_by_exp = exp_git.changed_between(info.top, exp.baseline, exp.rev, info.prefix)
    kept_all = {info.path(p) for p in _kept_files(root)}
    if exp.baseline != info.head:
        moved = exp_git.changed_between(info.top, exp.baseline, info.head, info.prefix)
        stray = sorted(moved - changed_by_exp - kept_all)
        if stray:
            raise WorkbenchError(
                f"experiment {exp.name} ran on commit {exp.baseline[:7]}, and {stray[0]} has changed "
                f"since: rerun it on this commit (mlops-workbench train -S ...) or check out "
                f"{exp.baseline[:7]} first")
    exp_blobs = exp_git.tree_blobs(info.top, exp.rev, info.prefix)
    # the kept files (evidence, workbench.yaml) are put back as they are after the apply:
    # uncommitted edits of them survive the promote and stay uncommitted
    kept = kept_all - changed_by_exp
    # Only the pipeline's files (and the data pointers it reads, which a retrain changes) are
    # promoted; the user's other edits are moved aside around the apply and put back.
    diff = exp_git.changed_between(info.top, info.head, exp.rev, info.prefix)
    promoted = {p for p in diff - kept if _promotable(root, info, p)}
    dirty = {p: c for p, c in _status(info).items() if p in promoted}
    if dirty:
        generated = {info.path(p) for p in _pipeline_outputs(root)}
        present = [p for p in dirty if (info.top / p).is_file()]
        hashed = exp_git.worktree_blobs(info.top, present)
        work_oid = dict(zip(present, hashed, strict=False))
        suspects = [p for p in dirty if work_oid.get(p) != exp_blobs[p] and p not in generated]
        if suspects:
            others = [e.rev for e in exps if not e.is_baseline]
            known = exp_git.blob_ids(info.top, [f"{rev}:{p}" for p in suspects for rev in others])
            for path in suspects:
                left = {oid for req, oid in known.items() if oid and req.endswith(f":{path}")}
                if work_oid.get(path) not in left:
                    rel = path[len(info.prefix):] if info.prefix else path
                    raise DirtyPathError(
                        f"{rel} has uncommitted edits that promoting {exp.name} would overwrite: "
                        f"commit them (git commit {rel}) or undo them (git checkout -- {rel}), then promote again")
    return sorted(promoted)


def _promotable(root: Path, info: exp_git.RepoInfo, path: str) -> bool:
    """Whether a repository path an experiment changed belongs in its promotion (a pipeline file)."""
    from workbench.versioning.run_journal import _pipeline_files, _pipeline_reads, _under

    if info.prefix and not path.startswith(info.prefix):
        return False
    rel = path[len(info.prefix):] if info.prefix else path
    return _under(rel, [*_pipeline_files(root), *_pipeline_reads(root)])


def promote_experiment(root: Path, name: str, *, role: str | None = None,
                       progress: Progress | None = None,
                       cancel: threading.Event | None = None) -> str:
    """Make experiment ``name`` a normal commit of the ``training`` step; return its sha.

    ``dvc exp apply`` puts the experiment's params, dvc.lock, metrics, plots and model
    into the workspace; the commit holds exactly the pipeline's files that differ from HEAD
    (plus the .gitignore DVC writes beside a cached output when it is new). The user's
    other uncommitted and staged work is moved aside around the apply (journaled) and put
    back byte for byte, the index as it was. The project lock is held throughout. The
    model is pushed to the DVC remote when one is set. Nothing is written when the check
    refuses.
    """
    from workbench.versioning.locks import hold_project_lock

    root = Path(root).absolute()
    with hold_project_lock(root, "exp promote") as cleared:
        for line in cleared:
            if progress:
                progress(line)
        return _promote(root, name, role=role, progress=progress, cancel=cancel)


def _promote(root: Path, name: str, *, role: str | None, progress: Progress | None,
             cancel: threading.Event | None) -> str:
    from workbench.fsutil import atomic_write_bytes
    from workbench.versioning import dvc
    from workbench.versioning.git import changed_paths
    from workbench.versioning.run_journal import _set_to_head, guarded_run, recover_interrupted_run
    from workbench.versioning.step import begin_step

    for line in recover_interrupted_run(root):
        if progress:
            progress(line)
    exps = list_experiments(root)
    exp = get_experiment(root, name, exps=exps)
    if exp.is_baseline:
        raise WorkbenchError(f"{name} is a commit, not an experiment: promote one of its experiments "
                             "(see 'mlops-workbench exp list')")
    paths = check_promotable(root, exp, exps)
    info = exp_git.repo_info(root)
    metric = _primary_metric(root, exp.metrics)
    summary = f"promote experiment {exp.name}" + (
        f" ({metric} {exp.metrics[metric]:.3f})" if metric else "")
    body_lines = [f"Experiment: {exp.name} ({exp.rev})", f"Baseline: {exp.baseline}"]
    base_row = next((e for e in exps if e.is_baseline and e.rev == exp.baseline), None)
    if base_row is not None:
        changed = [f"{k}={v}" for k, v in exp.params.items() if base_row.params.get(k) != v]
        if changed:
            body_lines.append("Params: " + ", ".join(changed))
    if exp.metrics:
        body_lines.append("Metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in exp.metrics.items()))
    if exp.note:
        body_lines.append(f"Note: {exp.note}")
    backups = {p: ((info.top / p).read_bytes() if (info.top / p).is_file() else None) for p in paths}
    gitignores = [f"{folder}/.gitignore" for folder in sorted(_cached_out_dirs(root)) if folder]
    kept = {p: (root / p).read_bytes() for p in _kept_files(root)  # what check_promotable left out
            if info.path(p) not in paths and (root / p).is_file()}
    # Files the experiment changed that are not promoted (an experiment made before the
    # workbench kept the user's work out of experiments may hold it): HEAD's stay.
    stray = sorted(exp_git.changed_between(info.top, info.head or "HEAD", exp.rev, info.prefix)
                   - set(paths) - {info.path(p) for p in kept})
    tracked = exp_git.tracked_among(info.top, stray)
    untracked_stray = {p: (info.top / p).read_bytes() for p in stray
                       if p not in tracked and (info.top / p).is_file()}  # the user's untracked files
    project_rel = [p[len(info.prefix):] if info.prefix else p for p in paths]
    from workbench.versioning.run_journal import _pipeline_files

    with begin_step(root, "training", role=role, summary=summary, cancel=cancel) as step:
        step.body = "\n".join(body_lines)
        for line in step.messages:  # stale locks cleared, a killed step finished
            if progress:
                progress(line)
        for path in project_rel:  # kept in the step journal too: a kill -9 during apply is undone
            step.protect(path)
        for rel in kept:
            step.protect(rel)
        try:
            with guarded_run(root, {}, outputs=False, params=False, what="exp promote",
                             keep=[*_pipeline_files(root), *project_rel], refuse_reads=False,
                             progress=progress):
                dvc.run_dvc(["exp", "apply", exp.rev], root, progress=progress, cancel=cancel)
                for rel, data in kept.items():  # evidence written since the experiment ran stays as it is
                    if not (root / rel).is_file() or (root / rel).read_bytes() != data:
                        atomic_write_bytes(root / rel, data)
                _set_to_head(info.top, [p for p in stray if p not in untracked_stray
                                        and (p in tracked or (info.top / p).exists())])
                for path, data in untracked_stray.items():
                    if not (info.top / path).is_file() or (info.top / path).read_bytes() != data:
                        atomic_write_bytes(info.top / path, data)
            for path in project_rel:
                step.include(path)
            # The .gitignore DVC writes beside a cached output, when git does not track it yet.
            new = [p for p, code in changed_paths(info.top, [info.path(g) for g in gitignores]).items()
                   if code == "??"]
            for path in new:
                step.include(path[len(info.prefix):] if info.prefix else path)
        except BaseException:
            for path, saved in [*backups.items(), *((info.path(rel), b) for rel, b in kept.items())]:
                full = info.top / path
                if saved is None:
                    full.unlink(missing_ok=True)
                else:
                    atomic_write_bytes(full, saved)
            raise
    if step.commit is None:
        raise WorkbenchError(f"experiment {exp.name} is what HEAD already holds: nothing to promote")
    try:
        dvc.push(root, progress=progress, cancel=cancel)
    except WorkbenchError as exc:
        if progress:
            progress(f"committed, but pushing the model to the DVC remote failed: {exc}; "
                     "run 'dvc push' when the remote is reachable")
    return step.commit
