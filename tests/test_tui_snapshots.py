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


# --- every view at 80x24 and 120x40 (issue 16.11) -----------------------------------------

VIEWS = ("dashboard", "timeline", "requirements", "use_cases", "data_availability", "data_engineering",
         "training", "validation", "review", "deployment", "ci_cd", "monitoring", "sync")
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.fixture(scope="module")
def frozen_views_sample(tmp_path_factory) -> Path:
    """One diagnosis sample for all the view snapshots, at a fixed path with fixed dates and identity.

    Opening a view only reads the project, so the snapshots can share it; the fixed path keeps
    paths the views print the same on every run.
    """
    import shutil

    from tests.conftest import _isolated_env, configure_identity
    from workbench.new_project import create_from_sample

    home = tmp_path_factory.mktemp("snapshot-home")
    configure_identity(home)
    base = Path(tempfile.gettempdir()) / "mlops-workbench-view-snapshots"
    shutil.rmtree(base, ignore_errors=True)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _isolated_env(home).items():
            mp.setenv(key, value)
        mp.setenv("GIT_AUTHOR_DATE", FIXED_DATE)
        mp.setenv("GIT_COMMITTER_DATE", FIXED_DATE)
        remote = Path(tempfile.gettempdir()) / "mlops-workbench-snapshot-remote"
        yield create_from_sample("diagnosis", base / "diagnosis", remote=remote).path


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("view", VIEWS)
def test_snapshot_every_view(snap_compare, frozen_views_sample, view, size):
    async def open_view(pilot) -> None:
        await _settle(pilot)
        screen = pilot.app.screen
        if view == "timeline":
            await screen.action_timeline()
        elif view == "sync":
            await screen.action_sync()
        elif view != "dashboard":
            await screen.show_step(view)
        # a view's data arrives from a worker and may start another (a chart, a table fill):
        # settle until nothing runs and the last layout is done, so every run paints the same
        for _ in range(2):
            await _settle(pilot)
            await pilot.wait_for_scheduled_animations()
        # under load a message posted from a worker's last line can still be in the queue
        # (ci_cd-120x40 and use_cases-80x24 painted a frame early on a busy machine)
        await pilot.pause(0.5)
        await _settle(pilot)
        await pilot.pause()

    assert snap_compare(make_app(frozen_views_sample, testing=True), terminal_size=SIZES[size],
                        run_before=open_view)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_wizard(snap_compare, tmp_path, size):
    folder = Path(tempfile.gettempdir()) / "mlops-workbench-wizard-snapshot"
    folder.mkdir(exist_ok=True)

    async def open_wizard(pilot) -> None:
        await _settle(pilot)
        await pilot.press("n")
        await _settle(pilot)

    assert snap_compare(make_app(folder, testing=True), terminal_size=SIZES[size], run_before=open_wizard)
