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
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

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


def model_digest(root: Path) -> str | None:
    """``md5:<hex>`` of the model as ``dvc.lock`` records it (None before the first run).

    Falls back to hashing the file itself when the lock has no entry (a team's own
    train cmd that DVC has not locked yet), so a model is never anonymous.
    """
    import yaml

    lock = root / "dvc.lock"
    if lock.is_file():
        try:
            data = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            data = {}
        for stage in (data.get("stages") or {}).values():
            for out in (stage or {}).get("outs") or []:
                if isinstance(out, dict) and out.get("path") == MODEL_FILE and out.get("md5"):
                    return "md5:" + str(out["md5"])
    path = root / MODEL_FILE
    if not path.is_file():
        return None
    return "md5:" + hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def read_json(root: Path, rel: str) -> dict[str, Any] | None:
    """A committed JSON evidence file, or None when missing or unreadable."""
    path = root / rel
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def evidence_digest(root: Path) -> str:
    """One digest over the validation report and the model card (what a tag message carries)."""
    h = hashlib.sha256()
    for rel in (VALIDATION_FILE, CARD_FILE):
        h.update(rel.encode() + b"\0" + (file_digest(root / rel) or "missing").encode() + b"\0")
    return "sha256:" + h.hexdigest()


def promotion_blockers(root: Path) -> list[str]:
    """Why the current model may not reach production; empty when it may.

    Each reason is one line a person can act on.
    """
    model = model_digest(root)
    if model is None:
        return ["there is no trained model: run `mlops-workbench train` and promote an experiment"]
    reasons: list[str] = []
    validation = read_json(root, VALIDATION_FILE)
    if validation is None:
        reasons.append("the model has not been validated: run `mlops-workbench validate`")
    else:
        judged = (validation.get("model") or {}).get("digest")
        if judged != model:
            reasons.append("the validation report is for another model: run `mlops-workbench validate` again")
        elif not validation.get("passed"):
            failed = [g.get("name", "?") for g in validation.get("gates", []) if g.get("passed") is False]
            reasons.append("the model failed validation" + (f" ({', '.join(failed)})" if failed else "")
                           + ": see reports/validation.md")
    review = read_json(root, REVIEW_FILE)
    if review is None:
        reasons.append("the model has no sign-off: run `mlops-workbench review approve --comment ...`")
    elif review.get("model_digest") != model:
        reasons.append("the sign-off is for another model: review this model again")
    elif review.get("decision") != "approved":
        who = (review.get("reviewer") or {}).get("name", "the reviewer")
        reasons.append(f"the model was rejected by {who}: {review.get('comment') or 'no comment'}")
    elif review.get("validation_digest") != file_digest(root / VALIDATION_FILE):
        reasons.append("the validation report changed after the sign-off: review the model again")
    elif review.get("card_digest") != file_digest(root / CARD_FILE):
        reasons.append("the model card changed after the sign-off: review the model again")
    return reasons
