"""Shared output format for benchmarks.

Every benchmark prints a human line per figure and a machine line that
``benchmarks/run.py`` collects into one table::

    BENCH|figure|value|reference|ratio|target|verdict
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable


def report(figure: str, value: float, reference: float, unit: str, target: float,
           *, lower_is_better: bool = True) -> bool:
    """Print one figure with its same-run reference and the ratio against the target."""
    ratio = value / reference if reference else float("inf")
    ok = ratio <= target if lower_is_better else ratio >= target
    verdict = "ok" if ok else "MISS"
    cmp = "<=" if lower_is_better else ">="
    print(f"{figure}: {value:.3f} {unit} vs reference {reference:.3f} {unit} "
          f"-> ratio {ratio:.2f} (target {cmp} {target}) {verdict}", flush=True)
    print(f"BENCH|{figure}|{value:.3f} {unit}|{reference:.3f} {unit}|{ratio:.2f}|{cmp} {target}|{verdict}",
          flush=True)
    return ok


def median_of(func: Callable[[], float], runs: int) -> float:
    """The median of ``runs`` calls of ``func`` (each returns seconds)."""
    return statistics.median(func() for _ in range(runs))


def tmux_first_paint(command: str, needle: str, *, width: int = 120, height: int = 40,
                     timeout: float = 30.0, session: str = "wb-bench") -> float:
    """Seconds from launching ``command`` in a tmux pane until ``needle`` shows on screen."""
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height),
                    command], check=True)
    try:
        while time.perf_counter() - start < timeout:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                    capture_output=True, text=True).stdout
            if needle in screen:
                return time.perf_counter() - start
            time.sleep(0.01)
        raise TimeoutError(f"{needle!r} did not show within {timeout} s running {command}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
