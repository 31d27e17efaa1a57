"""workbench.yaml and params.yaml are read through one typed schema (issue 13, item 7).

Every wrong-typed value below is written into a real trained project (diagnosis sample,
pipeline, ``dvc repro``, committed) and the command that reads it is run as a user would,
through the real CLI: exit 2, one line naming the file, the key, what it holds and what it
should hold, no traceback (exit 70 is for real bugs). Also here: unknown keys are kept and
reading never rewrites a file; the other internal errors the issue lists (a folder holding
the project given to ``data add``, a file name git cannot track, a broken ``.dvc`` pointer).
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import git, run_cli
from tests.test_registry import build_trained_project

PREFIX = "mlops-workbench: error: "


@pytest.fixture(scope="module")
def trained_template(tmp_path_factory) -> Path:
    return build_trained_project(tmp_path_factory.mktemp("schema-template"), tmp_path_factory)


@pytest.fixture
def trained(trained_template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "diagnosis"
    shutil.copytree(trained_template, dest, symlinks=True)
    return dest


def set_key(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    cur = data
    for k in keys[:-1]:
        if k.isdigit():
            cur = cur[int(k)]
        else:
            if not isinstance(cur.get(k), dict | list):
                cur[k] = {}
            cur = cur[k]
    cur[keys[-1]] = value


def digests(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (path / "workbench.yaml", path / "params.yaml")}


# (file, key, wrong value, command, what the line must say after "<file>: <key> holds ...")
CASES = [
    ("workbench.yaml", "use_cases.candidates", "abc", ("status",), "(text); it should be a list of use cases"),
    ("workbench.yaml", "use_cases.candidates", "abc", ("usecase", "rank"), "it should be a list of use cases"),
    ("workbench.yaml", "use_cases.weights", "equal", ("usecase", "rank"), "(text); it should be a mapping"),
    ("workbench.yaml", "use_cases.candidates.0.scores", {"risk": "high"}, ("usecase", "rank"),
     "it should be a number"),
    ("workbench.yaml", "use_cases.selected", 5, ("status",), "(a number); it should be a use-case id"),
    ("workbench.yaml", "data.id_columns", 7, ("data", "check"), "(a number); it should be a list of column names"),
    ("workbench.yaml", "data.id_columns", [7], ("data", "check"), "(a number); it should be a column name"),
    ("workbench.yaml", "data.sensitive_columns", {"age": 1}, ("data", "check"), "it should be a list of column"),
    ("workbench.yaml", "data.exclude_columns", 3.5, ("data", "check"), "it should be a list of column names"),
    ("workbench.yaml", "data.target", 5, ("data", "check"), "(a number); it should be the target column's name"),
    ("workbench.yaml", "data.time_column", ["a", "b"], ("data", "check"), "(a list); it should be a column name"),
    ("workbench.yaml", "data.thresholds.min_rows", "1000", ("data", "check"), "(text); it should be a number"),
    ("workbench.yaml", "data.thresholds.max_missing_share", 7, ("data", "check"), "it should be a number from 0 to 1"),
    ("workbench.yaml", "data.thresholds", [1000], ("data", "check"), "(a list); it should be a mapping"),
    ("workbench.yaml", "data.sources", "data/x.csv", ("status",), "(text); it should be a list of sources"),
    ("workbench.yaml", "gates.no_regression.tolerance", "small", ("validate",),
     "(text); it should be a number, or a mapping metric -> number"),
    ("workbench.yaml", "gates.no_regression.tolerance", {"recall": "x"}, ("check",), "(text); it should be a number"),
    ("workbench.yaml", "gates.baseline", "yes", ("validate",), "(text); it should be true/false or a mapping"),
    ("workbench.yaml", "gates.slices.enabled", "no", ("check",), "(text); it should be true or false"),
    ("workbench.yaml", "monitoring.drift_share", "high", ("monitor", "incoming/breast_cancer_2026_q2.csv",
                                                          "--dry-run"), "(text); it should be a number >= 0"),
    ("workbench.yaml", "retraining.policy", "sometimes", ("status",), "it should be manual or automatic"),
    ("workbench.yaml", "governance.approvals", 0, ("status",), "(a number); it should be a whole number >= 1"),
    ("workbench.yaml", "governance.independent_review", "yes", ("status",), "(text); it should be true or false"),
    ("workbench.yaml", "registry.artifact", 5, ("validate",), "(a number); it should be the artifact's name"),
    ("workbench.yaml", "charter.task", "ranking", ("charter", "show"), "it should be classification or regression"),
    ("workbench.yaml", "charter.team", "me", ("status",), "(text); it should be a list of team members"),
    ("workbench.yaml", "charter.constraints.latency_ms", "fast", ("charter", "show"),
     "(text); it should be a whole number of milliseconds"),
    ("workbench.yaml", "project.name", ["a"], ("status",), "(a list); it should be the project's name"),
    ("workbench.yaml", "schema_version", "one", ("status",), "(text); it should be a whole number"),
    ("params.yaml", "split.test_size", 2, ("train",), "(a number); it should be a number between 0 and 1"),
    ("params.yaml", "split.seed", 0.5, ("train",), "(a number); it should be a whole number"),
    ("params.yaml", "model.params", "C=1", ("train",), "(text); it should be a mapping of hyperparameters"),
    ("params.yaml", "preprocessing.numeric.impute", "avg", ("train",), "it should be median, mean or none"),
    ("params.yaml", "features.mean_radius", "num", ("validate",), "it should be one of numeric, categorical"),
    ("params.yaml", "target", 5, ("validate",), "(a number); it should be the target column's name"),
    ("params.yaml", "sources", "data/breast_cancer.csv", ("validate",), "(text); it should be a list of sources"),
]


@pytest.mark.parametrize("name, key, value, command, should", CASES,
                         ids=[f"{c[0]}:{c[1]}={c[2]!r}:{' '.join(c[3][:2])}" for c in CASES])
def test_a_wrong_typed_value_is_one_line_naming_the_key(trained: Path, name: str, key: str, value: Any,
                                                        command: tuple[str, ...], should: str) -> None:
    path = trained / name
    data = yaml.safe_load(path.read_text())
    set_key(data, key, value)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    before_head, before = git(trained, "rev-parse", "HEAD"), digests(trained)
    done = run_cli(*command, cwd=trained)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith(PREFIX)]
    assert len(lines) == 1, done.stderr
    shown = key.replace(".0.", "[0].")
    assert f"{name}: {shown}" in lines[0], lines[0]
    if not isinstance(value, dict | list):  # a mapping or list is named down to the wrong entry
        assert f"holds {value!r}" in lines[0], lines[0]
    assert should in lines[0], lines[0]
    assert git(trained, "rev-parse", "HEAD") == before_head  # nothing committed
    assert digests(trained) == before  # nor rewritten


def test_unknown_keys_are_kept_and_reading_never_rewrites(trained: Path) -> None:
    config = trained / "workbench.yaml"
    text = config.read_text() + "\n# a note of the team\nteam_wiki: https://wiki.example.com/churn\n"
    text = text.replace("data:\n", "data:\n  owner_note: {kept: [1, 2]}\n", 1)
    config.write_text(text)
    git(trained, "commit", "-q", "-am", "our own keys")
    for command in (("status",), ("data", "check", "--help"), ("charter", "show"), ("usecase", "rank")):
        done = run_cli(*command, cwd=trained)
        assert done.returncode == 0, done.stderr
        assert config.read_text() == text  # reading does not rewrite the file
    done = run_cli("charter", "set", "--problem", "Triage aspirates sooner.", cwd=trained)
    assert done.returncode == 0, done.stderr
    after = yaml.safe_load(config.read_text())
    assert after["team_wiki"] == "https://wiki.example.com/churn"  # a step that writes keeps them
    assert after["data"]["owner_note"] == {"kept": [1, 2]}


# --- the other internal errors of item 7 -------------------------------------------------------


def test_data_add_of_a_folder_that_holds_the_project_is_one_line(trained: Path) -> None:
    before = git(trained, "rev-parse", "HEAD")
    for folder in (trained.parent, trained.parent.parent):
        done = run_cli("data", "add", str(folder), cwd=trained)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith(PREFIX) and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "contains the project itself" in done.stderr
    assert git(trained, "rev-parse", "HEAD") == before and not (trained / "data" / trained.parent.name).exists()


@pytest.mark.parametrize("name, what", [
    ("new\nline.csv", "holds a newline"),
    ("car\rriage.csv", "holds a carriage return"),
    ("bell\x07.csv", "control character"),
    ("trailing.csv ", "ends with a space"),
])
def test_data_add_refuses_names_git_or_dvc_cannot_track(trained: Path, tmp_path: Path, name: str,
                                                         what: str) -> None:
    import pandas as pd

    src = tmp_path / "incoming-files"
    src.mkdir()
    frame = pd.DataFrame({"a": range(300), "b": [f"x{i % 7}" for i in range(300)]})
    frame.to_csv(src / name, index=False)
    before = git(trained, "rev-parse", "HEAD")
    status = git(trained, "status", "--porcelain", "--untracked-files=all")
    done = run_cli("data", "add", str(src / name), cwd=trained)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and what in done.stderr, done.stderr
    assert git(trained, "rev-parse", "HEAD") == before
    assert git(trained, "status", "--porcelain", "--untracked-files=all") == status
    assert not (trained / "data" / name).exists()
    # inside the project, tracked in place: refused the same way
    (trained / "data" / name).write_bytes((src / name).read_bytes())
    done = run_cli("data", "add", f"data/{name}", cwd=trained)
    assert done.returncode == 2 and what in done.stderr, done.stderr
    assert not (trained / "data" / f"{name}.dvc").exists()


def test_a_broken_dvc_pointer_is_one_line_naming_it_and_the_fix(trained: Path) -> None:
    pointer = trained / "data" / "breast_cancer.csv.dvc"
    good = pointer.read_text()
    data = yaml.safe_load(good)
    data["outs"][0]["md5"] = 3  # a hand edit gone wrong
    pointer.write_text(yaml.safe_dump(data, sort_keys=False))
    # committed (a teammate's bad edit pulled in): an uncommitted one is refused earlier, as
    # any uncommitted edit of a file the pipeline reads is
    subprocess.run(["git", "commit", "-q", "-m", "a bad hand edit", "--", "data/breast_cancer.csv.dvc"],
                   cwd=trained, check=True)
    env = {"PATH": os.path.dirname(os.path.abspath(sys.executable)) + os.pathsep + os.environ["PATH"]}
    done = run_cli("train", cwd=trained, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    line = [ln for ln in done.stderr.splitlines() if ln.startswith(PREFIX)]
    assert len(line) == 1, done.stderr
    assert "data/breast_cancer.csv.dvc is not a valid DVC pointer" in line[0]
    assert "dvc add data/breast_cancer.csv" in line[0] and "git checkout HEAD -- data/breast_cancer.csv.dvc" in line[0]
    assert "size:" not in line[0]  # not DVC's box cut at a random line


def test_the_schema_accepts_every_file_the_workbench_writes(trained: Path) -> None:
    from workbench.config import check_params, check_workbench_config
    from workbench.project import Charter, default_config

    root = Path(__file__).resolve().parent.parent / "sample_projects"
    for sample in sorted(root.glob("*/workbench.yaml")):
        check_workbench_config(yaml.safe_load(sample.read_text()))
    check_workbench_config(yaml.safe_load((trained / "workbench.yaml").read_text()))
    check_params(yaml.safe_load((trained / "params.yaml").read_text()))
    check_workbench_config(default_config(Charter("x", "y", "z", "recall >= 0.5")))
    extended = copy.deepcopy(default_config(Charter("x", "y", "z", "recall >= 0.5")))
    extended.update({"governance": {"independent_review": True, "approvals": 2},
                     "retraining": {"policy": "Automatic"},
                     "gates": {"no_regression": {"tolerance": {"rmse": 0.05, "r2": 0.01}}}})
    extended["data"].update({"exclude_columns": ["customer_email"], "target": "is_fraud"})
    check_workbench_config(extended)
