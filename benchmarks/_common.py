"""Shared output format for benchmarks.

Every benchmark prints a human line per figure and a machine line that
``benchmarks/run.py`` collects into one table::

    BENCH|figure|value|reference|ratio|target|verdict
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Sequence


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


_ESCAPES = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)"
                      rb"|[PX^_][^\x1b]*\x1b\\|[0-?@-Z\\-_])")


def pty_first_paint(argv: Sequence[str], needle: str, *, width: int = 120, height: int = 40,
                    timeout: float = 30.0, env: dict[str, str] | None = None,
                    cwd: str | None = None) -> float:
    """Seconds from starting ``argv`` in a fresh pseudo-terminal until ``needle`` is written to it.

    The child gets a real pty of ``width`` x ``height`` (``TIOCSWINSZ``) as its stdin, stdout
    and stderr, in a session of its own. Everything it writes is read as it comes (so it never
    blocks on a full pty) and searched for ``needle`` both raw and with escape sequences
    removed: Textual writes a styled segment's text in one piece, but a cursor move may sit
    between two segments. The child and its process group are killed afterwards.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    child_env = {**(env if env is not None else os.environ), "TERM": "xterm-256color",
                 "COLUMNS": str(width), "LINES": str(height)}
    target = needle.encode()
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, env=child_env, cwd=cwd,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    seen = bytearray()
    try:
        while True:
            left = timeout - (time.perf_counter() - start)
            if left <= 0:
                break
            ready, _, _ = select.select([master], [], [], min(left, 0.5))
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if target in seen[-(len(chunk) + len(target)):] or target in _ESCAPES.sub(b"", bytes(seen)):
                return time.perf_counter() - start
        tail = _ESCAPES.sub(b"", bytes(seen[-2000:])).decode(errors="replace")
        raise TimeoutError(f"{needle!r} did not show within {timeout} s running {' '.join(argv)}"
                           f" (exit {proc.poll()}); last output: {tail[-500:]!r}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        os.close(master)


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
