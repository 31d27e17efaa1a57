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

from tests.conftest import _isolated_env, git, run_cli, session_cache
from tests.test_registry import VENV_BIN, add_evidence, build_trained_project, gto, one_line_error

SOURCE = "data/breast_cancer.csv"
POINTER = f"{SOURCE}.dvc"
INCOMING = "incoming/breast_cancer_2026_q2.csv"
GATES = {
    "success_metric": {"enabled": False},
    "baseline": {"enabled": True, "metric": "recall", "margin": 0.05},
    "no_regression": {"enabled": True, "tolerance": 0.1},  # the Q2 batch is drifted; ~84 test rows
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

    built = session_cache("retrain production")  # once per worker: the files that import it copy it
    if "diagnosis" in built:
        return built["diagnosis"]
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
    built["diagnosis"] = path
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


def test_retrain_with_data_runs_a_candidate_on_a_new_data_version_validates_and_only_proposes(project, tmp_path):
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
    assert data["rows_duplicate"] == 0 and data["commit"] is None
    # the new version is the experiment's: the workspace pointer is HEAD's again
    assert data["md5_before"] == old_md5 == _pointer_md5(path) != data["md5"]
    assert out["experiment"] == "retrain-v2" and {"recall", "roc_auc"} <= set(out["metrics"])
    assert out["validation"]["passed"] is True and out["validation"]["failed_gates"] == []
    regression = next(g for g in out["validation"]["gates"] if g["name"] == "no_regression")
    assert regression["passed"] is True and "production v1.0.0" in regression["why"]
    assert out["proposal"] == [
        "mlops-workbench exp promote retrain-v2", "mlops-workbench data check",
        'mlops-workbench review approve --comment "..."', "mlops-workbench model register --version v1.1.0",
        "mlops-workbench model promote v1.1.0 --stage production"]

    # one step: the validation of the experiment; the data version is in the experiment only
    log = git(path, "log", "--format=%H%x00%s%x00%B%x01", f"{start}..HEAD").strip("\x01\n").split("\x01")
    assert len(log) == 1
    val_sha, val_subject, _ = log[0].strip().split("\x00")
    assert val_sha == out["validation"]["commit"] and out["rejected"] is None
    assert val_subject.startswith("Testing & validation: experiment retrain-v2 passes")
    assert git(path, "show", "--name-only", "--format=", val_sha).split() == ["reports/validation.json",
                                                                             "reports/validation.md"]
    assert json.loads((path / "reports/validation.json").read_text())["model"]["experiment"] == "retrain-v2"
    assert git(path, "status", "--porcelain", "--untracked-files=all") == ""
    assert (path / SOURCE).read_bytes() == old_bytes

    # the experiment's pointer names the grown source: old bytes + the labelled rows, in the remote
    exp_sha = out["experiment_commit"]
    assert yaml.safe_load(git(path, "show", f"{exp_sha}:{POINTER}"))["outs"][0]["md5"] == data["md5"]
    storage = Path(_remote_url(path))
    grown_path = storage / "files" / "md5" / data["md5"][:2] / data["md5"][2:]
    grown = grown_path.read_bytes()
    assert grown.startswith(old_bytes)
    frame = pd.read_csv(grown_path)
    assert len(frame) == 819 and frame["diagnosis"].dtype.kind == "i"

    # the experiment is DVC's; nothing was promoted anywhere
    assert "/retrain-v2" in git(path, "for-each-ref", "--format=%(refname)", "refs/exps")
    assert git(path, "tag", "--list") == tags
    after = gto(path, "show", "--json")
    assert after.returncode == 0 and json.loads(after.stdout) == json.loads(registry.stdout)

    # the proposal's first command works although the validation was committed after the run,
    # and keeps that validation (it is the evidence for this very model)
    report = (path / "reports/validation.json").read_bytes()
    done = run_cli("exp", "promote", "retrain-v2", "--quiet", cwd=path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (path / "reports/validation.json").read_bytes() == report
    changed = git(path, "show", "--name-only", "--format=", "HEAD").split()
    assert "dvc.lock" in changed and not any(p.startswith("reports/validation") for p in changed)
    from workbench.versioning.evidence import model_digest

    assert json.loads(report)["model"]["digest"] == model_digest(path)
    assert POINTER in changed and (path / SOURCE).read_bytes() == grown
    body = git(path, "log", "-1", "--format=%B")
    assert f"retraining data: +250 rows from {new} ({SOURCE} v2" in body and "Retraining-Data-MD5: " in body

    # the same bytes again would duplicate rows: refused, nothing written
    before = _state(path)
    error = one_line_error(run_cli("retrain", "--data", str(new), "-q", cwd=path))
    assert "was added to data/breast_cancer.csv before" in error
    assert _state(path) == before


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
    assert "/retrain-v2" not in git(path, "for-each-ref", "--format=%(refname)", "refs/exps")


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

    assert result["rejected"]["discard"] == "mlops-workbench retrain discard retrain-v2"

    # the report, the failed validation (the record), the rejection that puts HEAD's report back
    subjects = git(path, "log", "--format=%s", f"{start}..HEAD").splitlines()
    assert [s.split(":")[0] for s in subjects] == ["Monitoring & triggering", "Testing & validation",
                                                  "Monitoring & triggering"]
    assert subjects[0].startswith("Monitoring & triggering: retraining candidate retrain-v2 rejected "
                                  "(success_metric)")
    assert subjects[1] == "Testing & validation: experiment retrain-v2 fails success_metric"
    assert subjects[2].startswith("Monitoring & triggering: action recommended")
    assert f"From monitoring report {out['id']}." in git(path, "log", "-1", "--format=%B")
    # the rejection commit names its report in a git trailer, which is how the monitoring view finds it
    assert git(path, "log", "-1", "--format=%(trailers:key=Workbench-Monitoring-Report,valueonly)").strip() \
        == out["id"]
    from workbench.versioning.history import commit_from_report

    assert commit_from_report(path, out["id"]) == git(path, "log", "-1", "--format=%h %s").strip()
    assert git(path, "tag", "--list") == tags  # never promoted
    assert git(path, "diff", "--name-only", f"{start}~0", "HEAD", "--", POINTER, "dvc.lock") == ""

    # the rejected candidate is discarded in one command
    done = run_cli("retrain", "discard", "retrain-v2", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["experiment"] == "retrain-v2"
    assert "/retrain-v2" not in git(path, "for-each-ref", "--format=%(refname)", "refs/exps")


def test_rows_already_in_the_source_are_counted_and_left_out_unless_asked(project, tmp_path):
    """60 of 250 incoming rows are already in the source (columns in another order, floats written
    by pandas): they are named and left out; all of them already there is refused; --allow-duplicates
    appends them."""
    import pandas as pd

    from workbench.operations.retrain import plan_retraining

    path = project
    source = pd.read_csv(path / SOURCE)
    incoming = pd.read_csv(path / INCOMING)
    again = source.sample(60, random_state=3)
    mixed = pd.concat([incoming.iloc[:190], again])[list(reversed(source.columns))]
    batch = tmp_path / "batch_with_old_rows.csv"
    mixed.to_csv(batch, index=False)
    only_old = tmp_path / "only_old_rows.csv"
    again.to_csv(only_old, index=False)

    before = _state(path)
    error = one_line_error(run_cli("retrain", "--data", str(only_old), "-q", cwd=path))
    assert error.endswith(f"all 60 labelled rows of {only_old} are already in {SOURCE} (the same value in every "
                          "column): there is nothing new to retrain on; pass --allow-duplicates to append them again")
    assert _state(path) == before

    asked = plan_retraining(path, batch, allow_duplicates=True)
    assert (asked.duplicates, len(asked.new_rows)) == (60, 250)
    assert any("appended again as asked (--allow-duplicates)" in n for n in asked.notes)

    done = run_cli("retrain", "--data", str(batch), "--json", "-q", cwd=path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert (out["data"]["rows_added"], out["data"]["rows_duplicate"]) == (190, 60)
    said = (f"60 of the 250 labelled rows of {batch} are already in {SOURCE} (the same value in every column) "
            "and were left out; pass --allow-duplicates to append them anyway")
    assert said in out["messages"]
    grown = pd.read_csv(Path(_remote_url(path)) / "files" / "md5" / out["data"]["md5"][:2] / out["data"]["md5"][2:])
    assert len(grown) == 569 + 190 and not grown.duplicated().any()


def test_a_project_with_a_model_in_production_is_in_the_operations_phase(project):
    """The phase is the furthest the project has reached, the next step still the earliest open one."""
    done = run_cli("status", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    states = {s["id"]: s["state"] for s in status["steps"]}
    assert states["deployment"] == "done", states
    assert status["phase"] == "Operations", (status["phase"], states)
    pending = [s["id"] for s in status["steps"] if s["state"] != "done"]
    assert status["next_step"] is None or status["next_step"]["id"] == pending[0]
