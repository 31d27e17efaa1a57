"""Keys and focus across the TUI (issue 16): where you are, what each key does, at any size.

Real projects made by the real core (samples copied per test), the real app under Pilot.
"""

from __future__ import annotations

import pytest
from textual.widgets import ContentSwitcher, Input
from textual.widgets._footer import FooterKey

from screens.app import make_app
from screens.project.project_screen import Dashboard, LifecycleSidebar, ProjectScreen
from screens.project.step_views import STEP_VIEWS
from tests.tui_helpers import SIZE, head, open_by_sidebar, settle

pytestmark = pytest.mark.anyio


def own_keys(view) -> set[str]:
    """The keys the workbench's own classes bind in ``view`` and the widgets inside it."""
    keys: set[str] = set()
    for widget in [view, *view.query("*")]:
        for cls in type(widget).__mro__:
            if cls.__module__.startswith("screens.") and "BINDINGS" in cls.__dict__:
                for binding in cls.__dict__["BINDINGS"]:
                    keys.update(k.strip() for k in binding.key.split(","))
    return keys


def screen_keys(screen) -> set[str]:
    keys = {k.strip() for b in type(screen).BINDINGS for k in b.key.split(",")}
    return keys | {k.strip() for b in type(screen.app).BINDINGS for k in b.key.split(",")}


def footer_keys(screen) -> set[str]:
    return {key.key for key in screen.query(FooterKey)}


def current(app) -> str | None:
    return app.screen.query_one("#content", ContentSwitcher).current


# --- 16.1: focus is visible, and typed text goes to the field --------------------------------


async def test_focused_widget_is_marked_in_every_theme(make_sample):
    """A focused field or scrolling box looks different from the same widget unfocused, in each theme."""
    app = make_app(make_sample("fraud_detection"), testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        review = await open_by_sidebar(app, pilot, "review")
        comment = review.query_one("#rv-comment", Input)
        sidebar = app.screen.query_one(LifecycleSidebar)
        for theme in sorted(app.available_themes):
            app.theme = theme
            await pilot.pause()
            comment.focus()
            await pilot.pause()
            focused_bg, focused_border = comment.styles.background, sidebar.styles.border_left
            sidebar.focus()
            await pilot.pause()
            assert comment.styles.background != focused_bg, theme
            assert sidebar.styles.border_left != focused_border, theme
            assert sidebar.styles.border_left[0] == "thick", theme


async def test_letters_typed_in_the_review_comment_stay_in_it(make_sample):
    """d, t, r, q, ? and the digits typed into a field are text, not the app's keys."""
    path = make_sample("fraud_detection")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        review = await open_by_sidebar(app, pilot, "review")
        comment = review.query_one("#rv-comment", Input)
        comment.focus()
        await pilot.pause()
        await pilot.press(*"dtrq?12a")
        await settle(app, pilot)
        assert comment.value == "dtrq?12a"
        assert isinstance(app.screen, ProjectScreen)
        assert current(app) == "step-review"
        assert app.screen.focused is comment


# --- 16.2: the keys of the view on show, and only those ---------------------------------------


async def test_leaving_a_view_takes_its_keys_away(make_sample):
    """Open each view, go to the dashboard: none of its keys is in the footer or does anything."""
    path = make_sample("fraud_detection")
    before = head(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for step in STEP_VIEWS:
            view = await open_by_sidebar(app, pilot, step)
            theirs = own_keys(view) - screen_keys(app.screen)
            await pilot.press("d")
            await settle(app, pilot)
            assert current(app) == "dashboard", step
            focused = app.screen.focused
            assert focused is not None and (focused is view) is False and view not in focused.ancestors, step
            live = set(app.screen.active_bindings) & theirs
            assert live == set(), (step, live)
            assert footer_keys(app.screen) & theirs == set(), step
            for key in sorted(theirs):
                await pilot.press(key)
                await settle(app, pilot)
                assert isinstance(app.screen, ProjectScreen), (step, key)
                assert current(app) == "dashboard", (step, key)
                assert [w for w in app.workers if w.group not in ("status", "timeline", "locks")] == [], \
                    (step, key)
        assert head(path) == before


async def test_the_timeline_after_the_review_shows_only_its_own_keys(make_sample):
    app = make_app(make_sample("fraud_detection"), testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await open_by_sidebar(app, pilot, "review")
        await pilot.press("t")
        await settle(app, pilot)
        assert current(app) == "timeline"
        assert "ctrl+r" not in app.screen.active_bindings
        assert "ctrl+r" not in footer_keys(app.screen)
        assert isinstance(app.screen.query_one(Dashboard), Dashboard)


# --- 16.3: one key, one meaning ------------------------------------------------------------


def all_bindings() -> dict[str, set[tuple[str, str]]]:
    """key -> {(meaning, class)}, over every class of screens/ that declares BINDINGS."""
    import importlib
    import inspect
    import pkgutil

    import screens
    from screens.project.help_screen import MENU_SCREENS

    found: dict[str, set[tuple[str, str]]] = {}
    for info in pkgutil.walk_packages(screens.__path__, prefix="screens."):
        if info.name in ("screens.__main__", "screens.launch", "screens.web"):  # these run the app when imported
            continue
        module = importlib.import_module(info.name)
        for name, cls in vars(module).items():
            if not (inspect.isclass(cls) and cls.__module__ == module.__name__ and "BINDINGS" in cls.__dict__):
                continue
            if name in MENU_SCREENS:
                continue
            for binding in cls.__dict__["BINDINGS"]:
                meaning = binding.description.split()[0].lower()
                for key in binding.key.split(","):
                    found.setdefault(key.strip(), set()).add((meaning, name))
    return found


def test_no_key_means_two_things_across_the_app():
    from screens.project.help_screen import SHARED_KEYS

    found = all_bindings()
    assert "t" in found and "ctrl+r" in found  # the walk sees the views' bindings
    clashes = {key: sorted(uses) for key, uses in found.items()
               if len({meaning for meaning, _ in uses}) > 1 and key not in SHARED_KEYS}
    assert clashes == {}
    assert {m for m, _ in found["t"]} == {"timeline"}


async def test_data_engineering_enter_changes_nothing_and_space_says_what_it_changed(make_sample):
    from textual.widgets import DataTable

    from tests.tui_helpers import notifications, table_ids

    app = make_app(make_sample("fraud_detection"), testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = await open_by_sidebar(app, pilot, "data_engineering")
        await settle(app, pilot)
        table = view.query_one("#de-features", DataTable)
        table.focus()
        target = view._target()
        row = next(i for i, name in enumerate(table_ids(table)) if name != target)
        table.move_cursor(row=row)
        await pilot.pause()
        name = table_ids(table)[row]
        before = {k: list(v) for k, v in view.features.items()}
        await pilot.press("enter")
        await settle(app, pilot)
        assert {k: list(v) for k, v in view.features.items()} == before
        assert current(app) == "step-data_engineering"

        await pilot.press("space")
        await settle(app, pilot)
        assert view.features[name][0] is not before[name][0]
        said = [m for m, _ in notifications(app)]
        assert any(m.startswith(f"{name}: skipped") or m.startswith(f"{name}: used") for m in said), said
        assert any("ctrl+s commits" in m for m in said)

        await pilot.press("k")
        await settle(app, pilot)
        assert view.features[name][1] != before[name][1]
        assert any(m.startswith(f"{name}: type ") for m, _ in notifications(app))
        await pilot.press("t")  # the timeline, as everywhere else
        await settle(app, pilot)
        assert current(app) == "timeline"


# --- 16.11: 80x24 -----------------------------------------------------------------------------


async def test_at_80_columns_the_sidebar_hides_and_comes_back_and_q_and_help_stay_in_the_footer(make_sample):
    app = make_app(make_sample("fraud_detection"), testing=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        sidebar = screen.query_one(LifecycleSidebar)
        assert screen.has_class("-narrow")
        assert sidebar.region.width == 0  # hidden: the dashboard has the width
        assert screen.query_one("#content").region.width >= 78
        keys = [key.key for key in screen.query(FooterKey)]
        assert keys[:2] == ["q", "question_mark"]
        await pilot.press("1")  # the sidebar, with its cursor
        await pilot.pause()
        assert sidebar.region.width > 0 and screen.focused is sidebar
        sidebar.point_at("use_cases")
        await pilot.press("enter")
        await settle(app, pilot)
        assert current(app) == "step-use_cases"
        assert sidebar.region.width == 0  # opening a view gives it the room back
        table = screen.query_one("#uc-table")
        assert table.region.width >= 70
        for size in ((80, 24), (120, 40)):
            await pilot.resize_terminal(*size)
            await settle(app, pilot)
            keys = [key.key for key in screen.query(FooterKey)]
            assert keys[:2] == ["q", "question_mark"]
            assert all(key.region.right <= size[0] for key in screen.query(FooterKey)
                       if key.key in ("q", "question_mark"))
        assert sidebar.region.width > 0  # wide again: the sidebar is back
        await pilot.press("backslash")
        await pilot.pause()
        assert sidebar.region.width == 0
        await pilot.press("backslash")
        await pilot.pause()
        assert sidebar.region.width > 0


async def test_wizard_at_80_columns_stacks_its_fields(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    app = make_app(folder, testing=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        for field in ("#name", "#metric", "#member-name", "#member-email", "#member-role"):
            assert app.screen.query_one(field).region.width >= 40, field


# --- 16.4: jumping ------------------------------------------------------------------------------


async def test_number_keys_jump_and_n_opens_the_recommended_step(make_sample):
    from screens.project.help_screen import HelpScreen

    app = make_app(make_sample("fraud_detection"), testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        sidebar = screen.query_one(LifecycleSidebar)
        assert sidebar.cursor_node is sidebar.nodes_by_key["dashboard"]  # the cursor shows from the start
        nxt = screen.status.next_step
        assert nxt is not None
        assert "n" in footer_keys(screen)
        await pilot.press("n")
        await settle(app, pilot)
        assert current(app) == f"step-{nxt.id}"
        assert "n" not in screen.active_bindings or not screen.check_action("next_step", ())
        view = screen.query_one(f"#step-{nxt.id}")
        await pilot.press("1")
        assert screen.focused is sidebar
        await pilot.press("2")
        assert screen.focused is not None and view in screen.focused.ancestors_with_self
        was = screen.focused
        await pilot.press("3")
        await pilot.pause()
        assert screen.focused is not was and view in screen.focused.ancestors_with_self
        screen.set_focus(was)  # the next panel may be a row of fields, where ? is text
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen), screen.focused
        shown = {key for key, _ in app.screen.view_keys}
        assert {"a", "u", "o"} <= shown  # the use-case view's own keys
        await pilot.press("escape")


async def test_the_palette_offers_and_runs_step_actions(make_sample):
    from screens.project.commands import ACTIONS, WorkbenchCommands

    app = make_app(make_sample("fraud_detection"), testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        names = [name for name, _c, _h in WorkbenchCommands(app.screen)._commands()]
        for title in ("Train: run an experiment", "Validate the model", "Run the data check", "Retrain"):
            assert title in names
        assert {step for _t, step, _a, _h in ACTIONS} <= set(STEP_VIEWS)
        command = dict((n, c) for n, c, _h in WorkbenchCommands(app.screen)._commands())["Add a use case"]
        await command()
        await settle(app, pilot)
        assert app.screen_stack[-2].query_one("#content", ContentSwitcher).current == "step-use_cases"
        assert type(app.screen).__name__ == "AddUseCaseScreen"


# --- 16.9: nothing irreversible without a word ----------------------------------------------------


async def test_retrain_and_reject_ask_first_and_no_leaves_everything(make_sample):
    from screens.base import ConfirmScreen
    from tests.tui_helpers import git

    path = make_sample("fraud_detection")
    before = (head(path), git(path, "status", "--porcelain"))
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = await open_by_sidebar(app, pilot, "monitoring")
        view.focus()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Retrain" in app.screen.title_text and "Commits" in app.screen.body
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, ProjectScreen) and view.running is None

        review = await open_by_sidebar(app, pilot, "review")
        review.query_one("#rv-comment", Input).value = "not good enough"
        review.query_one("#rv-reject").press()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.title_text.startswith("Reject")
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ProjectScreen)
        assert review.query_one("#rv-comment", Input).value == "not good enough"
    assert (head(path), git(path, "status", "--porcelain")) == before


async def test_quitting_while_a_job_runs_asks_and_names_it(make_sample):
    import threading

    from screens.base import ConfirmScreen

    app = make_app(make_sample("fraud_detection"), testing=True)
    release = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.run_worker(lambda: release.wait(60), thread=True, group="training-run",
                       description="dvc exp run (training)")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "dvc exp run (training)" in app.screen.body
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ProjectScreen) and app.is_running
        release.set()
        await settle(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running or app._exit_renderables is not None or app.return_code is not None


async def test_wizard_marks_the_bad_field_and_keeps_every_value(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    app = make_app(folder, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        screen = app.screen
        values = {"#name": "clinic-triage", "#owner": "Dana Ortiz", "#metric": "recall >= banana"}
        for selector, value in values.items():
            screen.query_one(selector, Input).value = value
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        metric = screen.query_one("#metric", Input)
        assert metric.has_class("-invalid") and metric.tooltip
        assert app.focused is metric
        assert not screen.query_one("#name", Input).has_class("-invalid")
        for selector, value in values.items():
            assert screen.query_one(selector, Input).value == value, selector
        metric.value = "recall >= 0.8"
        await pilot.pause()
        assert not metric.has_class("-invalid")


# --- 16.13: the dashboard follows when a step ends ------------------------------------------


async def test_a_step_ending_in_a_view_refreshes_the_dashboard(make_sample):
    from screens.base import step_ended
    from tests.tui_helpers import git, text

    path = make_sample("fraud_detection")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = await open_by_sidebar(app, pilot, "ci_cd")
        # the charter changes behind the app's back (as a step would change it)
        config = path / "workbench.yaml"
        config.write_text(config.read_text().replace("Card fraud detection", "Card fraud triage", 1))
        git(path, "commit", "-q", "-am", "rename")
        assert "Card fraud triage" not in text(app.screen.query_one("#dash-title"))
        step_ended(view)
        await settle(app, pilot)
        assert "Card fraud triage" in text(app.screen.query_one("#dash-title"))
        assert app.screen.status.name == "Card fraud triage"


# --- 16.14: the browser face ------------------------------------------------------------------


async def test_footer_follows_the_view_while_the_app_has_no_focus_and_the_header_glyph_is_common(make_sample):
    """In the browser the page often lacks focus: the footer must still show the keys of the view on show."""
    from textual.widgets import Header
    from textual.widgets._header import HeaderIcon

    app = make_app(make_sample("fraud_detection"), testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.app_focus = False  # as a browser tab without focus
        await pilot.pause()
        await open_by_sidebar(app, pilot, "use_cases")
        await settle(app, pilot)
        assert {"a", "u", "q", "question_mark"} <= footer_keys(app.screen)
        icon = app.screen.query_one(Header).query_one(HeaderIcon).icon
        assert all(0x2500 <= ord(ch) <= 0x25FF for ch in icon), icon  # box drawing / geometric shapes


# --- 16.10: one progress style, with a stage name ----------------------------------------------


async def test_validation_and_monitoring_show_the_same_progress_with_a_stage(make_sample):
    from screens.project.progress import JobProgress
    from tests.tui_helpers import text

    app = make_app(make_sample("fraud_detection"), testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for step, start, job in (("validation", "action_run_validation", "validation"),
                                 ("monitoring", "action_check", "monitoring check")):
            view = await open_by_sidebar(app, pilot, step)
            await settle(app, pilot)
            progress = view.query_one(JobProgress)
            assert not progress.display or not progress.has_class("-running")
            getattr(view, start)()  # the key's action; the job runs in a worker
            assert progress.has_class("-running")
            assert text(progress.query_one(".job-stage")).startswith(f"{job}: ")
            await settle(app, pilot)
            await wait_until_idle(app, pilot, view)
            assert not progress.has_class("-running")  # gone when the job ends


async def wait_until_idle(app, pilot, view) -> None:
    from tests.tui_helpers import wait_until

    await wait_until(pilot, lambda: not getattr(view, "running", None), timeout=240)
    await settle(app, pilot)


async def test_only_the_chosen_radio_button_shows_a_dot(tmp_path):
    from textual.widgets import RadioButton

    folder = tmp_path / "empty"
    folder.mkdir()
    app = make_app(folder, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        buttons = list(app.screen.query(RadioButton))
        assert len(buttons) >= 2 and sum(b.value for b in buttons) == 1
        for theme in sorted(app.available_themes):
            if theme == "textual-ansi":
                continue
            app.theme = theme
            await pilot.pause()
            for button in buttons:
                style = button.get_component_rich_style("toggle--button")
                assert (style.color == style.bgcolor) is (not button.value), (theme, button.id)
