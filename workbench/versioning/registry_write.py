"""Writing the registry: register a version (a GTO ``model@vX.Y.Z`` tag) and assign a stage
(a ``model#stage#N`` tag), with the evidence production needs checked first.

Reading is :mod:`workbench.versioning.registry`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.versioning import git
from workbench.versioning.registry import (
    ARTIFACT,
    MODEL_FILE,
    STAGES,
    Registry,
    _cache_file,
    _file_md5,
    _gto_error,
    _md5_hex,
    _remember,
    commits_touching,
    newest_first,
    parse_version,
    read_registry,
    resolve_commit,
    resolve_version,
    show_file,
)


@dataclass(frozen=True)
class RegistryWrite:
    """A tag the registry made: ``model@v1.0.0`` or ``model#production#2``."""

    tag: str
    version: str
    stage: str | None
    commit: str
    approved_by: str
    evidence_digest: str
    model_digest: str | None
    validation: str
    messages: tuple[str, ...] = field(default_factory=tuple)
    data_check: str = ""
    data_check_override: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"messages": list(self.messages)}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _message(subject: str, evidence: Any, role: str, override: str = "") -> str:
    extra = f"Evidence-Commit: {evidence.evidence_commit}\n" if evidence.evidence_commit else ""
    extra += f"Data-Check: {evidence.data_check}\n"
    if override:
        extra += f"Data-Check-Override: {override}\n"
    return (f"{subject}\n\nModel-Digest: {evidence.model_digest}\nEvidence-Digest: {evidence.evidence_digest}\n"
            f"{extra}Approved-By: {evidence.approver_line()}\nValidation: {evidence.validation}\n"
            f"Workbench-Role: {role}\n")


def _evidence_history(root: Path, commit: str, model: str | None, registry: Registry | None) -> list[str]:
    """Commits that may hold this model's sign-off, newest first: review.json's history from
    HEAD, the version's commit and every registered version of the same model."""
    from workbench.versioning.evidence import REVIEW_FILE

    same = [v.commit for v in (registry.versions if registry else ()) if model and v.model_digest == model]
    return newest_first(root, [*commits_touching(root, REVIEW_FILE), *same, commit])


def _context(project_path: Path, role: str | None) -> tuple[Path, git.Identity, str]:
    from workbench.versioning.step import resolve_role

    project_path = Path(project_path).absolute()
    root = git.repo_root(project_path)
    if root is None or not git.has_head(root):
        raise WorkbenchError(f"{project_path} has no commits: create the project and commit a trained model first")
    who = git.identity(project_path)
    return root, who, resolve_role(project_path, "deployment", who, role)


def register_model(project_path: Path, version: str | None = None, *, role: str | None = None,
                   push: bool = True) -> RegistryWrite:
    """Register the model committed at HEAD as ``version`` (default: the next version).

    Refused (nothing tagged) when HEAD has no model in its ``dvc.lock``, when ``dvc.lock``
    has uncommitted edits, when the workspace model is not the committed one, when the
    version is not ``vX.Y.Z`` or exists, or when HEAD is already registered.
    """
    from workbench.versioning.evidence import evidence_at
    from workbench.versioning.locks import ProjectLock, recover_stale_locks

    project_path = Path(project_path).absolute()
    root, who, role = _context(project_path, role)
    from workbench.versioning.locks import recover_stale_locks as _busy_first

    _busy_first(project_path, git.git_dir(root))  # a running train (HEAD detached by DVC) is "busy"
    git.refuse_unsafe_state(root)  # HEAD mid-rebase or detached is not the commit to register
    wanted = parse_version(version) if version else None
    head = resolve_commit(project_path)
    lock_rel = (project_path / "dvc.lock").resolve().relative_to(root).as_posix()
    if git.changed_paths(root, [lock_rel]):
        raise WorkbenchError("dvc.lock has uncommitted changes: commit the trained model first "
                             "(git add dvc.lock && git commit), then register")
    from workbench.versioning.evidence import project_governance

    governance, team = project_governance(project_path)
    evidence = evidence_at(project_path, head)
    if evidence.model_digest is None:
        raise WorkbenchError("HEAD has no trained model in dvc.lock: train one ('mlops-workbench train' or "
                             "'dvc repro'), commit dvc.lock, then register")
    md5 = _md5_hex(evidence.model_digest)
    workspace = _file_md5(project_path / MODEL_FILE)
    if workspace is not None and workspace != md5:
        raise WorkbenchError(f"{MODEL_FILE} differs from the model committed at HEAD: commit the new model "
                             "(dvc.lock) or restore it with 'dvc checkout models/model.skops', then register")
    if workspace is None and not _cache_file(project_path, md5).is_file():
        raise WorkbenchError(f"the model committed at HEAD is not here ({MODEL_FILE} missing, not in the DVC "
                             "cache): run 'dvc pull', then register")
    gdir = git.git_dir(root)
    cleared = recover_stale_locks(project_path, gdir)
    with ProjectLock(gdir, "Deployment"):
        registry = read_registry(project_path)
        from workbench.versioning.evidence import DATA_CHECK_FILE

        evidence = evidence_at(project_path, head, governance=governance, team=team,
                               history=_evidence_history(project_path, head, evidence.model_digest, registry),
                               data_history=commits_touching(project_path, DATA_CHECK_FILE, limit=50))
        _refuse_broken_model(project_path, head, evidence.model_digest)
        taken = next((v for v in registry.versions if v.commit == head), None)
        if taken is not None:
            raise WorkbenchError(f"HEAD ({head[:7]}) is already registered as {ARTIFACT} {taken.version}: "
                                 f"promote it with 'mlops-workbench model promote {taken.version} --stage "
                                 "staging', or commit a new model first")
        wanted = wanted or registry.next_version()
        existing = registry.find(wanted)
        if existing is not None or _tag_exists(root, f"{ARTIFACT}@{wanted}"):
            raise WorkbenchError(f"{ARTIFACT} {wanted} already exists"
                                 + (f" (commit {existing.commit[:7]})" if existing else "")
                                 + f": choose another --version, e.g. {registry.next_version()}")
        import gto.api
        from gto.exceptions import GTOException

        message = _message(f"Registering artifact {ARTIFACT} version {wanted}", evidence, role)
        try:
            event = gto.api.register(str(root), ARTIFACT, head, version=wanted, message=message,
                                     author=who.name, author_email=who.email)
        except GTOException as exc:
            raise _gto_error(exc) from None
        _remember(project_path)
    notes = list(cleared)
    tag = str(getattr(event, "tag", f"{ARTIFACT}@{wanted}"))
    if push:
        notes += _push_tag(root, tag)
    if evidence.blockers:
        notes.append(f"{wanted} cannot reach production yet: {evidence.blockers[0]}")
    return RegistryWrite(tag=tag, version=wanted, stage=None,
                         commit=head, approved_by=evidence.approver_line(),
                         evidence_digest=evidence.evidence_digest, model_digest=evidence.model_digest,
                         validation=evidence.validation, messages=tuple(notes), data_check=evidence.data_check)


def _refuse_broken_model(project_path: Path, commit: str, model: str | None) -> None:
    """Refuse a model whose own validation found that its file is not a loadable, trained model:
    no stage could ever serve it (one line, nothing tagged)."""
    import json

    from workbench.versioning.evidence import VALIDATION_FILE

    try:
        report = json.loads((show_file(project_path, commit, VALIDATION_FILE) or b"{}").decode("utf-8"))
    except ValueError:
        return
    if not isinstance(report, dict) or (report.get("model") or {}).get("digest") != model:
        return
    gate = next((g for g in report.get("gates") or [] if isinstance(g, dict) and g.get("name") == "model_file"),
                None)
    if gate and gate.get("passed") is False:
        raise WorkbenchError(f"the validation of this model failed its model file check ({gate.get('why')}): "
                             "retrain it ('dvc repro' or 'mlops-workbench train'), commit, validate, then register")


def _push_tag(root: Path, tag: str) -> list[str]:
    """Push a new registry tag to ``origin`` when the repository has one; a note when it fails."""
    remotes = git.run_git(root, "remote", check=False).split()
    if "origin" not in remotes:
        return []
    try:
        git.run_git(root, "push", "--quiet", "origin", f"refs/tags/{tag}")
    except WorkbenchError as exc:
        return [f"the tag {tag} was created here, but pushing it to origin failed ({exc}); "
                f"run 'git push origin {tag}'"]
    return [f"pushed {tag} to origin"]


def _tag_exists(root: Path, name: str) -> bool:
    return bool(git.run_git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{name}", check=False))


def promote_model(project_path: Path, version: str, stage: str, *, role: str | None = None,
                  push: bool = True, override_data_check: str | None = None) -> RegistryWrite:
    """Assign ``stage`` to a registered version (a ``model#stage#n`` tag).

    Production is refused unless the evidence at the version's commit passes: a
    validation report that passed for that exact model and an approval of it whose
    digests still match (:func:`workbench.versioning.evidence.promotion_blockers_at`).
    """
    from workbench.versioning.evidence import evidence_at, project_governance
    from workbench.versioning.locks import ProjectLock, recover_stale_locks

    if stage not in STAGES:
        raise WorkbenchError(f"stage {stage!r} is not known: use one of {', '.join(STAGES)}")
    override = _one_line(override_data_check or "")
    if override_data_check is not None and not override:
        raise WorkbenchError("--override-data-check needs a reason: say why the data check may be overridden, "
                             "e.g. --override-data-check \"labels back-filled by the claims team\"")
    if override and stage != "production":
        raise WorkbenchError("--override-data-check is for --stage production only: staging does not check the data")
    if len(override) > 500:
        raise WorkbenchError("the --override-data-check reason is longer than 500 characters: shorten it")
    project_path = Path(project_path).absolute()
    root, who, role = _context(project_path, role)
    governance, team = project_governance(project_path)
    wanted = parse_version(version)
    gdir = git.git_dir(root)
    cleared = recover_stale_locks(project_path, gdir)
    with ProjectLock(gdir, "Deployment"):
        target, registry = resolve_version(project_path, wanted)
        if registry.stages.get(stage) == wanted:
            raise WorkbenchError(f"{ARTIFACT} {wanted} is already in {stage}: nothing to do")
        from workbench.versioning.evidence import DATA_CHECK_FILE

        evidence = evidence_at(project_path, target.commit, governance=governance, team=team,
                               data_override=override,
                               data_history=commits_touching(project_path, DATA_CHECK_FILE, limit=50),
                               history=_evidence_history(project_path, target.commit, target.model_digest
                                                         or None, registry))
        if override and evidence.data_check not in ("NO-GO", "stale"):
            raise WorkbenchError(f"--override-data-check is not needed: {evidence.data_check_line}; "
                                 "promote without it")
        if stage == "production" and evidence.blockers:
            more = f" (and {len(evidence.blockers) - 1} more)" if len(evidence.blockers) > 1 else ""
            raise WorkbenchError(
                f"cannot promote {wanted} to production: {evidence.blockers[0]}{more}; the evidence is read "
                f"from git (its commit {target.commit[:7]} and the committed sign-offs of its model), "
                "never from the workspace")
        import gto.api
        from gto.exceptions import GTOException

        recorded = override  # who overrode is the tag's tagger
        message = _message(f"Assigning stage {stage} to artifact {ARTIFACT} version {wanted}", evidence, role,
                           recorded)
        try:
            event = gto.api.assign(str(root), ARTIFACT, stage, version=wanted, message=message, simple=False,
                                   author=who.name, author_email=who.email)
        except GTOException as exc:
            raise _gto_error(exc) from None
        _remember(project_path)
    tag = str(getattr(event, "tag", ""))
    notes = list(cleared) + (_push_tag(root, tag) if push and tag else [])
    if override:
        notes.append(f"the data check was overridden: {evidence.data_check_line}; reason recorded in {tag}")
    return RegistryWrite(tag=tag, version=wanted, stage=stage, commit=target.commit,
                         approved_by=evidence.approver_line(), evidence_digest=evidence.evidence_digest,
                         model_digest=evidence.model_digest or "", validation=evidence.validation,
                         messages=tuple(notes), data_check=evidence.data_check, data_check_override=recorded)


def production_readiness(project_path: Path, version: str) -> Any:
    """What production promotion would judge for ``version``: the :class:`Evidence` (validation,
    approvals against ``governance.approvals``, the data check) and its blockers, read exactly as
    :func:`promote_model` reads them. Writes nothing (the TUI shows it before asking)."""
    from workbench.versioning.evidence import DATA_CHECK_FILE, evidence_at, project_governance

    project_path = Path(project_path).absolute()
    governance, team = project_governance(project_path)
    target, registry = resolve_version(project_path, parse_version(version))
    return evidence_at(project_path, target.commit, governance=governance, team=team,
                       data_history=commits_touching(project_path, DATA_CHECK_FILE, limit=50),
                       history=_evidence_history(project_path, target.commit, target.model_digest or None,
                                                 registry))
