"""The versioning contract for retraining (issue 13, item 4), on real git + DVC + GTO.

A rejected candidate never reaches the branch: after a retrain on label-shuffled data the
workspace is clean, HEAD's dvc.lock and metrics.json are as before, a fresh clone + dvc
pull + dvc repro reproduces HEAD's metrics.json byte for byte, and ``check`` (which judges
the model HEAD holds) exits 0. The candidate stays in refs/exps with its data in the DVC
remote, and ``retrain discard`` removes it. A retrain on held-out good data then passes,
``exp promote`` commits pointer + dvc.lock + outputs together, and HEAD reproduces again.

The diagnosis project of tests/test_retrain.py (v1.0.0 registered and in production via
the registry, evidence committed) is the starting point.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import git, run_cli
from tests.test_registry import VENV_BIN, one_line_error
from tests.test_retrain import (  # noqa: F401 (its fixture)
    INCOMING,
    POINTER,
    SOURCE,
    production_template,
)


@pytest.fixture
def project(production_template, tmp_path) -> Path:  # noqa: F811
    dest = tmp_path / "diagnosis"
    shutil.copytree(production_template, dest, symlinks=True)
    # check needs a data check on record: small data, so the size thresholds are lowered
    config = yaml.safe_load((dest / "workbench.yaml").read_text())
    config.setdefault("data", {})["thresholds"] = {"min_rows": 100, "min_positives": 20}
    (dest / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(dest, "commit", "-q", "-m", "Smaller data thresholds", "--", "workbench.yaml")
    done = run_cli("data", "check", "-q", cwd=dest)
    assert done.returncode == 0, done.stdout + done.stderr
    dvc(dest, "push")
    return dest


def dvc(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([f"{VENV_BIN}/dvc", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"dvc {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def head_file(path: Path, rel: str) -> bytes:
    return subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=path, capture_output=True, check=True).stdout


def assert_head_reproduces(path: Path, tmp_path: Path, name: str) -> None:
    """A fresh clone + dvc pull + dvc repro gives HEAD's metrics.json byte for byte, git status empty."""
    clone = tmp_path / name
    subprocess.run(["git", "clone", "-q", str(path), str(clone)], check=True, capture_output=True)
    dvc(clone, "pull")
    dvc(clone, "repro")
    assert (clone / "metrics.json").read_bytes() == head_file(path, "metrics.json")
    assert git(clone, "status", "--porcelain", "--untracked-files=all") == ""


def check(path: Path) -> dict:
    done = run_cli("check", "--json", "-q", cwd=path)
    report = json.loads(done.stdout)
    assert done.returncode == report["exit_code"], done.stderr
    return report


def test_rejected_candidate_leaves_head_reproducible_and_the_workspace_clean(project, tmp_path):
    path = project
    incoming = pd.read_csv(path / INCOMING)
    shuffled = incoming.copy()
    shuffled["diagnosis"] = 1 - shuffled["diagnosis"]  # every label wrong: the candidate must fail a gate
    bad = tmp_path / "mislabelled.csv"
    shuffled.to_csv(bad, index=False)
    before = {rel: head_file(path, rel) for rel in ("dvc.lock", "metrics.json", POINTER, "params.yaml")}
    report_before = (path / "reports/validation.json").read_bytes()
    start = git(path, "rev-parse", "HEAD").strip()
    assert check(path)["exit_code"] == 0

    done = run_cli("retrain", "--data", str(bad), "--json", "-q", cwd=path)
    assert done.returncode == 1, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["validation"]["passed"] is False and out["validation"]["failed_gates"], out["validation"]
    assert out["proposal"] == [] and out["data"]["commit"] is None and out["data"]["in_remote"] is True
    exp, md5 = out["experiment"], out["data"]["md5"]
    rejected = out["rejected"]
    assert rejected["discard"] == f"mlops-workbench retrain discard {exp}"
    assert any(md5 in line and "remote" in line for line in rejected["kept"])

    # the workspace is clean, HEAD's pipeline is as before, the data is back to HEAD's version
    assert git(path, "status", "--porcelain", "--untracked-files=all") == ""
    assert {rel: head_file(path, rel) for rel in before} == before
    assert yaml.safe_load((path / POINTER).read_text())["outs"][0]["md5"] == out["data"]["md5_before"]
    assert len(pd.read_csv(path / SOURCE)) == out["data"]["rows_before"]
    # two commits: the failed validation (the record), then the current model's report put back
    log = git(path, "log", "--format=%H %s", f"{start}..HEAD").splitlines()
    assert [line.split(" ", 1)[1].split(":")[0] for line in log] == ["Monitoring & triggering",
                                                                     "Testing & validation"]
    assert log[0].split(" ", 1)[0] == rejected["commit"] and log[1].split(" ", 1)[0] == out["validation"]["commit"]
    assert f"retraining candidate {exp} rejected" in log[0]
    assert (path / "reports/validation.json").read_bytes() == report_before
    changed = set(git(path, "diff", "--name-only", start, "HEAD").split())
    assert changed <= {"reports/validation.json", "reports/validation.md"}

    # the candidate is kept: its experiment holds the new pointer, the data is in the remote
    exp_sha = out["experiment_commit"]
    assert f"/{exp}" in git(path, "for-each-ref", "--format=%(refname)", "refs/exps")
    assert yaml.safe_load(git(path, "show", f"{exp_sha}:{POINTER}"))["outs"][0]["md5"] == md5
    remote = Path(next(line.split("=", 1)[1].strip() for line in (path / ".dvc/config").read_text().splitlines()
                       if line.strip().startswith("url =")))
    assert (remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()

    # HEAD reproduces from a fresh clone; check judges the model HEAD holds (production): all clear
    assert_head_reproduces(path, tmp_path, "clone-after-rejection")
    verdict = check(path)
    assert verdict["exit_code"] == 0, verdict
    status = run_cli("status", "--json", cwd=path)
    assert status.returncode == 0 and "report is for another model" not in status.stdout

    # discard: the experiment goes; an unknown one is one line
    done = run_cli("retrain", "discard", exp, cwd=path)
    assert done.returncode == 0, done.stderr
    assert f"/{exp}" not in git(path, "for-each-ref", "--format=%(refname)", "refs/exps")
    assert "is not known" in one_line_error(run_cli("retrain", "discard", exp, cwd=path))
    assert git(path, "status", "--porcelain", "--untracked-files=all") == ""

    # then held-out good data: passes, promote commits pointer + dvc.lock + outputs together
    done = run_cli("retrain", "--data", INCOMING, "--json", "-q", cwd=path)
    assert done.returncode == 0, done.stdout + done.stderr
    good = json.loads(done.stdout)
    assert good["validation"]["passed"] is True and good["rejected"] is None
    assert git(path, "status", "--porcelain", "--untracked-files=all") == ""
    assert head_file(path, "dvc.lock") == before["dvc.lock"]  # not on the branch before the promote
    # the newest report is the candidate's: check still judges the model HEAD holds, by its own report
    verdict = check(path)
    item = next(i for i in verdict["checks"] if i["name"] == "validation")
    assert verdict["exit_code"] == 0 and item["severity"] == "ok", verdict
    assert f"the newest report is for experiment {good['experiment']}, not on the branch" in item["detail"]
    done = run_cli("exp", "promote", good["experiment"], "--quiet", cwd=path)
    assert done.returncode == 0, done.stdout + done.stderr
    promoted = set(git(path, "show", "--name-only", "--format=", "HEAD").split())
    assert {POINTER, "dvc.lock", "metrics.json"} <= promoted
    assert yaml.safe_load(head_file(path, POINTER))["outs"][0]["md5"] == good["data"]["md5"]
    body = git(path, "log", "-1", "--format=%B")
    assert f"retraining data: +250 rows from {INCOMING}" in body and "Retraining-Data-MD5: " in body
    assert git(path, "status", "--porcelain", "--untracked-files=all") == ""
    assert_head_reproduces(path, tmp_path, "clone-after-promote")
    # the same file again: every row is in the source now
    error = one_line_error(run_cli("retrain", "--data", INCOMING, "-q", cwd=path))
    assert "data/breast_cancer.csv before" in error or "already in data/breast_cancer.csv" in error
