"""A path a person types names the file their shell shows, also through a symlinked folder.

``ls shortcut/../x`` lists the ``x`` beside the folder the link leads to, not the ``x``
beside the link: the system resolves ``..`` physically. Every path a person gives the
workbench (``data add PATH``, ``monitor CURRENT``, ``monitor --reference PATH``,
``retrain --data PATH``) goes through :func:`workbench.paths.user_path`, which must agree.
Each test puts a decoy at the place a lexical ``..`` would lead to, so it fails if the
path is normalised as text.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.test_registry import build_trained_project
from workbench.paths import user_path


def _linked_layout(base: Path) -> tuple[Path, Path]:
    """``base/here/shortcut -> base/elsewhere/inner``; returns (here, elsewhere)."""
    here, elsewhere = base / "here", base / "elsewhere"
    (elsewhere / "inner").mkdir(parents=True)
    here.mkdir()
    (here / "shortcut").symlink_to(elsewhere / "inner", target_is_directory=True)
    return here, elsewhere


def test_user_path_goes_up_from_where_a_linked_folder_leads(tmp_path: Path) -> None:
    here, elsewhere = _linked_layout(tmp_path)
    (elsewhere / "f.csv").write_text("real\n")
    (here / "f.csv").write_text("decoy\n")

    found = user_path("shortcut/../f.csv", here)
    assert found == (elsewhere / "f.csv").resolve()
    # the file the system opens for the typed path (what a shell's cat shows)
    with open(os.path.join(here, "shortcut/../f.csv")) as fh:
        assert fh.read() == found.read_text() == "real\n"
    assert user_path("shortcut/..", here) == (elsewhere).resolve()
    # without '..' nothing is resolved: the link (and a linked file's own name) is kept
    assert user_path("shortcut/./x.csv", here) == here / "shortcut" / "x.csv"
    assert user_path(here / "shortcut" / "f.csv") == here / "shortcut" / "f.csv"
    assert user_path("~/x.csv", here) == Path.home() / "x.csv"


@pytest.fixture(scope="module")
def trained_template(tmp_path_factory) -> Path:
    return build_trained_project(tmp_path_factory.mktemp("user-paths"), tmp_path_factory)


def test_monitor_reads_the_batch_and_the_reference_through_a_linked_folder(trained_template: Path,
                                                                          tmp_path: Path) -> None:
    project = tmp_path / "diagnosis"
    shutil.copytree(trained_template, project, symlinks=True)
    (project / "shortcut").symlink_to(tmp_path / "elsewhere" / "inner", target_is_directory=True)
    (tmp_path / "elsewhere" / "inner").mkdir(parents=True)
    batch = project / "incoming" / "breast_cancer_2026_q2.csv"
    shutil.copy(batch, tmp_path / "elsewhere" / "batch.csv")
    shutil.copy(project / "reports" / "reference.json", tmp_path / "elsewhere" / "reference.json")
    # decoys where a lexical '..' would lead: the project folder itself
    (project / "batch.csv").write_text("nothing,useful\n1,2\n")
    (project / "reference.json").write_text("not json\n")

    done = run_cli("monitor", "-q", "--dry-run", "--json", "shortcut/../batch.csv",
                   "--reference", "shortcut/../reference.json", cwd=project)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["reference"]["path"] == "shortcut/../reference.json"
    assert report["batch"]["rows"] == sum(1 for _ in batch.open()) - 1

    # the same paths, typed as text with a lexical '..', are the decoys: proof the test can fail
    wrong = run_cli("monitor", "-q", "--dry-run", "batch.csv", "--reference", "reference.json", cwd=project)
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr


def test_new_remote_through_a_linked_folder_and_beside_the_project(tmp_path: Path) -> None:
    from workbench.versioning import dvc

    here, elsewhere = _linked_layout(tmp_path)
    made = run_cli("new", "proj", "--name", "Linked", "--remote", "shortcut/../store", cwd=here)
    assert made.returncode == 0, made.stdout + made.stderr
    assert Path(dvc.default_remote(here / "proj")) == (elsewhere / "store").resolve()
    assert (elsewhere / "store").is_dir() and not (here / "store").exists()
    # 'proj/../store2' is beside the project, not inside it (a lexical parent check said inside)
    beside = run_cli("new", "proj2", "--name", "Beside", "--remote", "proj2/../store2", cwd=here)
    assert beside.returncode == 0, beside.stdout + beside.stderr
    assert Path(dvc.default_remote(here / "proj2")) == here / "store2"
