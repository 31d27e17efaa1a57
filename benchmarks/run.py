"""``make bench``: run every benchmark and print one table of figures and ratios.

Each ``bench_*.py`` runs in its own process (so peak memory is its own) and prints
``BENCH|...`` lines (see ``_common.py``); this collects them, with how long each script
took. A figure whose verdict starts with ``skipped`` (a missing tool: ``wrk``, the MLflow
or Evidently virtual environment) is shown but does not fail the run; a miss or a
crashed script does (exit 1).

    python benchmarks/run.py [--quick] [--only NAME ...]
    python benchmarks/run.py --faults        # what ``make faults`` runs

``--quick`` sets ``MLOPS_WORKBENCH_BENCH_QUICK=1`` for the scripts: Evidently's comparison
(minutes, 2 GB) is left out; every other figure is still measured at full size.

The fault trials (kill -9 mid-operation, two writers, a long session) are not timed
figures and are not run by ``make bench``: ``make faults`` (``run.py --faults``) runs
``benchmarks/faults.py`` (50 seeded kill trials, a two-writer race, 1,000 operations in one
process; several minutes) and prints the same table with how many trials passed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out Evidently's multi-minute comparison")
    parser.add_argument("--only", action="append", help="only bench_NAME.py (repeatable), e.g. --only startup")
    parser.add_argument("--faults", action="store_true", help="run faults.py (the fault trials) instead")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if args.quick:
        env["MLOPS_WORKBENCH_BENCH_QUICK"] = "1"
    rows: list[list[str]] = []
    failed, took = [], []
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    if args.faults:
        scripts = [HERE / "faults.py"]
    for script in scripts:
        print(f"== {script.name}", flush=True)
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        count = 0
        for line in proc.stdout:
            if line.startswith("BENCH|"):
                rows.append(line.rstrip("\n").split("|")[1:])
                count += 1
            else:
                print(f"   {line}", end="", flush=True)
        code = proc.wait()
        took.append((script.name, time.perf_counter() - started))
        if code not in (0, 1) or count == 0:
            failed.append(f"{script.name} (exit {code}, {count} figures)")
    header = ["figure", "value", "reference", "ratio", "target", "verdict"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)))
    print("\ntime per script: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in took)
          + f"; total {sum(s for _, s in took) / 60:.1f} min")
    if failed:
        print(f"benchmarks that crashed or printed no figure: {', '.join(failed)}")
    misses = [r for r in rows if r[-1] != "ok" and not r[-1].startswith("skipped")]
    return 1 if failed or misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
