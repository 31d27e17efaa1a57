"""Promoting an experiment: it becomes a normal commit of the ``training`` step.

``dvc exp apply`` and a commit of exactly the files that changed, refused first when a file
the apply would overwrite carries someone's uncommitted edits. The experiment history it
promotes from is :mod:`workbench.development.experiments`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench import paths
from workbench.development.experiments import Experiment, get_experiment, list_experiments
from workbench.errors import DirtyPathError, WorkbenchError
from workbench.progress import Progress
from workbench.versioning import exp_git, git


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


_REPORT_LINE = re.compile(rf"^{re.escape(git.TRAILER_MONITORING_REPORT)}:[ \t]*(\S+)[ \t]*$", re.MULTILINE)


def _message(root: Path, exp: Experiment, exps: Sequence[Experiment]) -> tuple[str, str]:
    """(summary, body) of the promotion commit: the experiment, its baseline, changed params, metrics, note."""
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
    return summary, "\n".join(body_lines)


@dataclass
class _Aside:
    """What the apply must not change, read before it: the promoted files' bytes, HEAD's kept files,
    the files the experiment changed that are not promoted."""

    backups: dict[str, bytes | None]  # repository path -> bytes before the apply (None: absent)
    gitignores: list[str]  # the .gitignore DVC may write beside a cached output
    kept: dict[str, bytes]  # project path -> bytes of the evidence and settings files left out
    stray: list[str]  # repository paths the experiment changed that are not promoted
    tracked: set[str]  # those of ``stray`` git tracks
    untracked_stray: dict[str, bytes]  # the user's untracked files among ``stray``


def _set_aside(root: Path, info: exp_git.RepoInfo, exp: Experiment, promoted: list[str]) -> _Aside:
    backups = {p: ((info.top / p).read_bytes() if (info.top / p).is_file() else None) for p in promoted}
    gitignores = [f"{folder}/.gitignore" for folder in sorted(_cached_out_dirs(root)) if folder]
    kept = {p: (root / p).read_bytes() for p in _kept_files(root)  # what check_promotable left out
            if info.path(p) not in promoted and (root / p).is_file()}
    # Files the experiment changed that are not promoted (an experiment made before the
    # workbench kept the user's work out of experiments may hold it): HEAD's stay.
    stray = sorted(exp_git.changed_between(info.top, info.head or "HEAD", exp.rev, info.prefix)
                   - set(promoted) - {info.path(p) for p in kept})
    tracked = exp_git.tracked_among(info.top, stray)
    untracked_stray = {p: (info.top / p).read_bytes() for p in stray
                       if p not in tracked and (info.top / p).is_file()}  # the user's untracked files
    return _Aside(backups, gitignores, kept, stray, tracked, untracked_stray)


def _apply(root: Path, info: exp_git.RepoInfo, exp: Experiment, aside: _Aside, project_rel: list[str], *,
           progress: Progress | None, cancel: threading.Event | None) -> None:
    """``dvc exp apply`` with the user's other work moved aside; the kept and stray files left as they were."""
    from workbench.fsutil import atomic_write_bytes
    from workbench.versioning import dvc
    from workbench.versioning.run_journal import _pipeline_files, _set_to_head, guarded_run

    with guarded_run(root, {}, outputs=False, params=False, what="exp promote",
                     keep=[*_pipeline_files(root), *project_rel], refuse_reads=False,
                     progress=progress):
        dvc.run_dvc(["exp", "apply", exp.rev], root, progress=progress, cancel=cancel)
        for rel, data in aside.kept.items():  # evidence written since the experiment ran stays as it is
            if not (root / rel).is_file() or (root / rel).read_bytes() != data:
                atomic_write_bytes(root / rel, data)
        _set_to_head(info.top, [p for p in aside.stray if p not in aside.untracked_stray
                                and (p in aside.tracked or (info.top / p).exists())])
        for path, data in aside.untracked_stray.items():
            if not (info.top / path).is_file() or (info.top / path).read_bytes() != data:
                atomic_write_bytes(info.top / path, data)


def _put_back(info: exp_git.RepoInfo, aside: _Aside) -> None:
    """The promoted and kept files as they were before the apply (a failed promotion)."""
    from workbench.fsutil import atomic_write_bytes

    for path, saved in [*aside.backups.items(), *((info.path(rel), b) for rel, b in aside.kept.items())]:
        full = info.top / path
        if saved is None:
            full.unlink(missing_ok=True)
        else:
            atomic_write_bytes(full, saved)


def _promote(root: Path, name: str, *, role: str | None, progress: Progress | None,
             cancel: threading.Event | None) -> str:
    from workbench.versioning import dvc
    from workbench.versioning.git import changed_paths
    from workbench.versioning.run_journal import recover_interrupted_run
    from workbench.versioning.step import begin_step

    for line in recover_interrupted_run(root):
        if progress:
            progress(line)
    exps = list_experiments(root)
    exp = get_experiment(root, name, exps=exps)
    if exp.is_baseline:
        raise WorkbenchError(f"{name} is a commit, not an experiment: promote one of its experiments "
                             "(see 'mlops-workbench exp list')")
    promoted = check_promotable(root, exp, exps)
    info = exp_git.repo_info(root)
    summary, body = _message(root, exp, exps)
    aside = _set_aside(root, info, exp, promoted)
    project_rel = [p[len(info.prefix):] if info.prefix else p for p in promoted]
    with begin_step(root, "training", role=role, summary=summary, cancel=cancel) as step:
        step.body = body
        report = _REPORT_LINE.search(exp.note or "")
        if report:  # a retraining candidate's note names its monitoring report: keep it as a trailer
            step.trailers[git.TRAILER_MONITORING_REPORT] = report.group(1)
        for line in step.messages:  # stale locks cleared, a killed step finished
            if progress:
                progress(line)
        for path in project_rel:  # kept in the step journal too: a kill -9 during apply is undone
            step.protect(path)
        for rel in aside.kept:
            step.protect(rel)
        try:
            _apply(root, info, exp, aside, project_rel, progress=progress, cancel=cancel)
            for path in project_rel:
                step.include(path)
            # The .gitignore DVC writes beside a cached output, when git does not track it yet.
            new = [p for p, code in changed_paths(info.top, [info.path(g) for g in aside.gitignores]).items()
                   if code == "??"]
            for path in new:
                step.include(path[len(info.prefix):] if info.prefix else path)
        except BaseException:
            _put_back(info, aside)
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
