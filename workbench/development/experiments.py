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

Promoting makes the experiment a normal commit of the ``training`` step
(:mod:`workbench.development.promotion`).
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

from workbench.errors import CancelledError, WorkbenchError
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
