"""Retraining on real git + DVC + GTO: new data version, experiment, validation, proposal, policy.

One trained diagnosis project with v1.0.0 in production (GTO tags) is built per module and
copied per test; every command runs as the real CLI in a subprocess. The gates are set in
workbench.yaml so that the retrained candidate passes them (the automatic-policy test turns
the charter's success metric back on, which the candidate misses: a failing gate).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import _isolated_env, git, run_cli
from tests.test_registry import VENV_BIN, add_evidence, build_trained_project, gto, one_line_error

SOURCE = "data/breast_cancer.csv"
POINTER = f"{SOURCE}.dvc"
INCOMING = "incoming/breast_cancer_2026_q2.csv"
GATES = {
    "success_metric": {"enabled": False},
    "baseline": {"enabled": True, "metric": "recall", "margin": 0.05},
    "no_regression": {"enabled": True, "tolerance": 0.02},
    "slices": {"enabled": True, "column": "age_group", "metric": "recall", "floor": 0.85, "min_rows": 20},
    "fairness": {"enabled": True, "column": "age_group", "metric": "recall", "max_difference": 0.3,
                 "min_rows": 20},
    "reproducibility": {"enabled": False},  # the validation tests cover it; here it would only cost time
}


def _edit_config(path: Path, **sections) -> None:
    config = yaml.safe_load((path / "workbench.yaml").read_text())
    config.update(sections)
    (path / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def production_template(tmp_path_factory) -> Path:
    """Trained diagnosis project: gates in workbench.yaml, v1.0.0 registered and in production."""
    from workbench.versioning.registry import promote_model, register_model

    base = tmp_path_factory.mktemp("retrain-template")
    path = build_trained_project(base, tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _isolated_env(base / "home").items():
            mp.setenv(key, value)
        mp.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
        _edit_config(path, gates=GATES, monitoring={"drift_share": 0.3})
        git(path, "commit", "-q", "-m", "Gates and monitoring thresholds", "--", "workbench.yaml")
        add_evidence(path)
        register_model(path, "v1.0.0", role="ml_engineer")
        promote_model(path, "v1.0.0", "production", role="business_owner")
    return path


@pytest.fixture
def project(production_template, tmp_path) -> Path:
    dest = tmp_path / "diagnosis"
    shutil.copytree(production_template, dest, symlinks=True)
    return dest


def _head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def _pointer_md5(path: Path) -> str:
    return yaml.safe_load((path / POINTER).read_text())["outs"][0]["md5"]


def _state(path: Path) -> tuple[str, str, str, bytes]:
    """HEAD, git status, tags and the source's bytes: what a refusal must leave as it was."""
    return (_head(path), git(path, "status", "--porcelain", "--untracked-files=all"), git(path, "tag", "--list"),
            (path / SOURCE).read_bytes())


def test_retrain_with_data_commits_a_data_version_runs_validates_and_only_proposes(project, tmp_path):
    import pandas as pd

    path = project
    new = tmp_path / "new_cases.csv"
    shutil.copyfile(path / INCOMING, new)
    old_bytes = (path / SOURCE).read_bytes()
    old_md5 = _pointer_md5(path)
    start = _head(path)
    tags = git(path, "tag", "--list")
    registry = gto(path, "show", "--json")
    assert registry.returncode == 0, registry.stderr

    done = run_cli("retrain", "--data", str(new), "--json", "-q", cwd=path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["schema"] == 1
    data = out["data"]
    assert (data["source"], data["pointer"], data["version"]) == (SOURCE, POINTER, 2)
    assert (data["rows_before"], data["rows_added"], data["rows_unlabelled"]) == (569, 250, 0)
    assert data["md5_before"] == old_md5 and data["md5"] == _pointer_md5(path) != old_md5
    assert out["experiment"] == "retrain-v2" and {"recall", "roc_auc"} <= set(out["metrics"])
    assert out["validation"]["passed"] is True and out["validation"]["failed_gates"] == []
    regression = next(g for g in out["validation"]["gates"] if g["name"] == "no_regression")
    assert regression["passed"] is True and "production v1.0.0" in regression["why"]
    assert out["proposal"] == [
        "mlops-workbench exp promote retrain-v2", "mlops-workbench data check",
        'mlops-workbench review approve --comment "..."', "mlops-workbench model register --version v1.1.0",
        "mlops-workbench model promote v1.1.0 --stage production"]

    # two steps: the data version (pointer only), then the validation of the experiment
    log = git(path, "log", "--format=%H%x00%s%x00%B%x01", f"{start}..HEAD").strip("\x01\n").split("\x01")
    assert len(log) == 2
    (val_sha, val_subject, _), (data_sha, data_subject, data_body) = (e.strip().split("\x00") for e in log)
    assert data_sha == data["commit"] and val_sha == out["validation"]["commit"]
    assert data_subject == (f"Monitoring & triggering: retraining data: +250 rows from {new} "
                            f"({SOURCE} v2)")
    assert "Workbench-Step: monitoring" in data_body and "Retraining-Data-MD5: " in data_body
    assert git(path, "show", "--name-only", "--format=", data_sha).split() == [POINTER]
    assert val_subject.startswith("Testing & validation: experiment retrain-v2 passes")
    assert json.loads((path / "reports/validation.json").read_text())["model"]["experiment"] == "retrain-v2"

    # the source kept its bytes and gained the labelled rows; DVC has the new version in the remote
    grown = (path / SOURCE).read_bytes()
    assert grown.startswith(old_bytes)
    frame = pd.read_csv(path / SOURCE)
    assert len(frame) == 819 and frame["diagnosis"].dtype.kind == "i"
    storage = Path(_remote_url(path))
    assert (storage / "files" / "md5" / data["md5"][:2] / data["md5"][2:]).is_file()

    # the experiment is DVC's; nothing was promoted anywhere
    assert "/retrain-v2" in git(path, "for-each-ref", "--format=%(refname)", "refs/exps")
    assert git(path, "tag", "--list") == tags
    after = gto(path, "show", "--json")
    assert after.returncode == 0 and json.loads(after.stdout) == json.loads(registry.stdout)

    # the same bytes again would duplicate rows: refused, nothing written
    before = _state(path)
    error = one_line_error(run_cli("retrain", "--data", str(new), "-q", cwd=path))
    assert "was added to data/breast_cancer.csv before" in error
    assert _state(path) == before

    # the proposal's first command works although the validation was committed after the run,
    # and keeps that validation (it is the evidence for this very model)
    report = (path / "reports/validation.json").read_bytes()
    done = run_cli("exp", "promote", "retrain-v2", "--quiet", cwd=path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (path / "reports/validation.json").read_bytes() == report
    changed = git(path, "show", "--name-only", "--format=", "HEAD").split()
    assert "dvc.lock" in changed and not any(p.startswith("reports/validation") for p in changed)
    from workbench.development.evidence import model_digest

    assert json.loads(report)["model"]["digest"] == model_digest(path)


def _remote_url(path: Path) -> str:
    """The DVC remote's folder (the sample's local remote), from .dvc/config."""
    for line in (path / ".dvc/config").read_text().splitlines():
        if line.strip().startswith("url ="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("no DVC remote")


def test_bad_input_is_one_line_and_writes_nothing(project, tmp_path):
    import pandas as pd

    path = project
    incoming = pd.read_csv(path / INCOMING)

    def write(name: str, frame) -> str:
        target = tmp_path / name
        frame.to_csv(target, index=False)
        return str(target)

    retyped = incoming.copy()
    retyped["mean_area"] = "large"
    cases = [
        ([], "no labelled new data: there is no monitoring report yet"),
        (["--data", write("no_radius.csv", incoming.drop(columns=["mean_radius"]))],
         "lacks column(s) mean_radius of the training source data/breast_cancer.csv"),
        (["--data", write("no_target.csv", incoming.drop(columns=["diagnosis"]))],
         "has no target column 'diagnosis'"),
        (["--data", write("extra.csv", incoming.assign(notes="x"))], "has column(s) notes that the training source"),
        (["--data", write("retyped.csv", retyped)], "mean_area (numeric in data/breast_cancer.csv, text in"),
        (["--data", write("unlabelled.csv", incoming.assign(diagnosis=None))], "has no labelled rows"),
        (["--data", str(tmp_path / "absent.csv")], "absent.csv does not exist"),
        (["--data", INCOMING, "--name", "bad name!"], "experiment name 'bad name!' is not valid"),
    ]
    before = _state(path)
    for args, expected in cases:
        error = one_line_error(run_cli("retrain", *args, "-q", cwd=path))
        assert expected in error, (args, error)
        if not args:
            assert "--data PATH" in error
        assert _state(path) == before, args

    # a typo in the policy is refused by retrain and by monitor, before anything is written
    _edit_config(path, retraining={"policy": "sometimes"})
    before = _state(path)
    for command in (["retrain", "--data", INCOMING], ["monitor", INCOMING]):
        error = one_line_error(run_cli(*command, "-q", cwd=path))
        assert "workbench.yaml: retraining.policy holds 'sometimes' (text); it should be manual or automatic" in error
        assert _state(path) == before and not (path / "monitoring").exists()

    # manual policy: a report that recommends action suggests retraining, and retrains nothing
    _edit_config(path, retraining={"policy": "manual"})
    git(path, "commit", "-q", "-m", "manual retraining", "--", "workbench.yaml")
    start = _head(path)
    done = run_cli("monitor", INCOMING, "-q", cwd=path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Action recommended: retrain with 'mlops-workbench retrain'" in done.stdout
    assert git(path, "rev-list", "--count", f"{start}..HEAD").strip() == "1"
    assert not git(path, "for-each-ref", "refs/exps").strip()


def test_automatic_policy_retrains_a_drifted_labelled_batch_up_to_validation(project):
    path = project
    gates = {**GATES, "success_metric": {"enabled": True}}  # recall >= 0.95: the candidate misses it
    _edit_config(path, retraining={"policy": "automatic"}, gates=gates)
    git(path, "commit", "-q", "-m", "automatic retraining", "--", "workbench.yaml")
    start = _head(path)
    tags = git(path, "tag", "--list")

    done = run_cli("monitor", INCOMING, "--json", "-q", cwd=path)
    assert done.returncode == 3, done.stdout + done.stderr  # the report's verdict: action recommended
    out = json.loads(done.stdout)
    assert out["action_recommended"] is True and out["performance"] is not None
    retrain = out["retrain"]
    assert retrain["policy"] == "automatic" and retrain["error"] is None and retrain["suggestion"] is None
    result = retrain["result"]
    assert result["data"]["from"] == INCOMING and result["data"]["from_report"] == out["id"]
    assert result["data"]["rows_added"] == 250 and result["experiment"] == "retrain-v2"
    assert result["validation"]["passed"] is False
    assert result["validation"]["failed_gates"] == ["success_metric"]
    assert result["proposal"] == []  # a failing gate: nothing to propose

    subjects = git(path, "log", "--format=%s", f"{start}..HEAD").splitlines()
    assert [s.split(":")[0] for s in subjects] == ["Testing & validation", "Monitoring & triggering",
                                                  "Monitoring & triggering"]
    assert subjects[0] == "Testing & validation: experiment retrain-v2 fails success_metric"
    assert subjects[1].startswith(f"Monitoring & triggering: retraining data: +250 rows from {INCOMING}")
    assert subjects[2].startswith("Monitoring & triggering: action recommended")
    assert git(path, "tag", "--list") == tags  # never promoted

    # `retrain` afterwards takes the latest report's batch, which is in the data already
    error = one_line_error(run_cli("retrain", "-q", cwd=path))
    assert f"{INCOMING} was added to data/breast_cancer.csv before" in error
