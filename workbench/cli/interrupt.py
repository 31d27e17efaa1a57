"""Ctrl-C at the CLI: a clean stop of the running step (DVC does not see the terminal's signal)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def cancel_on_interrupt() -> Iterator[threading.Event]:
    """An Event set by Ctrl-C (SIGINT) or SIGTERM while the block runs.

    DVC runs in its own session (so the TUI's terminal never reaches it), which means a
    Ctrl-C typed at the CLI does not reach DVC either: the core's ``cancel`` argument stops
    it, cleanly, and the command exits 130 with nothing committed.
    """
    event = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(_signum: int, _frame: Any) -> None:
        if event.is_set():  # a second Ctrl-C: stop waiting for a clean stop
            raise KeyboardInterrupt
        print("mlops-workbench: stopping (Ctrl-C again to abandon the clean stop)…", file=sys.stderr)
        event.set()

    try:
        for sig in previous:
            signal.signal(sig, handler)
    except ValueError:  # not the main thread: no signals to catch
        previous = {}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
