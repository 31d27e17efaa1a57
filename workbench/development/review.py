"""Review & governance: a reviewer's recorded sign-off on the model and its card.

The card itself (``reports/model_card.md``, written by :func:`write_card`) is
:mod:`workbench.development.model_card`.

:func:`decide` records ``approved`` or ``rejected`` in ``reports/review.json`` with the
reviewer (git identity and role), the comment, and the digests of the model, the
validation report and the card the decision was made on (see
:mod:`workbench.versioning.evidence`). Approval is refused unless the current model has
a passing validation; a card made for another model or report is refreshed in the same
commit first. The history of decisions is ``git log -- reports/review.json``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.development.model_card import (
    CardResult,
    CardWriter,
    build_card,
    card_is_current,
    write_card,
)
from workbench.errors import WorkbenchError
from workbench.versioning.evidence import (
    CARD_FILE,
    REVIEW_FILE,
    VALIDATION_FILE,
    file_digest,
    model_digest,
    promotion_blockers,
    read_json,
)

DECISIONS = ("approved", "rejected")


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionResult:
    """A recorded sign-off."""

    commit: str | None
    review: dict[str, Any]
    card_refreshed: bool
    messages: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReviewStatus:
    """Where the review stands for the current model."""

    model_digest: str | None
    card_text: str | None
    card_current: bool
    validation: dict[str, Any] | None
    decision: dict[str, Any] | None
    holds: bool
    blockers: tuple[str, ...]
    history: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "model_digest": self.model_digest,
            "card": {"path": CARD_FILE, "exists": self.card_text is not None, "current": self.card_current},
            "validation": self.validation,
            "decision": self.decision,
            "holds": self.holds,
            "blockers": list(self.blockers),
            "history": list(self.history),
        }


# --- deciding --------------------------------------------------------------------------


def _clean_comment(comment: str | None) -> str:
    text = (comment or "").strip()
    if not text:
        raise WorkbenchError("a decision needs a comment: say why, e.g. --comment \"meets the charter, "
                             "fairness gap acceptable\"")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise WorkbenchError("the comment contains control characters: use plain text")
    if len(text) > 2000:
        raise WorkbenchError("the comment is longer than 2000 characters: shorten it")
    return text


def _check_reviewer(root: Path, who: Any, role: str | None, digest: str) -> None:
    """Refuse an approval that ``governance`` in workbench.yaml does not allow (one line).

    Also refuses when the model file in the workspace is not the one ``dvc.lock`` names:
    the reviewer would sign off bytes they are not looking at.
    """
    from workbench.versioning.evidence import (
        MODEL_FILE,
        model_author,
        project_governance,
        reviewer_refusal,
        team_member,
    )
    from workbench.versioning.git import has_head, head

    path = root / MODEL_FILE
    if path.is_file() and digest.startswith("md5:"):
        actual = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        if actual != digest[4:]:
            raise WorkbenchError(f"{MODEL_FILE} is not the model dvc.lock names ({digest}): restore it with "
                                 "'dvc checkout models/model.skops' or retrain and validate, then approve")
    governance, team = project_governance(root)
    if not governance.independent_review:
        return
    member = team_member(team, who.name, who.email)
    if member is not None and role and role != member.role:
        raise WorkbenchError(f"{member.name} is {member.role} in the charter: governance.independent_review "
                             f"records that role, so approve without --role {role}")
    author = model_author(root, head(root), digest) if has_head(root) else None
    if author is None:
        raise WorkbenchError("cannot approve: the model is not committed yet, and governance.independent_review "
                             "checks who authored its commit: commit it (e.g. 'mlops-workbench exp promote NAME'), "
                             "validate, then approve")
    why = reviewer_refusal(governance, team, who.name, who.email, author)
    if why:
        raise WorkbenchError(f"cannot approve: {why}")


def decide(project_path: str | Path, decision: str, comment: str | None, *,
           role: str | None = None) -> DecisionResult:
    """Record ``approved`` or ``rejected`` for the current model in one commit of the review step."""
    from workbench.project import Project
    from workbench.versioning.git import identity
    from workbench.versioning.step import begin_step, resolve_role

    if decision not in DECISIONS:
        raise WorkbenchError(f"decision {decision!r} is not known: use approved or rejected")
    text = _clean_comment(comment)
    project = Project(project_path)
    project.read_config()
    root = project.path
    digest = model_digest(root)
    if digest is None:
        raise WorkbenchError("there is no trained model to review: run 'mlops-workbench train' first")
    validation = read_json(root, VALIDATION_FILE)
    if decision == "approved":
        if validation is None:
            raise WorkbenchError("the model has not been validated, so it cannot be approved: "
                                 "run 'mlops-workbench validate' first")
        if (validation.get("model") or {}).get("digest") != digest:
            raise WorkbenchError("the validation report is for another model, so this one cannot be approved: "
                                 "run 'mlops-workbench validate' for the current model first")
        if not validation.get("passed"):
            failed = [g.get("name", "?") for g in validation.get("gates") or [] if g.get("passed") is False]
            raise WorkbenchError("the model failed validation (" + ", ".join(failed) + "), so it cannot be "
                                 "approved: improve it and validate again, or reject it")
    who = identity(root)
    if decision == "approved":
        _check_reviewer(root, who, role, digest)
    role = resolve_role(root, "review", who, role)
    refresh = not card_is_current(root)
    card_text = build_card(root)[0] if refresh else None
    writer = CardWriter(root)
    verb = "approve" if decision == "approved" else "reject"
    first = text.splitlines()[0]
    summary = f"{verb} model {digest[4:12]}: {first[:60]}{'…' if len(first) > 60 else ''}"
    try:
        with begin_step(root, "review", paths=[REVIEW_FILE], role=role, summary=summary) as step:
            if card_text is not None:
                writer.write(step, card_text)
            else:
                writer.include_if_dirty(step)
            review = {
                "schema": 1,
                "decision": decision,
                "reviewer": {"name": who.name, "email": who.email, "role": role},
                "comment": text,
                "model_digest": digest,
                "validation_digest": file_digest(root / VALIDATION_FILE),
                "card_digest": file_digest(root / CARD_FILE),
                "validation_passed": None if validation is None else bool(validation.get("passed")),
                "at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            }
            step.write_text(REVIEW_FILE, json.dumps(review, indent=2, ensure_ascii=False) + "\n")
            step.body = (f"{text}\n\nReviewer: {who.name} <{who.email}> ({role})\nModel: {digest}\n"
                         f"Validation: {review['validation_digest']}\nCard: {review['card_digest']}")
    except BaseException:
        writer.restore()
        raise
    messages = list(step.messages)
    if card_text is not None:
        messages.append(f"refreshed {CARD_FILE} for this model and committed it with the decision")
    return DecisionResult(commit=step.commit, review=review, card_refreshed=card_text is not None,
                          messages=tuple(messages))


# --- reading ---------------------------------------------------------------------------


def review_history(project_path: str | Path, *, limit: int = 50) -> list[dict[str, Any]]:
    """Every decision ever recorded, newest first, from ``git log -- reports/review.json``."""
    from workbench.versioning.git import file_at, file_log, repo_root

    root = Path(project_path).absolute()
    git_root = repo_root(root)
    if git_root is None:
        return []
    rel = (root / REVIEW_FILE).resolve().relative_to(git_root).as_posix()
    out = []
    for sha, when in file_log(git_root, rel, limit=limit):
        text = file_at(git_root, sha, rel)
        try:
            data = json.loads(text)
        except ValueError:
            continue  # the commit that deleted the file
        if not isinstance(data, dict):
            continue
        out.append({"commit": sha, "when": when, "decision": data.get("decision"),
                    "reviewer": data.get("reviewer"), "comment": data.get("comment"),
                    "model_digest": data.get("model_digest"), "at": data.get("at")})
    return out


def review_status(project_path: str | Path) -> ReviewStatus:
    """The card, the current decision, whether it still holds, and the history of decisions."""
    root = Path(project_path).absolute()
    digest = model_digest(root)
    card_path = root / CARD_FILE
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else None
    validation = read_json(root, VALIDATION_FILE)
    summary = None
    if validation is not None:
        summary = {"passed": bool(validation.get("passed")),
                   "current": (validation.get("model") or {}).get("digest") == digest,
                   "validated_at": validation.get("validated_at")}
    decision = read_json(root, REVIEW_FILE)
    blockers = tuple(promotion_blockers(root))
    if decision is None:
        holds = False
    elif decision.get("decision") == "approved":
        holds = not blockers
    else:
        holds = decision.get("model_digest") == digest
    return ReviewStatus(model_digest=digest, card_text=card, card_current=card_is_current(root),
                        validation=summary, decision=decision, holds=holds, blockers=blockers,
                        history=tuple(review_history(root)))


# CardResult and write_card are the card's (model_card); named here too for the review view's imports.
__all__ = ["DECISIONS", "CardResult", "DecisionResult", "ReviewStatus", "decide", "review_history", "review_status",
           "write_card"]
