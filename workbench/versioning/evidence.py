"""The evidence a model carries on its way to production, and the rule that reads it.

Three steps leave evidence in git, each as a file committed by its own step:

- validation writes ``reports/validation.json`` (``passed``, the gates, and ``model``:
  the digest of the model it judged);
- review writes ``reports/model_card.md`` (the card the reviewer read) and
  ``reports/review.json`` (the decision, who made it, and the digests of the model,
  the validation report and the card it was made on);
- the registry (GTO tags) refuses the production stage unless :func:`promotion_blockers`
  is empty, and writes the approver and :func:`evidence_digest` into the tag message.

A model is named by its DVC hash (the ``md5`` of ``models/model.skops`` in ``dvc.lock``):
the same bytes DVC stores in its cache, so "that exact model" means the same thing to
the workbench, to ``dvc status`` and to a reviewer reading the lock file. Any change to
the model, the report or the card after the decision changes a digest and voids it.

The same rule reads two places: the workspace (:func:`promotion_blockers`, what the
validation and review screens show) and a commit (:func:`promotion_blockers_at`, what
``model promote VERSION --stage production`` checks: the files as that registered
version's commit holds them, read from git objects, and the model digest from that
commit's ``dvc.lock``), so editing the workspace can never promote an old version.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.errors import WorkbenchError

#: Reads a project-relative file's bytes (None when it does not exist).
Reader = Callable[[str], "bytes | None"]

MODEL_FILE = paths.MODEL_FILE
VALIDATION_FILE = paths.VALIDATION_REPORT
VALIDATION_REPORT = paths.VALIDATION_MD
CARD_FILE = paths.MODEL_CARD
REVIEW_FILE = paths.REVIEW_FILE
DATA_CHECK_FILE = paths.DATA_CHECK_REPORT
#: Charter roles that may sign a model off when ``governance.independent_review`` is on: the
#: business owner (the use is theirs) and the ML engineer (who will run it); data scientists
#: and researchers build models, so they do not approve them.
REVIEWING_ROLES = ("business_owner", "ml_engineer")


def file_digest(path: Path) -> str | None:
    """``sha256:<hex>`` of a file's bytes, or None when it does not exist."""
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def _safe_yaml(text: bytes | str) -> Any:
    """``yaml.safe_load`` with libyaml's loader when PyYAML has it (the same values, ten times
    faster: a ``dvc.lock`` is read several times by ``review``, ``status`` and ``check``)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (safe)


@functools.lru_cache(maxsize=32)
def _lock_model_digest(lock_text: bytes | str | None) -> str | None:
    """``md5:<hex>`` of the model in a ``dvc.lock``'s text, or None (remembered per text)."""
    import yaml

    if lock_text is None:
        return None
    try:
        data = _safe_yaml(lock_text) or {}
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    stages = data.get("stages")
    for stage in (stages.values() if isinstance(stages, dict) else []):
        if not isinstance(stage, dict):
            continue
        for out in stage.get("outs") or []:
            if isinstance(out, dict) and out.get("path") == MODEL_FILE and out.get("md5"):
                return "md5:" + str(out["md5"])
    return None


def model_digest(root: Path) -> str | None:
    """``md5:<hex>`` of the model as ``dvc.lock`` records it (None before the first run).

    Falls back to hashing the file itself when the lock has no entry (a team's own
    train cmd that DVC has not locked yet), so a model is never anonymous.
    """
    lock = root / "dvc.lock"
    found = _lock_model_digest(lock.read_bytes()) if lock.is_file() else None
    if found:
        return found
    path = root / MODEL_FILE
    if not path.is_file():
        return None
    return "md5:" + hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _json_of(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _bytes_digest(data: bytes | None) -> str | None:
    return None if data is None else "sha256:" + hashlib.sha256(data).hexdigest()


def workspace_reader(root: Path) -> Reader:
    """A :data:`Reader` over the project folder."""

    def read(rel: str) -> bytes | None:
        try:
            return (Path(root) / rel).read_bytes()
        except OSError:
            return None

    return read


def commit_reader(root: Path, commit: str) -> Reader:
    """A :data:`Reader` over the files as ``commit`` holds them (git objects, not the workspace)."""
    from workbench.versioning.registry import show_file

    cache: dict[str, bytes | None] = {}

    def read(rel: str) -> bytes | None:
        if rel not in cache:
            cache[rel] = show_file(Path(root), commit, rel)
        return cache[rel]

    return read


def read_json(root: Path, rel: str) -> dict[str, Any] | None:
    """A committed JSON evidence file, or None when missing or unreadable."""
    return _json_of(workspace_reader(root)(rel))


def _evidence_digest(read: Reader) -> str:
    h = hashlib.sha256()
    for rel in (VALIDATION_FILE, CARD_FILE):
        h.update(rel.encode() + b"\0" + (_bytes_digest(read(rel)) or "missing").encode() + b"\0")
    return "sha256:" + h.hexdigest()


def evidence_digest(root: Path) -> str:
    """One digest over the validation report and the model card (what a tag message carries)."""
    return _evidence_digest(workspace_reader(root))


def _blockers(model: str | None, read: Reader) -> list[str]:
    if model is None:
        return ["there is no trained model: run `mlops-workbench train` and promote an experiment"]
    reasons: list[str] = []
    validation_bytes = read(VALIDATION_FILE)
    validation = _json_of(validation_bytes)
    if validation is None:
        reasons.append("the model has not been validated: run `mlops-workbench validate`")
    else:
        judged = (validation.get("model") or {}).get("digest")
        if judged != model:
            reasons.append("the validation report is for another model: run `mlops-workbench validate` again")
        elif not validation.get("passed"):
            failed = [g.get("name", "?") for g in validation.get("gates", [])
                      if isinstance(g, dict) and g.get("passed") is False]
            reasons.append("the model failed validation" + (f" ({', '.join(failed)})" if failed else "")
                           + ": see reports/validation.md")
    review = _json_of(read(REVIEW_FILE))
    if review is None:
        reasons.append("the model has no sign-off: run `mlops-workbench review approve --comment ...`")
    elif review.get("model_digest") != model:
        reasons.append("the sign-off is for another model: review this model again")
    elif review.get("decision") != "approved":
        who = (review.get("reviewer") or {}).get("name", "the reviewer")
        reasons.append(f"the model was rejected by {who}: {review.get('comment') or 'no comment'}")
    elif review.get("validation_digest") != _bytes_digest(validation_bytes):
        reasons.append("the validation report changed after the sign-off: review the model again")
    elif review.get("card_digest") != _bytes_digest(read(CARD_FILE)):
        reasons.append("the model card changed after the sign-off: review the model again")
    return reasons


def promotion_blockers(root: Path) -> list[str]:
    """Why the current model may not reach production; empty when it may.

    Each reason is one line a person can act on. Besides the validation report and the
    sign-off in the workspace, the ``governance`` rules (approvals counted over
    reports/review.json's history from HEAD, as production counts them) and the data check
    of the model's data are named here, so the review screen says what production will say.
    """
    model = model_digest(root)
    reasons = _blockers(model, workspace_reader(root))
    if model is None:
        return reasons
    try:
        governance, team = project_governance(root)
    except WorkbenchError as exc:
        return [*reasons, str(exc)]
    from workbench.versioning.git import has_head, head, repo_root

    git_root = repo_root(root)
    if not reasons and git_root is not None and has_head(git_root) and (
            governance.independent_review or governance.approvals > 1):
        from workbench.versioning.registry import commits_touching, newest_first

        tip = head(git_root)
        found = evidence_at(root, tip, governance=governance, team=team,
                            history=newest_first(root, [*commits_touching(root, REVIEW_FILE), tip]))
        reasons += [line for line in found.blockers if line.startswith("production needs")]
    state, line = data_check_state(workspace_reader(root))
    if state in ("NO-GO", "stale"):
        reasons.append(f"{line}: run 'mlops-workbench data check' on the data the model was trained on, "
                       "or promote with --override-data-check \"reason\"")
    return reasons


# --- the same rule at a commit (what the registry checks) -------------------------------


def model_digest_at(root: Path, commit: str) -> str | None:
    """``md5:<hex>`` of the model in ``commit``'s ``dvc.lock`` (None when it has none)."""
    return _lock_model_digest(commit_reader(root, commit)("dvc.lock"))


def evidence_digest_at(root: Path, commit: str) -> str:
    """:func:`evidence_digest` over the files as ``commit`` holds them."""
    return _evidence_digest(commit_reader(root, commit))


def promotion_blockers_at(root: Path, commit: str) -> list[str]:
    """Why the model of ``commit`` may not reach production; empty when it may.

    Reads the validation report, the card and the sign-off from git objects at
    ``commit`` and the model digest from that commit's ``dvc.lock``: a registered
    version is judged on what it was registered with, never on the workspace.
    """
    read = commit_reader(root, commit)
    return _blockers(_lock_model_digest(read("dvc.lock")), read)


# --- governance: who may approve, how many approvals production needs -------------------


@dataclass(frozen=True)
class Governance:
    """``governance:`` in workbench.yaml (defaults: anyone may approve, one approval)."""

    independent_review: bool = False
    approvals: int = 1


def read_governance(config: dict[str, Any]) -> Governance:
    """The checked ``governance`` section of a loaded workbench.yaml; one line for a bad value.

    Types and ranges are the schema's (:func:`workbench.config.governance`); what the schema
    allows and this refuses is a key that is not a governance setting.
    """
    from workbench.config import governance

    raw = config.get("governance")
    if isinstance(raw, dict):
        unknown = [k for k in raw if k not in ("independent_review", "approvals")]
        if unknown:
            raise WorkbenchError(f"governance has no setting {unknown[0]!r}: use independent_review, approvals")
    typed = governance(config)
    return Governance(independent_review=typed.independent_review, approvals=typed.approvals)


def project_governance(root: Path) -> tuple[Governance, tuple[Any, ...]]:
    """(governance settings, charter team) from workbench.yaml as committed at HEAD.

    What production and sign-off require is the project's decision, so an uncommitted edit of
    the workspace's copy (a lower ``governance.approvals``, a member added by hand) does not
    lower the bar until it is committed; a project whose workbench.yaml has no commit yet, or
    whose committed copy cannot be read, is read from the workspace. A wrong setting in the
    workspace's copy is refused either way (one line), so a typo is never silently ignored.
    """
    from workbench.project import Project, charter_from_config

    workspace = Project(root).read_config()
    read_governance(workspace)  # a wrong setting in the file is said at once, committed or not
    config = _committed_config(root)
    if config is None:
        config = workspace
    return read_governance(config), charter_from_config(config).team


def _committed_config(root: Path) -> dict[str, Any] | None:
    """HEAD's workbench.yaml, checked by the schema; None when HEAD has none or it does not read."""
    import yaml

    from workbench.config_check import check_workbench_config
    from workbench.versioning import git

    text = git.run_git(Path(root), "show", "HEAD:./workbench.yaml", check=False)
    if not text:
        return None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (safe)
        if not isinstance(data, dict) or not isinstance(data.get("charter"), dict):
            return None
        check_workbench_config(data)
    except (yaml.YAMLError, WorkbenchError):
        return None
    return data


def _same_person(a_name: str, a_email: str, b_name: str, b_email: str) -> bool:
    if a_email and b_email:
        return a_email.strip().lower() == b_email.strip().lower()
    return bool(a_name) and a_name.strip().lower() == (b_name or "").strip().lower()


def team_member(team: tuple[Any, ...], name: str, email: str) -> Any | None:
    """The charter team member with this git identity (email first, then name), or None."""
    for member in team:
        if member.email and email and member.email.strip().lower() == email.strip().lower():
            return member
    for member in team:
        if member.name and name and member.name.strip().lower() == name.strip().lower():
            return member
    return None


def model_author(root: Path, commit: str, model: str) -> tuple[str, str, str] | None:
    """(commit, author name, author email) of the commit that put ``model`` into dvc.lock
    (None when no commit up to ``commit`` holds it).

    Walks the commits that changed ``dvc.lock`` back from ``commit`` and keeps the oldest
    one of the run that already names this model: later commits (a validation, a review)
    only carried it along.
    """
    from workbench.versioning.registry import commit_author, commits_touching

    found = None
    for sha in commits_touching(root, "dvc.lock", rev=commit):
        if _lock_model_digest(commit_reader(root, sha)("dvc.lock")) != model:
            break
        found = sha
    if found is None:
        return None  # no commit holds this model yet
    name, email = commit_author(root, found)
    return found, name, email


def reviewer_refusal(governance: Governance, team: tuple[Any, ...], name: str, email: str,
                     author: tuple[str, str, str] | None) -> str | None:
    """Why this person may not approve the model under ``governance`` (None when they may)."""
    if not governance.independent_review:
        return None
    member = team_member(team, name, email)
    if member is None:
        return (f"{name} <{email}> is not in the charter team, and governance.independent_review needs "
                "a team member to approve: add them with 'mlops-workbench charter set --add-member "
                "\"Name,email,business_owner\"' or ask a team member to review")
    if member.role not in REVIEWING_ROLES:
        return (f"{member.name} is {member.role} in the charter, and governance.independent_review lets "
                f"only {' or '.join(REVIEWING_ROLES)} approve: ask one of them to review")
    if author is not None and _same_person(author[1], author[2], member.name, member.email):
        return (f"{member.name} authored the model's commit {author[0][:7]}, and "
                "governance.independent_review needs someone else to approve it: ask another reviewer")
    return None


# --- the data check of the model's data --------------------------------------------------


def _trained_data(read: Reader) -> dict[str, str]:
    """Source path -> md5 the model was trained on (dvc.lock deps that no stage writes)."""
    import yaml

    try:
        lock = _safe_yaml(read("dvc.lock") or b"") or {}
    except yaml.YAMLError:
        return {}
    stages = lock.get("stages") if isinstance(lock, dict) else None
    if not isinstance(stages, dict):
        return {}
    outs = {str(o.get("path")) for st in stages.values() if isinstance(st, dict)
            for o in st.get("outs") or [] if isinstance(o, dict)}
    deps: dict[str, str] = {}
    for stage in stages.values():
        for dep in (stage or {}).get("deps") or [] if isinstance(stage, dict) else []:
            if isinstance(dep, dict) and dep.get("md5") and str(dep.get("path")) not in outs:
                deps.setdefault(str(dep["path"]).rstrip("/"), str(dep["md5"]))
    return deps


def _stale(report: dict[str, Any], trained: dict[str, str]) -> str | None:
    checked = {str(src.get("path") or "").rstrip("/"): str(src.get("dvc_md5") or "")
               for src in report.get("sources") or [] if isinstance(src, dict)}
    for path, md5 in sorted(trained.items()):
        if checked.get(path) != md5:
            judged = checked.get(path) or "none"
            return (f"the data check (reports/data_check.json) is stale: it judged {path} at md5 "
                    f"{judged[:12]}, but the model was trained on md5 {md5[:12]}")
    return None


def data_check_state(read: Reader, later: list[Reader] | None = None) -> tuple[str, str]:
    """(``GO`` | ``NO-GO`` | ``stale`` | ``missing``, one line) for the data check of the model's data.

    The report at the model's commit (``read``) judges it when it names the md5s the model
    was trained on (dvc.lock's deps at that commit); else the newest of the ``later``
    reports (the data check's history from HEAD) that names them; else it is stale.
    """
    trained = _trained_data(read)
    own = _json_of(read(DATA_CHECK_FILE))
    report = own if own is not None and _stale(own, trained) is None else None
    for other in (later or []) if report is None else []:
        candidate = _json_of(other(DATA_CHECK_FILE))
        if candidate is not None and _stale(candidate, trained) is None:
            report = candidate
            break
    if report is None:
        if own is None:
            return "missing", "no data check was recorded for this model's data"
        return "stale", str(_stale(own, trained))
    verdict = str(report.get("verdict") or "")
    if verdict != "GO":
        reasons = [str(r) for r in report.get("reasons") or []]
        return "NO-GO", ("the data check of the model's data is NO-GO"
                         + (f" ({reasons[0]})" if reasons else "") + " (reports/data_check.json)")
    return "GO", "the data check of the model's data is GO"


# --- the evidence of a model, as the registry reads it ------------------------------------


@dataclass(frozen=True)
class Approval:
    """One recorded approval of a model: who, in which role, in which commit."""

    name: str
    email: str
    role: str
    commit: str
    at: str

    def line(self) -> str:
        text = self.name or "?"
        if self.email:
            text += f" <{self.email}>"
        if self.role:
            text += f" ({self.role})"
        return text


@dataclass(frozen=True)
class Evidence:
    """What a commit says about its model: the digests, the verdict and who approved it."""

    model_digest: str | None
    evidence_digest: str
    validation: str  # passed | failed | missing | other model
    approver: dict[str, str] | None  # {"name", "email", "role"} when approved for this model
    blockers: tuple[str, ...]
    approvals: tuple[Approval, ...] = ()  # distinct people, newest first
    evidence_commit: str | None = None  # the commit whose validation, card and sign-off are used
    data_check: str = "missing"  # GO | NO-GO | stale | missing
    data_check_line: str = ""

    def approver_line(self) -> str:
        """``Name <email> (role)[; ...]`` or ``none``: the ``Approved-By`` line of a registry tag."""
        if self.approvals:
            return "; ".join(a.line() for a in self.approvals)
        if not self.approver:
            return "none"
        a = self.approver
        text = a.get("name") or "?"
        if a.get("email"):
            text += f" <{a['email']}>"
        if a.get("role"):
            text += f" ({a['role']})"
        return text


def _verdict(model: str | None, read: Reader) -> str:
    validation = _json_of(read(VALIDATION_FILE))
    if validation is None:
        return "missing"
    if (validation.get("model") or {}).get("digest") != model:
        return "other model"
    return "passed" if validation.get("passed") else "failed"


def evidence_at(root: Path, commit: str, *, history: list[str] | None = None,
                governance: Governance | None = None, team: tuple[Any, ...] = (),
                data_override: str | None = None, data_history: list[str] | None = None) -> Evidence:
    """The evidence of ``commit``'s model: digests, validation verdict, approvals, blockers.

    With ``history`` (commits, newest first, that may hold a sign-off; the registry passes
    the commits that changed reports/review.json and every version of the same model), an
    approval of this model's digest counts wherever it was committed: registering before
    the approval does not strand the version. Each approval is judged in its own commit
    (a passing validation report for this digest and the card the reviewer read), the
    newest rejection of the digest voids the approvals before it, and ``governance`` says
    who may approve and how many distinct people must. The data check is that of the
    model's commit, or a later one (``data_history``) that judged the same data; NO-GO or
    stale blocks production unless ``data_override`` gives a reason.
    """
    root = Path(root)
    gov = governance or Governance()
    read = commit_reader(root, commit)
    model = _lock_model_digest(read("dvc.lock"))
    commits = list(dict.fromkeys([*(history or []), commit])) if history else [commit]
    approvals: list[Approval] = []
    seen_reviews: set[str] = set()
    first_blockers: list[str] | None = None
    rejection: list[str] | None = None
    evidence_commit: str | None = None
    approver: dict[str, str] | None = None
    for sha in commits:
        r = read if sha == commit else commit_reader(root, sha)
        raw = r(REVIEW_FILE)
        review = _json_of(raw)
        if not review or not model or review.get("model_digest") != model:
            continue
        key = _bytes_digest(raw) or ""
        if key in seen_reviews:
            continue
        seen_reviews.add(key)
        if review.get("decision") != "approved":
            rejection = _blockers(model, r)
            break
        blockers = _blockers(model, r)
        if blockers:
            first_blockers = first_blockers or blockers
            continue
        who = review.get("reviewer") or {}
        approval = Approval(name=str(who.get("name") or ""), email=str(who.get("email") or ""),
                            role=str(who.get("role") or ""), commit=sha, at=str(review.get("at") or ""))
        if evidence_commit is None:
            evidence_commit = sha
            approver = {"name": approval.name, "email": approval.email, "role": approval.role}
        if not any(_same_person(a.name, a.email, approval.name, approval.email) for a in approvals):
            approvals.append(approval)
    evidence_read = read if evidence_commit in (None, commit) else commit_reader(root, evidence_commit)
    reasons: list[str]
    if model is None or not approvals:
        reasons = rejection or first_blockers or _blockers(model, read)
    else:
        reasons = []
        author = model_author(root, commit, model) if gov.independent_review else None
        counted: list[tuple[Any, str | None]] = []
        refused: list[tuple[Any, str | None]] = []
        for a in approvals:
            why = reviewer_refusal(gov, team, a.name, a.email, author)
            (refused if why else counted).append((a, why))
        if len(counted) < gov.approvals:
            names = ", ".join(a.name for a, _ in counted) or "none that counts"
            reasons.append(
                f"production needs {gov.approvals} approval(s) by distinct people (governance.approvals), "
                f"this model has {len(counted)} ({names})"
                + (f"; not counted: {refused[0][1]}" if refused else "")
                + ": another reviewer runs 'mlops-workbench review approve --comment ...'")
        approvals = [a for a, _ in counted] if gov.independent_review else approvals
    state, line = data_check_state(read, [commit_reader(root, c) for c in data_history or [] if c != commit])
    if model is not None and state in ("NO-GO", "stale") and not (data_override or "").strip():
        reasons.append(f"{line}: run 'mlops-workbench data check' on the data the model was trained on, "
                       "or promote with --override-data-check \"reason\"")
    if gov.independent_review and approvals:
        first = approvals[0]
        approver = {"name": first.name, "email": first.email, "role": first.role}
    return Evidence(model_digest=model, evidence_digest=_evidence_digest(evidence_read),
                    validation=_verdict(model, evidence_read), approver=approver,
                    blockers=tuple(reasons), approvals=tuple(approvals), evidence_commit=evidence_commit,
                    data_check=state, data_check_line=line)
