"""Review & governance on real git + DVC repos: the model card, edits kept, sign-off and its evidence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, run_cli
from tests.test_validation import copy_of, set_gates, trained_template, validated_template
from workbench.versioning.evidence import file_digest, model_digest, promotion_blockers

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))


@pytest.fixture
def validated(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    return copy_of(validated_template(tmp_path_factory), tmp_path, monkeypatch)


@pytest.fixture
def trained(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    return copy_of(trained_template(tmp_path_factory), tmp_path, monkeypatch)


def section(card: str, title: str) -> str:
    body = card.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0].strip()


def replace_section(card: str, title: str, text: str) -> str:
    return card.replace(section(card, title), text, 1)


def test_card_is_generated_committed_and_keeps_edits(validated):
    path = validated
    done = run_cli("review", "card", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["commit"] and out["kept"] == [] and out["model_digest"] == model_digest(path)
    assert git(path, "show", "--name-only", "--format=", "HEAD").split() == ["reports/model_card.md"]
    message = git(path, "log", "-1", "--format=%B")
    assert message.startswith("Review & governance: model card for model ")
    assert "Workbench-Step: review" in message
    card = (path / "reports/model_card.md").read_text()
    report = json.loads((path / "reports/validation.json").read_text())
    gates = {g["name"]: g for g in report["gates"]}
    lock_md5 = next(d["md5"] for d in __import__("yaml").safe_load((path / "dvc.lock").read_text())
                    ["stages"]["prepare"]["deps"] if d["path"] == "data/breast_cancer.csv")
    assert card.startswith("<!-- mlops-workbench-card ")
    assert "# Model card: Breast cancer diagnosis support" in card
    assert [line[3:] for line in card.splitlines() if line.startswith("## ")] == [
        "Model details", "Intended use", "Data", "Metrics", "Slices", "Fairness", "Validation",
        "Limitations", "Ethical considerations"]
    assert f"`{lock_md5}`" in section(card, "Data")  # the data version the model was trained on
    assert "a pathologist still makes" in section(card, "Intended use")
    assert "| recall | 0.9762 | 0 |" in section(card, "Metrics")  # model vs the dummy baseline
    assert gates["fairness"]["why"] in section(card, "Fairness")
    assert "| 70_plus | 17 |" in section(card, "Slices")
    assert "Sensitive columns (age_group) are kept out of the features and used to check fairness." in card
    assert "Too few test rows to judge these slices: 70_plus (17 rows)" in section(card, "Limitations")

    # A reviewer edits Limitations and adds a section of their own, without committing.
    mine = "- Orders the review queue only; never use it to rule a case out."
    edited = replace_section(card, "Limitations", mine) + "\n## Reviewer notes\n\nChecked with Dr. Marsh.\n"
    (path / "reports/model_card.md").write_text(edited)
    again = run_cli("review", "card", cwd=path)
    assert again.returncode == 0, again.stderr
    assert "kept your edits to Limitations" in again.stderr
    card2 = (path / "reports/model_card.md").read_text()
    assert section(card2, "Limitations") == mine
    assert section(card2, "Reviewer notes") == "Checked with Dr. Marsh."
    assert section(card2, "Ethical considerations") == section(card, "Ethical considerations")
    assert git(path, "status", "--porcelain").strip() == ""  # the merged edits are committed
    assert mine in git(path, "show", "HEAD:reports/model_card.md")

    # Nothing changed: no commit. An edit to a generated section is refused, and kept on disk.
    head = git(path, "rev-parse", "HEAD").strip()
    assert "is up to date: nothing committed" in run_cli("review", "card", cwd=path).stdout
    assert git(path, "rev-parse", "HEAD").strip() == head
    tampered = card2.replace("| recall | 0.9762 | 0 |", "| recall | 0.9999 | 0 |")
    (path / "reports/model_card.md").write_text(tampered)
    refused = run_cli("review", "card", cwd=path)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "the 'Metrics' section of reports/model_card.md was edited" in lines[0]
    assert (path / "reports/model_card.md").read_text() == tampered
    assert git(path, "rev-parse", "HEAD").strip() == head


def test_approval_needs_a_passing_validation_of_this_model(trained, tmp_path):
    path = trained
    head = git(path, "rev-parse", "HEAD").strip()
    done = run_cli("review", "approve", "--comment", "looks good", cwd=path)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("the model has not been validated, so it cannot be approved: "
                                        "run 'mlops-workbench validate' first")
    empty = run_cli("review", "reject", "--comment", "  ", cwd=path)
    assert empty.returncode == 2 and "a decision needs a comment" in empty.stderr

    # a failed validation of this model
    set_gates(path, {"fairness": {"max_difference": 0.01}, "baseline": {"enabled": False},
                     "reproducibility": {"enabled": False}})
    assert run_cli("validate", "-q", cwd=path).returncode == 1
    failed_head = git(path, "rev-parse", "HEAD").strip()
    done = run_cli("review", "approve", "-m", "ship it", cwd=path)
    assert done.returncode == 2
    assert "the model failed validation (fairness), so it cannot be approved" in done.stderr
    assert git(path, "rev-parse", "HEAD").strip() == failed_head != head
    assert not (path / "reports/review.json").exists() and not (path / "reports/model_card.md").exists()

    # a passing validation, but the workspace now holds another model (an experiment applied)
    set_gates(path, {"baseline": {"enabled": False}, "reproducibility": {"enabled": False}})
    assert run_cli("validate", "-q", cwd=path).returncode == 0
    env = {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}
    applied = subprocess.run(["dvc", "exp", "apply", "weak"], cwd=path, env=env, capture_output=True,
                             text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert applied.returncode == 0, applied.stderr
    done = run_cli("review", "approve", "-m", "ship it", cwd=path)
    assert done.returncode == 2
    assert "the validation report is for another model, so this one cannot be approved" in done.stderr
    assert not (path / "reports/review.json").exists()

    # rejecting needs no validation
    rejected = run_cli("review", "reject", "-m", "recall too low on 55_69", "--json", cwd=path)
    assert rejected.returncode == 0, rejected.stderr
    review = json.loads(rejected.stdout)["review"]
    assert review["decision"] == "rejected" and review["model_digest"] == model_digest(path)


def test_approve_then_reject_is_recorded_in_git_with_its_evidence(validated):
    path = validated
    done = run_cli("review", "approve", "--comment", "Meets the charter; fairness gap acceptable.",
                   "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    review = out["review"]
    assert out["card_refreshed"] is True  # no card yet: written and signed in the same commit
    assert review["decision"] == "approved"
    assert review["reviewer"] == {"name": "Ada Lovelace", "email": "ada@example.com", "role": "business_owner"}
    assert review["model_digest"] == model_digest(path)
    assert review["validation_digest"] == file_digest(path / "reports/validation.json")
    assert review["card_digest"] == file_digest(path / "reports/model_card.md")
    assert json.loads((path / "reports/review.json").read_text()) == review
    assert set(git(path, "show", "--name-only", "--format=", "HEAD").split()) == {
        "reports/review.json", "reports/model_card.md"}
    assert "Workbench-Step: review" in git(path, "log", "-1", "--format=%B")
    assert promotion_blockers(path) == []
    shown = json.loads(run_cli("review", "show", "--json", cwd=path).stdout)
    assert shown["holds"] is True and shown["blockers"] == [] and shown["card"]["current"] is True

    # Editing the card after the sign-off voids it.
    card = (path / "reports/model_card.md").read_text()
    (path / "reports/model_card.md").write_text(replace_section(card, "Limitations", "- Not for children."))
    assert run_cli("review", "card", cwd=path).returncode == 0
    assert promotion_blockers(path) == ["the model card changed after the sign-off: review the model again"]
    shown = json.loads(run_cli("review", "show", "--json", cwd=path).stdout)
    assert shown["holds"] is False and shown["decision"]["decision"] == "approved"

    done = run_cli("review", "reject", "-m", "Wait for the paediatric data.", "--role", "researcher", cwd=path)
    assert done.returncode == 0, done.stderr
    assert "Rejected model md5:" in done.stdout
    assert git(path, "show", "--name-only", "--format=", "HEAD").split() == ["reports/review.json"]
    assert "Workbench-Role: researcher" in git(path, "log", "-1", "--format=%B")
    blockers = promotion_blockers(path)
    assert blockers == ["the model was rejected by Ada Lovelace: Wait for the paediatric data."]
    text = run_cli("review", "show", cwd=path).stdout
    assert "Decision: rejected by Ada Lovelace (researcher)" in text and "Still holds: yes" in text
    history = json.loads(run_cli("review", "show", "--json", cwd=path).stdout)["history"]
    assert [h["decision"] for h in history] == ["rejected", "approved"]
    assert history[0]["commit"] == git(path, "rev-parse", "HEAD").strip()
    assert history[1]["reviewer"]["role"] == "business_owner"
