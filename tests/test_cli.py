"""The headless command in real subprocesses: help, version, samples, and the documented
``--json`` shapes (schema 1), plus one-line errors with tracebacks only under ``--debug``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git, run_cli
from test_versioning_step import copy_project

from workbench import __version__
from workbench.cli.main import _plain_launch
from workbench.cli.parser import BY_NAME, COMMAND_NAMES, build_parser

STATUS_KEYS = ["schema", "project", "phase", "next_step", "steps", "last_step", "maturity", "blockers",
               "workspace", "team"]
PROJECT_KEYS = ["name", "path", "task", "success_metric"]
NEXT_STEP_KEYS = ["id", "title", "action", "command"]
STEP_KEYS = ["id", "title", "phase", "state", "detail", "command"]
ENTRY_KEYS = ["commit", "short", "when", "author", "email", "role", "step", "step_title", "summary", "kind", "ref"]


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of a per-worker template project (faster than conftest's, same content)."""
    return copy_project(tmp_path, tmp_path_factory)


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"mlops-workbench {__version__}"


def test_help_on_the_command_and_every_subcommand() -> None:
    names = subcommands()
    assert {"open", "new", "samples", "status", "history"} <= set(names)
    assert set(BY_NAME) <= set(names)
    top = run_cli("--help")
    assert top.returncode == 0 and "usage: mlops-workbench" in top.stdout
    for name in names:
        result = run_cli(name, "--help")
        assert result.returncode == 0, (name, result.stderr)
        assert f"usage: mlops-workbench {name}" in result.stdout, name
        assert result.stderr == ""


def test_the_plain_launch_knows_every_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A launch on a path skips the parser; it must never take a command for a folder.
    assert COMMAND_NAMES == set(subcommands())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "status").mkdir()
    (tmp_path / "project").mkdir()
    assert _plain_launch(["status"]) is None  # the command, even with a folder of that name
    for argv in (["project", "--debug"], ["--web", "project"], ["open", "project"], ["missing"], ["-h"],
                 ["project", "project"]):
        assert _plain_launch(argv) is None, argv
    for argv, path, debug in (([], ".", False), (["project"], "project", False),
                              (["--debug", "project"], "project", True), (["--debug"], ".", True)):
        args = _plain_launch(argv)
        assert args is not None and (args.command, args.path, args.debug, args.web) == ("open", path, debug, False)
        # The same namespace the parser gives an explicit 'open'.
        parsed = build_parser().parse_args([*(["--debug"] if debug else []), "open", path])
        assert vars(args) == vars(parsed), argv


def test_samples_text_and_json() -> None:
    text = run_cli("samples")
    assert text.returncode == 0
    ids = [line.split()[0] for line in text.stdout.splitlines() if line.strip()]
    assert ids == ["diagnosis", "fraud_detection", "predictive_maintenance", "ticket_triage"]
    data = json.loads(run_cli("samples", "--json").stdout)
    assert data["schema"] == 1
    assert [s["id"] for s in data["samples"]] == ids
    for sample in data["samples"]:
        assert list(sample) == ["id", "name", "description", "data", "incoming"]
        assert sample["description"] and sample["data"] and isinstance(sample["incoming"], list)


def test_status_json_shape(project: Path) -> None:
    result = run_cli("status", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == STATUS_KEYS
    assert data["schema"] == 1
    assert data["project"] == {"name": "Churn", "path": str(project), "task": "classification",
                               "success_metric": "recall >= 0.7"}
    assert [s["id"] for s in data["steps"]] == [
        "requirements", "use_cases", "data_availability", "data_engineering", "training",
        "validation", "review", "deployment", "ci_cd", "monitoring"]
    for step in data["steps"]:
        assert list(step) == STEP_KEYS
        assert step["state"] in ("done", "attention", "todo")
        assert step["phase"] in ("Design", "Development", "Operations")
    assert data["steps"][0]["state"] == "done"  # the charter is complete
    assert list(data["next_step"]) == NEXT_STEP_KEYS
    assert data["next_step"]["id"] == "use_cases" and data["phase"] == "Design"
    assert list(data["last_step"]) == ENTRY_KEYS
    assert data["last_step"]["commit"] == git(project, "rev-parse", "HEAD").strip()
    assert data["team"]["last_steps"][0]["author"] == "Ada Lovelace" and data["team"]["remote"]["url"] is None
    # -C gives the same answer from elsewhere.
    other = run_cli("status", "--json", "-C", str(project), cwd=project.parent)
    assert json.loads(other.stdout) == data
    text = run_cli("status", cwd=project)
    assert text.returncode == 0 and "Next: Start Use-case prioritization" in text.stdout


def test_history_json_shape_and_text(project: Path) -> None:
    result = run_cli("history", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["schema", "entries"] and data["schema"] == 1
    [entry] = data["entries"]
    assert list(entry) == ENTRY_KEYS
    assert entry["commit"] == git(project, "rev-parse", "HEAD").strip()
    assert entry["author"] == "Ada Lovelace" and entry["email"] == "ada@example.com"
    assert (entry["step"], entry["step_title"], entry["role"]) == ("project", "Project", "data_scientist")
    assert entry["summary"] == 'create "Churn"'
    text = run_cli("history", cwd=project)
    assert text.returncode == 0
    assert text.stdout.startswith(entry["short"]) and 'create "Churn"' in text.stdout


def test_outside_a_project_is_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    for command in ("status", "history"):
        result = run_cli(command, cwd=tmp_path)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr
        assert lines[0].startswith(f"mlops-workbench: error: {tmp_path} is not a workbench project")
        assert "mlops-workbench new PATH" in lines[0]
        assert result.stdout == ""
    debug = run_cli("--debug", "status", cwd=tmp_path)
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr
    assert "WorkbenchError" in debug.stderr


@pytest.mark.parametrize("target", ["file.txt", "missing"])
def test_open_on_a_file_or_missing_folder_is_one_line(tmp_path: Path, target: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    result = run_cli(str(tmp_path / target))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert ("is a file" if target == "file.txt" else "does not exist") in result.stderr


def test_an_unknown_command_is_one_line_with_a_suggestion(tmp_path: Path) -> None:
    result = run_cli("statsu", "--json", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'statsu' is not a command" in lines[0] and "did you mean 'status'?" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no TUI started, nothing created


def test_option_values_are_not_taken_for_commands() -> None:
    from workbench.cli.main import _first_word

    assert _first_word(["--web", "--port", "8911", "proj"]) == "proj"
    assert _first_word(["--debug", "--host", "127.0.0.1", "status"]) == "status"
    assert _first_word(["--web"]) is None


def test_broken_workbench_yaml_is_one_line(project: Path) -> None:
    (project / "workbench.yaml").write_text("charter: [unclosed\n", encoding="utf-8")
    result = run_cli("status", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mlops-workbench: error: workbench.yaml is not valid YAML at line 2: fix it by hand or "
        "restore it with 'git checkout -- workbench.yaml'")


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    result = run_cli("new", str(tmp_path / "p"), "--task", "clustering")
    assert result.returncode == 2 and "invalid choice: 'clustering'" in result.stderr
    assert not (tmp_path / "p").exists()


# The common flags (-C, --json, --role, -q, --debug) parse after the command and after each
# action, in every phase's commands: `data -C DIR check` as `usecase -C DIR rank` always did.
# DIR is not a project and the command runs elsewhere, so the one-line error naming DIR (not
# a usage error) proves the flag reached the command.
@pytest.mark.parametrize("argv", [
    ("data", "-C", "{dir}", "check"),  # design
    ("usecase", "--json", "-C", "{dir}", "rank"),
    ("exp", "-C", "{dir}", "list"),  # development
    ("review", "--role", "reviewer", "-C", "{dir}", "card"),
    ("model", "-C", "{dir}", "--json", "list"),  # operations
    ("ci", "-C", "{dir}", "init"),
    ("retrain", "discard", "-C", "{dir}", "retrain-v2"),
    ("status", "--role", "x", "-q", "-C", "{dir}"),  # the whole project
], ids=lambda argv: "-".join(a for a in argv if not a.startswith(("-", "{"))))
def test_common_flags_parse_after_every_level(tmp_path: Path, argv: tuple[str, ...]) -> None:
    folder = tmp_path / "not-a-project"
    folder.mkdir()
    result = run_cli(*(a.replace("{dir}", str(folder)) for a in argv), cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mlops-workbench: error: {folder} is not "), lines
    debug = run_cli(argv[0], "--debug", *(a.replace("{dir}", str(folder)) for a in argv[1:]), cwd=tmp_path)
    assert "Traceback (most recent call last)" in debug.stderr and "WorkbenchError" in debug.stderr


def test_common_flags_parse_in_the_team_commands(tmp_path: Path) -> None:
    result = run_cli("remote", "-C", str(tmp_path), "--json", "show", cwd=tmp_path.parent)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema"] == 1


def test_hidden_common_flags_take_no_abbreviation_away() -> None:
    # `monitor --d` meant --dry-run and `new P --pro X` meant --problem before those commands
    # accepted a hidden --debug and -C/--project: they still do.
    parser = build_parser()
    assert parser.parse_args(["monitor", "--d"]).dry_run is True
    assert parser.parse_args(["new", "p", "--pro", "x"]).problem == "x"
    assert parser.parse_args(["sync", "--d"]).dry_run is True
    # The hidden flags themselves, spelled out or with the value attached.
    args = parser.parse_args(["monitor", "--debug", "-C/x", "--json"])
    assert (args.debug, args.project, args.json) == (True, "/x", True)
