"""What the Pilot tests of the TUI share: waiting for workers, reading the screen and git.

The tests run the real core (no mocks); these helpers only wait for the app's workers
(never a blind sleep), open a step as a person would (the sidebar), and read back what
the screen shows and what git holds.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import ContentSwitcher, DataTable

from screens.project.project_screen import LifecycleSidebar
from tests.conftest import git

SIZE = (120, 40)


async def settle(app, pilot, rounds: int = 4) -> None:
    """Let workers finish and the messages they post be handled (a worker may start another)."""
    for _ in range(rounds):
        await pilot.pause()
        # DirectoryTree keeps a loader worker alive for its whole life: do not wait on it.
        running = [w for w in app.workers if w.group != "_loader"]
        if running:
            await app.workers.wait_for_complete(running)
        await pilot.pause()


async def wait_until(pilot, condition, timeout: float = 90.0) -> None:
    """Pump the app until ``condition()`` holds (for states in the middle of a worker's run)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def text(widget) -> str:
    """The plain text a Static shows."""
    content = widget.content if hasattr(widget, "content") else widget.renderable
    return getattr(content, "plain", str(content))


def log_text(view, selector: str) -> str:
    """The lines of a Log or RichLog in ``view``, as plain text."""
    lines = view.query_one(selector).lines
    return "\n".join(getattr(line, "text", line) for line in lines)


def notifications(app) -> list[tuple[str, str]]:
    """(message, severity) of every notification the app has shown, oldest first (expired ones too)."""
    return list(app.told)


def errors(app) -> list[str]:
    return [m for m, sev in notifications(app) if sev == "error"]


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def commit_count(path: Path) -> int:
    return int(git(path, "rev-list", "--count", "HEAD"))


def table_ids(table: DataTable) -> list[str]:
    """The row keys of a DataTable, top to bottom."""
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


async def open_by_sidebar(app, pilot, step_id: str):
    """Open a step's view as a person would: its node in the sidebar, Enter. The focus moves into the view."""
    sidebar = app.screen.query_one(LifecycleSidebar)
    sidebar.focus()
    sidebar.point_at(step_id)
    await pilot.press("enter")
    await settle(app, pilot)
    assert app.screen.query_one("#content", ContentSwitcher).current == f"step-{step_id}"
    return app.screen.query_one(f"#step-{step_id}")


async def open_step(app, pilot, step_id: str):
    """Wait for the project screen's workers, then open the step by the sidebar."""
    await settle(app, pilot)
    return await open_by_sidebar(app, pilot, step_id)
