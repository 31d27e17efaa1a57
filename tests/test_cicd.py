"""CI/CD: the generated workflow and the headless ``check``, on real git + DVC projects."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import git, run_cli

WORKFLOW = ".github/workflows/mlops-workbench.yml"


def _head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def test_ci_init_writes_the_workflow_in_one_commit_and_refuses_to_overwrite(project: Path) -> None:
    done = run_cli("ci", "init", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [s["id"] for s in out["steps"]] == ["install", "pull", "repro", "validate", "check"]
    assert out["commit"] == _head(project)
    assert any("local folder" in m for m in out["messages"])
    assert git(project, "show", "--name-only", "--format=%B", "HEAD").strip().endswith(WORKFLOW)
    assert "Workbench-Step: ci_cd" in git(project, "log", "-1", "--format=%B")
    workflow = yaml.safe_load((project / WORKFLOW).read_text())
    runs = [s["run"] for s in workflow["jobs"]["check"]["steps"] if s.get("id")]
    assert runs[1:] == ["dvc pull", "dvc repro", "mlops-workbench validate", "mlops-workbench check"]
    status = json.loads(run_cli("status", "--json", cwd=project).stdout)
    assert next(s for s in status["steps"] if s["id"] == "ci_cd")["state"] == "done"

    before = _head(project)
    again = run_cli("ci", "init", cwd=project)
    assert again.returncode == 2 and "already exists: pass --force" in again.stderr
    assert again.stderr.count("\n") == 1 and "Traceback" not in again.stderr
    forced = run_cli("ci", "init", "--force", cwd=project)  # same text: nothing to record
    assert forced.returncode == 0 and "nothing committed" in forced.stdout
    assert _head(project) == before


def test_ci_init_keeps_a_custom_install_command_and_refuses_a_bad_one(project: Path) -> None:
    bad = run_cli("ci", "init", "--install", " ", cwd=project)
    assert bad.returncode == 2 and "--install must be one shell command" in bad.stderr
    assert not (project / WORKFLOW).exists()
    done = run_cli("ci", "init", "--install", "pip install -r requirements.txt", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "run: pip install -r requirements.txt" in (project / WORKFLOW).read_text()
    config = yaml.safe_load((project / "workbench.yaml").read_text())
    assert config["ci"]["install"] == "pip install -r requirements.txt"
    assert git(project, "status", "--porcelain") == ""


def test_ci_init_refuses_when_the_user_edited_the_workflow(project: Path) -> None:
    assert run_cli("ci", "init", cwd=project).returncode == 0
    (project / WORKFLOW).write_text("# my own edits\n")
    before = _head(project)
    done = run_cli("ci", "init", "--force", cwd=project)
    assert done.returncode == 2 and WORKFLOW in done.stderr
    assert (project / WORKFLOW).read_text() == "# my own edits\n" and _head(project) == before


def test_check_fails_on_a_no_go_data_check_and_reports_by_severity(make_sample) -> None:
    path = make_sample("fraud_detection")
    done = run_cli("check", "--json", "-q", cwd=path)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert list(by_name) == ["pipeline", "data", "validation", "monitoring"]
    assert by_name["data"]["severity"] == "fail" and "no data check" in by_name["data"]["detail"]
    assert by_name["pipeline"]["severity"] == by_name["validation"]["severity"] == "skip"
    assert run_cli("data", "check", "-q", cwd=path).returncode == 1
    head = _head(path)
    text = run_cli("check", "-q", cwd=path)
    assert text.returncode == 1 and "FAIL data        NO-GO" in text.stdout
    assert _head(path) == head and git(path, "status", "--porcelain") == ""  # check writes nothing

    (path / "monitoring").mkdir()
    (path / "monitoring" / "2026-11-23-1.json").write_text(json.dumps(
        {"action_recommended": True, "reasons": ["3 of 12 features drifted"]}))
    report = json.loads(run_cli("check", "--json", "-q", cwd=path).stdout)
    assert report["severity"] == "fail"  # a failing gate outranks a recommendation
    assert report["checks"][3]["severity"] == "action" and "3 of 12 features drifted" in report["checks"][3]["detail"]


def test_check_exits_3_when_only_monitoring_recommends_action(make_sample) -> None:
    path = make_sample("diagnosis")
    assert run_cli("data", "check", "-q", cwd=path).returncode == 0
    assert run_cli("check", "-q", cwd=path).returncode == 0
    (path / "monitoring").mkdir()
    (path / "monitoring" / "2026-11-23-1.json").write_text(json.dumps({"action_recommended": True}))
    done = run_cli("check", "-q", cwd=path)
    assert done.returncode == 3 and "action recommended" in done.stdout
