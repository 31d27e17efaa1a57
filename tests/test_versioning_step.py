"""A step is one transaction on a real git + DVC repository: only its paths, with trailers.

Every test works on a real project made by ``create_project`` (the ``project``
fixture) and checks the outcome with plain git, never through the code under test.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IDENTITY, _isolated_env, configure_identity, git

from workbench.errors import DirtyPathError, WorkbenchError
from workbench.versioning import dvc
from workbench.versioning.step import begin_step
from workbench.versioning.timeline import read_timeline

_TEMPLATE: dict[str, Path] = {}


def copy_project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the ``project`` fixture's project, built once per worker.

    Same charter, same single commit (made by the real ``create_project``), but its
    remote is stored relative to ``.dvc`` so each copy gets its own storage beside it.
    Building a project costs a few DVC subprocesses; copying one costs milliseconds.
    """
    if "churn" not in _TEMPLATE:
        from workbench.new_project import create_project
        from workbench.project import Charter, TeamMember

        base = tmp_path_factory.mktemp("churn-template")
        home = base / "home"
        configure_identity(home)
        old = {k: os.environ.get(k) for k in _isolated_env(home)}
        os.environ.update(_isolated_env(home))
        try:
            charter = Charter(
                name="Churn", problem="Customers leave without warning.", business_owner="Dana Ortiz",
                success_metric="recall >= 0.7", task="classification",
                team=(TeamMember("Dana Ortiz", "dana@example.com", "business_owner"),
                      TeamMember(*IDENTITY, "data_scientist")))
            made = create_project(base / "churn", charter)
            config = made.path / ".dvc" / "config"
            config.write_text(config.read_text().replace(made.remote, "../../churn.dvc-storage"))
            subprocess.run(["git", "commit", "-q", "--amend", "--no-edit", "--", ".dvc/config"],
                           cwd=made.path, check=True)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        _TEMPLATE["churn"] = made.path
    dest = tmp_path / "churn"
    shutil.copytree(_TEMPLATE["churn"], dest, symlinks=True)
    (tmp_path / "churn.dvc-storage").mkdir()
    return dest


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Overrides conftest's ``project`` with a copy of a per-worker template (see copy_project)."""
    return copy_project(tmp_path, tmp_path_factory)


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def porcelain(path: Path) -> list[str]:
    return sorted(git(path, "status", "--porcelain=v1", "--untracked-files=all").splitlines())


def committed_files(path: Path, rev: str = "HEAD") -> list[str]:
    return sorted(git(path, "show", "--name-only", "--format=", rev).split())


def trailers(path: Path, rev: str = "HEAD") -> str:
    return git(path, "log", "-1", "--format=%(trailers)", rev).strip()


# --- commit a step ------------------------------------------------------------------


def test_step_commits_only_its_paths_and_leaves_user_work_alone(project: Path) -> None:
    # Someone's work in progress: a modified tracked file, a staged new file, an untracked file.
    (project / "README.md").write_text("# my local edit\n", encoding="utf-8")
    (project / "notes.txt").write_text("staged by the user\n", encoding="utf-8")
    git(project, "add", "notes.txt")
    (project / "scratch.py").write_text("print('untracked')\n", encoding="utf-8")
    before = porcelain(project)
    assert before == [" M README.md", "?? scratch.py", "A  notes.txt"]

    config = (project / "workbench.yaml").read_text(encoding="utf-8")
    with begin_step(project, "requirements", paths=["workbench.yaml"]) as step:
        step.write_text("workbench.yaml", config.replace("recall >= 0.7", "recall >= 0.8"))
        step.write_text("reports/charter.md", "# charter\n")
        step.summary = "raise the recall target"

    assert step.commit == head(project)
    assert step.messages == []  # DVC's ordinary leftover .dvc/tmp/lock is not news
    assert committed_files(project) == ["reports/charter.md", "workbench.yaml"]
    assert porcelain(project) == before  # staged stays staged, the rest untouched
    assert (project / "README.md").read_text(encoding="utf-8") == "# my local edit\n"
    assert git(project, "diff", "--cached", "--name-only").split() == ["notes.txt"]
    assert git(project, "log", "-1", "--format=%s").strip() == "Requirements: raise the recall target"
    # The identity (Ada) is in the team as a data scientist: the commit is made in that role.
    assert trailers(project) == "Workbench-Step: requirements\nWorkbench-Role: data_scientist"
    assert git(project, "log", "-1", "--format=%an <%ae>").strip() == f"{IDENTITY[0]} <{IDENTITY[1]}>"


def test_explicit_role_and_body_go_into_the_message(project: Path) -> None:
    with begin_step(project, "validation", role="ml_engineer", summary="gates pass") as step:
        step.write_text("reports/validation.json", "{}\n")
        step.body = "All five gates pass."
    message = git(project, "log", "-1", "--format=%B")
    assert message.startswith("Testing & validation: gates pass\n\nAll five gates pass.\n")
    assert trailers(project) == "Workbench-Step: validation\nWorkbench-Role: ml_engineer"


def test_unknown_role_is_refused_before_anything_is_written(project: Path) -> None:
    old = head(project)
    with pytest.raises(WorkbenchError, match="role 'wizard' is not known"):
        with begin_step(project, "requirements", role="wizard") as step:
            step.write_text("x.txt", "x")
    assert head(project) == old and not (project / "x.txt").exists()


@pytest.mark.parametrize("declared", [True, False], ids=["declared-path", "written-path"])
def test_step_refuses_a_path_with_uncommitted_edits(project: Path, declared: bool) -> None:
    old_head = head(project)
    mine = (project / "workbench.yaml").read_text(encoding="utf-8") + "# my edit\n"
    (project / "workbench.yaml").write_text(mine, encoding="utf-8")
    ran = []
    with pytest.raises(DirtyPathError) as info:
        with begin_step(project, "requirements", paths=["workbench.yaml"] if declared else []) as step:
            ran.append(True)
            step.write_text("reports/other.md", "other\n")
            step.write_text("workbench.yaml", "overwritten\n")
    message = str(info.value)
    assert "workbench.yaml has uncommitted edits" in message and "\n" not in message
    assert ran == ([] if declared else [True])  # a declared path is checked before the body runs
    assert (project / "workbench.yaml").read_text(encoding="utf-8") == mine
    assert not (project / "reports").exists()  # rolled back, folder included
    assert head(project) == old_head
    assert porcelain(project) == [" M workbench.yaml"]
    assert not (git_dir(project) / "mlops-workbench.lock").exists()


def test_step_refuses_an_untracked_file_it_would_overwrite(project: Path) -> None:
    (project / "params.yaml").write_text("seed: 1\n", encoding="utf-8")
    with pytest.raises(DirtyPathError, match="params.yaml is not committed yet"):
        with begin_step(project, "data_engineering", paths=["params.yaml"]) as step:
            step.write_text("params.yaml", "seed: 2\n")
    assert (project / "params.yaml").read_text(encoding="utf-8") == "seed: 1\n"


def test_body_raising_rolls_everything_back(project: Path) -> None:
    old_head = head(project)
    original = (project / "workbench.yaml").read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        with begin_step(project, "requirements") as step:
            step.write_text("workbench.yaml", "changed: true\n")
            step.write_text("reports/deep/new.json", "{}\n")
            raise RuntimeError("boom")
    assert (project / "workbench.yaml").read_bytes() == original
    assert not (project / "reports").exists()
    assert head(project) == old_head
    assert porcelain(project) == []
    assert not (git_dir(project) / "mlops-workbench.lock").exists()


def test_nothing_changed_makes_no_commit(project: Path) -> None:
    old_head = head(project)
    text = (project / "workbench.yaml").read_text(encoding="utf-8")
    with begin_step(project, "requirements", summary="no change") as step:
        step.write_text("workbench.yaml", text)
    assert step.commit is None
    assert head(project) == old_head
    assert porcelain(project) == []


def test_a_file_the_step_deletes_is_committed_as_deleted(project: Path) -> None:
    with begin_step(project, "requirements", summary="add") as step:
        step.write_text("reports/tmp.md", "x\n")
    with begin_step(project, "requirements", summary="drop") as step:
        (project / "reports" / "tmp.md").unlink()
        step.include("reports/tmp.md")
    assert git(project, "show", "--name-status", "--format=", "HEAD").split() == ["D", "reports/tmp.md"]
    assert porcelain(project) == []


def test_step_refuses_to_write_outside_the_project(project: Path) -> None:
    with pytest.raises(WorkbenchError, match="outside the project"):
        with begin_step(project, "requirements") as step:
            step.write_text("../escape.txt", "x")
    assert not (project.parent / "escape.txt").exists()


def git_dir(path: Path) -> Path:
    return Path(git(path, "rev-parse", "--absolute-git-dir").strip())


# --- dvc add + push ---------------------------------------------------------------


def test_dvc_add_in_a_step_commits_the_pointer_and_a_clone_pulls_the_data(project: Path,
                                                                          tmp_path: Path) -> None:
    data = "id,amount\n" + "".join(f"{i},{i * 1.5}\n" for i in range(2000))
    (project / "data").mkdir()
    (project / "data" / "tx.csv").write_text(data, encoding="utf-8")
    lines: list[str] = []
    with begin_step(project, "data_availability", summary="track tx", progress=lines.append) as step:
        written = step.dvc_add(["data/tx.csv"])
    assert written == ["data/tx.csv.dvc", "data/.gitignore"]
    assert committed_files(project) == ["data/.gitignore", "data/tx.csv.dvc"]
    assert porcelain(project) == []
    assert any("pushed" in line for line in lines), lines

    md5 = hashlib.md5(data.encode()).hexdigest()
    remote = Path(dvc.default_remote(project))
    assert remote == project.parent / "churn.dvc-storage"
    assert (remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(project), str(clone)], check=True)
    assert not (clone / "data" / "tx.csv").exists()
    subprocess.run([sys.executable, "-m", "dvc", "pull", "--quiet"], cwd=clone, check=True)
    assert (clone / "data" / "tx.csv").read_bytes() == data.encode()


def test_push_failure_after_commit_is_a_message_not_an_error(project: Path) -> None:
    remote = Path(dvc.default_remote(project))
    shutil.rmtree(remote)
    remote.write_text("not a folder", encoding="utf-8")  # the remote is unusable
    (project / "d.csv").write_text("a\n1\n", encoding="utf-8")
    with begin_step(project, "data_availability", summary="track d") as step:
        step.dvc_add(["d.csv"])
    assert step.commit == head(project)
    assert any("run 'dvc push'" in m for m in step.messages), step.messages


# --- timeline ---------------------------------------------------------------------


def test_timeline_lists_steps_newest_first_and_agrees_with_git_log(project: Path) -> None:
    (project / "hand.txt").write_text("made by hand\n", encoding="utf-8")
    git(project, "add", "hand.txt")
    git(project, "commit", "-q", "-m", "a commit made by hand")
    with begin_step(project, "use_cases", summary="rank three use cases") as step:
        step.write_text("reports/use_cases.md", "1\n")
    with begin_step(project, "review", role="business_owner", summary="approve") as step:
        step.write_text("reports/review.json", "{}\n")

    entries = read_timeline(project)
    assert [e.step for e in entries] == ["review", "use_cases", "project"]
    log = git(project, "log", "--format=%H%x00%an%x00%ae%x00%s%x00%(trailers:key=Workbench-Step,valueonly)"
              "%x00%(trailers:key=Workbench-Role,valueonly)%x01").split("\x01")
    expected = []
    for record in log:
        fields = record.strip("\n").split("\x00")
        if len(fields) == 6 and fields[4].strip():
            expected.append((fields[0], fields[1], fields[2], fields[3], fields[4].strip(), fields[5].strip()))
    assert [(e.commit, e.author, e.email, f"{e.step_title}: {e.summary}", e.step, e.role)
            for e in entries] == expected
    assert entries[0].summary == "approve" and entries[0].role == "business_owner"
    assert entries[1].step_title == "Use-case prioritization"
    assert entries[1].role == "data_scientist"  # Ada's team role, not the step's default
    assert entries[2].summary == 'create "Churn"'
    assert entries[0].short == entries[0].commit[:len(entries[0].short)]
    assert read_timeline(project, limit=1) == entries[:1]
