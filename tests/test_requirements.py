"""Requirements step: charter edits on real git + DVC projects, one commit per save."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import git, run_cli
from workbench.design.requirements import (
    GateClause,
    add_member,
    remove_member,
    success_gate,
    update_charter,
)
from workbench.errors import DirtyPathError, WorkbenchError
from workbench.project import Charter, Project, TeamMember

_TEMPLATE: list[Path] = []


@pytest.fixture
def project(request, tmp_path, tmp_path_factory) -> Path:
    """The conftest ``project`` (a fresh charter-only project), built once per session and copied:
    creating one costs about two seconds of real git + DVC work."""
    if not _TEMPLATE:
        base = tmp_path_factory.mktemp("charter-template")
        _TEMPLATE.append(request.getfixturevalue("project").rename(base / "churn"))
    dest = tmp_path / "copy" / "churn"
    shutil.copytree(_TEMPLATE[0], dest, symlinks=True)
    return dest


def head(path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def last_commit(path) -> str:
    return git(path, "log", "-1", "--format=%s%n%(trailers)").strip()


def committed_files(path) -> list[str]:
    return git(path, "show", "--name-only", "--format=", "HEAD").split()


def charter_yaml(path) -> dict:
    return yaml.safe_load((path / "workbench.yaml").read_text(encoding="utf-8"))["charter"]


# --- core -------------------------------------------------------------------------------


def test_set_metric_is_one_commit_with_trailers(project):
    before = head(project)
    saved = update_charter(project, success_metric="recall >= 0.80")
    assert saved.commit == head(project)
    assert git(project, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert saved.changed_fields == ("success_metric",)
    # Ada Lovelace is on the team as a data scientist, so that is the role of the commit.
    assert last_commit(project) == (
        "Requirements: set success metric to recall >= 0.80\n"
        "Workbench-Step: requirements\nWorkbench-Role: data_scientist"
    )
    assert committed_files(project) == ["workbench.yaml"]
    assert charter_yaml(project)["success_metric"] == "recall >= 0.80"
    assert git(project, "status", "--porcelain").strip() == ""


def test_save_without_change_makes_no_commit(project):
    before = head(project)
    text = (project / "workbench.yaml").read_bytes()
    saved = update_charter(project, success_metric="recall >= 0.7", business_owner="Dana Ortiz")
    assert saved.commit is None and saved.changed_fields == ()
    assert head(project) == before
    assert (project / "workbench.yaml").read_bytes() == text


def test_several_fields_in_one_commit_and_explicit_role(project):
    saved = update_charter(
        project, problem="Churn is invisible until customers are gone.", business_owner="Sam Reyes",
        task="regression", success_metric="rmse <= 12.5", role="ml_engineer",
    )
    assert saved.changed_fields == ("problem", "business_owner", "success_metric", "task")
    # four phrases are too long for a subject line, so it names the fields instead
    assert last_commit(project) == (
        "Requirements: update problem, business owner, success metric, task\n"
        "Workbench-Step: requirements\nWorkbench-Role: ml_engineer")
    charter = Project(project).read_charter()
    assert (charter.task, charter.success_metric, charter.business_owner) == (
        "regression", "rmse <= 12.5", "Sam Reyes")


def test_constraints_merge_key_by_key(project):
    update_charter(project, constraints={"latency_ms": 50, "privacy": "No raw e-mails."})
    saved = update_charter(project, constraints={"interpretability": "Top 3 reasons per score."})
    assert saved.changed_fields == ("constraints.interpretability",)
    assert last_commit(project).startswith("Requirements: update the interpretability constraint")
    constraints = charter_yaml(project)["constraints"]
    assert constraints == {"latency_ms": 50, "interpretability": "Top 3 reasons per score.",
                           "privacy": "No raw e-mails."}
    update_charter(project, constraints={"latency_ms": None})
    assert charter_yaml(project)["constraints"]["latency_ms"] is None
    assert last_commit(project).startswith("Requirements: clear the latency limit")


def test_team_add_update_remove(project):
    saved = add_member(project, "Bo Chen,bo@example.com,ml_engineer")
    assert saved.changed_fields == ("team",)
    assert last_commit(project).startswith("Requirements: add team member Bo Chen (ml_engineer)")
    add_member(project, TeamMember("bo chen", "bo@example.com", "researcher"))
    team = Project(project).read_charter().team
    assert [m.role for m in team if m.name.lower() == "bo chen"] == ["researcher"]
    assert len(team) == 3
    remove_member(project, "Bo Chen")
    assert [m.name for m in Project(project).read_charter().team] == ["Dana Ortiz", "Ada Lovelace"]
    assert last_commit(project).startswith("Requirements: remove team member Bo Chen")


def test_full_team_replacement(project):
    update_charter(project, team=[TeamMember("Kim Park", "kim@example.com", "business_owner")])
    assert charter_yaml(project)["team"] == [
        {"name": "Kim Park", "email": "kim@example.com", "role": "business_owner"}]


def test_success_gate_from_charter():
    charter = Charter(name="x", problem="p", business_owner="o",
                      success_metric="recall >= 0.80 at precision >= 0.50")
    gate = success_gate(charter)
    assert gate == [GateClause("recall", ">=", 0.8, True), GateClause("precision", ">=", 0.5, False)]
    assert gate[0].holds(0.81) and not gate[0].holds(0.79)
    assert str(gate[1]) == "precision >= 0.5"
    assert success_gate(Charter(name="x", problem="", business_owner="", success_metric="")) == []
    with pytest.raises(WorkbenchError):
        success_gate(Charter(name="x", problem="", business_owner="", success_metric="recall is high"))


BAD_EDITS = [
    ({"success_metric": "recall is high"}, "does not parse"),
    ({"success_metric": "rmse <= 3"}, "not a classification metric"),
    ({"task": "regression"}, "not a regression metric"),  # the kept metric must fit the new task
    ({"task": "clustering"}, "is not supported"),
    ({"problem": "   "}, "problem statement is empty"),
    ({"business_owner": ""}, "business owner is empty"),
    ({"success_metric": ""}, "success metric is empty"),
    ({"constraints": {"latency_ms": 0}}, "not positive"),
    ({"constraints": {"latency_ms": "fast"}}, "not a whole number"),
    ({"constraints": {"latency_ms": True}}, "not a whole number"),
    ({"add_members": ["Bo Chen,bo@example.com,boss"]}, "use one of business_owner"),
    ({"add_members": ["Bo Chen,bo.example.com,ml_engineer,extra"]}, "does not parse"),
    ({"add_members": [TeamMember("Bo", "bo.example.com", "ml_engineer")]}, "has no '@'"),
    ({"remove_members": ["Nobody"]}, "not on the team: remove one of Dana Ortiz, Ada Lovelace"),
    ({"team": [TeamMember("Kim", "", "researcher"), TeamMember("kim", "", "researcher")]},
     "listed twice"),
    ({"problem": "ok", "role": "boss"}, "role 'boss' is not known"),
]


@pytest.mark.parametrize(("edit", "message"), BAD_EDITS, ids=[m for _, m in BAD_EDITS])
def test_bad_edit_writes_and_commits_nothing(project, edit, message):
    before, text = head(project), (project / "workbench.yaml").read_bytes()
    with pytest.raises(WorkbenchError) as err:
        update_charter(project, **edit)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert head(project) == before
    assert (project / "workbench.yaml").read_bytes() == text
    assert git(project, "status", "--porcelain").strip() == ""


def test_dirty_workbench_yaml_is_refused_and_left_alone(project):
    config = project / "workbench.yaml"
    edited = config.read_text(encoding="utf-8") + "# my own note\n"
    config.write_text(edited, encoding="utf-8")
    before = head(project)
    with pytest.raises(DirtyPathError, match=r"workbench\.yaml has uncommitted edits"):
        update_charter(project, success_metric="recall >= 0.9")
    assert config.read_text(encoding="utf-8") == edited
    assert head(project) == before


def test_not_a_project(tmp_path):
    with pytest.raises(WorkbenchError, match="is not a workbench project"):
        update_charter(tmp_path, problem="x")


# --- CLI --------------------------------------------------------------------------------


def test_cli_charter_show_json(make_sample):
    path = make_sample("fraud_detection")
    result = run_cli("charter", "show", "--json", cwd=path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["schema", "charter", "success_gate", "missing"]
    assert list(data["charter"]) == ["name", "problem", "business_owner", "success_metric", "task",
                                     "constraints", "team"]
    assert data["charter"]["constraints"]["latency_ms"] == 50
    assert data["success_gate"] == [
        {"metric": "recall", "op": ">=", "target": 0.6, "primary": True},
        {"metric": "precision", "op": ">=", "target": 0.3, "primary": False},
    ]
    assert data["missing"] == []
    text = run_cli("charter", "show", "-C", str(path), cwd=path.parent)
    assert text.returncode == 0 and "gate: recall >= 0.6  (primary)" in text.stdout


def test_cli_charter_set(project):
    result = run_cli("charter", "set", "-C", str(project), "--metric", "recall >= 0.85",
                     "--latency-ms", "40", "--privacy", "No PII in features.",
                     "--add-member", "Bo Chen,bo@example.com,ml_engineer", "--role", "business_owner",
                     "--json", cwd=project.parent)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["commit"] == head(project)
    assert data["changed_fields"] == ["success_metric", "constraints.latency_ms",
                                      "constraints.privacy", "team"]
    assert data["charter"]["constraints"]["latency_ms"] == 40
    assert data["success_gate"] == [{"metric": "recall", "op": ">=", "target": 0.85, "primary": True}]
    assert last_commit(project).endswith("Workbench-Step: requirements\nWorkbench-Role: business_owner")
    again = run_cli("charter", "set", "--metric", "recall >= 0.85", cwd=project)
    assert again.returncode == 0 and "Nothing changed; no commit." in again.stdout
    removed = run_cli("charter", "set", "--remove-member", "Bo Chen", cwd=project)
    assert removed.returncode == 0
    assert "Requirements: remove team member Bo Chen" in removed.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--metric", "recall >> 0.8"], "does not parse"),
    (["--latency-ms", "-5"], "not a whole number"),
    (["--task", "ranking"], "is not supported"),
    (["--add-member", "Bo,bo@example.com,boss"], "use one of"),
    (["--remove-member", "Nobody"], "not on the team"),
    ([], "nothing to change"),
])
def test_cli_charter_set_bad_input(project, args, message):
    before = head(project)
    result = run_cli("charter", "set", *args, cwd=project)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlops-workbench: error: ") and message in lines[0]
    assert head(project) == before
    assert git(project, "status", "--porcelain").strip() == ""


def test_cli_charter_dirty_file(project):
    config = project / "workbench.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("Dana Ortiz", "Dana O."), encoding="utf-8")
    result = run_cli("charter", "set", "--problem", "New problem.", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mlops-workbench: error: workbench.yaml has uncommitted edits: commit or move your changes "
        "first (git add workbench.yaml && git commit), then run the step again"]
    assert "Dana O." in config.read_text(encoding="utf-8")


def test_cli_not_a_project(tmp_path):
    result = run_cli("charter", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "not a workbench project" in result.stderr


@pytest.mark.parametrize("metric", ["precision_macro", "recall_macro", "f1_macro", "precision_weighted",
                                    "recall_weighted", "f1_weighted"])
def test_the_charter_accepts_the_multiclass_averages(project, metric):
    """A team with more than two classes names the averages the evaluate stage writes; the CLI
    keeps them, and regression still refuses them with the one line that lists its metrics."""
    done = run_cli("charter", "set", "--metric", f"{metric} >= 0.8", "-C", str(project))
    assert done.returncode == 0, done.stderr
    assert f"{metric} >= 0.8" in (project / "workbench.yaml").read_text(encoding="utf-8")
    from workbench.project import parse_success_metric

    assert parse_success_metric(f"{metric} >= 0.8")[0].metric == metric
    with pytest.raises(WorkbenchError, match=f"{metric!r}, which is not a regression metric"):
        parse_success_metric(f"{metric} >= 0.8", "regression")
