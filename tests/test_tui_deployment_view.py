"""Pilot tests of the Deployment view: registry table, the real service started and stopped, batch scoring."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, ProgressBar, Static

from screens.app import make_app
from tests.conftest import _isolated_env
from tests.test_registry import VENV_BIN, add_evidence, build_trained_project
from tests.tui_helpers import errors, notifications, open_step, settle, table_ids, text, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def released_template(tmp_path_factory) -> Path:
    """Trained, evidence committed, v1.0.0 registered (staging) and v1.1.0 in production."""
    from tests.conftest import git
    from workbench.versioning.registry import promote_model, register_model

    base = tmp_path_factory.mktemp("deployment-view-template")
    path = build_trained_project(base, tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _isolated_env(base / "home").items():
            mp.setenv(key, value)
        register_model(path)
        promote_model(path, "v1.0.0", "staging")
        add_evidence(path)
        register_model(path)
        promote_model(path, "v1.1.0", "production")
    assert git(path, "status", "--porcelain").strip() == ""
    return path


@pytest.fixture
def released(released_template, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    dest = tmp_path / "diagnosis"
    shutil.copytree(released_template, dest, symlinks=True)
    return dest


async def test_registry_service_and_batch_scoring_from_the_view(released) -> None:
    import pandas as pd

    path = released
    app = make_app(path, testing=True)
    async with app.run_test(size=(130, 45)) as pilot:
        view = await open_step(app, pilot, "deployment")
        await settle(app, pilot)
        table = view.query_one("#dep-registry", DataTable)
        assert table_ids(table) == ["v1.1.0", "v1.0.0"]
        newest = [str(c) for c in table.get_row_at(0)]
        assert newest[1] == "production" and newest[4] == "Ada Lovelace" and newest[5].startswith("Dana Ortiz")
        assert str(table.get_row_at(1)[1]) == "staging"
        assert "production: v1.1.0" in text(view.query_one("#dep-state", Static))
        assert view.selected_version() == "v1.1.0"

        # start the real service for the selected version, use it, watch the count, stop it
        await pilot.press("s")
        await wait_until(pilot, lambda: "Running" in text(view.query_one("#dep-service", Static)))
        port = view.port
        assert f"http://127.0.0.1:{port}" in text(view.query_one("#dep-service", Static))
        assert "0 requests" in text(view.query_one("#dep-service", Static))
        record = pd.read_parquet(path / "data/prepared/test.parquet").drop(columns=["diagnosis"]).iloc[0]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/predict",
                                     data=json.dumps([record.to_dict()]).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert json.loads(resp.read())["version"] == "v1.1.0"
        await wait_until(pilot, lambda: "1 request " in text(view.query_one("#dep-service", Static)))
        proc = view.process
        await pilot.press("x")
        await settle(app, pilot)
        assert proc.poll() is not None and view.process is None
        assert text(view.query_one("#dep-service", Static)) == "Stopped."
        assert any(m == "The prediction service stopped" for m, _ in notifications(app))

        # batch scoring with progress
        frame = pd.read_parquet(path / "data/prepared/test.parquet").drop(columns=["diagnosis"])
        frame.to_csv(path / "batch.csv", index=False)
        view.query_one("#dep-input", Input).value = "batch.csv"
        await pilot.press("b")
        await wait_until(pilot, lambda: not view.scoring)
        await settle(app, pilot)
        scored = pd.read_csv(path / "batch.scored.csv")
        assert len(scored) == len(frame) and {"prediction", "score"} <= set(scored.columns)
        bar = view.query_one("#dep-progress", ProgressBar)
        assert bar.total == len(frame) and bar.progress == len(frame)
        assert f"Scored {len(frame)} rows with model v1.1.0" in text(view.query_one("#dep-batch-result", Static))

        view.query_one("#dep-input", Input).value = "missing.csv"  # errors are the core's one line
        await pilot.press("b")
        await wait_until(pilot, lambda: not view.scoring)
        failed = errors(app)
        assert failed and "missing.csv does not exist" in failed[-1]


async def test_a_service_that_cannot_start_says_why(make_sample) -> None:
    path = make_sample("diagnosis")
    app = make_app(path, testing=True)
    async with app.run_test(size=(130, 45)) as pilot:
        view = await open_step(app, pilot, "deployment")
        await settle(app, pilot)
        assert "No registered model yet" in text(view.query_one("#dep-state", Static))
        await pilot.press("s")
        await settle(app, pilot)
        assert view.process is None
        failed = errors(app)
        assert failed and "no registered model to serve" in failed[-1]


async def test_start_with_enter_then_x_stops_and_the_focus_comes_back(released) -> None:
    """Disabling the focused button must not drop the focus: the view's keys keep working.

    Enter on Start disables Start; the focus goes to the view (not to a text field, not to
    Stop: a second Enter must not stop what the first started), so x stops the service; the
    focus then returns to Start, and Enter starts it again.
    """
    from textual.widgets import Button

    app = make_app(released, testing=True)
    async with app.run_test(size=(130, 45)) as pilot:
        view = await open_step(app, pilot, "deployment")
        await settle(app, pilot)
        start = view.query_one("#dep-start", Button)
        start.focus()
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Running" in text(view.query_one("#dep-service", Static)))
        assert app.focused is view
        await pilot.press("enter")  # a second Enter does nothing to the running service
        await settle(app, pilot)
        assert view.process is not None and view.process.poll() is None
        proc = view.process
        await pilot.press("x")
        await settle(app, pilot)
        assert proc.poll() is not None and view.process is None
        assert app.focused is start
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Running" in text(view.query_one("#dep-service", Static)))
        await pilot.press("x")
        await settle(app, pilot)
        assert view.process is None
