"""Pilot tests of the TUI on real git + DVC projects: what the screen shows after real work.

Nothing is mocked: the wizard and the sample picker run the real core in workers,
and the tests wait for those workers (never a blind sleep) before looking.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import ContentSwitcher, DataTable, Input, OptionList, Static, TextArea

from screens.app import make_app
from screens.onboarding.new_project_screen import NewProjectScreen
from screens.onboarding.open_project_screen import OpenProjectScreen
from screens.onboarding.sample_picker_screen import SamplePickerScreen
from screens.onboarding.welcome_screen import WelcomeScreen
from screens.project.help_screen import HelpScreen
from screens.project.project_screen import Dashboard, LifecycleSidebar, ProjectScreen
from screens.project.step_views import STEP_VIEWS
from tests.conftest import git
from tests.tui_helpers import SIZE, errors, notifications, settle, text
from workbench.errors import WorkbenchError
from workbench.lifecycle import STEPS
from workbench.project import parse_success_metric
from workbench.status import project_status

pytestmark = pytest.mark.anyio  # anyio's pytest plugin runs the async tests (anyio is pinned)

MARKS = {"done": "✔", "attention": "!", "todo": "·"}


def sidebar_labels(screen) -> dict[str, str]:
    sidebar = screen.query_one(LifecycleSidebar)
    return {key: node.label.plain for key, node in sidebar.nodes_by_key.items()}


@pytest.fixture
def empty_folder(tmp_path) -> Path:
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    return folder


async def test_welcome_screen_in_empty_folder(empty_folder):
    app = make_app(empty_folder, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, WelcomeScreen)
        assert app.title == "mlops-workbench"
        options = app.screen.query_one("#welcome-choices", OptionList)
        shown = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert [s.split("  (")[0] for s in shown] == [
            "New project", "Open a sample project", "Open an existing project"]
        await pilot.press("n")
        assert isinstance(app.screen, NewProjectScreen)
        assert app.screen.query_one("#folder", Input).value == str(empty_folder)
        await pilot.press("escape")
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("down", "enter")  # keyboard: second choice
        assert isinstance(app.screen, SamplePickerScreen)
        await settle(app, pilot)
        await pilot.press("escape")
        await pilot.press("o")
        assert isinstance(app.screen, OpenProjectScreen)
    assert list(empty_folder.iterdir()) == []


async def test_wizard_creates_a_real_project(empty_folder):
    app = make_app(empty_folder, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        screen = app.screen
        screen.query_one("#name", Input).value = "Churn"
        screen.query_one("#problem", TextArea).text = "Customers leave without warning."
        screen.query_one("#owner", Input).value = "Dana Ortiz"
        screen.query_one("#metric", Input).value = "recall >= 0.8 at precision >= 0.5"
        # Typing a member and pressing enter adds it to the team table.
        await pilot.click("#member-name")
        await pilot.press(*"Ada Lovelace")
        await pilot.press("tab", *"ada@example.com", "enter")
        assert screen.query_one("#members", DataTable).get_row_at(0) == [
            "Ada Lovelace", "ada@example.com", "Data scientist"]
        await pilot.press("ctrl+s")
        await settle(app, pilot, rounds=8)
        assert isinstance(app.screen, ProjectScreen)
        assert text(app.screen.query_one("#dash-title", Static)) == "Churn"
        assert app.sub_title == "Churn"
        assert ("error" not in [sev for _, sev in notifications(app)])
    assert (empty_folder / "workbench.yaml").is_file()
    log = git(empty_folder, "log", "--format=%H%n%B%x00").strip("\x00\n").split("\x00")
    assert len(log) == 1
    assert "Workbench-Step: project" in log[0]
    assert "recall >= 0.8 at precision >= 0.5" in (empty_folder / "workbench.yaml").read_text()


async def test_wizard_bad_metric_shows_the_core_error_and_writes_nothing(empty_folder):
    bad = "recall about 0.8"
    with pytest.raises(WorkbenchError) as expected:
        parse_success_metric(bad, "classification")
    app = make_app(empty_folder, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        app.screen.query_one("#metric", Input).value = bad
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, NewProjectScreen)
        assert (str(expected.value), "error") in notifications(app)
        assert app.focused is app.screen.query_one("#metric", Input)
    assert list(empty_folder.iterdir()) == []


async def test_wizard_refuses_a_file_as_folder_with_the_cli_message(empty_folder):
    target = empty_folder / "notes.txt"
    target.write_text("hello\n")
    app = make_app(empty_folder, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        app.screen.query_one("#folder", Input).value = str(target)
        app.screen.query_one("#name", Input).value = "Notes"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        failed = errors(app)
        assert isinstance(app.screen, NewProjectScreen)
    cli = subprocess.run([sys.executable, "-m", "workbench", "new", str(target), "--name", "Notes"],
                         capture_output=True, text=True)
    assert cli.returncode != 0
    assert failed == [cli.stderr.strip().removeprefix("mlops-workbench: error: ")]
    assert sorted(p.name for p in empty_folder.iterdir()) == ["notes.txt"]


async def test_sample_picker_creates_the_sample_and_lands_on_the_dashboard(empty_folder):
    app = make_app(empty_folder, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        await settle(app, pilot)
        picker = app.screen
        options = picker.query_one("#sample-list", OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "diagnosis" in ids and "fraud_detection" in ids
        options.highlighted = ids.index("diagnosis")
        await pilot.pause()
        assert picker.query_one("#sample-destination", Input).value == str(empty_folder / "diagnosis")
        await pilot.press("enter")  # select -> the destination field
        assert app.focused is picker.query_one("#sample-destination", Input)
        await pilot.press("enter")  # create
        await settle(app, pilot, rounds=10)
        assert isinstance(app.screen, ProjectScreen), notifications(app)
        dest = empty_folder / "diagnosis"
        status = project_status(dest)
        assert text(app.screen.query_one("#dash-title", Static)) == status.name
        assert status.next_step is not None
        assert status.next_step.command in text(app.screen.query_one("#dash-next", Static))
    subjects = git(dest, "log", "--format=%(trailers:key=Workbench-Step,valueonly)").split()
    assert subjects == ["data_availability", "project"]


async def test_dashboard_of_a_sample_shows_the_lifecycle_and_next_step(make_sample):
    path = make_sample("fraud_detection")
    status = project_status(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ProjectScreen)
        assert app.title == "mlops-workbench" and app.sub_title == status.name
        labels = sidebar_labels(screen)
        for step in status.steps:
            assert labels[step.id] == f"{MARKS[step.state]} {step.title}"
        assert labels["dashboard"].endswith("Dashboard") and labels["timeline"].endswith("Timeline")
        dash = screen.query_one(Dashboard)
        assert text(dash.query_one("#dash-title", Static)) == status.name
        counts = status.counts()
        shown = text(dash.query_one("#dash-counts", Static))
        assert f"Current phase: {status.phase}" in shown
        assert f"✔ {counts['done']} done" in shown and f"· {counts['todo']} to do" in shown
        nxt = text(dash.query_one("#dash-next", Static))
        assert f"Next step: {status.next_step.title}" in nxt
        assert status.next_action in nxt and status.next_step.command in nxt
        last = text(dash.query_one("#dash-last", Static))
        assert status.last_step["short"] in last and status.last_step["author"] in last


async def test_timeline_lists_the_commits_of_git_log(make_sample):
    path = make_sample("fraud_detection")
    raw = git(path, "log", "--format=%h%x1f%an%x1f%(trailers:key=Workbench-Step,valueonly)%x1e")
    expected = [r.strip("\n").split("\x1f")[:2] for r in raw.split("\x1e")
                if r.strip() and r.split("\x1f")[2].strip()]
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        screen = app.screen
        assert screen.query_one("#content", ContentSwitcher).current == "timeline"
        table = screen.query_one("#timeline-table", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert [[r[5], r[3]] for r in rows] == expected  # newest first, as git log
        assert all(r[1] and r[2] for r in rows)
        detail = text(screen.query_one("#timeline-detail", Static))
        assert detail.startswith(expected[0][0])  # the highlighted (newest) commit in full
        # Sortable: the header sorts by commit id, s moves the sort to the next column.
        table.post_message(DataTable.HeaderSelected(table, table.ordered_columns[5].key, 5,
                                                    label=table.ordered_columns[5].label))
        await pilot.pause()
        commits = [table.get_row_at(i)[5] for i in range(table.row_count)]
        assert commits == sorted(c for c, _ in expected)


async def test_command_palette_goes_to_a_step(make_sample):
    path = make_sample("fraud_detection")
    status = project_status(path)
    training = next(s for s in status.steps if s.id == "training")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"Go to: Training")
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ProjectScreen)
        assert screen.query_one("#content", ContentSwitcher).current == "step-training"
        view = screen.query_one("#step-training")
        assert type(view).__name__ == "TrainingView" or view.query("TrainingView")
        assert training.title == "Training & experiments"
        await pilot.press("d")
        assert screen.query_one("#content", ContentSwitcher).current == "dashboard"


async def test_sidebar_opens_steps_and_registered_views_plug_in(make_sample, monkeypatch):
    from textual.widgets import Label

    monkeypatch.setitem(STEP_VIEWS, "use_cases", lambda path: Label(f"custom view of {path.name}"))
    path = make_sample("fraud_detection")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        sidebar = app.screen.query_one(LifecycleSidebar)
        sidebar.point_at("use_cases")
        await pilot.press("enter")
        await settle(app, pilot)
        view = app.screen.query_one("#step-use_cases")
        assert isinstance(view, Label) and str(view.content) == "custom view of fraud_detection"
        for step in STEPS:  # every step is reachable from the sidebar
            assert step.id in sidebar.nodes_by_key


async def test_refresh_recomputes_the_status(project):
    app = make_app(project, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert sidebar_labels(app.screen)["ci_cd"] == "· CI/CD"
        workflow = project / ".github" / "workflows" / "mlops-workbench.yml"
        workflow.parent.mkdir(parents=True)
        workflow.write_text("on: push\n")
        await pilot.press("r")
        await settle(app, pilot)
        assert sidebar_labels(app.screen)["ci_cd"] == "✔ CI/CD"
        assert project_status(project).steps[8].state == "done"


async def test_open_existing_project_and_the_one_line_error(empty_folder, project):
    app = make_app(empty_folder, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        field = app.screen.query_one("#open-path", Input)
        field.value = str(empty_folder)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, OpenProjectScreen)
        failed = errors(app)
        assert len(failed) == 1 and "is not a workbench project" in failed[0]
        assert "\n" not in failed[0]
        field.value = str(project)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ProjectScreen)
        assert text(app.screen.query_one("#dash-title", Static)) == "Churn"


async def test_stale_lock_is_cleared_at_open_with_a_notification(project):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = project / ".git" / "mlops-workbench.lock"
    lock.write_text(f'{{"pid": {dead.pid}, "host": "{__import__("socket").gethostname()}", '
                    f'"started": 1.0, "operation": "commit"}}')
    app = make_app(project, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        shown = [m for m, _ in notifications(app)]
        assert any(m.startswith(f"cleared a stale workbench lock left by pid {dead.pid}") for m in shown)
    assert not lock.exists()


async def test_busy_lock_is_a_warning(project):
    import socket
    import time

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (project / ".git" / "mlops-workbench.lock").write_text(
            f'{{"pid": {holder.pid}, "host": "{socket.gethostname()}", "started": {time.time()}, '
            '"operation": "train"}')
        app = make_app(project, testing=True)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            warnings = [m for m, sev in notifications(app) if sev == "warning"]
            assert len(warnings) == 1 and warnings[0].startswith("the project is busy")
            assert isinstance(app.screen, ProjectScreen)
    finally:
        holder.kill()
        holder.wait()


async def test_help_screen_opens_and_closes(project):
    app = make_app(project, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = text(app.screen.query_one("#help-text", Static))
        for phase in ("Design", "Development", "Operations"):
            assert phase in shown
        assert "command palette" in shown
        await pilot.press("escape")
        assert isinstance(app.screen, ProjectScreen)


def test_startup_imports_stay_light():
    """Opening the app imports no pandas, scikit-learn or DVC (they load inside workers)."""
    code = ("import sys; import screens.app, screens.onboarding.welcome_screen, screens.project.project_screen; "
            "print(','.join(m for m in ('pandas', 'sklearn', 'dvc', 'git') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
