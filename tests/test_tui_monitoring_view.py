"""Pilot tests of the Monitoring view on a real trained project with real monitoring reports.

The project is trained once per module with ``dvc repro`` (the helper of test_monitoring.py);
its two reports are made by the real ``mlops-workbench monitor`` (a held-out batch: healthy;
June's transactions: drifted). Each test opens a copy. A check from the screen runs the
real CLI in a subprocess; the tests wait for the view's workers, never a blind sleep.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from screens.app import make_app
from screens.monitoring_view import MonitoringView, severity_order
from tests.conftest import _isolated_env, git, run_cli
from tests.test_monitoring import INCOMING, _build
from tests.test_tui_design_views import notifications, open_by_sidebar, settle, table_ids, text

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    """``trained`` (no report yet), ``monitored`` (two reports) and the ``holdout`` batch, built once."""
    base = tmp_path_factory.mktemp("monitor-view")
    trained = _build("fraud_detection", base)
    env = _isolated_env(base / "home")
    monitored = base / "monitored"
    shutil.copytree(trained, monitored, symlinks=True)
    holdout = base / "holdout.parquet"
    shutil.copy(trained / "data/prepared/test.parquet", holdout)
    done = run_cli("monitor", str(holdout), "-q", cwd=monitored, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_cli("monitor", INCOMING["fraud_detection"], "-q", cwd=monitored, env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    return {"trained": trained, "monitored": monitored, "holdout": holdout}


def copy_of(projects, name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(projects[name], dest, symlinks=True)
    return dest


async def open_monitoring(app, pilot) -> MonitoringView:
    await settle(app, pilot)
    view = await open_by_sidebar(app, pilot, "monitoring")
    await settle(app, pilot)
    assert isinstance(view, MonitoringView)
    return view


def plot_title(view: MonitoringView, plot_id: str) -> str:
    return str(view.query_one(f"#{plot_id}").plt.monitor.title)


def commit_count(path: Path) -> int:
    return int(git(path, "rev-list", "--count", "HEAD"))


async def test_latest_report_by_severity_histograms_drift_over_time_and_checks(projects, tmp_path) -> None:
    path = copy_of(projects, "monitored", tmp_path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_monitoring(app, pilot)
        verdict = text(view.query_one("#mon-verdict", Static))
        assert "ACTION RECOMMENDED" in verdict and "transactions_2026_06.csv" in verdict
        assert "rows 3,000" in verdict and "dataset drift 50% (4 of 8 features" in verdict
        assert "press t" in verdict  # action recommended: retraining is offered

        # drifted features first, worst first; the model's outputs after the features
        table = view.query_one("#mon-features", DataTable)
        ids = table_ids(table)
        features = view.report["features"]
        drifted = [f["name"] for f in features if f["drifted"]]
        assert set(ids[: len(drifted)]) == set(drifted) and ids[0] == "card_present"
        assert ids[: len(features)] == [f["name"] for f in severity_order(features)]
        assert ids[len(features):] == ["predicted score", "predicted class"]
        assert str(table.get_row_at(0)[1]) == "! yes" and str(table.get_row("country")[1]) == "✔ no"
        assert str(table.get_row("merchant_category")[4]).endswith("significant")

        # the histogram follows the cursor
        assert plot_title(view, "mon-hist").startswith("card_present: ")
        table.focus()
        table.move_cursor(row=table.get_row_index("country"))
        await pilot.pause()
        assert plot_title(view, "mon-hist") == "country: share of rows per category"
        assert "country  categorical" in text(view.query_one("#mon-feature-detail", Static))

        # drift over time: one point per report, newest report on top of the table
        trend = view.query_one("#mon-trend").plt.monitor
        assert [len(xs) for xs in trend.x][0] == 2 and trend.y[0] == [0.0, 50.0]
        reports = view.query_one("#mon-reports", DataTable)
        assert reports.row_count == 2 and str(reports.get_row_at(0)[2]) == "! action"

        # Enter on an earlier report shows it; on the newest, back to the latest
        reports.focus()
        reports.move_cursor(row=1)
        await pilot.press("enter")
        await settle(app, pilot)
        verdict = text(view.query_one("#mon-verdict", Static))
        assert verdict.startswith("HEALTHY") and "(an earlier report)" in verdict
        reports.move_cursor(row=0)
        await pilot.press("enter")
        await settle(app, pilot)
        assert text(view.query_one("#mon-verdict", Static)).startswith("ACTION RECOMMENDED")

        # m with a file that is not there: the CLI's one line, nothing committed
        before = commit_count(path)
        view.query_one("#mon-batch", Input).value = "no/such.csv"
        await pilot.press("m")
        await settle(app, pilot)
        errors = [m for m, sev in notifications(app) if sev == "error"]
        assert errors == ["no/such.csv does not exist: give the batch as a CSV, TSV or Parquet file"]
        assert commit_count(path) == before

        # m with the held-out batch: a healthy report is committed and shown, a third point
        view.query_one("#mon-batch", Input).value = str(projects["holdout"])
        await pilot.press("m")
        await settle(app, pilot)
        assert commit_count(path) == before + 1
        said = [m for m, sev in notifications(app) if sev == "information"]
        assert any(m.startswith("Healthy: 0 of 8 features drifted") for m in said), said
        assert "HEALTHY" in text(view.query_one("#mon-verdict", Static))
        assert len(view.query_one("#mon-trend").plt.monitor.x[0]) == 3
        assert view.query_one("#mon-reports", DataTable).row_count == 3


@pytest.mark.skipif(importlib.util.find_spec("workbench.cli_retrain") is not None,
                    reason="retrain is installed: its own tests run it")
async def test_retrain_says_when_the_command_is_not_there(projects, tmp_path) -> None:
    path = copy_of(projects, "monitored", tmp_path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_monitoring(app, pilot)
        view.query_one("#mon-features", DataTable).focus()
        await pilot.press("t")
        await settle(app, pilot)
        assert any("Retraining is not available" in m and sev == "warning" for m, sev in notifications(app))


async def test_empty_states_no_report_and_no_reference(projects, tmp_path) -> None:
    path = copy_of(projects, "trained", tmp_path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_monitoring(app, pilot)
        verdict = text(view.query_one("#mon-verdict", Static))
        assert verdict.startswith("No monitoring report yet.") and "$ mlops-workbench monitor [BATCH]" in verdict
        assert view.has_class("-empty") and not view.query_one("#mon-report-body").display

    (path / "reports/reference.json").unlink()
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_monitoring(app, pilot)
        verdict = text(view.query_one("#mon-verdict", Static))
        assert verdict.startswith("No reference statistics yet.") and "run the pipeline first" in verdict
