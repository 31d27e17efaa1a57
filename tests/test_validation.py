"""Testing & validation on real git + DVC repos: gates, the committed report, experiments, bad input.

One template per session (the diagnosis sample with its pipeline, an experiment ``weak``
with C=0.01 left in DVC's refs, and an experiment ``good`` with C=0.5 applied and committed
as the model at HEAD) is built with the real core and copied per test. ``validated_template``
adds one real validation; the review and TUI tests reuse both.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from tests.conftest import _isolated_env, _template, configure_identity, git, run_cli, session_cache
from workbench.versioning.evidence import file_digest, model_digest, promotion_blockers

GATES = ["model_file", "success_metric", "baseline", "no_regression", "slices", "fairness", "reproducibility"]
MODEL_OUTPUTS = ["dvc.lock", "params.yaml", "metrics.json", "plots", "reports/training_env.json",
                 "reports/reference.json", "models/.gitignore", "data/prepared/.gitignore"]
_BUILT: dict[str, Path] = session_cache("validation templates")


def _in_isolated_env(base: Path, build) -> None:
    home = base / "home"
    configure_identity(home)
    saved = {k: os.environ.get(k) for k in [*_isolated_env(home), "PATH"]}
    os.environ.update(_isolated_env(home))
    try:
        build()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def trained_template(tmp_path_factory) -> Path:
    """diagnosis + pipeline; experiment ``weak`` in refs only; ``good`` applied and committed at HEAD."""
    if "trained" not in _BUILT:
        from workbench.development.pipeline import configure_pipeline
        from workbench.development.training import run_experiment

        base = tmp_path_factory.mktemp("validation-trained")
        path = base / "diagnosis"

        def build() -> None:
            shutil.copytree(_template("diagnosis", tmp_path_factory), path, symlinks=True)
            configure_pipeline(path)
            run_experiment(path, {"model.params.C": 0.01}, name="weak")
            run_experiment(path, {"model.params.C": 0.5}, name="good")
            git(path, "add", "--", *[p for p in MODEL_OUTPUTS if (path / p).exists()])
            git(path, "commit", "-q", "-m", "Promote experiment good")

        _in_isolated_env(base, build)
        _BUILT["trained"] = path
    return _BUILT["trained"]


def validated_template(tmp_path_factory) -> Path:
    """The trained template after one real, passing, committed validation."""
    if "validated" not in _BUILT:
        from workbench.development.validation import validate

        source = trained_template(tmp_path_factory)
        base = tmp_path_factory.mktemp("validation-validated")
        path = base / "diagnosis"

        def build() -> None:
            shutil.copytree(source, path, symlinks=True)
            assert validate(path).passed

        _in_isolated_env(base, build)
        _BUILT["validated"] = path
    return _BUILT["validated"]


def copy_of(template: Path, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # the core may prepend the venv's bin
    dest = tmp_path / "diagnosis"
    shutil.copytree(template, dest, symlinks=True)
    return dest


@pytest.fixture
def trained(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    return copy_of(trained_template(tmp_path_factory), tmp_path, monkeypatch)


def set_gates(path: Path, gates: dict) -> None:
    """Edit workbench.yaml's gates by hand, as a person would (left uncommitted)."""
    config = yaml.safe_load((path / "workbench.yaml").read_text())
    config["gates"] = gates
    (path / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def by_name(report: dict) -> dict[str, dict]:
    return {g["name"]: g for g in report["gates"]}


def test_validate_passes_commits_the_report_and_writes_default_gates(trained):
    path = trained
    before = git(path, "rev-parse", "HEAD").strip()
    done = run_cli("validate", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["passed"] is True and [g["name"] for g in out["gates"]] == GATES
    gates = by_name(out)
    assert gates["success_metric"]["passed"] is True
    assert set(gates["success_metric"]["value"]) == {"recall", "roc_auc"}
    # the dummy baseline (majority class) finds no malignant case: recall 0, roc_auc 0.5
    baseline = {d["metric"]: d["baseline"] for d in gates["baseline"]["details"]}
    assert baseline["recall"] == 0.0 and baseline["roc_auc"] == 0.5
    assert gates["baseline"]["passed"] is True and gates["baseline"]["threshold"] == 0.05
    assert gates["no_regression"]["passed"] is None
    assert gates["no_regression"]["why"] == "no production model yet"
    # slices and fairness by the sensitive column, which is not a feature of the model
    slices = gates["slices"]["details"]
    assert {d["group"] for d in slices} == {"under_40", "40_54", "55_69", "70_plus"}
    assert sum(d["rows"] for d in slices) == out["data"]["test_rows"] == 113  # 20% of 569, stratified
    judged = [d["value"] for d in slices if d["passed"] is not None]
    assert gates["slices"]["value"] == pytest.approx(min(judged), abs=1e-6)
    assert all(d["passed"] is None for d in slices if d["rows"] < 20)
    fair = [d["value"] for d in gates["fairness"]["details"] if d["value"] is not None]
    assert gates["fairness"]["value"] == pytest.approx(max(fair) - min(fair), abs=1e-6)
    assert gates["fairness"]["threshold"]["column"] == "age_group"
    assert gates["reproducibility"]["passed"] is True
    assert all(d["same"] for d in gates["reproducibility"]["details"])
    assert {d["metric"] for d in gates["reproducibility"]["details"]} == set(out["metrics"])

    # the evidence contract the registry reads
    assert out["model"] == {**out["model"], "digest": model_digest(path), "experiment": None, "commit": before}
    assert promotion_blockers(path) == [
        "the model has no sign-off: run `mlops-workbench review approve --comment ...`"]

    # one commit of the validation step holding exactly the files it wrote
    assert git(path, "rev-parse", "HEAD~1").strip() == before
    message = git(path, "log", "-1", "--format=%B")
    assert message.startswith("Testing & validation: model ")
    assert "Workbench-Step: validation" in message and "Workbench-Role: ml_engineer" in message
    files = set(git(path, "show", "--name-only", "--format=", "HEAD").split())
    assert files == {"reports/validation.json", "reports/validation.md", "workbench.yaml"}
    assert git(path, "status", "--porcelain").strip() == ""
    saved = json.loads((path / "reports/validation.json").read_text())
    assert saved == {k: v for k, v in out.items() if k not in ("commit", "messages")}
    config = yaml.safe_load((path / "workbench.yaml").read_text())
    assert config["gates"]["fairness"] == {"column": "age_group", "metric": "recall",
                                           "max_difference": 0.1, "min_rows": 20, "enabled": True}
    assert config["charter"]["success_metric"] == "recall >= 0.95 and roc_auc >= 0.97"  # the rest is kept
    md = (path / "reports/validation.md").read_text()
    assert "**PASSED**" in md and "| Fairness | pass |" in md and "40_54" in md


def test_a_failing_gate_exits_1_and_is_recorded(trained):
    path = trained
    set_gates(path, {"fairness": {"max_difference": 0.01}, "baseline": {"margin": 0.99},
                     "reproducibility": {"enabled": False}})
    done = run_cli("validate", cwd=path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  Fairness" in done.stdout and "FAIL  Beats the baseline" in done.stdout
    assert " --   Reproducibility" in done.stdout and "Result: FAILED" in done.stdout
    report = json.loads((path / "reports/validation.json").read_text())
    assert report["passed"] is False
    gates = by_name(report)
    assert gates["fairness"]["passed"] is False and "above the limit 0.01" in gates["fairness"]["why"]
    assert gates["reproducibility"]["why"].startswith("turned off in workbench.yaml")
    assert "fails baseline, fairness" in git(path, "log", "-1", "--format=%s")
    # the gates were the person's own: they stay theirs (uncommitted), the report is committed
    assert git(path, "status", "--porcelain").split() == ["M", "workbench.yaml"]
    assert promotion_blockers(path)[0].startswith("the model failed validation (baseline, fairness)")


def test_experiment_is_read_from_its_ref_and_compared_with_production(trained):
    import gto.api

    from workbench.development.validation import validate

    path = trained
    head = git(path, "rev-parse", "HEAD").strip()
    gto.api.register(str(path), "model", "HEAD", version="v1.0.0")
    gto.api.assign(str(path), "model", "production", version="v1.0.0")
    production = json.loads((path / "metrics.json").read_text())
    ref = next(line.split()[1] for line in git(path, "for-each-ref", "--format=%(objectname) %(refname)",
                                               "refs/exps").splitlines() if line.endswith("/weak"))
    exp_sha = git(path, "rev-parse", ref).strip()
    exp_lock = yaml.safe_load(git(path, "show", f"{exp_sha}:dvc.lock"))
    exp_model = next(o["md5"] for o in exp_lock["stages"]["train"]["outs"] if o["path"] == "models/model.skops")
    lines: list[str] = []
    result = validate(path, "weak", progress=lines.append)
    assert result.passed is False and result.exit_code == 1
    model = result.report["model"]
    assert model["experiment"] == "weak" and model["commit"] == exp_sha
    assert model["digest"] == f"md5:{exp_model}" != model_digest(path)
    assert model["params"]["C"] == 0.01
    gates = {g.name: g for g in result.gates}
    regression = gates["no_regression"]
    assert regression.passed is False and "worse than production v1.0.0" in regression.why
    rows = {d["metric"]: d for d in regression.details}
    # both scored on the same current test rows (here the split is production's own, so
    # production's score is its metrics.json's)
    assert rows["recall"]["production"] == production["recall"] > rows["recall"]["candidate"]
    assert result.report["gates"][3]["production"]["commit"] == head
    assert gates["reproducibility"].passed is True  # retrained from the experiment's own params and data
    assert any("running the prepare stage" in ln for ln in lines)
    # a report about another model is no evidence for the workspace model
    assert promotion_blockers(path)[0] == ("the validation report is for another model: "
                                           "run `mlops-workbench validate` again")

    # the production model itself does not regress against itself
    set_gates(path, {"baseline": {"enabled": False}, "reproducibility": {"enabled": False}})
    again = validate(path)
    same = {g.name: g for g in again.gates}["no_regression"]
    assert same.passed is True and same.why.startswith("no metric worse than production v1.0.0 by more than 2%, "
                                                       "both scored on the same ")


@pytest.mark.parametrize(
    ("gates", "args", "expected"),
    [
        (None, ["nope"], "experiment 'nope' is not known: use one of good, weak"),
        ({"slices": {"column": "blood_type"}}, [], "gates.slices.column 'blood_type' is not a column of the data"),
        ({"fairness": {"column": "gender"}}, [], "gates.fairness.column 'gender' is not a column of the data"),
        ({"fairness": {"max_difference": "a lot"}}, [], "gates.fairness.max_difference 'a lot' is not a number"),
        ({"baseline": {"margin": -1}}, [], "gates.baseline.margin -1 must be at least 0"),
        ({"slices": {"metric": "auc"}}, [], "gates.slices.metric 'auc' is not a classification metric"),
        ({"speed": {"enabled": True}}, [], "gate 'speed' in workbench.yaml is not known"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(trained, gates, args, expected):
    path = trained
    if gates is not None:
        set_gates(path, gates)
    head = git(path, "rev-parse", "HEAD").strip()
    done = run_cli("validate", *args, cwd=path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert git(path, "rev-parse", "HEAD").strip() == head
    assert not (path / "reports/validation.json").exists()
    dirty = git(path, "status", "--porcelain").split()
    assert dirty == ([] if gates is None else ["M", "workbench.yaml"])


def test_no_model_yet_is_refused(make_sample):
    path = make_sample("diagnosis")
    done = run_cli("validate", cwd=path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("mlops-workbench: error: there is no trained model yet: "
                                   "run 'mlops-workbench train' (or 'dvc repro') first")
    assert git(path, "status", "--porcelain").strip() == ""


def test_cancel_stops_retraining_and_writes_nothing(trained):
    from workbench.development.validation import validate
    from workbench.errors import CancelledError

    path = trained
    head = git(path, "rev-parse", "HEAD").strip()
    cancel = threading.Event()

    def progress(line: str) -> None:
        if "running the train stage" in line:
            cancel.set()

    with pytest.raises(CancelledError):
        validate(path, progress=progress, cancel=cancel)
    assert git(path, "rev-parse", "HEAD").strip() == head
    assert git(path, "status", "--porcelain").strip() == ""
    assert file_digest(path / "reports/validation.json") is None
