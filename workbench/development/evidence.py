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

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Reads a project-relative file's bytes (None when it does not exist).
Reader = Callable[[str], "bytes | None"]

MODEL_FILE = "models/model.skops"
VALIDATION_FILE = "reports/validation.json"
VALIDATION_REPORT = "reports/validation.md"
CARD_FILE = "reports/model_card.md"
REVIEW_FILE = "reports/review.json"


def file_digest(path: Path) -> str | None:
    """``sha256:<hex>`` of a file's bytes, or None when it does not exist."""
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def _lock_model_digest(lock_text: bytes | str | None) -> str | None:
    """``md5:<hex>`` of the model in a ``dvc.lock``'s text, or None."""
    import yaml

    if lock_text is None:
        return None
    try:
        data = yaml.safe_load(lock_text) or {}
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

    Each reason is one line a person can act on.
    """
    return _blockers(model_digest(root), workspace_reader(root))


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


@dataclass(frozen=True)
class Evidence:
    """What a commit says about its model: the digests, the verdict and who approved it."""

    model_digest: str | None
    evidence_digest: str
    validation: str  # passed | failed | missing | other model
    approver: dict[str, str] | None  # {"name", "email", "role"} when approved for this model
    blockers: tuple[str, ...]

    def approver_line(self) -> str:
        """``Name <email> (role)`` or ``none``: the ``Approved-By`` line of a registry tag."""
        if not self.approver:
            return "none"
        a = self.approver
        text = a.get("name") or "?"
        if a.get("email"):
            text += f" <{a['email']}>"
        if a.get("role"):
            text += f" ({a['role']})"
        return text


def evidence_at(root: Path, commit: str) -> Evidence:
    """The evidence of ``commit`` in one read (digests, validation verdict, approver, blockers)."""
    read = commit_reader(root, commit)
    model = _lock_model_digest(read("dvc.lock"))
    validation = _json_of(read(VALIDATION_FILE))
    if validation is None:
        verdict = "missing"
    elif (validation.get("model") or {}).get("digest") != model:
        verdict = "other model"
    else:
        verdict = "passed" if validation.get("passed") else "failed"
    review = _json_of(read(REVIEW_FILE))
    approver = None
    if review and review.get("decision") == "approved" and model and review.get("model_digest") == model:
        who = review.get("reviewer") or {}
        approver = {k: str(who.get(k) or "") for k in ("name", "email", "role")}
    return Evidence(model_digest=model, evidence_digest=_evidence_digest(read), validation=verdict,
                    approver=approver, blockers=tuple(_blockers(model, read)))
