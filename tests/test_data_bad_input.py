"""Bad input for ``data add`` / ``data check``: one line, exit 2, nothing written or committed.

Decisions tested here: non-UTF-8 text is read as cp1252 with a warning; a semicolon-separated
file is read as such (decimal commas too) with a warning; a target that is missing, all empty
or constant is unusable input (exit 2), not a NO-GO.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import git, run_cli


def snapshot(project: Path) -> tuple[str, str]:
    """HEAD and the full working-tree status (untracked and ignored files included)."""
    head = git(project, "rev-parse", "HEAD").strip()
    status = git(project, "status", "--porcelain", "--untracked-files=all", "--ignored")
    return head, status


def assert_refused(project: Path, result: subprocess.CompletedProcess[str], before, *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    # progress lines are indented; the error is exactly one line
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("  ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mlops-workbench: error: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert snapshot(project) == before
    assert not (project / "data").exists() or not any((project / "data").iterdir())


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ("empty",)),
        (b"a,b,c\n", ("header", "no data rows")),
        (b"a,b,c\n\n\n", ("header", "no data rows")),
        (bytes(range(256)) * 64, ("binary",)),
        (b"PAR1\x00\x00\x15\x04", ("Parquet", "rename")),
        (b"a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n", ("line 4", "2 field(s)", "header has 3")),
        (b"a,b,a\n1,2,3\n", ("'a' twice", "columns 1 and 3", "rename")),
    ],
    ids=["empty", "header-only", "header-blank-lines", "binary", "parquet-named-csv", "ragged",
         "duplicate-columns"],
)
def test_bad_file_is_refused(project, tmp_path, content, words):
    bad = tmp_path / "outside" / "bad.csv"
    bad.parent.mkdir()
    bad.write_bytes(content)
    before = snapshot(project)
    result = run_cli("data", "add", str(bad), "-C", str(project))
    assert_refused(project, result, before, "bad.csv", *words)


def test_ragged_row_far_down_names_its_line(project, tmp_path):
    bad = tmp_path / "big.csv"
    rows = "".join(f"{i},{i * 2},x{i}\n" for i in range(50_000))
    bad.write_text("a,b,c\n" + rows + "1,2,3,4\n" + rows, encoding="utf-8")
    before = snapshot(project)
    result = run_cli("data", "add", str(bad), "-C", str(project))
    assert_refused(project, result, before, "line 50002", "4 field(s)")


def test_missing_outside_path(project, tmp_path):
    before = snapshot(project)
    result = run_cli("data", "add", str(tmp_path / "nowhere" / "x.csv"), "-C", str(project))
    assert_refused(project, result, before, "does not exist")


def test_unsupported_suffix(project, tmp_path):
    other = tmp_path / "data.xlsx"
    other.write_bytes(b"PK\x03\x04whatever")
    before = snapshot(project)
    result = run_cli("data", "add", str(other), "-C", str(project))
    assert_refused(project, result, before, ".xlsx")


def test_latin1_file_works_with_a_warning(project, tmp_path):
    path = tmp_path / "legacy.csv"
    rows = "".join(f"{i},Café Müller {i},{i % 2}\n" for i in range(20))
    path.write_bytes(("id,name,label\n" + rows).encode("cp1252"))
    result = run_cli("data", "add", str(path), "-C", str(project))
    assert result.returncode == 0, result.stderr
    assert "not UTF-8" in result.stderr and "cp1252" in result.stderr
    config = yaml.safe_load((project / "workbench.yaml").read_text(encoding="utf-8"))
    assert config["data"]["sources"][0]["encoding"] == "cp1252"
    from workbench.design.profile import profile_file

    prof = profile_file(project / "data" / "legacy.csv", options={"encoding": "cp1252"})
    assert "Café Müller 0" in {v for v, _ in prof.column("name").top} | {
        v for v in prof.column("name").histogram.labels}


def test_semicolon_file_is_detected(project, tmp_path):
    path = tmp_path / "euro.csv"
    path.write_text("id;amount;label\n" + "".join(f"{i};{i},5;{i % 2}\n" for i in range(30)),
                    encoding="utf-8")
    result = run_cli("data", "add", str(path), "-C", str(project))
    assert result.returncode == 0, result.stderr
    assert "semicolon" in result.stderr
    source = yaml.safe_load((project / "workbench.yaml").read_text(encoding="utf-8"))["data"]["sources"][0]
    assert source["delimiter"] == ";" and source["decimal"] == ","
    from workbench.design.profile import profile_file

    prof = profile_file(project / "data" / "euro.csv", options={"delimiter": ";", "decimal": ","})
    assert prof.columns == 3
    assert prof.column("amount").kind == "numeric" and prof.column("amount").min == 0.5


def _set_target(project: Path, target: str, csv_text: str) -> None:
    (project / "tbl.csv").write_text(csv_text, encoding="utf-8")
    result = run_cli("data", "add", "tbl.csv", "-C", str(project), "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((project / "workbench.yaml").read_text(encoding="utf-8"))
    config["data"]["target"] = target
    (project / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    git(project, "commit", "-qam", "set target")


@pytest.mark.parametrize(
    ("target", "column", "words"),
    [
        ("churned", "1,2,0\n", ("'churned'", "in no data source", "--target")),
        ("y", ",", ("'y'", "empty in all")),
        ("y", "7", ("'y'", "same value (7)")),
    ],
    ids=["missing", "all-empty", "constant"],
)
def test_unusable_target_is_exit_2(project, target, column, words):
    if target == "churned":
        body = "a,b,y\n" + column * 20
    elif column == ",":
        body = "a,b,y\n" + "".join(f"{i},{i},\n" for i in range(20))
    else:
        body = "a,b,y\n" + "".join(f"{i},{i},{column}\n" for i in range(20))
    _set_target(project, target, body)
    before = snapshot(project)
    result = run_cli("data", "check", "-C", str(project))
    assert_refused(project, result, before, *words)
    assert not (project / "reports").exists()


def test_check_without_sources_is_exit_2(project):
    before = snapshot(project)
    result = run_cli("data", "check", "-C", str(project))
    assert_refused(project, result, before, "no data sources")


def test_five_thousand_columns_work(project, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    n_rows, n_cols = 300, 5000
    header = ",".join([f"c{i}" for i in range(n_cols - 1)] + ["y"])
    values = rng.integers(0, 100, size=(n_rows, n_cols - 1))
    labels = rng.integers(0, 2, size=n_rows)
    lines = [header] + [",".join(map(str, row)) + f",{lab}" for row, lab in zip(values, labels, strict=False)]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from workbench.design.profile import ProfileSettings, profile_file

    started = time.monotonic()
    prof = profile_file(path, settings=ProfileSettings(target="y"))
    seconds = time.monotonic() - started
    assert prof.columns == n_cols and prof.rows == n_rows
    assert seconds < 30, seconds
    result = run_cli("data", "add", str(path), "-C", str(project))
    assert result.returncode == 0, result.stderr
    result = run_cli("data", "check", "--target", "y", "--json", "-C", str(project))
    assert result.returncode == 0, result.stderr  # 300 rows < min_rows: a warning (GO), and it works
    assert "fewer than min_rows" in result.stdout
