"""What an experiment ref is: the one place that decides it.

DVC keeps a finished experiment as a commit at
``refs/exps/<baseline[:2]>/<baseline[2:]>/<name>``. The same namespace also holds DVC's
own bookkeeping, which is never an experiment: ``refs/exps/stash`` (the workspace
queue), ``refs/exps/apply/ORIG_HEAD`` and ``refs/exps/apply/stash`` (left by every
``dvc exp apply``, so by every promote), ``refs/exps/exec/EXEC_*`` (a run in progress or
killed), ``refs/exps/celery/*`` (the queue) and ``refs/exps/temp/*``. Taking the last
path part of any ref under ``refs/exps`` therefore lists ``ORIG_HEAD`` and ``stash`` as
experiments; every reader goes through :func:`parse_exp_ref` instead (the history, the
timeline, validation, status, sweeps, retrain).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: DVC's layout for experiment refs (``dvc.repo.experiments.refs.ExpRefInfo``)
EXP_REF = re.compile(r"^refs/exps/(?P<a>[0-9a-f]{2})/(?P<b>[0-9a-f]{38}(?:[0-9a-f]{24})?)/(?P<name>[^/]+)$")
NAMESPACE = "refs/exps/"


@dataclass(frozen=True)
class ExpRef:
    """One experiment: its name, its commit and the commit it ran from."""

    name: str
    sha: str
    baseline: str


def parse_exp_ref(refname: str, sha: str = "", objtype: str = "commit") -> ExpRef | None:
    """The experiment a ref names, or None for anything else (DVC's internal refs, tags, ...)."""
    match = EXP_REF.match(refname)
    if match is None or objtype != "commit":
        return None
    return ExpRef(match["name"], sha, match["a"] + match["b"])


#: ``git for-each-ref`` format whose lines :func:`parse_ref_line` reads
REF_FORMAT = "%(objectname) %(objecttype) %(refname)"


def parse_ref_line(line: str) -> ExpRef | None:
    """One line of ``for-each-ref --format=REF_FORMAT`` as an experiment, or None."""
    sha, kind, ref = (line.split(" ", 2) + ["", ""])[:3]
    return parse_exp_ref(ref, sha, kind) if sha else None


def experiment_refs(cwd: Path) -> list[ExpRef]:
    """Every experiment of the repository at ``cwd`` (one ``git for-each-ref``)."""
    from workbench.versioning.git import run_git

    out = run_git(Path(cwd), "for-each-ref", f"--format={REF_FORMAT}", NAMESPACE, check=False)
    return [exp for exp in map(parse_ref_line, out.splitlines()) if exp is not None]


def experiments_by_name(cwd: Path) -> dict[str, str]:
    """Experiment name -> commit; a name on several baselines keeps the one on HEAD's baseline."""
    from workbench.versioning.git import run_git

    head = run_git(Path(cwd), "rev-parse", "--verify", "-q", "HEAD", check=False).strip()
    out: dict[str, str] = {}
    for exp in sorted(experiment_refs(cwd), key=lambda e: e.baseline == head):
        out[exp.name] = exp.sha
    return out
