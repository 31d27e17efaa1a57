"""Snapshot tests of the TUI at a fixed size (pytest-textual-snapshot).

The project in the dashboard and timeline snapshots is built by the real core with
fixed git dates, a fixed identity (conftest) and a fixed DVC remote path, so its
commit ids are the same on every run. Regenerate after an intended change with
``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from screens.app import make_app

SIZE = (100, 30)
FIXED_DATE = "2024-01-15T10:00:00+00:00"


async def _settle(pilot) -> None:
    app = pilot.app
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()


@pytest.fixture
def frozen_sample(tmp_path, monkeypatch) -> Path:
    """The diagnosis sample made with fixed dates and remote, so commit ids are stable."""
    from workbench.new_project import create_from_sample

    monkeypatch.setenv("GIT_AUTHOR_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", FIXED_DATE)
    remote = Path(tempfile.gettempdir()) / "mlops-workbench-snapshot-remote"
    return create_from_sample("diagnosis", tmp_path / "diagnosis", remote=remote).path


def test_snapshot_welcome(snap_compare, tmp_path):
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    assert snap_compare(make_app(folder, testing=True), terminal_size=SIZE, run_before=_settle)


def test_snapshot_dashboard_of_sample(snap_compare, frozen_sample):
    assert snap_compare(make_app(frozen_sample, testing=True), terminal_size=SIZE, run_before=_settle)


def test_snapshot_timeline_of_sample(snap_compare, frozen_sample):
    async def open_timeline(pilot) -> None:
        await _settle(pilot)
        await pilot.press("t")
        await _settle(pilot)

    assert snap_compare(make_app(frozen_sample, testing=True), terminal_size=SIZE,
                        run_before=open_timeline)
