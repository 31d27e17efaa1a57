"""Speed and memory of the data availability check against ``pandas.read_csv``.

Generates a CSV (default 1,000,000 rows x 20 columns, about 290 MB: 12 float columns,
5 categorical, amount, a timestamp text column, a binary label) in a temporary folder,
then in separate subprocesses (so peak RSS is per process), alternating, ``--repeat``
times each after one warm-up read (so both read the file from the page cache):

* the reference: ``pandas.read_csv(path)`` alone, default options, so pandas' C engine
  (pandas 3 turns the text into Arrow-backed strings; timestamps stay text);
* the workbench's profiling of the same file (``profile_file``: sniff, read, validate,
  per-column stats, duplicates, target, time range, identifier/personal-data patterns,
  leakage). It reads a file this large with the reference's engine too (pandas' C
  parser, into Arrow arrays), then parses the timestamps and profiles every column.

Imports happen before the clock starts in both. Prints the median time of each, their
ratio and the largest peak RSS of the check against the file size, as
``figure, value, reference, ratio, target, verdict`` lines (and ``BENCH|`` lines for
``benchmarks/run.py``); exits 1 when a target is missed. Targets: time <= 2.5x
read_csv; peak memory <= 3x the file size.

    python benchmarks/bench_data_check.py [--rows N] [--repeat N] [--keep] [--file CSV]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIME_TARGET = 2.5
MEMORY_TARGET = 3.0

_CHILD = r"""
import json, resource, sys, time
mode, path = sys.argv[1], sys.argv[2]
if mode == "read_csv":
    import pandas as pd
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    seconds = time.perf_counter() - t0
    rows = len(df)
else:
    import numpy, pandas, pyarrow, pyarrow.csv, pyarrow.compute  # imports outside the timing, as above
    from workbench.design.profile import ProfileSettings, profile_file
    t0 = time.perf_counter()
    p = profile_file(path, settings=ProfileSettings(target="label", time_column="timestamp"))
    seconds = time.perf_counter() - t0
    rows = p.rows
    assert p.target is not None and p.time is not None
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "rows": rows}))
"""


def generate(path: Path, rows: int, seed: int = 0) -> int:
    """Write the benchmark CSV in chunks (bounded memory); return its size in bytes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    chunk = 200_000
    cats = {f"cat_{i}": np.array([f"c{i}_{v}" for v in range(n)])
            for i, n in enumerate((5, 12, 30, 100, 400))}
    start = np.datetime64("2025-01-01T00:00:00")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        for offset in range(0, rows, chunk):
            n = min(chunk, rows - offset)
            frame: dict[str, object] = {f"f{i:02d}": rng.normal(i, 1 + i / 4, n)
                                        for i in range(12)}
            for name, values in cats.items():
                frame[name] = values[rng.integers(0, values.size, n)]
            frame["amount"] = rng.lognormal(3, 1, n).round(2)
            seconds = np.sort(rng.integers(0, 365 * 86400, n))
            frame["timestamp"] = np.datetime_as_string(start + seconds.astype("timedelta64[s]"))
            frame["label"] = (rng.random(n) < 0.05).astype(np.int8)
            pd.DataFrame(frame).to_csv(fh, index=False, header=offset == 0)
    return path.stat().st_size


def measure(mode: str, path: Path) -> dict[str, float]:
    """Run one measurement in a fresh interpreter and return its figures."""
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path)], capture_output=True,
                          text=True, cwd=repo, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each, alternating; medians are reported (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the generated file (prints its path)")
    parser.add_argument("--file", type=Path,
                        help="measure this CSV (one that --keep kept) instead of generating one")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-data-check-"))
    try:
        if args.file:
            path = args.file
            size = path.stat().st_size
        else:
            path = folder / "bench.csv"
            t0 = time.perf_counter()
            size = generate(path, args.rows)
            print(f"# generated {args.rows:,} rows x 20 columns, {size / 1e6:.0f} MB in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        measure("read_csv", path)  # warm the page cache so every run reads from memory
        refs, checks = [], []
        for i in range(max(1, args.repeat)):
            refs.append(measure("read_csv", path))
            checks.append(measure("profile", path))
            print(f"# run {i + 1}: read_csv {refs[-1]['seconds']:.2f} s, check {checks[-1]['seconds']:.2f} s "
                  f"({checks[-1]['seconds'] / refs[-1]['seconds']:.2f}x), check peak "
                  f"{checks[-1]['peak_bytes'] / 1e6:.0f} MB", file=sys.stderr)
        ref_s = statistics.median(r["seconds"] for r in refs)
        wb_s = statistics.median(c["seconds"] for c in checks)
        wb_peak = max(c["peak_bytes"] for c in checks)
        ref_peak = max(r["peak_bytes"] for r in refs)
        time_ratio = wb_s / ref_s
        mem_ratio = wb_peak / size
        time_ok = time_ratio <= TIME_TARGET
        mem_ok = mem_ratio <= MEMORY_TARGET
        runs = f"median of {len(checks)}"
        print("figure, value, reference, ratio, target, verdict")
        print(f"check time (s, {runs}), {wb_s:.2f}, {ref_s:.2f} (pandas.read_csv, C engine), "
              f"{time_ratio:.2f}x, <= {TIME_TARGET}x, {'ok' if time_ok else 'MISS'}")
        print(f"check peak RSS (MB, largest), {wb_peak / 1e6:.0f}, {size / 1e6:.0f} (file size), "
              f"{mem_ratio:.2f}x, <= {MEMORY_TARGET}x, {'ok' if mem_ok else 'MISS'}")
        print(f"read_csv peak RSS (MB, largest), {ref_peak / 1e6:.0f}, {size / 1e6:.0f} (file size), "
              f"{ref_peak / size:.2f}x, -, -")
        mb = size / 1e6
        print(f"BENCH|data check {mb:.0f} MB CSV / pandas.read_csv ({runs})|{wb_s:.3f} s|{ref_s:.3f} s|"
              f"{time_ratio:.2f}|<= {TIME_TARGET}|{'ok' if time_ok else 'MISS'}")
        print(f"BENCH|data check peak RSS / file size|{wb_peak / 1e6:.0f} MB|{mb:.0f} MB|"
              f"{mem_ratio:.2f}|<= {MEMORY_TARGET}|{'ok' if mem_ok else 'MISS'}")
        ok = time_ok and mem_ok
        print(f"# {'PASS' if ok else 'FAIL'}", file=sys.stderr)
        if args.keep and not args.file:
            print(f"# kept {path}", file=sys.stderr)
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
