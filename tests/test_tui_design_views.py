"""Pilot tests of the Requirements and Use-case prioritization views on real sample projects.

Every save goes through the real core in a worker and makes a real commit; the tests
wait for the workers (never a blind sleep) and then read git and the screen.
"""

from __future__ import annotations

import pytest
from textual.widgets import ContentSwitcher, DataTable, Input, Static

from screens.app import make_app
from screens.project.project_screen import LifecycleSidebar, ProjectScreen
from tests.conftest import IDENTITY, git
from tests.tui_helpers import (
    SIZE,
    commit_count,
    errors,
    head,
    notifications,
    open_by_sidebar,
    settle,
    table_ids,
    text,
)
from workbench.errors import WorkbenchError
from workbench.project import Project, parse_success_metric
from workbench.status import project_status

pytestmark = pytest.mark.anyio


async def open_by_palette(app, pilot, title: str, step_id: str):
    await pilot.press("ctrl+p")
    await pilot.press(*f"Go to: {title}")
    await settle(app, pilot)
    await pilot.press("down", "enter")
    await settle(app, pilot)
    assert app.screen.query_one("#content", ContentSwitcher).current == f"step-{step_id}"
    return app.screen.query_one(f"#step-{step_id}")


async def type_into(pilot, field: Input, value: str) -> None:
    field.focus()
    field.value = ""
    await pilot.press(*value)


# --- requirements --------------------------------------------------------------------------


async def test_requirements_view_shows_the_charter_and_saves_one_commit(make_sample):
    path = make_sample("fraud_detection")
    charter = Project(path).read_charter()
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = await open_by_sidebar(app, pilot, "requirements")
        metric = view.query_one("#req-metric", Input)
        assert metric.value == charter.success_metric
        assert view.query_one("#req-owner", Input).value == charter.business_owner
        assert view.query_one("#req-latency", Input).value == str(charter.constraints["latency_ms"])
        assert "Gate: recall >= 0.6 (primary)  and  precision >= 0.3" in text(
            view.query_one("#req-gate")
        )
        team = view.query_one("#req-team", DataTable)
        assert [team.get_row_at(i)[0] for i in range(team.row_count)] == [
            m.name for m in charter.team
        ]

        before = commit_count(path)
        await type_into(pilot, metric, "recall >= 0.70 at precision >= 0.40")
        assert "recall >= 0.7 (primary)" in text(view.query_one("#req-gate"))  # parsed live
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert commit_count(path) == before + 1
        subject = git(path, "log", "-1", "--format=%s").strip()
        assert subject == "Requirements: set success metric to recall >= 0.70 at precision >= 0.40"
        trailers = git(path, "log", "-1", "--format=%(trailers:key=Workbench-Step,valueonly)")
        assert trailers.strip() == "requirements"
        assert "Workbench-Role: business_owner" in git(path, "log", "-1", "--format=%B")
        short = git(path, "rev-parse", "--short=7", "HEAD").strip()
        shown = [m for m, sev in notifications(app) if sev == "information"]
        assert (
            f"Saved: set success metric to recall >= 0.70 at precision >= 0.40 (commit {short})"
            in shown
        )
        assert Project(path).read_charter().success_metric == "recall >= 0.70 at precision >= 0.40"
        # The project status was recomputed: the dashboard shows the new metric.
        assert "recall >= 0.70 at precision >= 0.40" in text(
            app.screen.query_one("#dash-meta", Static)
        )

        # Saving again without a change makes no commit.
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert commit_count(path) == before + 1
        assert notifications(app)[-1] == ("Nothing changed", "information")


async def test_requirements_bad_metric_is_the_core_error_and_no_commit(make_sample):
    path = make_sample("fraud_detection")
    bad = "recall >= 0.7 at precison >= 0.4"
    with pytest.raises(WorkbenchError) as expected:
        parse_success_metric(bad, "classification")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = await open_by_sidebar(app, pilot, "requirements")
        before = head(path)
        await type_into(pilot, view.query_one("#req-metric", Input), bad)
        assert str(expected.value) in text(view.query_one("#req-gate"))
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        failed = errors(app)
        assert failed == [str(expected.value)]
        assert "\n" not in failed[0]
        assert head(path) == before
        assert git(path, "status", "--porcelain").strip() == ""
        assert app.focused is view.query_one("#req-metric", Input)


async def test_requirements_team_add_update_remove_in_one_commit(make_sample):
    path = make_sample("fraud_detection")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = await open_by_sidebar(app, pilot, "requirements")
        before = commit_count(path)
        team = view.query_one("#req-team", DataTable)
        team.focus()
        team.move_cursor(row=3)  # Grace Liu
        await pilot.press("delete")
        await type_into(pilot, view.query_one("#req-member-name", Input), "Sam Lee")
        await type_into(pilot, view.query_one("#req-member-email", Input), "sam@example.com")
        view.query_one("#req-member-role").value = "ml_engineer"
        await pilot.press("enter")  # adds the member typed in the row
        assert [team.get_row_at(i)[0] for i in range(team.row_count)][-1] == "Sam Lee"
        # A bad email is refused before anything is saved.
        await type_into(pilot, view.query_one("#req-member-name", Input), "Bo")
        await type_into(pilot, view.query_one("#req-member-email", Input), "no-at-sign")
        await pilot.press("enter")
        assert notifications(app)[-1] == (
            "team member 'Bo' has email 'no-at-sign', which has no '@'",
            "error",
        )
        view.query_one("#req-member-name", Input).value = ""
        view.query_one("#req-member-email", Input).value = ""
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert commit_count(path) == before + 1
        assert git(path, "log", "-1", "--format=%s").strip() == (
            "Requirements: remove team member Grace Liu; add team member Sam Lee (ml_engineer)"
        )
        names = [(m.name, m.role) for m in Project(path).read_charter().team]
        assert names[-1] == ("Sam Lee", "ml_engineer") and "Grace Liu" not in dict(names)


# --- use cases -----------------------------------------------------------------------------


async def test_use_cases_view_reranks_live_without_a_commit(make_sample):
    from textual_plotext import PlotextPlot

    from workbench.design.use_cases import rank, read_data_check

    path = make_sample("fraud_detection")
    config = Project(path).read_config()
    stored = rank(config, read_data_check(path))
    typed = rank(config, read_data_check(path), weights={"business_value": "3"})
    assert [r.id for r in stored] != [r.id for r in typed]  # the test means something
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = await open_by_palette(app, pilot, "Use-case prioritization", "use_cases")
        table = view.query_one("#uc-table", DataTable)
        assert table_ids(table) == [r.id for r in stored]
        first = table.get_row_at(0)
        assert first[2].plain == f"{stored[0].weighted_score:.2f}" and first[-1] == "manual"
        assert view.query(PlotextPlot)
        before = head(path)
        await type_into(pilot, view.query_one("#uc-w-business_value", Input), "3")
        await pilot.pause()
        assert table_ids(table) == [r.id for r in typed]
        assert "Unsaved weights" in text(view.query_one("#uc-weights-note"))
        # A weight that does not parse keeps the last good ranking and says why, in place.
        await type_into(pilot, view.query_one("#uc-w-risk", Input), "-")
        assert "weight risk=- is not a number" in text(view.query_one("#uc-weights-note"))
        assert table_ids(table) == [r.id for r in typed]
        view.query_one("#uc-w-risk", Input).value = "0.15"
        await settle(app, pilot)
        assert head(path) == before  # typing never commits

        await pilot.press("ctrl+s")  # in the weights row: save the weights
        await settle(app, pilot)
        assert git(path, "log", "-1", "--format=%s").strip() == (
            "Use-case prioritization: set weights: business_value 0.3->3"
        )
        assert Project(path).read_config()["use_cases"]["weights"]["business_value"] == 3
        assert table_ids(table) == [r.id for r in typed]
        # Sortable: the Score header sorts by weighted score, o moves to the next column.
        table.post_message(
            DataTable.HeaderSelected(
                table, table.ordered_columns[3].key, 3, label=table.ordered_columns[3].label
            )
        )
        await pilot.pause()
        values = [int(table.get_row_at(i)[3].plain) for i in range(table.row_count)]
        assert values == sorted(values, reverse=True)


async def test_select_needs_a_reason_then_commits_and_the_step_is_done(make_sample):
    path = make_sample("fraud_detection")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)

        def labels() -> dict[str, str]:
            sidebar = app.screen.query_one(LifecycleSidebar)
            return {k: n.label.plain for k, n in sidebar.nodes_by_key.items()}

        assert labels()["use_cases"] == "! Use-case prioritization"
        view = await open_by_sidebar(app, pilot, "use_cases")
        table = view.query_one("#uc-table", DataTable)
        table.focus()
        table.move_cursor(row=1)
        chosen = table_ids(table)[1]
        before = head(path)
        await pilot.press("u")
        await settle(app, pilot)
        modal = app.screen
        assert type(modal).__name__ == "SelectUseCaseScreen"
        await pilot.press("enter")  # no reason: refused, the modal stays
        await settle(app, pilot)
        assert app.screen is modal
        failed = errors(app)
        assert failed and failed[-1].startswith(f"selecting {chosen!r} needs a reason")
        assert head(path) == before
        await pilot.press(*"best value for the review team")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ProjectScreen)
        body = git(path, "log", "-1", "--format=%B")
        assert body.startswith(f"Use-case prioritization: select {chosen}\n")
        assert "Workbench-Step: use_cases" in body
        selected = Project(path).read_config()["use_cases"]["selected"]
        assert selected["id"] == chosen and selected["reason"] == "best value for the review team"
        assert selected["by"] == IDENTITY[0]
        shown = text(view.query_one("#uc-selected"))
        assert IDENTITY[0] in shown and "best value for the review team" in shown
        row = table.get_row_at(table_ids(table).index(chosen))
        assert row[0].plain.startswith("✔")
        # After the refresh the sidebar and the status say the step is done.
        assert labels()["use_cases"] == "✔ Use-case prioritization"
        assert next(s for s in project_status(path).steps if s.id == "use_cases").state == "done"
        assert text(view.query_one("#uc-state")).startswith("✔ done")


async def test_add_a_use_case_and_score_it(make_sample):
    path = make_sample("fraud_detection")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = await open_by_sidebar(app, pilot, "use_cases")
        view.query_one("#uc-table", DataTable).focus()
        before = commit_count(path)
        await pilot.press("a")
        await settle(app, pilot)
        await pilot.press(*"Bad Id", "enter", "enter", "enter")  # id is not a slug: stays open
        await settle(app, pilot)
        assert type(app.screen).__name__ == "AddUseCaseScreen"
        assert notifications(app)[-1][1] == "error" and "is not a slug" in notifications(app)[-1][0]
        app.screen.query_one("#uc-add-id", Input).value = "merchant-risk"
        app.screen.query_one("#uc-add-name", Input).value = "Merchant risk scoring"
        app.screen.query_one("#uc-add-description", Input).focus()
        await pilot.press(*"Score merchants.", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ProjectScreen)
        assert git(path, "log", "-1", "--format=%s").strip() == (
            "Use-case prioritization: add use case merchant-risk"
        )
        table = view.query_one("#uc-table", DataTable)
        assert "merchant-risk" in table_ids(table)
        assert view.highlighted().id == "merchant-risk"  # the new one is highlighted to score
        await pilot.press("e")
        assert app.focused is view.query_one("#uc-s-business_value", Input)
        await pilot.press("5", "tab", "4", "enter")
        await settle(app, pilot)
        assert commit_count(path) == before + 2
        assert git(path, "log", "-1", "--format=%s").strip() == (
            "Use-case prioritization: score merchant-risk: business_value 3->5, feasibility 3->4"
        )
        row = table.get_row_at(table_ids(table).index("merchant-risk"))
        assert (row[3].plain, row[4].plain) == ("5", "4")


async def test_requirements_ctrl_o_opens_workbench_yaml_in_editor_then_saves_keep_working(make_sample, tmp_path,
                                                                                         monkeypatch):
    """Issue 16.8: ctrl+o (shown in the footer here) runs $EDITOR on workbench.yaml, the view reads the
    charter again and says the file is changed, not committed; the next save commits it as usual.
    ``App.suspend`` is a no-op context under Pilot (headless cannot suspend; tmux runs the real one)."""
    from contextlib import nullcontext

    from screens.base import EDIT_KEY
    from tests.test_tui_keys_focus import footer_keys

    path = make_sample("fraud_detection")
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/^  business_owner: .*/  business_owner: Grace Hopper/" "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = await open_by_sidebar(app, pilot, "requirements")
        await settle(app, pilot)
        assert EDIT_KEY in footer_keys(app.screen)
        before = commit_count(path)
        with monkeypatch.context() as m:
            m.setattr(app, "suspend", nullcontext)
            await pilot.press(EDIT_KEY)
            await settle(app, pilot)
        assert "Grace Hopper" in (path / "workbench.yaml").read_text()
        assert view.query_one("#req-owner", Input).value == "Grace Hopper"  # read again
        assert "workbench.yaml: changed, not committed (git status M)" in text(view.query_one("#req-state", Static))
        assert commit_count(path) == before

        await pilot.press(EDIT_KEY)  # the headless driver, unpatched: a one-line error, nothing run
        await settle(app, pilot)
        assert errors(app)[-1].startswith("this terminal cannot hand over to ")
