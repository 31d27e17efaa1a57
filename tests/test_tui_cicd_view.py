"""Pilot tests of the CI/CD view: the check's verdict on screen and the workflow generated from it."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static

from screens.app import make_app
from tests.conftest import git
from tests.tui_helpers import SIZE, commit_count, errors, notifications, open_step, settle, text

pytestmark = pytest.mark.anyio


async def test_cicd_view_shows_the_check_and_generates_the_workflow(make_sample) -> None:
    path = make_sample("fraud_detection")
    before = commit_count(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "ci_cd")
        await settle(app, pilot)
        table = view.query_one("#ci-checks", DataTable)
        rows = {table.coordinate_to_cell_key((i, 0)).row_key.value: table.get_row_at(i)
                for i in range(table.row_count)}
        assert list(rows) == ["pipeline", "data", "validation", "monitoring"]
        assert str(rows["data"][1]) == "FAIL" and "no data check" in rows["data"][2]
        assert "a gate fails" in text(view.query_one("#ci-result", Static))
        assert "No CI workflow yet" in text(view.query_one("#ci-state", Static))

        assert app.focused is not None and view in app.focused.ancestors_with_self
        await pilot.press("g")
        await settle(app, pilot)
        assert (path / ".github/workflows/mlops-workbench.yml").exists()
        assert commit_count(path) == before + 1
        assert "Workbench-Step: ci_cd" in git(path, "log", "-1", "--format=%B")
        assert any(m.startswith("Wrote the CI workflow (commit ") for m, _ in notifications(app))
        assert "Workflow: .github/workflows/mlops-workbench.yml" in text(view.query_one("#ci-state", Static))

        await pilot.press("g")  # a second time: the core refuses, the screen says why
        await settle(app, pilot)
        failed = errors(app)
        assert failed and "already exists: pass --force" in failed[-1]
        assert commit_count(path) == before + 1


# --- issue 16.8: the workflow is shown, and ctrl+o opens it in $EDITOR -------------------------


def test_the_editor_command_is_editor_then_visual_split_as_a_shell_would(tmp_path) -> None:
    from screens.base import editor_command

    file = tmp_path / "a file.yml"
    assert editor_command(file, {"EDITOR": "code --wait", "VISUAL": "vi"}) == ["code", "--wait", str(file)]
    assert editor_command(file, {"EDITOR": " ", "VISUAL": "'my editor' -n"}) == ["my editor", "-n", str(file)]
    assert editor_command(file, {}) is None


async def test_cicd_view_shows_the_generated_workflow_and_offers_to_edit_it(make_sample, monkeypatch) -> None:
    from screens.base import EDIT_KEY, EDITOR_HINT
    from tests.test_tui_keys_focus import footer_keys

    path = make_sample("fraud_detection")
    workflow = path / ".github/workflows/mlops-workbench.yml"
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "ci_cd")
        await settle(app, pilot)
        shown = view.query_one("#ci-file", Static)
        assert not shown.display  # no workflow yet: nothing to show or edit
        assert EDIT_KEY not in footer_keys(app.screen)

        await pilot.press("g")
        await settle(app, pilot)
        assert shown.display and shown.content.code == workflow.read_text().rstrip("\n")
        assert "read-only" in shown.border_title and EDIT_KEY in shown.border_title
        assert EDIT_KEY in footer_keys(app.screen)

        monkeypatch.delenv("EDITOR", raising=False)
        monkeypatch.delenv("VISUAL", raising=False)
        before = workflow.read_bytes()
        await pilot.press(EDIT_KEY)
        await settle(app, pilot)
        assert errors(app)[-1] == EDITOR_HINT

        # Pilot's headless driver cannot hand the terminal over: a one-line error, the file untouched
        # (the real suspension is tested in tmux: tests/test_tmux.py)
        monkeypatch.setenv("VISUAL", "nano")
        await pilot.press(EDIT_KEY)
        await settle(app, pilot)
        assert errors(app)[-1].startswith("this terminal cannot hand over to nano: edit ")
        assert workflow.read_bytes() == before
