"""Pilot tests of the Monitoring view on a real trained project with real monitoring reports.

The project is trained once per module with ``dvc repro`` (the helper of test_monitoring.py);
its two reports are made by the real ``mlops-workbench monitor`` (a held-out batch: healthy;
June's transactions: drifted). Retraining runs on the diagnosis project of test_retrain.py
(v1.0.0 in production, gates that the candidate passes) after a real ``monitor`` of its
labelled Q2 batch. Each test opens a copy. A check or a retrain from the screen runs the
real CLI in a subprocess; the tests wait for the view's workers, never a blind sleep.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from textual.widgets import DataTable, Input, Static

from screens.app import make_app
from screens.operations.monitoring_view import MonitoringView, severity_order
from tests.conftest import _isolated_env, git, run_cli
from tests.test_monitoring import INCOMING as SAMPLE_BATCHES
from tests.test_monitoring import _build
from tests.test_registry import VENV_BIN
from tests.test_retrain import (  # noqa: F401 (its fixture, shared by import)
    INCOMING,
    production_template,
)
from tests.tui_helpers import (
    SIZE,
    commit_count,
    errors,
    head,
    log_text,
    notifications,
    open_step,
    settle,
    table_ids,
    text,
    wait_until,
)

pytestmark = pytest.mark.anyio


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
    done = run_cli("monitor", SAMPLE_BATCHES["fraud_detection"], "-q", cwd=monitored, env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    return {"trained": trained, "monitored": monitored, "holdout": holdout}


@pytest.fixture
def drifted(request, tmp_path) -> Path:
    """A copy of test_retrain.py's diagnosis project (v1.0.0 in production, gates the candidate
    passes) whose latest monitoring report, on the labelled Q2 batch, recommends action."""
    path = tmp_path / "diagnosis"
    shutil.copytree(request.getfixturevalue("production_template"), path, symlinks=True)
    done = run_cli("monitor", INCOMING, "-q", cwd=path)
    assert done.returncode == 3, done.stdout + done.stderr
    return path


def copy_of(projects, name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(projects[name], dest, symlinks=True)
    return dest


async def open_monitoring(app, pilot) -> MonitoringView:
    view = await open_step(app, pilot, "monitoring")
    await settle(app, pilot)
    assert isinstance(view, MonitoringView)
    return view


def plot_title(view: MonitoringView, plot_id: str) -> str:
    return str(view.query_one(f"#{plot_id}").plt.monitor.title)


async def test_latest_report_by_severity_histograms_drift_over_time_and_checks(projects, tmp_path) -> None:
    path = copy_of(projects, "monitored", tmp_path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_monitoring(app, pilot)
        verdict = text(view.query_one("#mon-verdict", Static))
        assert "ACTION RECOMMENDED" in verdict and "transactions_2026_06.csv" in verdict
        assert "rows 3,000" in verdict and "dataset drift 50% (4 of 8 features" in verdict
        assert "press ctrl+r" in verdict  # action recommended: retraining is offered

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
        assert errors(app) == ["no/such.csv does not exist: give the batch as a CSV, TSV or Parquet file"]
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

        # t is the timeline here as everywhere: it must not start a retrain (ctrl+r does)
        before = commit_count(path)
        view.focus()
        await pilot.press("t")
        await settle(app, pilot)
        assert view.running is None and commit_count(path) == before
        assert app.screen.query_one("#content").current == "timeline"


async def test_retrain_from_the_view_runs_a_candidate_validates_and_only_proposes(drifted, monkeypatch) -> None:
    """ctrl+r on a report that recommends action on a labelled batch: the real ``retrain --json``, end to end."""
    path = drifted
    monkeypatch.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    start = head(path)
    tags = git(path, "tag", "-l", "model*")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_monitoring(app, pilot)
        assert "ACTION RECOMMENDED" in text(view.query_one("#mon-verdict", Static))
        status_before = app.screen.status
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press("y")  # it asks first (issue 16.9)
        assert view.running == "retrain"
        await wait_until(pilot, lambda: view.running is None, timeout=240)
        await settle(app, pilot)

        said = [m for m, sev in notifications(app) if sev == "information" and m.startswith("Retrained")]
        assert said == ["Retrained retrain-v2: it passes the gates; to promote it: "
                        "mlops-workbench exp promote retrain-v2 …"], notifications(app)
        assert not errors(app)
        log = log_text(view, "#mon-log")
        assert "$ mlops-workbench model promote v1.1.0 --stage production" in log

        # the validation only: the data version lives in the experiment (DVC's) until promoted
        subjects = git(path, "log", "--format=%s", f"{start}..HEAD").splitlines()
        assert len(subjects) == 1, subjects
        assert subjects[0].startswith("Testing & validation: experiment retrain-v2 passes"), subjects
        assert "/retrain-v2" in git(path, "for-each-ref", "--format=%(refname)", "refs/exps")
        assert git(path, "tag", "-l", "model*") == tags
        assert git(path, "status", "--porcelain").strip() == ""

        # the screen reloaded from the repository: a new status whose last step is the validation
        status = app.screen.status
        assert status is not status_before and status.last_step is not None
        assert status.last_step["step"] == "validation" and head(path).startswith(status.last_step["commit"])


async def test_retrain_refused_shows_the_cli_line_and_commits_nothing(projects, tmp_path) -> None:
    path = copy_of(projects, "monitored", tmp_path)
    config = yaml.safe_load((path / "workbench.yaml").read_text())
    config["retraining"] = {"policy": "sometimes"}
    (path / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(path, "commit", "-q", "-m", "a typo in the retraining policy", "--", "workbench.yaml")
    before = (head(path), git(path, "status", "--porcelain"), git(path, "for-each-ref", "refs/exps"))
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_monitoring(app, pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press("enter")  # it asks first (issue 16.9)
        await settle(app, pilot)
        assert view.running is None
        assert set(errors(app)) == {"workbench.yaml: retraining.policy holds 'sometimes' (text); it should be manual or automatic"}
        assert not [m for m, _ in notifications(app) if m.startswith("Retrained")]
    assert (head(path), git(path, "status", "--porcelain"), git(path, "for-each-ref", "refs/exps")) == before


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


async def test_the_batch_field_is_prefilled_with_a_file_that_arrived_as_deployment_does(projects, tmp_path) -> None:
    """Issue 16.8: with no prediction log, the first CSV in incoming/ is the field's value (not only a
    hint), as in the deployment view; what the person types is kept across a reload."""
    path = copy_of(projects, "trained", tmp_path)
    batch = (path / SAMPLE_BATCHES["fraud_detection"]).read_bytes()  # the sample's own incoming/ file
    for old in (path / "incoming").glob("*.csv"):
        old.unlink()
    (path / "incoming/batch-2.csv").write_bytes(batch)
    (path / "incoming/batch-1.csv").write_bytes(batch)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_monitoring(app, pilot)
        field = view.query_one("#mon-batch", Input)
        assert field.value == "incoming/batch-1.csv"
        field.value = "incoming/batch-2.csv"
        view.reload()
        await settle(app, pilot)
        assert field.value == "incoming/batch-2.csv"
