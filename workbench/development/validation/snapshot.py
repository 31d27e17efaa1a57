"""The model to validate: the workspace's, or a DVC experiment's read from its git ref and the cache."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.development.validation.settings import STAGE_FILES, Progress
from workbench.errors import WorkbenchError
from workbench.paths import MODEL_FILE

# --- the model under validation --------------------------------------------------------


@dataclass
class _Snapshot:
    """The files of one model, copied into a temporary folder."""

    folder: Path
    params: dict[str, Any]
    metrics: dict[str, float]
    dvc_yaml: dict[str, Any]
    digest: str
    experiment: str | None
    commit: str | None
    sources: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    lock: dict[str, Any] = field(default_factory=dict)
    file_md5: str | None = None  # md5 of the model bytes copied into ``folder``


def list_experiments(project_path: str | Path) -> dict[str, str]:
    """DVC experiments of the project: name -> commit of its ref (``refs/exps``)."""
    from workbench.versioning.exp_refs import experiments_by_name

    return experiments_by_name(Path(project_path).absolute())


def _git_prefix(root: Path) -> tuple[Path, str]:
    from workbench.versioning.git import repo_root

    git_root = repo_root(root)
    if git_root is None:
        raise WorkbenchError(f"{root} is not inside a git repository: create the project first")
    rel = root.resolve().relative_to(git_root).as_posix()
    return git_root, "" if rel in ("", ".") else rel + "/"


def _show(git_root: Path, sha: str, path: str) -> str | None:
    from workbench.versioning.git import file_at

    return file_at(git_root, sha, path) or None


def _lock_md5s(lock: dict[str, Any]) -> dict[str, str]:
    """Path -> md5 in a dvc.lock: what the stage that *writes* a file recorded for it.

    A file one stage writes and another reads (the model: train's out, evaluate's dep) has
    the writer's md5; a dep that no stage writes (a data source) has the reader's. The
    reader's record must never win: after a ``dvc commit`` of a swapped model, the evaluate
    stage's dep still names the old bytes while the train stage's out names the new ones.
    """
    out: dict[str, str] = {}
    stages = [s or {} for s in (lock.get("stages") or {}).values()]
    for key in ("outs", "deps"):
        for stage in stages:
            for entry in stage.get(key) or []:
                if isinstance(entry, dict) and entry.get("path") and entry.get("md5"):
                    out.setdefault(str(entry["path"]), str(entry["md5"]))
    return out


def _load_yaml(text: str | None, what: str) -> dict[str, Any]:
    import yaml

    if not text:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise WorkbenchError(f"{what} is not valid YAML: restore it from git or run the pipeline again") from None
    return data if isinstance(data, dict) else {}


def _snapshot(root: Path, experiment: str | None, folder: Path,
              progress: Progress | None) -> _Snapshot:
    """Copy what validation reads (params, model, splits, sources) into ``folder``."""
    from workbench.development.stages import METRICS_FILE, PARAMS_FILE
    from workbench.versioning.dvc import file_md5
    from workbench.versioning.evidence import model_digest
    git_root, prefix = _git_prefix(root)
    notes: list[str] = []
    texts, commit = _snapshot_texts(root, experiment, git_root, prefix)
    lock = _load_yaml(texts["dvc.lock"], "dvc.lock")
    md5s = _lock_md5s(lock)
    if experiment:
        if MODEL_FILE not in md5s:
            raise WorkbenchError(f"experiment {experiment!r} has no model in its dvc.lock: "
                                 "run it again with 'mlops-workbench train'")
        digest = "md5:" + md5s[MODEL_FILE]
    else:
        found = model_digest(root)
        if found is None:
            raise WorkbenchError("there is no trained model yet: run 'mlops-workbench train' "
                                 "(or 'dvc repro') first")
        digest = found
    if not texts[PARAMS_FILE]:
        raise WorkbenchError("params.yaml is missing: run 'mlops-workbench pipeline' first")
    params = _load_yaml(texts[PARAMS_FILE], PARAMS_FILE)
    from workbench.config_check import check_params

    check_params(params, PARAMS_FILE)  # typed, one line
    if not params.get("features") or not params.get("target"):
        raise WorkbenchError("params.yaml has no features or target: run 'mlops-workbench pipeline' again")
    try:
        metrics_raw = json.loads(texts[METRICS_FILE] or "")
    except ValueError:
        metrics_raw = None
    if not isinstance(metrics_raw, dict):
        raise WorkbenchError("the model has no metrics.json: run the evaluate stage "
                             "('dvc repro' or 'mlops-workbench train')")
    metrics = {k: float(v) for k, v in metrics_raw.items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PARAMS_FILE).write_text(texts[PARAMS_FILE] or "", encoding="utf-8")  # not empty: checked above
    (folder / METRICS_FILE).write_text(texts[METRICS_FILE] or "{}", encoding="utf-8")
    sources = [s if isinstance(s, dict) else {"path": str(s)} for s in params.get("sources") or []]
    needed = [MODEL_FILE, *STAGE_FILES, *(str(s.get("path")) for s in sources)]
    _copy_needed(root, experiment, folder, needed, md5s, notes)
    if not experiment and texts["dvc.lock"] is not None and commit is not None:
        from workbench.versioning.git import changed_paths

        dirty = changed_paths(git_root, [prefix + "dvc.lock", prefix + PARAMS_FILE])
        if dirty:
            notes.append("the model is not committed yet (dvc.lock or params.yaml differ from HEAD): "
                         "commit or promote it so the evidence points at a commit")
    return _Snapshot(folder=folder, params=params, metrics=metrics,
                     dvc_yaml=_load_yaml(texts["dvc.yaml"], "dvc.yaml"), digest=digest,
                     experiment=experiment, commit=commit,
                     sources=[{"path": str(s.get("path")), "md5": md5s.get(str(s.get("path")))}
                              for s in sources], notes=notes, lock=lock,
                     file_md5=file_md5(folder / MODEL_FILE))


def _snapshot_texts(root: Path, experiment: str | None, git_root: Path,
                    prefix: str) -> tuple[dict[str, str | None], str | None]:
    """params.yaml, dvc.lock, dvc.yaml and metrics.json of the experiment or the workspace; the commit."""
    from workbench.development.stages import METRICS_FILE, PARAMS_FILE
    from workbench.versioning.git import has_head, head

    if experiment:
        known = list_experiments(root)
        sha = known.get(experiment)
        if sha is None:
            names = ", ".join(sorted(known)[:12]) or "none yet (run 'mlops-workbench train')"
            raise WorkbenchError(f"experiment {experiment!r} is not known: use one of {names} "
                                 "(see 'dvc exp show')")
        texts = {rel: _show(git_root, sha, prefix + rel)
                 for rel in (PARAMS_FILE, "dvc.lock", "dvc.yaml", METRICS_FILE)}
        return texts, sha
    texts = {}
    for rel in (PARAMS_FILE, "dvc.lock", "dvc.yaml", METRICS_FILE):
        path = root / rel
        texts[rel] = path.read_text(encoding="utf-8") if path.is_file() else None
    return texts, head(git_root) if has_head(git_root) else None


def _copy_needed(root: Path, experiment: str | None, folder: Path, needed: list[str],
                 md5s: dict[str, str], notes: list[str]) -> None:
    """Copy each needed file: the workspace's when it matches dvc.lock, else from the DVC cache."""
    from workbench.versioning.dvc import cached_file, file_md5

    for rel in needed:
        dest = folder / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        md5 = md5s.get(rel)
        local = root / rel
        if (not experiment and local.is_file()
                and (md5 is None or file_md5(local) == md5)):
            shutil.copyfile(local, dest)
            continue
        cached = cached_file(root, md5) if md5 else None
        if cached is None:
            whose = f"experiment {experiment}" if experiment else "the model"
            if rel == MODEL_FILE and not experiment and md5 is None:
                raise WorkbenchError("there is no trained model yet: run 'mlops-workbench train' first")
            raise WorkbenchError(f"{rel} of {whose} is neither in the workspace nor in the DVC cache: "
                                 "run 'dvc pull' (or 'dvc exp pull' for an experiment) and try again")
        if not experiment and local.exists():
            notes.append(f"{rel} in the workspace differs from dvc.lock; validated the version dvc.lock records")
        shutil.copyfile(cached, dest)
