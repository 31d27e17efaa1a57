"""Pilot tests of the Data engineering and Training & experiments views on real git + DVC repos.

Saves and runs go through the real core in thread workers: ``configure_pipeline`` makes a
real commit, a run is a real ``dvc exp run`` subprocess and a cancel really interrupts it.
The tests wait for workers (never a blind sleep) and then read git and the screen. One
module-scoped template (the diagnosis sample with its pipeline and one experiment) is
copied per test, because a DVC experiment costs several seconds.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, ProgressBar, Select

from screens.app import make_app
from tests.conftest import _isolated_env, _template, configure_identity, git
from tests.tui_helpers import (
    SIZE,
    errors,
    head,
    log_text,
    notifications,
    open_step,
    settle,
    text,
    wait_until,
)

pytestmark = pytest.mark.anyio

@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    """The diagnosis sample with its pipeline committed ("pipeline"), and a copy of that with one
    experiment run and applied to the workspace ("trained")."""
    from workbench.development.pipeline import configure_pipeline
    from workbench.development.training import run_experiment

    source = _template("diagnosis", tmp_path_factory)
    base = tmp_path_factory.mktemp("dev-views")
    home = base / "home"
    configure_identity(home)
    saved = {k: os.environ.get(k) for k in [*_isolated_env(home), "PATH"]}
    os.environ.update(_isolated_env(home))
    try:
        pipeline = base / "pipeline" / "diagnosis"
        shutil.copytree(source, pipeline, symlinks=True)
        configure_pipeline(pipeline)
        trained = base / "trained" / "diagnosis"
        shutil.copytree(pipeline, trained, symlinks=True)
        run_experiment(trained, {"model.params.C": 0.5}, name="baseline-c05")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {"pipeline": pipeline, "trained": trained}


def _copy(template: Path, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # run_experiment prepends the venv's bin
    dest = tmp_path / "diagnosis"
    shutil.copytree(template, dest, symlinks=True)
    return dest


@pytest.fixture
def trained(templates, tmp_path, monkeypatch) -> Path:
    """A copy of the trained template: pipeline committed, one experiment applied."""
    return _copy(templates["trained"], tmp_path, monkeypatch)


@pytest.fixture
def pipeline(templates, tmp_path, monkeypatch) -> Path:
    """A copy of the pipeline template: pipeline committed, never run (a clean workspace)."""
    return _copy(templates["pipeline"], tmp_path, monkeypatch)


# --- helpers ------------------------------------------------------------------------------


def experiment_refs(path: Path) -> list[str]:
    """DVC experiment refs (``refs/exps/xx/sha/name``), without DVC's scratch refs (exec, celery)."""
    refs = git(path, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    return sorted(r for r in refs if r.count("/") == 4)


def feature_rows(view) -> dict[str, tuple[str, str, str]]:
    """column -> (use mark, type, note) as the feature table shows them."""
    table = view.query_one("#de-features", DataTable)
    out = {}
    for i in range(table.row_count):
        row = table.get_row_at(i)
        out[str(row[1])] = (str(row[0]), str(row[2]), str(row[5]))
    return out


async def on_feature(pilot, view, name: str, *keys: str) -> None:
    table = view.query_one("#de-features", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(name))
    await pilot.press(*keys)


# --- data engineering ----------------------------------------------------------------------


async def test_data_engineering_saves_the_chosen_pipeline_in_one_commit(make_sample):
    import yaml

    path = make_sample("diagnosis")
    before = head(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "data_engineering")
        assert "No pipeline yet" in text(view.query_one("#de-pipeline"))
        assert view.query_one("#de-target", Select).value == "diagnosis"
        rows = feature_rows(view)
        assert rows["patient_id"] == ("·", "categorical", "id")  # identifiers are left out by default
        assert rows["age_group"][0] == "·" and rows["age_group"][2] == "sensitive"
        assert rows["diagnosis"][0] == "·" and "target" in rows["diagnosis"][2]
        assert rows["mean_radius"] == ("✔", "numeric", "")
        assert "30 of 33 columns used (30 numeric)" in text(view.query_one("#de-features-note"))

        await on_feature(pilot, view, "mean_radius", "space")  # skip it
        await on_feature(pilot, view, "age_group", "space")  # use it ...
        await on_feature(pilot, view, "mean_texture", "k")  # numeric -> categorical (k: t is the timeline)
        rows = feature_rows(view)
        assert rows["mean_radius"][0] == "·" and rows["age_group"][0] == "✔"
        assert rows["mean_texture"] == ("✔", "categorical", "inferred numeric")
        await on_feature(pilot, view, "diagnosis", "space")  # the target is never a feature
        assert errors(app)[-1] == "'diagnosis' is the target: it cannot also be a feature"
        assert feature_rows(view)["diagnosis"][0] == "·"

        view.query_one("#de-split", Select).value = "random"
        view.query_one("#de-test-size", Input).value = "0.25"
        view.query_one("#de-seed", Input).value = "7"
        view.query_one("#de-num-scale", Select).value = "none"
        view.query_one("#de-model", Select).value = "random_forest"
        await pilot.pause()
        hyper = view.query_one("#de-hyper", Input)
        assert hyper.value == "n_estimators=100 max_depth=null"  # the family's starting point
        hyper.value = "n_estimators=20 max_depth=4"
        await pilot.press("ctrl+s")
        await settle(app, pilot)

        assert not errors(app)[1:], errors(app)
        assert git(path, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
        assert git(path, "log", "-1", "--format=%s").startswith("Data engineering: predict diagnosis")
        assert git(path, "log", "-1", "--format=%(trailers:key=Workbench-Step,valueonly)").strip() \
            == "data_engineering"
        assert sorted(git(path, "show", "--name-only", "--format=", "HEAD").split()) == \
            ["dvc.yaml", "params.yaml"]
        params = yaml.safe_load((path / "params.yaml").read_text())
        assert "mean_radius" not in params["features"] and params["features"]["age_group"] == "categorical"
        assert params["features"]["mean_texture"] == "categorical"
        assert params["split"] == {"method": "random", "test_size": 0.25, "seed": 7, "time_column": None}
        assert params["preprocessing"]["numeric"]["scale"] == "none"
        assert params["model"] == {"name": "random_forest", "params": {"n_estimators": 20, "max_depth": 4}}
        shown = text(view.query_one("#de-pipeline"))
        assert shown.startswith("Current pipeline") and "random_forest (n_estimators=20 max_depth=4)" in shown
        assert any(m.startswith("Pipeline saved: predict diagnosis from 30 features") for m, _ in
                   notifications(app))


async def test_data_engineering_errors_are_the_core_line_and_nothing_is_written(trained):
    path = trained
    git(path, "checkout", "--", "params.yaml")  # the committed pipeline, not the experiment's values
    committed = (path / "params.yaml").read_text().replace("  mean_radius: numeric\n",
                                                            "  mean_radius: numeric\n  ghost_column: numeric\n")
    (path / "params.yaml").write_text(committed)
    git(path, "commit", "-qm", "a hand edit naming a column the data does not have", "params.yaml")
    before, status = head(path), git(path, "status", "--porcelain")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "data_engineering")
        assert text(view.query_one("#de-pipeline")).startswith("Current pipeline")
        assert feature_rows(view)["ghost_column"] == ("✔", "numeric", "not in the data")
        view.query_one("#de-features").focus()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert errors(app)[-1].startswith("feature(s) ghost_column not in the data: use columns of "
                                          "data/breast_cancer.csv")
        assert "\n" not in errors(app)[-1]
        assert text(view.query_one("#de-result")).startswith("Not saved: feature(s) ghost_column")

        await on_feature(pilot, view, "ghost_column", "space")
        view.query_one("#de-hyper", Input).value = "C=1.0 max_itr=5"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "model 'logistic_regression' has no hyperparameter 'max_itr' (did you mean 'max_iter'?)" \
            in errors(app)[-1]

        view.query_one("#de-hyper", Input).value = "C=1.0"
        view.query_one("#de-split", Select).value = "time"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert errors(app)[-1] == "a time split needs a time column: give --time-column NAME"

        view.query_one("#de-split", Select).value = "stratified"
        view.query_one("#de-test-size", Input).value = "abc"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert errors(app)[-1] == "test share 'abc' is not a number: use a share like 0.2"
    assert head(path) == before
    assert git(path, "status", "--porcelain") == status


# --- training ------------------------------------------------------------------------------


async def test_training_run_streams_dvc_and_stays_responsive(trained):
    path = trained
    before = head(path)
    refs = experiment_refs(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "training")
        assert "logistic_regression (C=0.5  max_iter=1000)" in text(view.query_one("#tr-params"))
        view.query_one("#tr-set", Input).focus()
        await pilot.press(*"model.params.C=0.25")
        assert text(view.query_one("#tr-plan")) == \
            "one experiment (dvc exp run) in the workspace, with model.params.C=0.25"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Running stage" in log_text(view, "#tr-log"))
        run = next(w for w in app.workers if w.group == "training-run")
        # The UI handles keys while DVC runs: type into another field and see it at once.
        name = view.query_one("#tr-name", Input)
        name.focus()
        started = time.monotonic()
        await pilot.press(*"busy")
        assert name.value == "busy"
        assert time.monotonic() - started < 2.0
        assert run.is_running, "the run ended before the key presses were checked"
        await pilot.press("ctrl+r")  # a second run is refused while one is going
        assert notifications(app)[-1][0].startswith("An experiment is already running")
        await settle(app, pilot)

        assert not errors(app), errors(app)
        log = log_text(view, "#tr-log")
        assert "Running stage 'train'" in log and "Ran experiment(s):" in log
        bar = view.query_one("#tr-progress", ProgressBar)
        assert bar.total == 3 and bar.progress == 3
        new = [r for r in experiment_refs(path) if r not in refs]
        assert len(new) == 1
        name_of_run = new[0].rsplit("/", 1)[-1]
        assert notifications(app)[-1][0].startswith("1 experiment in ") and name_of_run in \
            notifications(app)[-1][0]
        assert name_of_run in text(view.query_one("#tr-result"))
        assert "C: 0.25" in git(path, "show", f"{new[0]}:params.yaml")
        assert head(path) == before  # an experiment, not a branch commit
        assert "logistic_regression (C=0.25  max_iter=1000)" in text(view.query_one("#tr-params"))
        assert view.query_one("#tr-run").disabled is False


async def test_training_cancel_stops_dvc_and_leaves_the_workspace_as_it_was(pipeline):
    path = pipeline
    status = git(path, "status", "--porcelain", "--untracked-files=all")
    assert status == ""
    files = {p: (path / p).read_bytes() for p in ("params.yaml", "dvc.yaml")}
    refs = experiment_refs(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "training")
        view.query_one("#tr-set", Input).focus()
        await pilot.press(*"model.params.C=0.9")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Running stage 'train'" in log_text(view, "#tr-log"))
        await pilot.press("escape")
        await settle(app, pilot)
        assert notifications(app)[-1] == ("dvc exp was cancelled; nothing was committed", "warning")
        assert text(view.query_one("#tr-stage")) == "cancelled"
        assert view.query_one("#tr-run").disabled is False
    assert git(path, "status", "--porcelain", "--untracked-files=all") == status
    assert not (path / "dvc.lock").exists() and not (path / "data" / "prepared").exists()
    assert {p: (path / p).read_bytes() for p in files} == files
    assert experiment_refs(path) == refs


async def test_training_bad_input_is_one_line_and_runs_nothing(trained):
    path = trained
    status = git(path, "status", "--porcelain")
    refs = experiment_refs(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "training")
        view.query_one("#tr-set", Input).focus()
        values = ",".join(str(i) for i in range(1, 101))
        view.query_one("#tr-sweep", Input).value = f"model.params.C={values} split.seed={values}"
        await pilot.pause()
        limit = "the sweep has 10000 points, above the limit of 256: sweep fewer values or run it in parts"
        assert text(view.query_one("#tr-plan")) == f"✘ {limit}"
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert errors(app)[-1] == limit
        assert not [w for w in app.workers if w.group == "training-run"]

        view.query_one("#tr-sweep", Input).value = "model.params.C=1,-2"
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert errors(app)[-1].startswith("sweep point model.params.C=-2: model 'logistic_regression'")

        view.query_one("#tr-sweep", Input).value = ""
        view.query_one("#tr-set", Input).value = "split.sed=1"
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert errors(app)[-1].startswith("params.yaml has no key 'split.sed'")
        assert text(view.query_one("#tr-stage")) == "failed"
        assert all("\n" not in e for e in errors(app))
    assert git(path, "status", "--porcelain") == status
    assert experiment_refs(path) == refs


# --- experiment history --------------------------------------------------------------------


async def test_history_lists_notes_compares_and_promotes(trained):
    path = trained
    git(path, "checkout", "--", ".")  # the experiment's results were applied: start from HEAD
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "training")
        view.query_one("#tr-tabs").active = "tr-history-tab"
        await settle(app, pilot)
        panel = view.query_one("#tr-history")
        table = panel.query_one("#exp-table", DataTable)
        names = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]
        assert names[0] == "main" and "baseline-c05" in names  # the baseline is pinned first
        assert table.fixed_rows == 1
        labels = [str(c.label) for c in table.columns.values()]
        assert any(label.startswith("C") for label in labels)  # the parameter that differs
        assert not any(label.startswith("max_iter") for label in labels)  # unchanged: hidden
        panel.action_toggle_columns()
        assert any(str(c.label).startswith("max_iter") for c in table.columns.values())
        panel.action_toggle_columns()

        table.focus()
        table.move_cursor(row=names.index("baseline-c05"))
        await pilot.pause()
        note = panel.query_one("#exp-note", Input)
        note.focus()
        await pilot.press(*"C=0.5 looks best")
        await pilot.press("enter")
        await settle(app, pilot)
        assert notifications(app)[-1][0] == "Note saved on baseline-c05"
        from workbench.development.experiments import get_experiment

        assert get_experiment(path, "baseline-c05").note == "C=0.5 looks best"

        table.focus()
        table.move_cursor(row=0)
        await pilot.press("space", "down")
        table.move_cursor(row=names.index("baseline-c05"))
        await pilot.press("space", "equals_sign")
        await settle(app, pilot)
        side = panel.query_one("#exp-side", DataTable)
        assert [str(c.label) for c in side.columns.values()][1:] == ["main", "baseline-c05"]
        from textual_plotext import PlotextPlot

        assert len(panel.query(PlotextPlot)) == 2

        before = head(path)
        table.focus()
        table.move_cursor(row=names.index("baseline-c05"))
        await pilot.press("p")  # asks first: escape leaves everything as it was
        await settle(app, pilot)
        from screens.base import ConfirmScreen

        assert isinstance(app.screen, ConfirmScreen)
        assert "Promote experiment baseline-c05?" in text(app.screen.query_one(".view-title"))
        await pilot.press("escape")
        await settle(app, pilot)
        assert head(path) == before and not isinstance(app.screen, ConfirmScreen)
        await pilot.press("p")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert not errors(app), errors(app)
        assert head(path) != before
        assert git(path, "log", "-1", "--format=%(trailers:key=Workbench-Step,valueonly)").strip() == "training"
        assert any(m.startswith("Promoted baseline-c05") for m, _ in notifications(app))
