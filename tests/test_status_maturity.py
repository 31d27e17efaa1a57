"""The lifecycle dashboard's maturity level and blockers, read from real repositories."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import git, run_cli, run_tool
from workbench.errors import WorkbenchError
from workbench.status import ALL_DONE_ACTION, ProjectStatus, project_status, project_status_in_child

BIN = Path(sys.executable).parent


def _status(path: Path) -> dict:
    done = run_cli("status", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_new_sample_is_level_0_and_a_no_go_check_is_a_blocker(make_sample):
    path = make_sample("fraud_detection")
    status = _status(path)
    assert status["maturity"] == {"level": 0, "name": "manual", "have": [],
                                  "missing_for_next": ["pipeline", "experiments", "registry"]}
    assert status["blockers"] == []
    assert run_cli("data", "check", "-q", cwd=path).returncode == 1  # NO-GO: a leaky column
    status = _status(path)
    assert len(status["blockers"]) == 1 and status["blockers"][0].startswith("data check is NO-GO: ")
    assert "chargeback_flag" in status["blockers"][0]
    text = run_cli("status", cwd=path).stdout
    assert "Blockers:" in text and "MLOps maturity: level 0 (manual)" in text
    assert "for level 1: add pipeline, experiments, registry" in text


def test_new_data_after_the_check_is_reported_as_stale(make_sample):
    path = make_sample("diagnosis")
    assert run_cli("data", "check", "-q", cwd=path).returncode == 0
    assert _status(path)["blockers"] == []
    source = yaml.safe_load((path / "workbench.yaml").read_text())["data"]["sources"][0]["path"]
    with (path / source).open("a", encoding="utf-8") as fh:  # a new row arrives
        first_row = (path / source).read_text(encoding="utf-8").splitlines()[1]
        fh.write(first_row + "\n")
    run_tool(path, "dvc", "add", "-q", source)
    blockers = _status(path)["blockers"]
    assert blockers == [f"stale data check: {source} changed since it was checked "
                        "(run `mlops-workbench data check`)"]


def test_levels_follow_the_repository(make_sample):
    from workbench.development.pipeline import configure_pipeline

    path = make_sample("diagnosis")
    configure_pipeline(path)
    status = _status(path)
    assert status["maturity"]["level"] == 0
    assert status["maturity"]["missing_for_next"] == ["experiments", "registry"]

    (path / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")  # what a run leaves
    run_tool(path, "gto", "register", "model", "--version", "v0.1.0")
    status = _status(path)
    assert status["maturity"]["level"] == 1 and status["maturity"]["name"] == "pipeline automated"
    assert status["maturity"]["missing_for_next"] == ["CI workflow", "validation gates", "monitoring",
                                                      "retraining policy"]

    (path / ".github" / "workflows").mkdir(parents=True)
    (path / ".github" / "workflows" / "mlops-workbench.yml").write_text("on: push\n")
    config = yaml.safe_load((path / "workbench.yaml").read_text())
    config["gates"] = {"baseline_margin": 0.01}
    config["retraining"] = {"policy": "manual"}
    (path / "workbench.yaml").write_text(yaml.safe_dump(config))
    (path / "monitoring").mkdir()
    (path / "monitoring" / "2026-11-23-1.json").write_text(json.dumps({"action_recommended": True}))
    status = _status(path)
    assert status["maturity"] == {"level": 2, "name": "CI/CD automated", "missing_for_next": [],
                                  "have": ["pipeline", "experiments", "registry", "CI workflow",
                                           "validation gates", "monitoring", "retraining policy"]}
    assert status["blockers"] == ["monitoring recommends action: drift or lower performance on new data"]
    assert git(path, "status", "--porcelain", "--", "workbench.yaml") != ""  # status never commits


def test_the_status_read_back_from_a_child_is_the_status(make_sample, tmp_path):
    # The TUI's launch computes the status with `status --json` in a child and reads it back.
    path = make_sample("fraud_detection")
    status = project_status(path)
    assert status.next_step is not None and status.last_step and status.maturity is not None
    assert ProjectStatus.from_json(json.loads(json.dumps(status.to_json()))) == status
    assert project_status_in_child(path) == status
    # What the JSON leaves out when every step is done (the action) comes back too.
    done = dataclasses.replace(status, next_step=None, next_action=ALL_DONE_ACTION, maturity=None,
                               blockers=("the model was rejected in review",))
    assert ProjectStatus.from_json(json.loads(json.dumps(done.to_json()))) == done
    # A child that fails: the error is the one the status gives in-process, word for word.
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkbenchError) as in_child:
        project_status_in_child(tmp_path / "empty")
    with pytest.raises(WorkbenchError) as in_process:
        project_status(tmp_path / "empty")
    assert str(in_child.value) == str(in_process.value)


def test_reports_about_another_model_are_to_do_again(make_sample):
    """Validation and sign-off are for one model: once the workspace model changes (an
    experiment promoted, a retrain), the dashboard says so instead of "done"."""
    path = make_sample("diagnosis")

    def lock(md5: str) -> None:
        (path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"train": {
            "cmd": "mlops-workbench stage train",
            "outs": [{"path": "models/model.skops", "md5": md5, "size": 1}]}}}))

    (path / "reports").mkdir(exist_ok=True)
    (path / "reports" / "validation.json").write_text(json.dumps(
        {"passed": True, "model": {"digest": "md5:" + "a" * 32}, "gates": []}))
    (path / "reports" / "review.json").write_text(json.dumps(
        {"decision": "approved", "model_digest": "md5:" + "a" * 32}))
    lock("a" * 32)
    status = _status(path)
    steps = {s["id"]: s for s in status["steps"]}
    assert (steps["validation"]["state"], steps["review"]["state"]) == ("done", "done")
    assert status["blockers"] == []

    lock("b" * 32)  # an experiment was promoted: another model in the workspace
    status = _status(path)
    steps = {s["id"]: s for s in status["steps"]}
    assert steps["validation"]["state"] == "attention"
    assert steps["validation"]["detail"] == "the report is for another model: validate the current one"
    assert steps["review"]["detail"] == "the sign-off is for another model: review the current one"
    assert status["blockers"] == [
        "the validation report is for another model than the current one (run `mlops-workbench validate`)",
        "the sign-off is for another model than the current one (run `mlops-workbench review approve|reject`)"]
    text = run_cli("status", cwd=path).stdout
    assert "the report is for another model" in text
