"""Monitoring: reference statistics at training time, drift checks, reports committed, bad input.

Real git, real DVC (``dvc repro`` builds the reference), the real CLI in subprocesses. Two
trained projects are built once per module (fraud_detection: large reference, so
Wasserstein / Jensen-Shannon; diagnosis: small reference, so KS / chi-squared) and copied
per test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import _isolated_env, configure_identity, git, run_cli, session_cache
from workbench.errors import WorkbenchError

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
FEATURES = {
    "fraud_detection": {"amount": "numeric", "merchant_category": "categorical", "country": "categorical",
                        "channel": "categorical", "card_present": "numeric", "hour": "numeric",
                        "distance_from_home_km": "numeric", "txn_count_24h": "numeric"},
    "diagnosis": None,  # every column but id, sensitive and target
}
INCOMING = {"fraud_detection": "incoming/transactions_2026_06.csv",
            "diagnosis": "incoming/breast_cancer_2026_q2.csv"}


def _build(sample: str, base: Path) -> Path:
    """The sample trained (``dvc repro``) and committed, once per worker: the first call builds it
    in ``base``; every call returns that project (read only: callers copy it) and gives
    ``base / "home"`` the git identity."""
    from workbench.development.pipeline import configure_pipeline
    from workbench.new_project import create_from_sample

    home = base / "home"
    configure_identity(home)
    built = session_cache("monitoring trained")
    if sample in built:
        return built[sample]
    env = _isolated_env(home)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        path = create_from_sample(sample, base / sample).path
        configure_pipeline(path, features=FEATURES[sample])
        shell = {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}
        done = subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=path, env=shell,
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stdout + done.stderr
        git(path, "add", "dvc.lock", "metrics.json", "plots", "reports", "data/prepared/.gitignore",
            "models/.gitignore")
        git(path, "commit", "-q", "-m", "Training: baseline")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    built[sample] = path
    return path


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    built: dict[str, Path] = {}

    def get(sample: str) -> Path:
        if sample not in built:
            built[sample] = _build(sample, tmp_path_factory.mktemp(f"monitor-{sample}"))
        return built[sample]

    return get


@pytest.fixture
def trained(templates, tmp_path):
    """``trained("fraud_detection")`` -> a copy of a project with a trained model and reference."""

    def make(sample: str = "fraud_detection") -> Path:
        dest = tmp_path / sample
        shutil.copytree(templates(sample), dest, symlinks=True)
        return dest

    return make


def _head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def _changed(path: Path) -> list[str]:
    return sorted(git(path, "show", "--name-only", "--format=", "HEAD").split())


def _one_line_error(done: subprocess.CompletedProcess[str], expected: str) -> None:
    """Exit 2 and exactly one line on stderr (the commands run with -q: no progress lines)."""
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr


def _incoming(path: Path, sample: str = "fraud_detection"):
    import pandas as pd

    return pd.read_csv(path / INCOMING[sample])


# --- reference statistics -------------------------------------------------------------------


def test_reference_is_a_declared_output_and_deterministic(trained):
    import yaml

    path = trained("fraud_detection")
    stages = yaml.safe_load((path / "dvc.yaml").read_text())["stages"]
    assert {"reports/reference.json": {"cache": False}} in stages["evaluate"]["outs"]
    assert "data/prepared/train.parquet" in stages["evaluate"]["deps"]
    assert "reports/reference.json" in git(path, "ls-files", "reports")  # small, in git
    ref = json.loads((path / "reports/reference.json").read_text())
    assert ref["rows"] == 8032 and ref["test_rows"] == 2008 and ref["target"] == "is_fraud"
    assert list(ref["features"]) == list(FEATURES["fraud_detection"])
    amount = ref["features"]["amount"]
    assert len(amount["cuts"]) <= 19 and sum(amount["counts"]) == amount["count"]
    assert len(amount["quantiles"]) == 100 and len(amount["sample"]) == 1000
    channel = ref["features"]["channel"]
    assert channel["type"] == "categorical" and sum(n for _, n in channel["categories"]) == channel["count"]
    assert ref["predictions"]["classes"]["count"] == 2008 and ref["predictions"]["score"]["count"] == 2008
    assert ref["metrics"] == json.loads((path / "metrics.json").read_text())
    before = (path / "reports/reference.json").read_bytes()
    done = run_cli("stage", "evaluate", cwd=path)
    assert done.returncode == 0, done.stderr
    assert (path / "reports/reference.json").read_bytes() == before  # same data + seed -> same bytes


# --- checks that commit ---------------------------------------------------------------------------


def test_drifted_batch_from_outside_is_copied_tracked_and_committed(trained, tmp_path):
    path = trained("fraud_detection")
    outside = tmp_path / "june.csv"
    shutil.copy(path / INCOMING["fraud_detection"], outside)
    head = _head(path)
    done = run_cli("monitor", str(outside), "--json", cwd=path)
    assert done.returncode == 3, done.stderr  # action recommended
    report = json.loads(done.stdout)
    rid = report["id"]
    assert report["status"] == "action" and report["action_recommended"] is True
    assert report["dataset_drift"]["detected"] and report["dataset_drift"]["share"] >= 0.5
    assert {"merchant_category", "amount"} <= set(report["dataset_drift"]["drifted_features"])
    by_name = {f["name"]: f for f in report["features"]}
    assert by_name["amount"]["method"] == "wasserstein" and by_name["channel"]["method"] == "jensen_shannon"
    assert by_name["merchant_category"]["psi_band"] == "significant"
    assert by_name["country"]["drifted"] is False
    assert "missing values rose from 4.0% to 12.6%" in by_name["distance_from_home_km"]["notes"]
    severities = [f["severity"] for f in report["features"]]
    assert severities == sorted(severities, reverse=True)  # worst first, as the screen lists them
    assert report["performance"]["rows"] == 3000  # the batch is labelled
    assert set(report["performance"]["metrics"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert report["prediction_drift"]["outputs"][0]["name"] == "predicted score"
    assert "transaction_id" in report["schema_changes"]["extra"] and not report["schema_changes"]["missing"]

    # one monitoring commit with exactly the report, the batch pointer and its .gitignore
    assert git(path, "rev-parse", "HEAD~1").strip() == head
    data = f"monitoring/batches/{rid}-june.csv"
    assert _changed(path) == sorted([f"monitoring/{rid}.json", f"monitoring/{rid}.md",
                                     "monitoring/batches/.gitignore", f"{data}.dvc"])
    message = git(path, "log", "-1", "--format=%B")
    assert message.startswith("Monitoring & triggering: action recommended")
    assert "Workbench-Step: monitoring" in message and "Workbench-Role: ml_engineer" in message
    assert report["batch"]["path"] == data and report["batch"]["dvc_md5"]
    assert json.loads((path / f"monitoring/{rid}.json").read_text())["batch"]["dvc_md5"] == report["batch"]["dvc_md5"]
    assert "ACTION RECOMMENDED" in (path / f"monitoring/{rid}.md").read_text()
    assert git(path, "status", "--porcelain", "--", "monitoring") == ""
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "--json", f"{data}.dvc"], cwd=path,
                            capture_output=True, text=True)
    assert json.loads(status.stdout or "{}") == {}, status.stdout + status.stderr

    # the same batch already tracked inside the project: only the report joins the commit
    done = run_cli("monitor", INCOMING["fraud_detection"], "-q", cwd=path)
    assert done.returncode == 3 and "Action recommended" in done.stdout
    second = json.loads((path / f"monitoring/{rid[:-1]}2.json").read_text())
    assert _changed(path) == sorted([f"monitoring/{rid[:-1]}2.json", f"monitoring/{rid[:-1]}2.md"])
    assert second["batch"]["dvc"] == INCOMING["fraud_detection"] + ".dvc"
    assert second["batch"]["dvc_md5"] == report["batch"]["dvc_md5"]  # the same data, the same version

    history = json.loads(run_cli("monitor", "--history", "--json", cwd=path).stdout)["reports"]
    assert [r["id"] for r in history] == [rid, rid[:-1] + "2"]
    assert history[0]["statistics"]["amount"]["drifted"] is True
    status = json.loads(run_cli("status", "--json", cwd=path).stdout)
    assert any("monitoring recommends action" in b for b in status["blockers"])


def test_healthy_parquet_batch_exits_0(trained, tmp_path):
    from workbench.operations.monitoring import list_reports

    path = trained("fraud_detection")
    batch = tmp_path / "holdout.parquet"
    shutil.copy(path / "data/prepared/test.parquet", batch)  # the held-out split: no drift
    done = run_cli("monitor", str(batch), "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "healthy" and report["reasons"] == []
    assert report["dataset_drift"]["drifted"] <= 1 and not report["prediction_drift"]["detected"]
    ref_metrics = json.loads((path / "metrics.json").read_text())
    assert report["performance"]["metrics"]["accuracy"] == ref_metrics["accuracy"]  # same rows, same metric
    assert report["performance"]["degraded"] == []
    summaries = list_reports(path)
    assert [s.id for s in summaries] == [report["id"]] and summaries[0].status == "healthy"


def test_a_pipeline_output_as_batch_is_copied_not_re_added(trained):
    """data/prepared/test.parquet is DVC's already (a pipeline out): the report keeps a copy."""
    path = trained("fraud_detection")
    done = run_cli("monitor", "data/prepared/test.parquet", "--json", "-q", cwd=path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rel = report["batch"]["path"]
    assert rel.startswith("monitoring/batches/") and rel.endswith("-test.parquet")
    assert f"{rel}.dvc" in _changed(path)
    assert git(path, "status", "--porcelain").strip() == ""


def test_small_reference_uses_ks_and_chi_squared_with_thresholds_from_workbench_yaml(trained):
    import numpy as np
    import pandas as pd
    from scipy.stats import ks_2samp

    path = trained("diagnosis")
    done = run_cli("monitor", INCOMING["diagnosis"], "--dry-run", "--json", cwd=path)
    assert done.returncode == 0, done.stderr  # a third of the features drifted: below the 0.5 default
    report = json.loads(done.stdout)
    assert report["id"] is None and report["commit"] is None and not (path / "monitoring").exists()
    assert report["reference"]["small"] is True
    assert {f["method"] for f in report["features"]} == {"ks"}
    assert {o["method"] for o in report["prediction_drift"]["outputs"]} == {"ks", "chi_squared"}
    texture = next(f for f in report["features"] if f["name"] == "mean_texture")
    train = pd.read_parquet(path / "data/prepared/train.parquet")["mean_texture"].dropna().to_numpy()
    current = pd.read_csv(path / INCOMING["diagnosis"])["mean_texture"].dropna().to_numpy()
    exact = ks_2samp(train, current)  # the reference keeps every value of a small train split
    assert np.isclose(texture["statistic"], exact.statistic) and np.isclose(texture["p_value"], exact.pvalue)
    assert texture["drifted"] is True

    config = (path / "workbench.yaml").read_text()
    (path / "workbench.yaml").write_text(config + "monitoring:\n  drift_share: 0.25\n  retrain_policy: manual\n")
    done = run_cli("monitor", INCOMING["diagnosis"], "--json", cwd=path)
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert report["thresholds"]["drift_share"] == 0.25 and report["reasons"][0].startswith("dataset drift")
    (path / "workbench.yaml").write_text(config + "monitoring:\n  drift_share: lots\n")
    _one_line_error(run_cli("monitor", "-q", INCOMING["diagnosis"], cwd=path),
                    "workbench.yaml: monitoring.drift_share holds 'lots' (text); it should be a number >= 0")


# --- the prediction log ---------------------------------------------------------------------------


def _log_lines(frame, start: int, features: list[str]) -> list[str]:
    import math

    lines = []
    for i, row in enumerate(frame[features].to_dict("records")):
        inputs = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        n = start + i
        # The format `mlops-workbench serve` writes (workbench/operations/serving/).
        lines.append(json.dumps({"at": f"2026-06-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000+00:00",
                                 "version": "v1", "request": n, "input": inputs, "prediction": 0}))
    return lines


def test_prediction_log_with_half_written_last_line(trained):
    import pandas as pd

    path = trained("fraud_detection")
    features = list(FEATURES["fraud_detection"])
    frame = pd.read_parquet(path / "data/prepared/test.parquet")
    log = path / "monitoring/predictions/2026-06-01.jsonl"
    log.parent.mkdir(parents=True)
    lines = _log_lines(frame.iloc[:60], 0, features)
    log.write_text("\n".join(lines) + "\n" + lines[0][:37])  # the service died mid-line
    done = run_cli("monitor", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["batch"]["source"] == "prediction_log" and report["batch"]["rows"] == 60
    assert report["batch"]["versions"] == ["v1"] and report["batch"]["last_ts"] == "2026-06-01T00:00:59.000+00:00"
    assert any("half-written last line 61" in n for n in report["notes"])
    rid = report["id"]
    data = f"monitoring/batches/{rid}-predictions.parquet"
    assert f"{data}.dvc" in _changed(path) and (path / data).is_file()
    stored = pd.read_parquet(path / data)
    assert len(stored) == 60 and {"_ts", "_version", "_prediction", "amount"} <= set(stored.columns)

    # nothing new since that report: unusable, nothing written
    head = _head(path)
    _one_line_error(run_cli("monitor", "-q", cwd=path), "no new predictions in monitoring/predictions/ since")
    assert _head(path) == head
    # the service finished its line and logged more: only the new ones are checked
    more = _log_lines(frame.iloc[60:100], 60, features)
    log.write_text("\n".join(lines + more) + "\n")
    report = json.loads(run_cli("monitor", "--json", cwd=path).stdout)
    assert report["batch"]["rows"] == 40 and report["batch"]["first_ts"] == "2026-06-01T00:01:00.000+00:00"
    assert json.loads(run_cli("monitor", "--all", "--dry-run", "--json", cwd=path).stdout)["batch"]["rows"] == 100


# --- bad input --------------------------------------------------------------------------------------


def test_missing_extra_and_retyped_columns_are_named_and_the_rest_compared(trained, tmp_path):
    path = trained("fraud_detection")
    frame = _incoming(path).drop(columns=["amount"])
    frame["hour"] = ["morning" if h < 12 else "evening" for h in frame["hour"]]
    frame["loyalty_tier"] = "gold"
    batch = tmp_path / "changed.csv"
    frame.to_csv(batch, index=False)
    done = run_cli("monitor", str(batch), "--json", cwd=path)
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    changes = report["schema_changes"]
    assert changes["missing"] == ["amount"] and "loyalty_tier" in changes["extra"]
    assert changes["retyped"] == [{"column": "hour", "expected": "numeric", "found": "text (e.g. 'morning')"}]
    assert any("lacks feature column(s) amount" in r for r in report["reasons"])
    assert any(r.startswith("hour arrived as text") for r in report["reasons"])
    by_name = {f["name"]: f for f in report["features"]}
    assert by_name["amount"]["drifted"] is None and by_name["hour"]["drifted"] is None
    assert by_name["merchant_category"]["drifted"] is True  # what can be compared still is
    assert report["dataset_drift"]["compared"] == 6
    assert "cannot score a batch without amount, hour" in report["prediction_drift"]["note"]
    assert report["performance"] is None


def test_non_numeric_junk_is_counted_as_missing_with_a_note(trained, tmp_path):
    path = trained("fraud_detection")
    frame = _incoming(path)
    frame["amount"] = frame["amount"].astype(object)
    frame.loc[[3, 10, 11, 200, 2999], "amount"] = ["abc", "12,5x", "abc", "??", "-"]
    batch = tmp_path / "junk.csv"
    frame.to_csv(batch, index=False)
    done = run_cli("monitor", str(batch), "--dry-run", "--json", cwd=path)
    assert done.returncode == 3, done.stderr
    amount = next(f for f in json.loads(done.stdout)["features"] if f["name"] == "amount")
    assert amount["method"] == "wasserstein" and amount["drifted"] is True
    assert amount["current_rows"] == 2995
    assert amount["notes"] == ["5 value(s) are not numbers ('abc', '12,5x', '??'): counted as missing"]


def test_empty_one_row_and_featureless_batches_are_refused_without_writing(trained, tmp_path):
    path = trained("fraud_detection")
    head = _head(path)
    frame = _incoming(path)
    empty = tmp_path / "empty.csv"
    frame.iloc[:0].to_csv(empty, index=False)
    _one_line_error(run_cli("monitor", "-q", str(empty), cwd=path), "empty.csv has a header row (15 column(s)) but no data rows")
    one = tmp_path / "one.csv"
    frame.iloc[:1].to_csv(one, index=False)
    _one_line_error(run_cli("monitor", "-q", str(one), cwd=path),
                    "one.csv has 1 row: a drift check needs at least 30 (monitoring.min_rows")
    other = tmp_path / "other.csv"
    frame[["transaction_id", "customer_email"]].to_csv(other, index=False)
    _one_line_error(run_cli("monitor", "-q", str(other), cwd=path), "other.csv has none of the model's features")
    _one_line_error(run_cli("monitor", "-q", str(tmp_path / "nope.csv"), cwd=path), "nope.csv does not exist")
    _one_line_error(run_cli("monitor", "-q", str(one), "--reference", "gone.json", cwd=path), "gone.json is missing")
    _one_line_error(run_cli("monitor", "-q", cwd=path), "no batch given and no prediction log")
    assert _head(path) == head and git(path, "status", "--porcelain") == ""
    assert not (path / "monitoring").exists()


def test_cancel_and_progress(trained):
    from workbench.errors import CancelledError
    from workbench.operations.monitoring import monitor

    path = trained("diagnosis")
    head = _head(path)
    cancel = threading.Event()
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        if line.startswith("comparing"):
            cancel.set()

    with pytest.raises(CancelledError):
        monitor(path, INCOMING["diagnosis"], cwd=path, progress=progress, cancel=cancel)
    assert lines[0].startswith("reference: reports/reference.json")
    assert _head(path) == head and not (path / "monitoring").exists()
    with pytest.raises(WorkbenchError, match="holds no feature statistics"):
        (path / "bad.json").write_text("{}")
        monitor(path, INCOMING["diagnosis"], cwd=path, reference="bad.json")


# --- the statistics ----------------------------------------------------------------------------


def test_drift_statistics_against_scipy():
    import numpy as np
    from scipy.stats import wasserstein_distance

    from workbench.drift import (
        categorical_profile,
        compare_categorical,
        compare_numeric,
        numeric_profile,
        psi_band,
    )

    rng = np.random.default_rng(7)
    ref = rng.lognormal(3.0, 0.6, 200_000)
    profile = numeric_profile(ref, seed=1)
    assert profile == numeric_profile(ref.copy(), seed=1)  # deterministic
    for shift in (1.0, 1.05, 1.3):
        cur = rng.lognormal(3.0, 0.6, 100_000) * shift
        got = compare_numeric("x", profile, cur, small=False)
        exact = wasserstein_distance(ref, cur) / ref.std()
        assert abs(got.statistic - exact) <= 0.02 * exact + 0.005, (shift, got.statistic, exact)
        assert got.drifted is bool(exact >= 0.1)
    same = compare_numeric("x", profile, rng.lognormal(3.0, 0.6, 50_000), small=False)
    assert same.drifted is False and same.psi_band == "none"

    counts = {"a": 5000, "b": 3000, "c": 2000}
    cat = categorical_profile(counts, 0)
    steady = compare_categorical("c", cat, {"a": 510, "b": 290, "c": 200}, 0, small=True)
    assert steady.method == "chi_squared" and steady.drifted is False and steady.p_value > 0.05
    moved = compare_categorical("c", cat, {"a": 200, "b": 300, "c": 400, "d": 100}, 0, small=False)
    assert moved.method == "jensen_shannon" and moved.drifted is True
    assert any("'d'" in n for n in moved.notes) and moved.histogram["categories"][-1] == "(other)"
    assert [psi_band(v) for v in (0.05, 0.1, 0.2, 0.25)] == ["none", "moderate", "moderate", "significant"]
