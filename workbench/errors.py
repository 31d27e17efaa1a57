"""Errors meant for people.

Every error a user can cause is a :class:`WorkbenchError` whose message is one line:
what was wrong and how to fix it. The CLI prints it and exits non-zero; the TUI
shows the same text as a notification. Tracebacks are for ``--debug`` only.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """A failure the user can act on; ``str(err)`` is the one-line message."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ProjectBusyError(WorkbenchError):
    """Another live process holds the project's write lock."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class DirtyPathError(WorkbenchError):
    """A path the step would write carries uncommitted edits it did not make."""


class CancelledError(WorkbenchError):
    """The user cancelled a long operation; nothing was committed."""

    exit_code = 130
