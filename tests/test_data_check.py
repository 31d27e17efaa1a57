"""``data add`` and ``data check`` on real git + DVC projects (no mocks)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import git, run_cli


def trailers(project: Path) -> str:
    return git(project, "log", "-1", "--format=%B")


def committed_files(project: Path) -> set[str]:
    out = git(project, "show", "--name-only", "--format=", "-z", "HEAD")
    return {p for p in out.split("\0") if p}


def test_fraud_sample_is_no_go_with_leakage_and_personal_data(make_sample):
    project = make_sample("fraud_detection")
    result = run_cli("data", "check", "--json", "-C", str(project))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "NO-GO"
    assert any("chargeback_flag" in r and "leakage" in r for r in report["reasons"])
    assert [s["column"] for s in report["leakage_suspects"]] == ["chargeback_flag"]
    assert any(p["column"] == "customer_email" and "email" in p["message"] for p in report["personal_data"])
    assert report["readiness_score"] == 3
    src = report["sources"][0]
    assert src["rows"] == 10040 and src["duplicate_rows"] == 40 and src["columns"] == 15
    pointer = yaml.safe_load((project / "data" / "transactions.csv.dvc").read_text())
    assert src["dvc_md5"] == pointer["outs"][0]["md5"]
    cols = {c["name"]: c for c in src["column_stats"]}
    assert cols["is_fraud"]["role"] == "target" and cols["transaction_id"]["role"] == "id"
    assert cols["amount"]["histogram"]["kind"] == "bins" and sum(cols["amount"]["histogram"]["counts"]) == 10040
    assert cols["channel"]["histogram"]["kind"] == "categories"
    assert 0.03 < cols["distance_from_home_km"]["missing_share"] < 0.05
    assert src["time"]["start"].startswith("2026-01-01") and src["time"]["freshness_days"] is not None
    assert report["target_summary"]["positives"] == 138
    for key in ("schema", "verdict", "reasons", "use_case", "readiness_score", "checked_at", "sources",
                "warnings"):
        assert key in report
    # the commit: both reports, one step, trailers; the json on disk is the one printed
    assert committed_files(project) == {"reports/data_check.json", "reports/data_check.md"}
    message = trailers(project)
    assert message.startswith("Data availability: NO-GO")
    assert "Workbench-Step: data_availability" in message and "Workbench-Role: data_scientist" in message
    assert pointer["outs"][0]["md5"] in message
    on_disk = json.loads((project / "reports" / "data_check.json").read_text(encoding="utf-8"))
    assert on_disk["verdict"] == "NO-GO"
    assert (project / "reports" / "data_check.md").read_text(encoding="utf-8").startswith(
        "# Data availability check: NO-GO")
    assert git(project, "status", "--porcelain").strip() == ""
    status = run_cli("status", "--json", "-C", str(project))
    steps = {s["id"]: s for s in json.loads(status.stdout)["steps"]}
    assert steps["data_availability"]["state"] == "attention"


def test_excluding_the_leaky_column_gives_go(make_sample):
    project = make_sample("fraud_detection")
    config = yaml.safe_load((project / "workbench.yaml").read_text(encoding="utf-8"))
    config["data"]["exclude_columns"] = ["chargeback_flag"]
    config["use_cases"]["selected"] = {"id": "card-fraud-scoring", "by": "Dana Ortiz"}
    (project / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    git(project, "commit", "-qam", "exclude the leaky column")

    from workbench.design.data_check import check_data

    seen: list[float] = []
    report = check_data(project, progress=lambda f, _m: seen.append(f))
    assert report.verdict == "GO" and report.exit_code == 0, report.reasons
    assert report.use_case == "card-fraud-scoring"
    assert report.readiness_score == 4  # GO with warnings (duplicates, personal data)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert report.commit == git(project, "rev-parse", "HEAD").strip()
    col = report.column("transactions", "chargeback_flag")
    assert col.role == "excluded" and col.leakage_score is None
    assert report.column("transactions", "merchant_category").histogram.labels
    md = report.to_markdown()
    assert md.startswith("# Data availability check: GO")


def test_ticket_triage_multiclass_leak(make_sample):
    project = make_sample("ticket_triage")
    result = run_cli("data", "check", "--json", "-C", str(project))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [s["column"] for s in report["leakage_suspects"]] == ["assigned_queue"]


def test_add_outside_file_with_spaces_and_accents_then_clone_and_pull(project, tmp_path):
    folder = tmp_path / "Données brutes"
    folder.mkdir()
    data = folder / "clients été 2026.csv"
    data.write_text("id,plan,churned\n" + "".join(f"{i},p{i % 3},{i % 2}\n" for i in range(40)),
                    encoding="utf-8")
    result = run_cli("data", "add", str(data), "--name", "clients", "-C", str(project))
    assert result.returncode == 0, result.stderr
    assert "Copied" in result.stdout and "outside the project" in result.stdout
    rel = "data/clients été 2026.csv"
    assert (project / rel).read_bytes() == data.read_bytes()
    assert committed_files(project) == {f"{rel}.dvc", "data/.gitignore", "workbench.yaml"}
    assert "Workbench-Step: data_availability" in trailers(project)
    config = yaml.safe_load((project / "workbench.yaml").read_text(encoding="utf-8"))
    assert config["data"]["sources"] == [{"name": "clients", "path": rel, "format": "csv"}]
    assert git(project, "status", "--porcelain").strip() == ""

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    assert not (clone / rel).exists()
    subprocess.run([sys.executable, "-m", "dvc", "pull", "-q"], cwd=clone, check=True)
    assert (clone / rel).read_bytes() == data.read_bytes()

    # a name already in use is refused, nothing written
    other = tmp_path / "other.csv"
    shutil.copy(data, other)
    head = git(project, "rev-parse", "HEAD")
    result = run_cli("data", "add", str(other), "--name", "clients", "-C", str(project))
    assert result.returncode == 2 and "already" in result.stderr
    assert git(project, "rev-parse", "HEAD") == head and not (project / "data" / "other.csv").exists()


def test_add_inside_folder_source_and_check(project):
    folder = project / "raw" / "batches"
    folder.mkdir(parents=True)
    for part in range(3):
        (folder / f"part-{part}.csv").write_text(
            "when,amount,label\n" + "".join(f"2026-0{part + 1}-{d:02d},{d * 1.5},{d % 2}\n"
                                            for d in range(1, 29)), encoding="utf-8")
    result = run_cli("data", "add", "raw/batches", "-C", str(project), cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Copied" not in result.stdout
    assert "raw/batches.dvc" in committed_files(project)
    config = yaml.safe_load((project / "workbench.yaml").read_text(encoding="utf-8"))
    config["data"].update(target="label", time_column="when")
    (project / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    git(project, "commit", "-qam", "target")
    result = run_cli("data", "check", "--json", "-C", str(project))
    # 84 rows < min_rows 1000 and 42 positives < min_positives 50: size alone is a warning
    # that explains the risk, not a NO-GO (issue 14, item 3)
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["sources"][0]["rows"] == 84 and report["sources"][0]["dvc_md5"].endswith(".dir")
    assert report["sources"][0]["time"]["start"] == "2026-01-01T00:00:00"
    assert report["verdict"] == "GO" and report["reasons"] == []
    assert any("fewer than min_rows" in w and "rows per feature" in w for w in report["warnings"])
    assert any("fewer than min_positives" in w and "rows per class" in w for w in report["warnings"])
    assert report["readiness_score"] == 4


def test_changed_data_is_tracked_again_with_the_report(make_sample):
    project = make_sample("diagnosis")
    csv = project / "data" / "breast_cancer.csv"
    csv.write_text(csv.read_text(encoding="utf-8") + csv.read_text(encoding="utf-8").split("\n", 2)[1] + "\n",
                   encoding="utf-8")
    result = run_cli("data", "check", "-C", str(project))
    assert result.returncode in (0, 1), result.stderr
    assert "data/breast_cancer.csv.dvc" in committed_files(project)
    report = json.loads((project / "reports" / "data_check.json").read_text(encoding="utf-8"))
    pointer = yaml.safe_load((project / "data" / "breast_cancer.csv.dvc").read_text())
    assert report["sources"][0]["dvc_md5"] == pointer["outs"][0]["md5"]
    assert report["sources"][0]["duplicate_rows"] == 1
