"""``make bench``: run every benchmark and print one table of figures and ratios.

Each ``bench_*.py`` runs in its own process (so peak memory is its own) and prints
``BENCH|...`` lines (see ``_common.py``); this collects them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    rows: list[list[str]] = []
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("BENCH|"):
                rows.append(line.rstrip("\n").split("|")[1:])
            else:
                print(f"   {line}", end="", flush=True)
        if proc.wait() not in (0, 1):
            failed.append(script.name)
    header = ["figure", "value", "reference", "ratio", "target", "verdict"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    if failed:
        print(f"\nbenchmarks that crashed: {', '.join(failed)}")
    return 1 if failed or any(r[-1] != "ok" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
