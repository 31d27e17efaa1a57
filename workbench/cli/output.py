"""What every command prints: JSON, progress lines, notes, and the one-line error.

Every command prints its result on stdout (text, or ``--json``) and everything else on
stderr: progress lines (indented two spaces, none with ``--json`` or ``-q``), notes
(``note: ...``) and the single error line :func:`main <workbench.cli.main.main>` prints for a
:class:`~workbench.errors.WorkbenchError` or a bug.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any


def print_json(data: Any) -> None:
    """Print ``data`` as the commands' ``--json`` output (indented, keys in their order)."""
    print(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


def progress_printer(args: argparse.Namespace) -> Callable[[str], None] | None:
    """A printer of the core's progress lines on stderr; None with ``--json`` or ``-q``."""
    if getattr(args, "json", False) or getattr(args, "quiet", False):
        return None
    return lambda line: print(f"  {line}", file=sys.stderr) if line.strip() else None


def notes(messages: Iterable[str]) -> None:
    """Print the core's messages on stderr, one ``note:`` line each."""
    for message in messages:
        print(f"note: {message}", file=sys.stderr)


def error_line(exc: BaseException) -> str:
    """The line a user's mistake (a :class:`~workbench.errors.WorkbenchError`) prints."""
    return f"mlops-workbench: error: {exc}"


def internal_error_line(exc: BaseException) -> str:
    """The line a bug prints: the exception's first line, and what to do about it."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (f"mlops-workbench: internal error: {type(exc).__name__}{': ' + text if text else ''} "
            "(run again with --debug for the traceback, and please report it)")
