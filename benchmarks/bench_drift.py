"""Drift check speed: a 1,000,000-row batch against a 1,000,000-row reference, 20 columns.

Figures (each against a reference measured in the same run):

1. the whole drift check from the two files — read both, build the reference statistics,
   compare the batch — against only reading both files (target <= 2x);
2. what ``mlops-workbench monitor`` does after training — read the batch, compare it with the
   saved statistics — against reading the batch (target <= 2x);
3. Evidently 0.7.23's ``Report([DataDriftPreset()])`` on the same two files against figure 1
   (target >= 20x faster). Evidently does not import with pandas 3, so it runs from its own
   virtual environment, built on first use under ``$MLOPS_WORKBENCH_BENCH_CACHE`` (default
   ``~/.cache/mlops-workbench-bench``) with pip. Its time excludes its own CSV reading.
   When the environment cannot be built or Evidently fails, the row says "not measured" and
   why; the recorded figure (109.6 s, 2.0 GB, ../shared/BENCHMARKS.md) is printed as a note.

The data (12 float columns, 5 categorical, amount, an ISO timestamp as text, a 0/1 label;
the batch drifts in 6 columns) is generated seeded into a temporary folder and removed.
``BENCH_DRIFT_ROWS`` makes it smaller for a quick try; ``MLOPS_WORKBENCH_BENCH_QUICK`` (set by
``run.py --quick``) leaves Evidently out.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import report  # noqa: E402

ROWS = int(os.environ.get("BENCH_DRIFT_ROWS", "1000000"))
RUNS = 5
EVIDENTLY = "0.7.23"
RECORDED = "Evidently 0.7.23 DataDriftPreset, 1M x 20 vs 1M x 20: 109.6 s, 2.0 GB peak (BENCHMARKS.md)"
FEATURES = {**{f"f{i}": "numeric" for i in range(12)}, **{f"c{i}": "categorical" for i in range(5)},
            "amount": "numeric", "timestamp": "datetime", "label": "categorical"}

EVIDENTLY_SCRIPT = r"""
import json, resource, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.read_csv(sys.argv[1]); cur = pd.read_csv(sys.argv[2])
start = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(cur, ref)
seconds = time.perf_counter() - start
share = None
for m in snapshot.dict()["metrics"]:
    if m["metric_name"].startswith("DriftedColumnsCount"):
        share = m["value"]["share"]
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "share": share}))
"""


def make_data(path: Path, rows: int, seed: int, drift: bool) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(12):
        shift = 0.3 if drift and i < 3 else 0.0
        cols[f"f{i}"] = np.round(rng.normal(i + shift, 1 + i / 10, rows), 5)
    for i in range(5):
        k = 4 + 3 * i
        p = np.arange(1, k + 1, dtype="float64")
        if drift and i < 2:
            p = p[::-1]
        cols[f"c{i}"] = np.asarray([f"cat{j}" for j in range(k)])[rng.choice(k, rows, p=p / p.sum())]
    cols["amount"] = np.round(rng.lognormal(3.5 + (0.2 if drift else 0.0), 1.0, rows), 2)
    start = np.datetime64("2026-06-01T00:00:00" if drift else "2026-01-01T00:00:00")
    stamps = start + np.sort(rng.integers(0, 30 * 86400, rows)).astype("timedelta64[s]")
    cols["timestamp"] = np.datetime_as_string(stamps, unit="s")
    cols["label"] = (rng.random(rows) < 0.03).astype("int64")
    pacsv.write_csv(pa.table(cols), path)


def read(path: Path) -> object:
    from workbench.design.data_read import read_table, sniff

    table, _fmt = read_table(sniff(path, path.name))
    return table


def time_read(ref: Path, cur: Path) -> float:
    start = time.perf_counter()
    read(ref)
    read(cur)
    return time.perf_counter() - start


def time_check(ref: Path, cur: Path) -> tuple[float, float, float, dict]:
    """(whole check seconds, read-batch seconds, compare-with-saved-statistics seconds, result)."""
    from workbench.operations.monitoring import DEFAULT_SETTINGS, compare_table
    from workbench.reference import profile_columns

    start = time.perf_counter()
    ref_table = read(ref)
    profiles = profile_columns(ref_table, FEATURES, seed=0)
    del ref_table
    profiles = json.loads(json.dumps(profiles))  # what the saved file holds
    t_ref = time.perf_counter()
    cur_table = read(cur)
    t_read = time.perf_counter()
    small = min(ROWS, ROWS) <= DEFAULT_SETTINGS["small_reference_rows"]
    rows, _retyped = compare_table(cur_table, profiles, small=small)
    end = time.perf_counter()
    drifted = sorted(r.name for r in rows if r.drifted)
    return end - start, t_read - t_ref, end - t_read, {"drifted": drifted, "share": len(drifted) / len(rows)}


def evidently_python() -> tuple[Path | None, str]:
    """The Evidently venv's python, built on first use; (None, reason) when that fails."""
    cache = Path(os.environ.get("MLOPS_WORKBENCH_BENCH_CACHE", Path.home() / ".cache" / "mlops-workbench-bench"))
    venv = cache / f"evidently-{EVIDENTLY}"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import evidently, pandas; assert pandas.__version__ < '3'"]
    if python.exists() and subprocess.run(probe, capture_output=True, timeout=300).returncode == 0:
        return python, ""
    cache.mkdir(parents=True, exist_ok=True)
    base = os.environ.get("BENCH_PYTHON3", "python3")
    print(f"building the Evidently venv in {venv} (once)", flush=True)
    steps = [[base, "-m", "venv", "--clear", str(venv)],
             [str(python), "-m", "pip", "install", "-q", f"evidently=={EVIDENTLY}", "pandas<3"]]
    for cmd in steps:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"could not build the Evidently venv ({exc})"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"could not build the Evidently venv ({' '.join(cmd[:4])}: {last})"
    if subprocess.run(probe, capture_output=True, timeout=300).returncode != 0:
        return None, "Evidently does not import in its venv"
    return python, ""


def main() -> int:
    import gc

    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        ref, cur = Path(tmp) / "reference.csv", Path(tmp) / "current.csv"
        make_data(ref, ROWS, 1, drift=False)
        make_data(cur, ROWS, 2, drift=True)
        size = (ref.stat().st_size + cur.stat().st_size) / 1e6
        print(f"{ROWS:,} rows x {len(FEATURES)} columns per file, {size:.0f} MB in all", flush=True)
        time_read(ref, cur)  # warm the page cache and the imports
        gc.collect()
        reads: list[float] = []
        checks: list[float] = []
        batch_reads: list[float] = []
        compares: list[float] = []
        result: dict = {}

        def measure(runs: int) -> None:
            """Reads and checks interleaved, so a change in the machine's load hits both."""
            nonlocal result
            for _ in range(runs):
                reads.append(time_read(ref, cur))
                gc.collect()
                whole, batch_read, compare, result = time_check(ref, cur)
                checks.append(whole)
                batch_reads.append(batch_read)
                compares.append(compare)
                gc.collect()

        measure(RUNS)
        t_read, t_check = statistics.median(reads), statistics.median(checks)
        t_batch = statistics.median(batch_reads)
        t_monitor = t_batch + statistics.median(compares)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"workbench: {len(result['drifted'])} of {len(FEATURES)} columns drifted "
              f"({', '.join(result['drifted'])}); peak {peak:,.0f} MB for the whole benchmark process",
              flush=True)
        ok = report("drift check 1M vs 1M x 20 (read both + reference stats + compare) / read both",
                    t_check, t_read, "s", 2.0)
        ok &= report("monitor 1M batch with saved reference stats (read + compare) / read the batch",
                     t_monitor, t_batch, "s", 2.0)

        if os.environ.get("MLOPS_WORKBENCH_BENCH_QUICK"):
            python, why = None, "skipped: --quick (Evidently runs for minutes)"
        else:
            python, why = evidently_python()
        if python is None:
            why = why if why.startswith("skipped") else f"skipped: {why}"
            print(f"Evidently not measured: {why}", flush=True)
            print(f"BENCH|Evidently DataDriftPreset / workbench drift check|not measured|-|-|>= 20|{why}")
            print(f"note: {RECORDED}")
            return 0 if ok else 1
        script = Path(tmp) / "evidently_run.py"
        script.write_text(EVIDENTLY_SCRIPT)
        try:
            done = subprocess.run([str(python), str(script), str(ref), str(cur)], capture_output=True,
                                  text=True, timeout=1800)
        except subprocess.TimeoutExpired:
            done = None
        if done is None or done.returncode != 0:
            last = "timed out after 30 min" if done is None else \
                (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"BENCH|Evidently DataDriftPreset / workbench drift check|not measured|-|-|>= 20|"
                  f"skipped: Evidently failed: {last}")
            print(f"note: {RECORDED}")
            return 0 if ok else 1
        ev = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"Evidently {EVIDENTLY}: {ev['seconds']:.1f} s, peak {ev['peak_mb']:,.0f} MB, drifted share "
              f"{ev['share']}", flush=True)
        # Evidently runs for minutes: check again after it and compare with the median of all
        # runs, so the ratio does not hinge on the load during the first few seconds.
        measure(2)
        t_all = statistics.median(checks)
        print(f"workbench drift check over all {len(checks)} runs (before and after Evidently): median "
              f"{t_all:.2f} s, range {min(checks):.2f}-{max(checks):.2f} s", flush=True)
        ok &= report("Evidently DataDriftPreset time / workbench drift check time (x faster)",
                     ev["seconds"], t_all, "s", 20.0, lower_is_better=False)
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
