"""``mlops-workbench new`` through the real command: bad input writes nothing, good input
makes a plain git + DVC project with one commit per step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import git, run_cli
from test_versioning_step import copy_project

from workbench.versioning import dvc

SAMPLES = ["diagnosis", "fraud_detection", "predictive_maintenance", "ticket_triage"]


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of a per-worker template project (faster than conftest's, same content)."""
    return copy_project(tmp_path, tmp_path_factory)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders)."""
    out: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        out[str(path.relative_to(folder))] = None if path.is_dir() else path.read_bytes()
    return out


def assert_refused(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit non-zero, one line on stderr naming the problem, no traceback, nothing on stdout."""
    assert result.returncode not in (0, None), result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mlops-workbench: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def trailers(path: Path, rev: str = "HEAD") -> str:
    return git(path, "log", "-1", "--format=%(trailers)", rev).strip()


# --- bad input ------------------------------------------------------------------


def test_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a file\n")
    before = snapshot(tmp_path)
    assert_refused(run_cli("new", str(tmp_path / "f.txt"), "--name", "x"), "is a file", "give a folder")
    assert snapshot(tmp_path) == before


@pytest.fixture
def outer(tmp_path: Path) -> Path:
    """A user's git repository with a commit, an edited file and an untracked file."""
    repo = tmp_path / "outer"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "app.py").write_text("print(1)\n")
    git(repo, "add", "app.py")
    git(repo, "commit", "-q", "-m", "app")
    (repo / "app.py").write_text("print('edited')\n")
    (repo / "todo.txt").write_text("mine\n")
    return repo


def test_folder_inside_another_repo_is_refused_with_the_hint(tmp_path: Path, outer: Path) -> None:
    before = snapshot(tmp_path)
    line = assert_refused(run_cli("new", str(outer / "ml"), "--name", "ml"),
                          "inside the git repository at", "--in-outer-repo")
    assert str(outer) in line
    assert snapshot(tmp_path) == before


def test_in_outer_repo_makes_a_dvc_subdir_project(tmp_path: Path, outer: Path) -> None:
    old_head = git(outer, "rev-parse", "HEAD").strip()
    result = run_cli("new", str(outer / "ml"), "--name", "ml", "--metric", "f1 >= 0.6", "--in-outer-repo")
    assert result.returncode == 0, result.stderr
    project = outer / "ml"
    assert git(outer, "rev-list", "--count", f"{old_head}..HEAD").strip() == "1"
    files = git(outer, "show", "--name-only", "--format=", "HEAD").split()
    assert files and all(f.startswith("ml/") for f in files), files
    assert {"ml/workbench.yaml", "ml/.dvc/config", "ml/README.md"} <= set(files)
    assert trailers(outer) == "Workbench-Step: project\nWorkbench-Role: business_owner"
    assert not (outer / ".dvc").exists() and (project / ".dvc").is_dir()
    # The user's own work in the outer repository is untouched.
    assert (outer / "app.py").read_text() == "print('edited')\n"
    assert sorted(git(outer, "status", "--porcelain").splitlines()) == [" M app.py", "?? todo.txt"]
    # A DVC sub-project: DVC finds its root in the subfolder and works there.
    root = subprocess.run([sys.executable, "-m", "dvc", "root"], cwd=project, capture_output=True,
                          text=True, check=True, env=dvc.dvc_env())
    assert root.stdout.strip() == "."
    assert run_cli("status", "--json", cwd=project).returncode == 0
    # The remote sits beside the outer repository, not inside it as untracked files.
    assert Path(dvc.default_remote(project)) == tmp_path / "outer-ml.dvc-storage"
    assert (tmp_path / "outer-ml.dvc-storage").is_dir()


def test_no_git_identity_says_how_to_set_it(tmp_path: Path) -> None:
    home = tmp_path / "bare-home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(tmp_path)
    assert_refused(run_cli("new", str(work / "p"), "--name", "p", env=env),
                   "git does not know who you are", 'git config --global user.name "Your Name"',
                   "git config --global user.email")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["../x", "a/b", ".."])
def test_name_that_would_escape_the_folder(tmp_path: Path, name: str) -> None:
    assert_refused(run_cli("new", str(tmp_path / "p"), "--name", name), "would escape the project folder")
    assert list(tmp_path.iterdir()) == []


def test_dvc_missing(tmp_path: Path) -> None:
    result = run_cli("new", str(tmp_path / "p"), "--name", "p", env={"MLOPS_WORKBENCH_DVC": "/nonexistent/dvc"})
    assert_refused(result, "DVC is not installed", "pip install dvc")
    assert list(tmp_path.iterdir()) == []


def test_dvc_broken(tmp_path: Path) -> None:
    tools = tmp_path.parent / f"{tmp_path.name}-tools"
    tools.mkdir()
    script = tools / "dvc"
    script.write_text("#!/bin/sh\necho 'ERROR: unexpected error - no module named fsspec' >&2\nexit 1\n")
    script.chmod(0o755)
    result = run_cli("new", str(tmp_path / "p"), "--name", "p", env={"MLOPS_WORKBENCH_DVC": str(script)})
    assert_refused(result, "DVC is broken", "no module named fsspec", "reinstall")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("flags", "needles"), [
    (["--metric", "recall is high"], ["does not parse", "recall >= 0.80"]),
    (["--metric", "rmse <= 3"], ["not a classification metric"]),
    (["--member", "Bo,bo@example.com,wizard"], ["role 'wizard'", "data_scientist"]),
    (["--member", "Bo,a,b,c"], ["does not parse", "Name,email,role"]),
], ids=["metric-grammar", "metric-for-task", "member-role", "member-shape"])
def test_bad_charter_flags(tmp_path: Path, flags: list[str], needles: list[str]) -> None:
    (tmp_path / "p").mkdir()
    assert_refused(run_cli("new", str(tmp_path / "p"), "--name", "p", *flags), *needles)
    assert [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")] == ["p"]


def test_existing_project_is_refused(project: Path) -> None:
    before = snapshot(project.parent)
    assert_refused(run_cli("new", str(project), "--name", "again"), "already a workbench project")
    assert snapshot(project.parent) == before


def test_user_edit_in_an_existing_repo_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / ".gitignore").write_text("*.log\n")
    git(folder, "add", ".gitignore")
    git(folder, "commit", "-q", "-m", "mine")
    (folder / ".gitignore").write_text("*.log\n*.tmp\n")  # the user's uncommitted edit
    before = snapshot(tmp_path)
    assert_refused(run_cli("new", str(folder), "--name", "p"), ".gitignore has uncommitted edits")
    assert snapshot(tmp_path) == before


def test_sample_into_a_non_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "keep.txt").write_text("x")
    before = snapshot(tmp_path)
    assert_refused(run_cli("new", str(tmp_path / "p"), "--sample", "diagnosis"), "is not empty")
    assert_refused(run_cli("new", str(tmp_path / "q"), "--sample", "nope"), "no sample called 'nope'")
    assert snapshot(tmp_path) == before


def test_folder_with_unrelated_files_gets_only_the_workbench_files(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    (folder / "notes").mkdir(parents=True)
    (folder / "README.md").write_text("# my own readme\n")
    (folder / "data.csv").write_text("a,b\n1,2\n")
    (folder / "notes" / "todo.txt").write_text("todo\n")
    before = snapshot(folder)
    result = run_cli("new", str(folder), "--name", "p")
    assert result.returncode == 0, result.stderr
    files = sorted(git(folder, "show", "--name-only", "--format=", "HEAD").split())
    assert files == [".dvc/.gitignore", ".dvc/config", ".dvcignore", ".gitignore", "workbench.yaml"]
    assert git(folder, "rev-list", "--count", "HEAD").strip() == "1"
    untracked = sorted(git(folder, "status", "--porcelain", "--untracked-files=all").splitlines())
    assert untracked == ["?? README.md", "?? data.csv", "?? notes/todo.txt"]
    after = snapshot(folder)
    assert {k: after[k] for k in before} == before  # README.md and the rest byte-identical


# --- good paths -----------------------------------------------------------------


def test_new_from_flags(tmp_path: Path) -> None:
    folder = tmp_path / "churn"
    result = run_cli(
        "new", str(folder), "--name", "Churn", "--problem", "Customers leave.", "--owner", "Dana Ortiz",
        "--metric", "recall >= 0.8 at precision >= 0.5", "--task", "classification",
        "--member", "Dana Ortiz,dana@example.com,business_owner",
        "--member", "Ada Lovelace,ada@example.com,data_scientist",
        "--latency-ms", "100", "--description", "Predict churn a month ahead.",
    )
    assert result.returncode == 0, result.stderr
    assert f"Created project at {folder}" in result.stdout
    config = yaml.safe_load((folder / "workbench.yaml").read_text(encoding="utf-8"))
    assert config["schema_version"] == 1
    assert config["project"] == {"name": "Churn", "description": "Predict churn a month ahead."}
    charter = config["charter"]
    assert charter["problem"] == "Customers leave." and charter["business_owner"] == "Dana Ortiz"
    assert charter["success_metric"] == "recall >= 0.8 at precision >= 0.5"
    assert charter["task"] == "classification" and charter["constraints"]["latency_ms"] == 100
    assert charter["team"] == [
        {"name": "Dana Ortiz", "email": "dana@example.com", "role": "business_owner"},
        {"name": "Ada Lovelace", "email": "ada@example.com", "role": "data_scientist"},
    ]
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Churn\n") and "Customers leave." in readme
    assert "`recall >= 0.8 at precision >= 0.5`" in readme
    remote = Path(dvc.default_remote(folder))
    assert remote == tmp_path / "churn.dvc-storage" and remote.is_dir()
    assert git(folder, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(folder, "log", "-1", "--format=%s").strip() == 'Project: create "Churn"'
    # Ada (the git identity) is a data scientist on the team: the commit says so.
    assert trailers(folder) == "Workbench-Step: project\nWorkbench-Role: data_scientist"
    assert git(folder, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(folder, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


@pytest.mark.parametrize("sample", SAMPLES)
def test_new_from_each_sample(tmp_path: Path, sample: str) -> None:
    folder = tmp_path / sample
    result = run_cli("new", str(folder), "--sample", sample, "--json")
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    assert made["path"] == str(folder) and made["data_commit"]
    assert git(folder, "rev-list", "--count", "HEAD").strip() == "2"
    steps = git(folder, "log", "--format=%(trailers:key=Workbench-Step,valueonly)").split()
    assert steps == ["data_availability", "project"]
    assert git(folder, "status", "--porcelain", "--untracked-files=all") == ""
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=folder, check=True,
                            capture_output=True, text=True, env=dvc.dvc_env())
    assert json.loads(status.stdout) == {}
    assert any((Path(made["remote"]) / "files" / "md5").rglob("*"))  # the data was pushed


def test_path_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    folder = tmp_path / "my prøject ü"
    result = run_cli("new", str(folder), "--name", "Prøjekt Ω", "--metric", "r2 >= 0.5", "--task", "regression")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "my prøject ü.dvc-storage").is_dir()
    assert git(folder, "log", "-1", "--format=%s").strip() == 'Project: create "Prøjekt Ω"'
    assert git(folder, "status", "--porcelain") == ""
    history = run_cli("history", "--json", cwd=folder)
    assert history.returncode == 0, history.stderr
    assert json.loads(history.stdout)["entries"][0]["summary"] == 'create "Prøjekt Ω"'
    status = json.loads(run_cli("status", "--json", "-C", str(folder)).stdout)
    assert status["project"]["name"] == "Prøjekt Ω" and status["project"]["path"] == str(folder)
    # DVC itself reads the remote back (its own writer cannot store non-ASCII paths).
    remote = subprocess.run([sys.executable, "-m", "dvc", "remote", "list"], cwd=folder, check=True,
                            capture_output=True, text=True, env=dvc.dvc_env())
    assert remote.stdout.split()[0] == "local" and "(default)" in remote.stdout
    assert str(tmp_path / "my prøject ü.dvc-storage") in " ".join(remote.stdout.split())  # DVC wraps
    assert os.path.isdir(folder / ".dvc")
