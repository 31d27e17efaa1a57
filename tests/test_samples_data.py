"""Checks on the bundled sample projects (sample_projects/*): config schema, data files,
size budget, and that each generate.py reproduces its committed files byte for byte."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "sample_projects"
SAMPLES = ["fraud_detection", "predictive_maintenance", "ticket_triage", "diagnosis"]
MAX_BYTES = 2 * 1024 * 1024

TOP_KEYS = ["schema_version", "project", "charter", "use_cases", "data", "sample"]
CHARTER_KEYS = ["problem", "business_owner", "success_metric", "task", "constraints", "team"]
CONSTRAINT_KEYS = ["latency_ms", "interpretability", "privacy"]
ROLES = {"business_owner", "data_scientist", "ml_engineer", "researcher"}
CRITERIA = ["business_value", "feasibility", "data_readiness", "risk", "time_to_value"]
DATA_KEYS = ["sources", "target", "time_column", "id_columns", "sensitive_columns", "thresholds"]
THRESHOLD_KEYS = [
    "min_rows", "max_target_missing_share", "min_positives", "max_missing_share", "leakage_score",
]
CLASSIFICATION_METRICS = "accuracy|precision|recall|f1|roc_auc|log_loss"
CONDITION = rf"(?:{CLASSIFICATION_METRICS})\s*(?:>=|<=|>|<)\s*\d+(?:\.\d+)?"
SUCCESS_METRIC = re.compile(rf"^{CONDITION}(?:\s+(?:at|and)\s+{CONDITION})*$")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]+$")


def load_config(name: str) -> dict:
    with open(SAMPLES_DIR / name / "workbench.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def data_files(cfg: dict) -> list[str]:
    return list(cfg["sample"]["data"]) + list(cfg["sample"]["incoming"])


def folder_bytes(folder: Path) -> int:
    files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sum(p.stat().st_size for p in files)


def test_package_marker():
    assert (SAMPLES_DIR / "__init__.py").is_file()
    found = sorted(p.name for p in SAMPLES_DIR.iterdir() if (p / "workbench.yaml").is_file())
    assert found == sorted(SAMPLES)


@pytest.mark.parametrize("name", SAMPLES)
def test_config_schema(name):
    cfg = load_config(name)
    assert list(cfg) == TOP_KEYS
    assert cfg["schema_version"] == 1
    assert list(cfg["project"]) == ["name", "description"]
    assert cfg["project"]["name"].strip() and cfg["project"]["description"].strip()

    charter = cfg["charter"]
    assert list(charter) == CHARTER_KEYS
    assert len(charter["problem"]) > 100
    assert charter["task"] == "classification"
    assert SUCCESS_METRIC.match(charter["success_metric"]), charter["success_metric"]
    assert list(charter["constraints"]) == CONSTRAINT_KEYS
    latency = charter["constraints"]["latency_ms"]
    assert latency is None or (isinstance(latency, int) and latency > 0)
    assert charter["constraints"]["interpretability"] and charter["constraints"]["privacy"]
    team = charter["team"]
    assert 3 <= len(team) <= 5
    for member in team:
        assert list(member) == ["name", "email", "role"]
        assert member["role"] in ROLES
        assert EMAIL.match(member["email"])
    owners = [m["name"] for m in team if m["role"] == "business_owner"]
    assert charter["business_owner"] in owners
    assert {"data_scientist", "ml_engineer"} <= {m["role"] for m in team}

    use_cases = cfg["use_cases"]
    assert list(use_cases) == ["weights", "candidates", "selected"]
    assert list(use_cases["weights"]) == CRITERIA
    assert math.isclose(sum(use_cases["weights"].values()), 1.0, abs_tol=1e-9)
    assert 3 <= len(use_cases["candidates"]) <= 4
    ids = [c["id"] for c in use_cases["candidates"]]
    assert len(set(ids)) == len(ids)
    for cand in use_cases["candidates"]:
        assert list(cand) == ["id", "name", "description", "scores"]
        assert SLUG.match(cand["id"])
        assert list(cand["scores"]) == CRITERIA
        for score in cand["scores"].values():
            assert isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5
    assert use_cases["selected"] is None

    data = cfg["data"]
    assert list(data) == DATA_KEYS
    assert data["sources"] == []
    assert list(data["thresholds"]) == THRESHOLD_KEYS
    assert list(cfg["sample"]) == ["data", "incoming"]
    for rel in data_files(cfg):
        assert (SAMPLES_DIR / name / rel).is_file(), rel


@pytest.mark.parametrize("name", SAMPLES)
def test_folder_size(name):
    assert folder_bytes(SAMPLES_DIR / name) < MAX_BYTES


@pytest.mark.parametrize("name", SAMPLES)
def test_datasets(name):
    cfg = load_config(name)
    data = cfg["data"]
    thresholds = data["thresholds"]
    train_files = cfg["sample"]["data"]
    train = pd.read_csv(SAMPLES_DIR / name / train_files[0])
    columns = list(train.columns)

    named = [data["target"], *data["id_columns"], *data["sensitive_columns"]]
    if data["time_column"]:
        named.append(data["time_column"])
    for column in named:
        assert column in columns, column

    target = train[data["target"]]
    assert target.isna().mean() <= thresholds["max_target_missing_share"]
    counts = target.value_counts()
    assert len(counts) >= 2
    if pd.api.types.is_numeric_dtype(target):
        assert set(counts.index) == {0, 1}
    assert len(train) >= thresholds["min_rows"]
    assert counts.min() >= thresholds["min_positives"]

    for rel in [*train_files[1:], *cfg["sample"]["incoming"]]:
        other = pd.read_csv(SAMPLES_DIR / name / rel)
        assert list(other.columns) == columns, rel
        assert other[data["target"]].nunique() >= 2, rel


@pytest.mark.parametrize("name", SAMPLES)
def test_generator_reproduces_files(name, tmp_path):
    source = SAMPLES_DIR / name
    copy = tmp_path / name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    files = data_files(load_config(name))
    for rel in files:
        (copy / rel).unlink()

    # Run from an unrelated cwd: the script must write relative to its own folder.
    result = subprocess.run(
        [sys.executable, str(copy / "generate.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr

    for rel in files:
        assert (copy / rel).read_bytes() == (source / rel).read_bytes(), rel
    written = sorted(
        p.relative_to(copy).as_posix()
        for folder in ("data", "incoming")
        for p in (copy / folder).rglob("*")
        if p.is_file()
    )
    assert written == sorted(files)
