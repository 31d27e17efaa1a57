"""The model registry on real git + DVC + GTO: register, promote, list, history, refusals.

One trained, committed project (diagnosis, logistic regression, ``dvc repro``) is built per
module and copied per test. Validation and review evidence is written in the format of
:mod:`workbench.versioning.evidence` and committed with git, as those steps would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _isolated_env, _template, configure_identity, git, run_cli, session_cache

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
REVIEWER = {"name": "Dana Ortiz", "email": "dana@example.com", "role": "business_owner"}


_TRAINED: dict[str, Path] = session_cache("trained diagnosis")


def build_trained_project(base: Path, tmp_path_factory) -> Path:
    """A copy of the diagnosis sample with a pipeline, a `dvc repro` model, all committed.

    Trained once per session (the registry, serving and view tests share it) and copied
    into ``base``, with ``base / "home"`` as its git identity's HOME.
    """
    home = base / "home"
    configure_identity(home)
    if "diagnosis" not in _TRAINED:
        _TRAINED["diagnosis"] = _train(tmp_path_factory.mktemp("trained-diagnosis"), tmp_path_factory)
    path = base / "diagnosis"
    shutil.copytree(_TRAINED["diagnosis"], path, symlinks=True)
    return path


def _train(base: Path, tmp_path_factory) -> Path:
    from workbench.development.pipeline import configure_pipeline

    home = base / "home"
    configure_identity(home)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _isolated_env(home).items():
            mp.setenv(key, value)
        mp.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
        path = base / "diagnosis"
        shutil.copytree(_template("diagnosis", tmp_path_factory), path, symlinks=True)
        configure_pipeline(path)
        done = subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=path, capture_output=True,
                              text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stdout + done.stderr
        git(path, "add", "-A")  # a test repository: every output the stages wrote (DVC ignores the data)
        git(path, "commit", "-q", "-m", "Training & experiments: logistic regression\n\n"
            "Workbench-Step: training\nWorkbench-Role: data_scientist")
    return path


def add_evidence(path: Path, *, passed: bool = True, decision: str = "approved", model: str | None = None,
                 commit: bool = True) -> None:
    """Write validation + card + review as the validation and review steps do, and commit them."""
    from workbench.versioning import evidence as ev

    digest = model or ev.model_digest(path)
    (path / "reports").mkdir(exist_ok=True)
    validation = {"passed": passed, "model": {"digest": digest, "path": ev.MODEL_FILE},
                  "gates": [{"name": "success metric", "passed": passed},
                            {"name": "beats the dummy baseline", "passed": True}]}
    (path / ev.VALIDATION_FILE).write_text(json.dumps(validation, indent=2) + "\n")
    (path / ev.CARD_FILE).write_text("# Model card\n\nIntended use: triage support.\n")
    review = {"decision": decision, "reviewer": REVIEWER, "comment": "looks right" if decision == "approved"
              else "recall too low on the small tumours", "model_digest": digest,
              "validation_digest": ev.file_digest(path / ev.VALIDATION_FILE),
              "card_digest": ev.file_digest(path / ev.CARD_FILE), "at": "2026-01-02T10:00:00+00:00"}
    (path / ev.REVIEW_FILE).write_text(json.dumps(review, indent=2) + "\n")
    if commit:
        git(path, "add", ev.VALIDATION_FILE, ev.CARD_FILE, ev.REVIEW_FILE)
        git(path, "commit", "-q", "-m", f"Review & governance: {decision}\n\n"
            "Workbench-Step: review\nWorkbench-Role: business_owner")


@pytest.fixture(scope="module")
def trained_template(tmp_path_factory) -> Path:
    return build_trained_project(tmp_path_factory.mktemp("registry-template"), tmp_path_factory)


@pytest.fixture
def trained(trained_template, tmp_path) -> Path:
    dest = tmp_path / "diagnosis"
    shutil.copytree(trained_template, dest, symlinks=True)
    return dest


def tags(path: Path) -> list[str]:
    return sorted(git(path, "tag", "--list").split())


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def gto(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([os.path.join(VENV_BIN, "gto"), *args], cwd=path, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_register_promote_list_history_and_gto_reads_the_same_registry(trained):
    from workbench.versioning.evidence import evidence_digest, model_digest

    path = trained
    first = run_cli("model", "register", "--json", cwd=path)
    assert first.returncode == 0, first.stderr
    reg = json.loads(first.stdout)
    assert reg["tag"] == "model@v1.0.0" and reg["version"] == "v1.0.0"
    assert reg["commit"] == git(path, "rev-parse", "HEAD").strip()
    assert reg["model_digest"] == model_digest(path) and reg["validation"] == "missing"
    assert reg["approved_by"] == "none"
    assert any("cannot reach production yet" in m for m in reg["messages"])
    assert git(path, "cat-file", "-t", "model@v1.0.0").strip() == "tag"  # annotated

    # production is refused with the reason: no tag is created
    before = tags(path)
    line = one_line_error(run_cli("model", "promote", "v1.0.0", "--stage", "production", cwd=path))
    assert "cannot promote v1.0.0 to production: the model has not been validated" in line
    assert tags(path) == before

    done = run_cli("model", "promote", "v1.0.0", "--stage", "staging", cwd=path)
    assert done.returncode == 0, done.stderr
    assert "Promoted model v1.0.0 to staging" in done.stdout

    # evidence committed: the next registration carries the approver and the evidence digest
    add_evidence(path)
    second = json.loads(run_cli("model", "register", "--json", cwd=path).stdout)
    assert second["version"] == "v1.1.0" and second["validation"] == "passed"
    assert second["approved_by"] == "Dana Ortiz <dana@example.com> (business_owner)"
    assert second["evidence_digest"] == evidence_digest(path)
    message = git(path, "tag", "-l", "--format=%(contents)", "model@v1.1.0")
    assert f"Evidence-Digest: {evidence_digest(path)}" in message
    assert "Approved-By: Dana Ortiz <dana@example.com> (business_owner)" in message
    assert "Workbench-Role: ml_engineer" in message

    promoted = run_cli("model", "promote", "v1.1.0", "--stage", "production", "--json", cwd=path)
    assert promoted.returncode == 0, promoted.stderr
    prod_tag = json.loads(promoted.stdout)["tag"]
    assert prod_tag.startswith("model#production#")  # GTO numbers assignments per artifact
    tagger = git(path, "tag", "-l", "--format=%(taggername) %(taggeremail)", prod_tag).strip()
    assert tagger == "Ada Lovelace <ada@example.com>"

    listed = json.loads(run_cli("model", "list", "--json", cwd=path).stdout)
    assert listed["stages"] == {"staging": "v1.0.0", "production": "v1.1.0"}
    assert [v["version"] for v in listed["versions"]] == ["v1.1.0", "v1.0.0"]
    newest = listed["versions"][0]
    assert newest["stages"] == ["production"] and newest["registered_by"]["name"] == "Ada Lovelace"
    assert newest["approved_by"].startswith("Dana Ortiz")

    history = json.loads(run_cli("model", "history", "--json", cwd=path).stdout)["events"]
    assert sorted((e["event"], e["version"], e["stage"]) for e in history) == [
        ("assignment", "v1.0.0", "staging"), ("assignment", "v1.1.0", "production"),
        ("registration", "v1.0.0", None), ("registration", "v1.1.0", None)]
    # newest first (tag dates have one-second resolution, so only the order they imply is checked)
    assert [e["at"] for e in history] == sorted((e["at"] for e in history), reverse=True)
    assert history[0]["tag"] == prod_tag and history[-1]["tag"] == "model@v1.0.0"
    assert history[0]["approved_by"].startswith("Dana Ortiz") and history[0]["by"]["name"] == "Ada Lovelace"
    text = run_cli("model", "list", cwd=path).stdout
    assert "v1.1.0" in text and "production" in text and "Dana Ortiz" in text

    # gto itself, as a subprocess, reads the same registry
    shown = gto(path, "show", "--json")
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)["model"]
    assert state["version"] == "v1.1.0" and state["stage"] == {"staging": "v1.0.0", "production": "v1.1.0"}
    gto_history = gto(path, "history", "model", "--json")
    assert gto_history.returncode == 0, gto_history.stderr
    events = json.loads(gto_history.stdout)
    assert {(e["event"], e["version"]) for e in events if e["event"] != "commit"} == {
        ("registration", "v1.0.0"), ("registration", "v1.1.0"),
        ("assignment", "v1.0.0"), ("assignment", "v1.1.0")}

    # the workbench timeline shows the registry tags too
    timeline = json.loads(run_cli("history", "--json", cwd=path).stdout)["entries"]
    assert {e["ref"] for e in timeline if e["kind"] == "registry"} == set(tags(path))


def test_register_refusals_are_one_line_and_create_no_tag(trained):
    path = trained
    line = one_line_error(run_cli("model", "register", "--version", "1.2", cwd=path))
    assert "version '1.2' is not a semantic version: write it like v1.2.0" in line
    assert tags(path) == []

    assert run_cli("model", "register", "--version", "2.0.0", cwd=path).returncode == 0
    assert tags(path) == ["model@v2.0.0"]  # 2.0.0 is taken as v2.0.0
    line = one_line_error(run_cli("model", "register", cwd=path))
    assert "HEAD (" in line and "is already registered as model v2.0.0" in line

    add_evidence(path)  # a new commit: the version number is what clashes now
    line = one_line_error(run_cli("model", "register", "--version", "v2.0.0", cwd=path))
    assert "model v2.0.0 already exists" in line and "e.g. v2.1.0" in line

    lock = path / "dvc.lock"
    original = lock.read_text()
    lock.write_text(original + "# edited\n")
    line = one_line_error(run_cli("model", "register", cwd=path))
    assert "dvc.lock has uncommitted changes" in line
    lock.write_text(original)

    model = path / "models" / "model.skops"
    data = model.read_bytes()
    model.unlink()  # DVC may link the workspace file to its cache: never write through it
    model.write_bytes(data + b"\0")
    line = one_line_error(run_cli("model", "register", cwd=path))
    assert "models/model.skops differs from the model committed at HEAD" in line
    assert tags(path) == ["model@v2.0.0"]


def test_register_without_a_trained_model_is_refused(make_sample):
    from workbench.errors import WorkbenchError
    from workbench.versioning.registry import read_registry, register_model

    path = make_sample("diagnosis")
    with pytest.raises(WorkbenchError, match="HEAD has no trained model in dvc.lock"):
        register_model(path)
    assert tags(path) == []
    assert read_registry(path).versions == ()


@pytest.mark.parametrize(("case", "expected"), [
    ("rejected", "the model was rejected by Dana Ortiz: recall too low on the small tumours"),
    ("failed", "the model failed validation (success metric)"),
    ("other_model", "the validation report is for another model"),
    ("card_edited", "the model card changed after the sign-off"),
])
def test_production_is_refused_unless_the_evidence_passes(trained, case, expected):
    from workbench.errors import WorkbenchError
    from workbench.versioning.registry import promote_model, read_registry, register_model

    path = trained
    if case == "rejected":
        add_evidence(path, decision="rejected")
    elif case == "failed":
        add_evidence(path, passed=False)
    elif case == "other_model":
        add_evidence(path, model="md5:" + "0" * 32)
    else:
        add_evidence(path, commit=False)
        (path / "reports/model_card.md").write_text("# Model card\n\nEdited after the sign-off.\n")
        git(path, "add", "reports")
        git(path, "commit", "-q", "-m", "review")
    version = register_model(path).version
    with pytest.raises(WorkbenchError) as err:
        promote_model(path, version, "production")
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert read_registry(path).stages.get("production") is None
    assert tags(path) == [f"model@{version}"]


def test_production_reads_the_versions_commit_not_the_workspace(trained):
    """Evidence is read from git, never from the workspace; since issue 14 (item 13) a sign-off
    committed after the registration counts for the version holding the same model digest,
    so registering first no longer strands it (this test used to expect a refusal there)."""
    from workbench.errors import WorkbenchError
    from workbench.versioning.evidence import REVIEW_FILE, promotion_blockers, promotion_blockers_at
    from workbench.versioning.registry import promote_model, register_model

    path = trained
    old = register_model(path)  # registered before any evidence
    add_evidence(path, commit=False)  # the workspace now passes, nothing committed ...
    assert promotion_blockers(path) == []
    assert promotion_blockers_at(path, old.commit)  # ... but the version's commit does not
    with pytest.raises(WorkbenchError, match="cannot promote v1.0.0 to production: the model has not been "
                                             "validated"):
        promote_model(path, old.version, "production")
    git(path, "add", "reports")
    git(path, "commit", "-q", "-m", "Review & governance: approved\n\nWorkbench-Step: review")
    head = git(path, "rev-parse", "HEAD").strip()
    assert promotion_blockers_at(path, head) == []
    assert git(path, "log", "-1", "--format=%H", "--", REVIEW_FILE).strip() == head
    done = promote_model(path, old.version, "production")  # the later sign-off of the same digest counts
    assert done.tag == "model#production#1" and done.validation == "passed" and done.commit == old.commit
    assert done.approved_by == "Dana Ortiz <dana@example.com> (business_owner)"
    message = git(path, "tag", "-l", "--format=%(contents)", done.tag)
    assert f"Evidence-Commit: {head}" in message and f"Model-Digest: {old.model_digest}" in message
    with pytest.raises(WorkbenchError, match="already in production"):
        promote_model(path, old.version, "production")
    with pytest.raises(WorkbenchError, match="model v9.9.9 is not registered"):
        promote_model(path, "v9.9.9", "staging")


def test_registry_tags_are_pushed_to_origin_when_there_is_one(trained, tmp_path):
    from workbench.versioning.registry import register_model

    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(trained, "remote", "add", "origin", str(remote))
    done = register_model(trained)
    assert "pushed model@v1.0.0 to origin" in done.messages
    assert git(remote, "tag", "--list").split() == ["model@v1.0.0"]
    git(trained, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    add_evidence(trained)
    later = register_model(trained)
    assert any("pushing it to origin failed" in m and "git push origin model@v1.1.0" in m for m in later.messages)
    assert "model@v1.1.0" in tags(trained)  # the local tag stays
