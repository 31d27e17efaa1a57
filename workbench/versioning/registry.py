"""The model registry: git tags in GTO's format, made and read through the gto package.

A version is an annotated tag ``model@vX.Y.Z`` on the commit whose ``dvc.lock`` names the
model; a stage is an annotated tag ``model#<stage>#<n>`` (GTO's full format, so every
promotion stays in history). Both are created with :mod:`gto.api`, so ``gto show`` and
``gto history`` read exactly the registry the workbench shows, and nothing lives outside
git. Each tag message carries, below GTO's own subject line, the model's DVC digest, one
digest of the evidence (validation report and model card, see
:mod:`workbench.versioning.evidence`), who approved the model and the actor's role::

    Registering artifact model version v1.0.0

    Model-Digest: md5:3f1c...
    Evidence-Digest: sha256:9a0e...
    Approved-By: Dana Ortiz <dana@example.com> (business_owner)
    Validation: passed
    Workbench-Role: ml_engineer

When the repository has an ``origin`` remote the new tag is pushed to it (``--no-push``
skips that); a failed push leaves the local tag and says how to push it by hand.

Why the checks live here: a registry write is a git write, so it takes the project lock
like every step; and production is refused unless the evidence *at the version's commit*
passes, because a stage is a statement about that version, not about the workspace.

This module is also where the workbench reads a file as a commit holds it
(:func:`show_file`) and fetches a model's bytes for a commit from DVC
(:func:`model_bytes_at`): the versioning layer is the only code that touches git, DVC and
GTO. gto is imported inside the functions (0.3-0.6 s), never at startup.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.errors import WorkbenchError
from workbench.versioning import git

ARTIFACT = "model"
STAGES = ("staging", "production")
MODEL_FILE = paths.MODEL_FILE
_SEMVER = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_FIELD = re.compile(r"^(Model-Digest|Evidence-Digest|Evidence-Commit|Approved-By|Validation|Data-Check|"
                    r"Data-Check-Override|Workbench-Role):[ \t]*(.*)$", re.MULTILINE)


# --- reading git objects and DVC ---------------------------------------------------------


def show_file(project_path: Path, commit: str, rel: str) -> bytes | None:
    """The bytes of the project-relative file ``rel`` as ``commit`` holds it (None if absent).

    Read from git objects (``git cat-file``), never from the workspace, and byte-exact,
    so digests taken here match digests of the committed file.
    """
    done = subprocess.run(
        ["git", "cat-file", "blob", f"{commit}:./{rel}"], cwd=str(project_path),
        capture_output=True, stdin=subprocess.DEVNULL, env=git._git_env(),
    )
    return done.stdout if done.returncode == 0 else None


def resolve_commit(project_path: Path, rev: str = "HEAD") -> str:
    """The full id of the commit ``rev`` names (a one-line error when there is none)."""
    out = git.run_git(Path(project_path), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if not out.strip():
        raise WorkbenchError(f"{rev} is not a commit of this repository: commit the model first")
    return out.strip()


def _md5_hex(digest: str) -> str:
    return digest.split(":", 1)[1] if ":" in digest else digest


def _file_md5(path: Path) -> str | None:
    """:func:`workbench.versioning.dvc.file_md5`, or None when ``path`` is not a file."""
    from workbench.versioning.dvc import file_md5

    return file_md5(path) if path.is_file() else None


def _cache_file(project_path: Path, md5: str) -> Path:
    """Where DVC 3's default local cache keeps a file with this md5."""
    return Path(project_path) / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def model_available(project_path: Path, digest: str) -> bool:
    """Whether the model with this DVC digest is in the workspace or the local DVC cache."""
    md5 = _md5_hex(digest)
    return _file_md5(Path(project_path) / MODEL_FILE) == md5 or _cache_file(project_path, md5).is_file()


def model_bytes_at(project_path: Path, digest: str, commit: str) -> bytes:
    """The model file of ``commit`` (DVC digest ``digest``): workspace, local cache, else DVC.

    The bytes are checked against the digest, so a file swapped in the cache or the
    workspace is never handed on as this version's model.
    """
    project_path = Path(project_path)
    md5 = _md5_hex(digest)
    data: bytes | None = None
    for candidate in (project_path / MODEL_FILE, _cache_file(project_path, md5)):
        if _file_md5(candidate) == md5:
            data = candidate.read_bytes()
            break
    if data is None:
        try:
            import dvc.api

            with dvc.api.open(MODEL_FILE, repo=str(project_path), rev=commit, mode="rb") as fh:
                data = fh.read()
        except Exception as exc:  # noqa: BLE001 - DVC raises many kinds; the user needs one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise WorkbenchError(
                f"the model of commit {commit[:7]} is neither in the workspace nor in the DVC cache, "
                f"and DVC could not fetch it ({first}): run 'dvc pull' or 'dvc fetch --all-commits'"
            ) from None
    if hashlib.md5(data, usedforsecurity=False).hexdigest() != md5:
        raise WorkbenchError(
            f"the model bytes found for commit {commit[:7]} do not match its dvc.lock ({digest}): "
            "run 'dvc checkout models/model.skops' or 'dvc pull' to restore it"
        )
    return data


def commits_touching(project_path: Path, rel: str, *, rev: str = "HEAD", limit: int = 200) -> list[str]:
    """Commits reachable from ``rev`` that changed the project-relative file ``rel``, newest first."""
    out = git.run_git(Path(project_path), "log", f"-{limit}", "--format=%H", rev, "--", f"./{rel}", check=False)
    return [line.strip() for line in out.splitlines() if line.strip()]


def newest_first(project_path: Path, commits: list[str]) -> list[str]:
    """``commits`` without repeats, ordered by committer date, newest first (the given order breaks ties)."""
    unique = list(dict.fromkeys(c for c in commits if c))
    if not unique:
        return []
    out = git.run_git(Path(project_path), "show", "-s", "--format=%H %ct", *unique, check=False)
    when = {}
    for line in out.splitlines():
        sha, _, stamp = line.partition(" ")
        if stamp.strip().isdigit():
            when[sha] = int(stamp)
    order = {c: i for i, c in enumerate(unique)}
    return sorted((c for c in unique if c in when), key=lambda c: (-when[c], order[c]))


def commit_author(project_path: Path, commit: str) -> tuple[str, str]:
    """(author name, author email) of ``commit``."""
    out = git.run_git(Path(project_path), "show", "-s", "--format=%an%x1f%ae", commit, check=False)
    name, _, email = out.strip().partition("\x1f")
    return name, email


# --- reading the registry ---------------------------------------------------------------


def parse_version(text: str) -> str:
    """``vX.Y.Z`` from a user's version (``1.2.0`` gets its ``v``); a one-line error otherwise."""
    match = _SEMVER.match(str(text).strip())
    if not match:
        raise WorkbenchError(f"version {text!r} is not a semantic version: write it like v1.2.0")
    return "v{}.{}.{}".format(*match.groups())


def _semver_key(version: str) -> tuple[int, int, int]:
    match = _SEMVER.match(version)
    return tuple(int(x) for x in match.groups()) if match else (-1, -1, -1)  # type: ignore[return-value]


def _fields(message: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip() for m in _FIELD.finditer(message or "")}


def _iso(when: Any) -> str:
    return when.isoformat() if hasattr(when, "isoformat") else str(when or "")


@dataclass(frozen=True)
class RegistryEvent:
    """One registry tag: a registration or a stage assignment."""

    at: str
    event: str  # registration | assignment
    version: str
    stage: str | None
    commit: str
    tag: str
    by: str
    email: str
    role: str
    approved_by: str
    evidence_digest: str
    model_digest: str
    data_check: str = ""
    data_check_override: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "event": self.event, "version": self.version, "stage": self.stage,
                "commit": self.commit, "tag": self.tag, "by": {"name": self.by, "email": self.email},
                "role": self.role, "approved_by": self.approved_by,
                "evidence_digest": self.evidence_digest, "model_digest": self.model_digest,
                "data_check": self.data_check, "data_check_override": self.data_check_override}


@dataclass(frozen=True)
class ModelVersion:
    """A registered version, its commit, who registered it and the stages it holds now."""

    version: str
    commit: str
    tag: str
    registered_at: str
    registered_by: str
    registered_email: str
    stages: tuple[str, ...]
    approved_by: str
    evidence_digest: str
    model_digest: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages"] = list(self.stages)
        data["registered_by"] = {"name": self.registered_by, "email": self.registered_email}
        del data["registered_email"]
        return data


@dataclass(frozen=True)
class Registry:
    """The registry of the ``model`` artifact as GTO reads it from the tags."""

    versions: tuple[ModelVersion, ...]  # newest version first
    stages: dict[str, str | None]  # stage -> version holding it
    events: tuple[RegistryEvent, ...]  # newest first

    def find(self, version: str) -> ModelVersion | None:
        return next((v for v in self.versions if v.version == version), None)

    def in_stage(self, stage: str) -> ModelVersion | None:
        held = self.stages.get(stage)
        return self.find(held) if held else None

    def next_version(self) -> str:
        """The version ``register`` picks by default: v1.0.0, then the next minor of the highest."""
        if not self.versions:
            return "v1.0.0"
        major, minor, _ = max(_semver_key(v.version) for v in self.versions)
        return f"v{major}.{minor + 1}.0"

    def to_json(self) -> dict[str, Any]:
        return {"artifact": ARTIFACT, "stages": {s: self.stages.get(s) for s in self.stage_names()},
                "versions": [v.to_json() for v in self.versions]}

    def stage_names(self) -> list[str]:
        return list(STAGES) + sorted(s for s in self.stages if s not in STAGES)


def _gto_error(exc: Exception) -> WorkbenchError:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return WorkbenchError(f"the registry (gto) refused: {text}")


def _event_order(e: RegistryEvent) -> tuple[str, int, tuple[int, ...]]:
    """Newest first; tag dates have one-second resolution, so within a second assignments
    follow registrations (as in GTO), assignments by their number, registrations by version."""
    if e.event == "assignment":
        n = e.tag.rsplit("#", 1)[-1]
        return e.at, 1, (int(n) if n.isdigit() else 0,)
    return e.at, 0, _semver_key(e.version)


def read_registry(project_path: Path) -> Registry:
    """Versions, current stages and events of the ``model`` artifact, read with gto.

    What gto read is remembered against the tags it read (:mod:`.registry_cache`): while no
    tag changes, the registry is read back without importing gto (0.3-0.6 s).
    """
    root = git.repo_root(Path(project_path))
    if root is None:
        raise WorkbenchError(f"{project_path} is not inside a git repository: open a workbench project")
    if not git.has_head(root):
        return Registry((), {}, ())
    from workbench.versioning import registry_cache

    digest = registry_cache.tags_digest(root)
    known = registry_cache.load(root, digest)
    if known is not None:
        return Registry(tuple(ModelVersion(**{**v, "stages": tuple(v["stages"])}) for v in known["versions"]),
                        dict(known["stages"]), tuple(RegistryEvent(**e) for e in known["events"]))
    registry = read_registry_with_gto(root)
    registry_cache.store(root, digest, {"versions": [asdict(v) for v in registry.versions],
                                        "stages": registry.stages, "events": [asdict(e) for e in registry.events]})
    return registry


def _remember(project_path: Path) -> None:
    """Read the registry just written (gto is loaded) so that the next read finds it cached."""
    try:
        read_registry(project_path)
    except WorkbenchError:
        pass  # the tag stands; the next read goes through gto


def read_registry_with_gto(root: Path) -> Registry:
    """:func:`read_registry` with gto itself, never from the cache (``root``: a repository with a HEAD)."""
    import gto.api
    from gto.exceptions import GTOException

    try:
        overview = gto.api.show(str(root))
        if ARTIFACT not in (overview or {}):
            return Registry((), {}, ())
        found = gto.api.show(str(root), ARTIFACT, deprecated=False)
        raw_events = gto.api.history(str(root), ARTIFACT)
    except GTOException as exc:
        raise _gto_error(exc) from None
    stage_map = dict(((overview or {}).get(ARTIFACT) or {}).get("stage") or {})
    events = []
    for e in raw_events:
        if e.get("event") not in ("registration", "assignment"):
            continue
        f = _fields(e.get("message") or "")
        events.append(RegistryEvent(
            at=_iso(e.get("timestamp")), event=str(e["event"]), version=str(e.get("version") or ""),
            stage=e.get("stage"), commit=str(e.get("commit") or ""), tag=str(e.get("ref") or ""),
            by=str(e.get("author") or ""), email=str(e.get("author_email") or ""),
            role=f.get("Workbench-Role", ""), approved_by=f.get("Approved-By", ""),
            evidence_digest=f.get("Evidence-Digest", ""), model_digest=f.get("Model-Digest", ""),
            data_check=f.get("Data-Check", ""), data_check_override=f.get("Data-Check-Override", ""),
        ))
    events.sort(key=_event_order, reverse=True)
    versions = []
    for v in found:
        registrations = v.get("registrations") or []
        if not registrations or not v.get("is_active", True):
            continue
        reg = registrations[-1]
        f = _fields(reg.get("message") or "")
        versions.append(ModelVersion(
            version=str(v["version"]), commit=str(v["commit_hexsha"]), tag=str(reg.get("tag") or ""),
            registered_at=_iso(reg.get("created_at")), registered_by=str(reg.get("author") or ""),
            registered_email=str(reg.get("author_email") or ""),
            stages=tuple(s for s, held in stage_map.items() if held == v["version"]),
            approved_by=f.get("Approved-By", ""), evidence_digest=f.get("Evidence-Digest", ""),
            model_digest=f.get("Model-Digest", ""),
        ))
    versions.sort(key=lambda v: _semver_key(v.version), reverse=True)
    return Registry(tuple(versions), stage_map, tuple(events))


def production_version(git_root: Path, artifact: str) -> dict[str, Any] | None:
    """The version GTO has in ``production`` for ``artifact`` (artifact, version, commit, tag), or None.

    None as well when there is no registry, no such artifact or no tags: a caller asking
    "what is in production?" before anything was registered gets no answer, not an error.
    """
    try:
        import gto.api

        found = gto.api.find_versions_in_stage(str(git_root), artifact, "production")
    except Exception:  # noqa: BLE001 - no registry, no artifact, no tags: no production model
        return None
    if not found:
        return None
    version = found[0] if isinstance(found, list) else found
    tags = [a.tag for a in getattr(version, "assignments", []) or [] if getattr(a, "tag", None)]
    return {"artifact": artifact, "version": str(version.version), "commit": str(version.commit_hexsha),
            "tag": tags[-1] if tags else None}


def resolve_version(project_path: Path, version: str | None = None, stage: str | None = None,
                    registry: Registry | None = None) -> tuple[ModelVersion, Registry]:
    """The version a command is about: ``version`` if given, else the one in ``stage``."""
    reg = registry or read_registry(project_path)
    if version:
        wanted = parse_version(version)
        found = reg.find(wanted)
        if found is None:
            known = ", ".join(v.version for v in reg.versions[:5]) or "none yet"
            raise WorkbenchError(f"model {wanted} is not registered (registered: {known}): "
                                 "see 'mlops-workbench model list'")
        return found, reg
    stage = stage or "production"
    found = reg.in_stage(stage)
    if found is None:
        raise WorkbenchError(f"no model version is in {stage}: give --version V, or promote one with "
                             f"'mlops-workbench model promote VERSION --stage {stage}'")
    return found, reg


# --- writing the registry ---------------------------------------------------------------


_WRITERS = frozenset(("RegistryWrite", "register_model", "promote_model", "production_readiness"))


def __getattr__(name: str) -> Any:
    """The writers (register, promote, production readiness) are in :mod:`registry_write`; named
    here too, imported on first use, so ``from workbench.versioning.registry import promote_model``
    keeps working without a cycle at import time."""
    if name in _WRITERS:
        from workbench.versioning import registry_write

        return getattr(registry_write, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
