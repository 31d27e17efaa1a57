"""Review & governance through the registry (issue 14, items 13, 14 and 4).

Real git + DVC + GTO, the real ``mlops-workbench`` CLI, several git identities (each
``run_cli`` call gets its own ``GIT_AUTHOR_*``/``GIT_COMMITTER_*``). The diagnosis charter's
team: Dr. Helen Marsh (business_owner), Kwame Mensah (data_scientist), Ines Duarte
(ml_engineer), Dr. Arjun Mehta (researcher). The model's commit is by Ada Lovelace, the
tests' default identity, who is not in the team.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import IDENTITY, git, run_cli, run_tool
from tests.test_validation import MODEL_OUTPUTS, copy_of, validated_template

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
PEOPLE = {
    "ada": IDENTITY,
    "helen": ("Dr. Helen Marsh", "helen.marsh@example.com"),
    "kwame": ("Kwame Mensah", "kwame.mensah@example.com"),
    "ines": ("Ines Duarte", "ines.duarte@example.com"),
}


def as_(who: str) -> dict[str, str]:
    name, email = PEOPLE[who]
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email}


@pytest.fixture
def validated(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    return copy_of(validated_template(tmp_path_factory), tmp_path, monkeypatch)


def ok(done) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def refused(done, code: int = 2) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def approve(path: Path, who: str, *extra: str):
    return run_cli("review", "approve", "--comment", f"reviewed by {who}", *extra, cwd=path, env=as_(who))


def promote(path: Path, version: str, *extra: str, who: str = "ada"):
    return run_cli("model", "promote", version, "--stage", "production", *extra, cwd=path, env=as_(who))


def set_config(path: Path, *, commit: bool = True, **sections) -> None:
    config = yaml.safe_load((path / "workbench.yaml").read_text())
    for key, value in sections.items():
        if key == "team":
            config["charter"]["team"] = value
        else:
            config[key] = value
    (path / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    if commit:
        git(path, "add", "workbench.yaml")
        git(path, "commit", "-q", "-m", "Requirements: governance\n\nWorkbench-Step: requirements")


def tags(path: Path) -> list[str]:
    return sorted(git(path, "tag", "--list").split())


# --- item 13: register before approval ---------------------------------------------------


def test_register_then_approve_then_promote_the_same_version(validated):
    path = validated
    reg = json.loads(ok(run_cli("model", "register", "--json", cwd=path)))
    assert reg["version"] == "v1.0.0" and reg["approved_by"] == "none" and reg["validation"] == "passed"
    ok(approve(path, "helen"))  # a new commit after the registration
    done = json.loads(ok(promote(path, "v1.0.0", "--json")))
    assert done["tag"] == "model#production#1" and done["commit"] == reg["commit"]
    assert done["approved_by"] == "Dr. Helen Marsh <helen.marsh@example.com> (business_owner)"
    message = git(path, "tag", "-l", "--format=%(contents)", done["tag"])
    assert "Approved-By: Dr. Helen Marsh" in message
    assert f"Evidence-Commit: {git(path, 'rev-parse', 'HEAD').strip()}" in message
    shown = json.loads(run_tool(path, "gto", "show", "--json"))["model"]
    assert shown["stage"]["production"] == "v1.0.0"
    history = json.loads(ok(run_cli("model", "history", "--json", cwd=path)))["events"]
    assert history[0]["tag"] == done["tag"] and history[0]["approved_by"].startswith("Dr. Helen Marsh")

    # the newest decision about a digest wins: a rejection voids the approval for every version
    ok(run_cli("review", "reject", "--comment", "recall on the 70_plus slice is too low", cwd=path,
               env=as_("helen")))
    again = json.loads(ok(run_cli("model", "register", "--json", cwd=path)))
    assert again["model_digest"] == reg["model_digest"]
    line = refused(promote(path, again["version"]))
    assert "the model was rejected by Dr. Helen Marsh: recall on the 70_plus slice is too low" in line


# --- item 14: separation of duties -------------------------------------------------------


def test_independent_review_needs_team_reviewers_and_n_distinct_approvals(validated):
    path = validated
    set_config(path, governance={"independent_review": True, "approvals": 2})
    head = git(path, "rev-parse", "HEAD").strip()

    line = refused(approve(path, "ada"))
    assert "Ada Lovelace <ada@example.com> is not in the charter team" in line
    assert "governance.independent_review" in line and "--add-member" in line
    line = refused(approve(path, "kwame"))
    assert "Kwame Mensah is data_scientist in the charter" in line and "business_owner or ml_engineer" in line
    line = refused(approve(path, "helen", "--role", "ml_engineer"))
    assert "Dr. Helen Marsh is business_owner in the charter" in line
    assert git(path, "rev-parse", "HEAD").strip() == head  # nothing committed

    ok(approve(path, "helen"))
    from workbench.versioning.evidence import promotion_blockers

    blockers = promotion_blockers(path)  # what the review screen shows
    assert len(blockers) == 1 and blockers[0].startswith("production needs 2 approval(s) by distinct people")
    version = json.loads(ok(run_cli("model", "register", "--json", cwd=path)))["version"]
    line = refused(promote(path, version))
    assert ("production needs 2 approval(s) by distinct people (governance.approvals), this model has 1 "
            "(Dr. Helen Marsh)") in line
    ok(approve(path, "helen"))  # the same person twice is still one approval
    assert "this model has 1 (Dr. Helen Marsh)" in refused(promote(path, version))
    assert tags(path) == [f"model@{version}"]

    ok(approve(path, "ines"))
    done = json.loads(ok(promote(path, version, "--json", who="kwame")))  # anyone may promote
    assert done["approved_by"] == ("Ines Duarte <ines.duarte@example.com> (ml_engineer); "
                                   "Dr. Helen Marsh <helen.marsh@example.com> (business_owner)")
    message = git(path, "tag", "-l", "--format=%(contents)", done["tag"])
    assert f"Approved-By: {done['approved_by']}" in message
    history = ok(run_cli("model", "history", cwd=path))
    assert "Ines Duarte" in history and "Dr. Helen Marsh" in history
    events = json.loads(ok(run_cli("model", "history", "--json", cwd=path)))["events"]
    assert events[0]["by"]["name"] == "Kwame Mensah" and "Ines Duarte" in events[0]["approved_by"]


def test_the_author_of_the_models_commit_cannot_approve_it(validated):
    path = validated
    team = yaml.safe_load((path / "workbench.yaml").read_text())["charter"]["team"]
    team.append({"name": "Ada Lovelace", "email": "ada@example.com", "role": "ml_engineer"})
    set_config(path, team=team)
    ok(approve(path, "ada"))  # governance is off: anyone may approve (the default)
    version = json.loads(ok(run_cli("model", "register", "--json", cwd=path)))["version"]

    set_config(path, governance={"independent_review": True, "approvals": 1})
    line = refused(promote(path, version))
    assert "this model has 0 (none that counts)" in line
    assert "not counted: Ada Lovelace authored the model's commit" in line
    line = refused(approve(path, "ada"))
    assert line.startswith("mlops-workbench: error: cannot approve: Ada Lovelace authored the model's commit ")
    ok(approve(path, "ines"))
    done = json.loads(ok(promote(path, version, "--json")))
    assert done["approved_by"] == "Ines Duarte <ines.duarte@example.com> (ml_engineer)"


@pytest.mark.parametrize(("governance", "expected"), [
    ({"approvals": 0}, "workbench.yaml: governance.approvals holds 0 (a number); it should be a whole number >= 1"),
    ({"approvals": "two"}, "governance.approvals holds 'two' (text); it should be a whole number >= 1"),
    ({"independent_review": "yes"}, "governance.independent_review holds 'yes' (text); it should be true or false"),
    ({"reviewers": 2}, "governance has no setting 'reviewers': use independent_review, approvals"),
    ("strict", "workbench.yaml: governance holds 'strict' (text); it should be a mapping"),
])
def test_bad_governance_settings_are_one_line(validated, governance, expected):
    path = validated
    set_config(path, governance=governance, commit=False)
    head = git(path, "rev-parse", "HEAD").strip()
    assert expected in refused(approve(path, "helen"))
    assert expected in refused(run_cli("model", "register", cwd=path))
    assert git(path, "rev-parse", "HEAD").strip() == head and tags(path) == []


# --- item 4: a NO-GO data check blocks production ----------------------------------------


def test_a_no_go_or_stale_data_check_blocks_production_unless_overridden(make_sample, monkeypatch):
    import pandas as pd

    from workbench.development.pipeline import configure_pipeline

    monkeypatch.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    path = make_sample("diagnosis")
    first = run_cli("data", "check", "-q", cwd=path)  # judges the data as it is now
    assert first.returncode in (0, 1), first.stdout + first.stderr

    # the labels of every 20th case go missing; the model is trained on that version of the data
    csv = path / "data" / "breast_cancer.csv"
    frame = pd.read_csv(csv)
    frame.loc[::20, "diagnosis"] = None
    csv.unlink()
    frame.to_csv(csv, index=False)
    run_tool(path, "dvc", "add", "-q", "data/breast_cancer.csv")
    git(path, "add", "data/breast_cancer.csv.dvc")
    git(path, "commit", "-q", "-m", "Data: labels from the new export")
    configure_pipeline(path)
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["model"]["params"]["C"] = 0.5  # the template's "good" experiment
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_tool(path, "dvc", "repro", "-q")
    git(path, "add", "--", *[p for p in MODEL_OUTPUTS if (path / p).exists()])
    git(path, "commit", "-q", "-m", "Training & experiments: logistic regression\n\nWorkbench-Step: training")
    ok(run_cli("validate", "-q", cwd=path))
    ok(approve(path, "helen"))
    version = json.loads(ok(run_cli("model", "register", "--json", cwd=path)))["version"]

    line = refused(promote(path, version))
    assert "the data check (reports/data_check.json) is stale: it judged data/breast_cancer.csv at md5 " in line
    assert "but the model was trained on md5 " in line and "--override-data-check" in line

    check = run_cli("data", "check", "-q", cwd=path)  # the model's data, judged now
    assert check.returncode == 1, check.stdout + check.stderr
    line = refused(promote(path, version))
    assert "the data check of the model's data is NO-GO (" in line and "reports/data_check.json" in line
    from workbench.versioning.evidence import promotion_blockers

    assert [b for b in promotion_blockers(path) if "NO-GO" in b] == [line.split("production: ", 1)[1]
                                                                      .split("; the evidence is read")[0]]
    assert tags(path) == [f"model@{version}"]

    assert "--override-data-check needs a reason" in refused(promote(path, version, "--override-data-check", " "))
    line = refused(run_cli("model", "promote", version, "--stage", "staging", "--override-data-check", "x",
                           cwd=path))
    assert "--override-data-check is for --stage production only" in line
    reason = "the 29 unlabelled cases are dropped by prepare; labels follow next week"
    done = json.loads(ok(promote(path, version, "--override-data-check", reason, "--json")))
    assert done["data_check"] == "NO-GO" and done["data_check_override"] == reason
    assert any("the data check was overridden" in m for m in done["messages"])
    message = git(path, "tag", "-l", "--format=%(contents)", done["tag"])
    assert "Data-Check: NO-GO" in message and f"Data-Check-Override: {reason}" in message
    assert f"data check overridden: {reason}" in ok(run_cli("model", "history", cwd=path))
    event = json.loads(ok(run_cli("model", "history", "--json", cwd=path)))["events"][0]
    assert event["data_check_override"] == reason and event["data_check"] == "NO-GO"

    ok(run_cli("review", "card", cwd=path))
    card = (path / "reports/model_card.md").read_text()
    assert f"Data check overridden to promote {version} to production by Ada Lovelace" in card
    assert reason in card


def test_an_uncommitted_governance_edit_does_not_lower_the_bar(validated):
    """governance.approvals: 2 is committed; the workspace's copy says 1 and is not committed:
    production still needs two approvals, and the person's edit stays as they left it."""
    path = validated
    set_config(path, governance={"independent_review": True, "approvals": 2})
    ok(approve(path, "helen"))
    version = json.loads(ok(run_cli("model", "register", "--json", cwd=path)))["version"]
    set_config(path, governance={"independent_review": True, "approvals": 1}, commit=False)
    edited = (path / "workbench.yaml").read_bytes()
    line = refused(promote(path, version))
    assert "production needs 2 approval(s) by distinct people (governance.approvals), this model has 1" in line
    assert tags(path) == [f"model@{version}"]
    assert (path / "workbench.yaml").read_bytes() == edited
    assert "workbench.yaml" in git(path, "status", "--porcelain")
    # once committed (a step of its own), the new setting counts
    git(path, "commit", "-q", "-am", "Requirements: one approval is enough\n\nWorkbench-Step: requirements")
    done = json.loads(ok(promote(path, version, "--json")))
    assert done["tag"] == "model#production#1"
