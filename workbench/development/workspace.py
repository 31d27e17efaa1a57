"""The experiment the workspace holds, and putting the workspace back as HEAD has it.

``dvc exp run`` leaves the experiment's params.yaml, dvc.lock, metrics, plots and model in
the workspace: until it is promoted (a commit) or discarded, ``git status`` is not clean
and ``validate`` judges a model that no commit holds. :func:`workspace_experiment` says
which experiment that is (the workspace's dvc.lock is byte for byte the one in the
experiment's commit: it names every parameter and output hash of the run), so ``status``
and the dashboard can say so; :func:`discard_workspace_experiment` puts the pipeline's files
back as HEAD has them: git for the files git tracks, ``dvc checkout`` for DVC's outputs.

A pipeline file whose content is no experiment's (an edit of params.yaml by hand, a
``dvc repro`` of one's own) is someone's work: discard refuses, in one line, and writes
nothing. The experiment stays in ``refs/exps`` (``exp list`` shows it) unless ``remove``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import DirtyPathError, WorkbenchError
from workbench.progress import Progress
from workbench.versioning import exp_git

PARAMS_FILE = "params.yaml"
LOCK_FILE = "dvc.lock"


@dataclass(frozen=True)
class HeldExperiment:
    """An experiment whose outputs are in the workspace, neither promoted nor discarded."""

    name: str
    rev: str
    baseline: str

    @property
    def promote_command(self) -> str:
        return f"mlops-workbench exp promote {self.name}"

    discard_command = "mlops-workbench exp discard"

    def describe(self) -> str:
        return (f"the workspace holds experiment {self.name}, neither promoted nor discarded: "
                f"promote it ({self.promote_command}) or discard it ({self.discard_command})")

    def to_json(self) -> dict[str, str]:
        return {"experiment": self.name, "rev": self.rev, "baseline": self.baseline,
                "promote": self.promote_command, "discard": self.discard_command}


def _hash(top: Path, paths: list[str]) -> dict[str, str]:
    """Repository path -> git blob id of the file in the work tree (existing files only)."""
    present = [p for p in paths if (top / p).is_file()]
    if not present:
        return {}
    out = exp_git.worktree_blobs(top, present)
    return dict(zip(present, out, strict=False))


def workspace_experiment(root: str | Path) -> HeldExperiment | None:
    """The experiment whose dvc.lock the workspace has while HEAD has another, else None."""
    root = Path(root).absolute()
    if not (root / LOCK_FILE).is_file():
        return None
    try:
        info = exp_git.repo_info(root)
    except WorkbenchError:
        return None
    if info.head is None:
        return None
    lock = info.path(LOCK_FILE)
    work = _hash(info.top, [lock]).get(lock)
    if work is None:
        return None
    refs = exp_git.read_refs(info.top)
    requests = [f"HEAD:{lock}", *(f"{sha}:{lock}" for _, sha, _ in refs.exps)]
    oids = exp_git.blob_ids(info.top, requests)
    if oids.get(f"HEAD:{lock}") == work:
        return None
    held = [(name, sha, base) for name, sha, base in refs.exps if oids.get(f"{sha}:{lock}") == work]
    if not held:
        return None
    held.sort(key=lambda e: (e[2] != info.head, e[0]))  # one run on HEAD first
    return HeldExperiment(*held[0])


# --- discard -------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscardResult:
    """What ``exp discard`` put back."""

    experiment: str | None       # the experiment the workspace held (None: outputs of no single one)
    restored: tuple[str, ...]    # project-relative files put back as HEAD has them
    removed: tuple[str, ...]     # files HEAD does not have, removed
    checked_out: tuple[str, ...]  # DVC outputs checked out from HEAD's dvc.lock
    removed_ref: bool = False

    def to_json(self) -> dict[str, object]:
        return {"schema": 1, "experiment": self.experiment, "restored": list(self.restored),
                "removed": list(self.removed), "checked_out": list(self.checked_out),
                "removed_ref": self.removed_ref}


def _stage_files(root: Path) -> tuple[list[str], list[str]]:
    """(files git sees: params, dvc.lock, uncached outs/metrics/plots, .gitignore beside cached
    outs; DVC-cached outs) of the pipeline in dvc.yaml."""
    import yaml

    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        raise WorkbenchError("dvc.yaml is missing or not valid YAML: run 'mlops-workbench pipeline' "
                             "first") from None
    tracked, cached = [PARAMS_FILE, LOCK_FILE], []
    for stage in stages.values() if isinstance(stages, dict) else ():
        for key in ("outs", "metrics", "plots"):
            for entry in (stage.get(key) or []) if isinstance(stage, dict) else ():
                name, opts = next(iter(entry.items())) if isinstance(entry, dict) and entry else (entry, {})
                if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
                    continue
                name = name.rstrip("/")
                if (opts or {}).get("cache", True) is False:
                    tracked.append(name)
                else:
                    cached.append(name)
                    parent = Path(name).parent
                    tracked.append((parent / ".gitignore").as_posix() if parent != Path(".") else ".gitignore")
    return list(dict.fromkeys(tracked)), list(dict.fromkeys(cached))


def _only_dvc_entries(root: Path, rel: str, cached: list[str]) -> bool:
    """``rel`` (a .gitignore) holds only the lines DVC writes for the cached outs beside it."""
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    lines = {ln.strip() for ln in text.splitlines() if ln.strip()}
    folder = Path(rel).parent
    ours = {f"/{Path(out).name}" for out in cached if Path(out).parent == folder}
    return bool(lines) and lines <= ours


def _sort_files(root: Path, paths: dict[str, str], cached: list[str],
                blobs: dict[str, str | None], work: dict[str, str], staged: dict[str, str]) -> tuple[list[str], list[str]]:
    """(files to restore from HEAD, files to delete): refused (one line) when one has edits no experiment has."""
    restore, delete = [], []
    for rel, path in paths.items():
        at_head = blobs.get(f"HEAD:{path}")
        known = {oid for req, oid in blobs.items() if oid and req.endswith(f":{path}")}
        generated = rel.endswith(".gitignore") and _only_dvc_entries(root, rel, cached)
        for where, oid in (("the work tree", work.get(path)), ("the index", staged.get(path))):
            if oid is None or oid == at_head or oid in known or (generated and where == "the work tree"):
                continue
            fix = (f"git restore --staged {rel}" if where == "the index" else f"git checkout -- {rel}"
                   if at_head else f"rm {rel}")
            raise DirtyPathError(
                f"{rel} has edits in {where} that are no experiment's: commit them (git commit {rel}) "
                f"or undo them ({fix}), then discard again")
        if at_head is None:
            if path in work or path in staged:
                delete.append(rel)
        elif work.get(path) != at_head or staged.get(path, at_head) != at_head:
            restore.append(rel)
    return restore, delete


def _checkout_outputs(root: Path, cached: list[str], *, progress: Progress | None,
                      cancel: threading.Event | None) -> list[str]:
    """``dvc checkout`` of the cached outputs; what DVC changed."""
    from workbench.versioning.dvc import run_dvc

    run = run_dvc(["checkout", *cached], root, progress=progress, cancel=cancel, check=False)
    if run.returncode != 0:
        raise WorkbenchError(f"dvc checkout failed: {run.last_error_line()}; the git-tracked "
                             "pipeline files are as HEAD has them; run 'dvc checkout' again")
    # what DVC changed ("M models/model.skops"): also repairs a discard killed before this
    return [m.group(1).strip() for m in re.finditer(r"(?m)^\s*[MAD]\s+(\S.*)$", run.output)]


def _remove_outputs(root: Path, stray_outs: list[str], delete: list[str]) -> None:
    """The run's outputs gone (HEAD has no pipeline run), then the folders that left empty."""
    import os
    import shutil

    for rel in stray_outs:
        target = root / rel
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        delete.append(rel)
    for parent in sorted({Path(r).parent for r in delete if Path(r).parent != Path(".")},
                         key=lambda p: len(p.parts), reverse=True):
        for folder in (parent, *parent.parents):
            if folder != Path("."):
                try:
                    os.rmdir(root / folder)  # only when empty
                except OSError:
                    break


def discard_workspace_experiment(root: str | Path, *, remove: bool = False,
                                 progress: Progress | None = None,
                                 cancel: threading.Event | None = None) -> DiscardResult:
    """Put params.yaml, dvc.lock, metrics, plots and the model back as HEAD has them.

    Refuses (one line, nothing written) when a pipeline file differs from HEAD with content
    that no experiment has: that is someone's edit, not a run's. ``remove`` also deletes the
    held experiment from ``refs/exps`` (``dvc exp remove``).
    """
    from workbench.versioning import git
    from workbench.versioning.dvc import run_dvc
    from workbench.versioning.locks import ProjectLock
    from workbench.versioning.run_journal import recover_interrupted_run

    root = Path(root).absolute()
    say = progress or (lambda _line: None)
    info = exp_git.repo_info(root)
    if info.head is None:
        raise WorkbenchError("the repository has no commits yet: create the project first")
    with ProjectLock(info.git_dir, "Experiment discard"):
        for line in recover_interrupted_run(root):
            say(line)
        held = workspace_experiment(root)
        tracked, cached = _stage_files(root)
        paths = {rel: info.path(rel) for rel in tracked}
        refs = exp_git.read_refs(info.top)
        revs = ["HEAD", *(sha for _, sha, _ in refs.exps)]
        blobs = exp_git.blob_ids(info.top, [f"{rev}:{p}" for p in paths.values() for rev in revs])
        work = _hash(info.top, list(paths.values()))
        staged = exp_git.index_blobs(info.top, list(paths.values()))
        restore, delete = _sort_files(root, paths, cached, blobs, work, staged)
        lock_at_head = blobs.get(f"HEAD:{paths[LOCK_FILE]}") is not None
        stray_outs = [rel for rel in cached if not lock_at_head and (root / rel).exists()]
        if cancel is not None and cancel.is_set():
            from workbench.errors import CancelledError

            raise CancelledError("discard was cancelled before anything was written")
        if restore:
            git.checkout_from_head(root, restore)
        for rel in delete:
            if paths[rel] in staged:
                git.remove_from_index(root, [rel])
            (root / rel).unlink(missing_ok=True)
        checked_out: list[str] = []
        if lock_at_head and cached:
            checked_out = _checkout_outputs(root, cached, progress=progress, cancel=cancel)
        _remove_outputs(root, stray_outs, delete)
        removed_ref = False
        if remove and held is not None:
            run_dvc(["exp", "remove", held.name], root, progress=progress, cancel=cancel)
            removed_ref = True
    return DiscardResult(held.name if held else None, tuple(restore), tuple(delete), tuple(checked_out),
                         removed_ref)
