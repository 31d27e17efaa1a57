"""Pilot tests of the Testing & validation and Review & governance views on real git + DVC repos.

Validation runs the real core in a worker (retraining in a subprocess); approving makes a
real commit. The tests wait for the workers, never a blind sleep, then read the screen and git.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Markdown, Static

from screens.app import make_app
from tests.conftest import git
from tests.test_validation import copy_of, trained_template, validated_template
from tests.tui_helpers import commit_count, errors, notifications, open_step, settle, text
from workbench.versioning.evidence import promotion_blockers

pytestmark = pytest.mark.anyio

SIZE = (130, 45)


@pytest.fixture
def trained(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    return copy_of(trained_template(tmp_path_factory), tmp_path, monkeypatch)


@pytest.fixture
def validated(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    return copy_of(validated_template(tmp_path_factory), tmp_path, monkeypatch)


def rows(table: DataTable) -> dict[str, list]:
    return {table.coordinate_to_cell_key((i, 0)).row_key.value: [str(c) for c in table.get_row_at(i)]
            for i in range(table.row_count)}


async def test_validation_view_runs_the_gates_in_a_worker(trained) -> None:
    path = trained
    before = commit_count(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "validation")
        await settle(app, pilot)
        assert "Not validated yet" in text(view.query_one("#val-summary", Static))
        assert view.query_one("#val-gates", DataTable).row_count == 0

        assert app.focused is view  # opening a step puts the focus in it: its keys work at once
        await pilot.press("v")
        await settle(app, pilot, rounds=6)
        gates = rows(view.query_one("#val-gates", DataTable))
        assert list(gates) == ["model_file", "success_metric", "baseline", "no_regression", "slices", "fairness",
                               "reproducibility"]
        assert gates["success_metric"][1] == "pass" and gates["reproducibility"][1] == "pass"
        assert gates["no_regression"][1] == "skipped" and gates["no_regression"][4] == "no production model yet"
        assert gates["fairness"][3].startswith("max_difference 0.1, metric recall, column age_group")
        summary = text(view.query_one("#val-summary", Static))
        assert summary.startswith("PASSED  the workspace model md5:") and "another model" not in summary
        assert text(view.query_one("#val-detail", Static)).startswith("Model file is the trained one: md5:")
        assert any(m.startswith("Validation passed (commit ") for m, _ in notifications(app))
        assert commit_count(path) == before + 1
        assert "Workbench-Step: validation" in git(path, "log", "-1", "--format=%B")

        # an experiment that is not there: the core's one line, as a notification; nothing committed
        view.query_one("#val-experiment", Input).value = "nope"
        await pilot.click("#val-run")
        await settle(app, pilot)
        failed = errors(app)
        assert failed and failed[-1].startswith("experiment 'nope' is not known: use one of good, weak")
        assert commit_count(path) == before + 1
        assert rows(view.query_one("#val-gates", DataTable))["success_metric"][1] == "pass"


async def test_review_view_shows_the_card_and_records_a_sign_off(validated) -> None:
    path = validated
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "review")
        await settle(app, pilot)
        decision = view.query_one("#rv-decision", Static)
        assert text(decision).startswith("No decision yet. Model md5:")
        assert "has no sign-off" in text(decision)
        assert "No model card yet" in view.query_one("#rv-card", Markdown).source

        assert app.focused is not None and view in app.focused.ancestors_with_self
        await pilot.press("g")  # generate the card
        await settle(app, pilot)
        assert (path / "reports/model_card.md").exists()
        source = view.query_one("#rv-card", Markdown).source
        assert source.startswith("# Model card: Breast cancer diagnosis support")
        assert "## Ethical considerations" in source
        assert any(m.startswith("Wrote the model card (commit ") for m, _ in notifications(app))

        await pilot.click("#rv-approve")  # no comment: refused by the core, nothing written
        await settle(app, pilot)
        failed = errors(app)
        assert failed and failed[-1].startswith("a decision needs a comment")
        assert not (path / "reports/review.json").exists()

        view.query_one("#rv-comment", Input).value = "Meets the charter."
        await pilot.click("#rv-approve")
        await settle(app, pilot)
        assert (path / "reports/review.json").exists() and promotion_blockers(path) == []
        shown = text(view.query_one("#rv-decision", Static))
        assert shown.startswith("Approved by Ada Lovelace (business_owner) on ")
        assert "Meets the charter." in shown and "Still holds" in shown
        history = view.query_one("#rv-history", DataTable)
        assert history.row_count == 1 and str(history.get_row_at(0)[1]) == "approved"
        assert view.query_one("#rv-comment", Input).value == ""
        assert "Workbench-Step: review" in git(path, "log", "-1", "--format=%B")


async def test_review_view_opens_the_card_in_editor_and_reads_it_again(validated, tmp_path, monkeypatch) -> None:
    """Issue 16.8: ctrl+o runs $EDITOR on reports/model_card.md (a real script here), the view shows
    the edited card and git's word on it, and nothing is committed. Pilot's headless driver cannot
    suspend, so ``App.suspend`` is a no-op context here; tests/test_tmux.py runs the real one."""
    from contextlib import nullcontext

    from screens.base import EDIT_KEY
    from tests.test_tui_keys_focus import footer_keys

    path = validated
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "\\n## Edited by a person\\n" >> "$1"\n')
    editor.chmod(0o755)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"sh {editor}")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "review")
        await settle(app, pilot)
        assert EDIT_KEY not in footer_keys(app.screen)  # no card yet: nothing to edit
        await pilot.press("g")
        await settle(app, pilot)
        assert EDIT_KEY in footer_keys(app.screen)
        card = path / "reports/model_card.md"
        before = commit_count(path)
        monkeypatch.setattr(app, "suspend", nullcontext)
        await pilot.press(EDIT_KEY)
        await settle(app, pilot)
        assert card.read_text().endswith("\n## Edited by a person\n")
        assert "## Edited by a person" in view.query_one("#rv-card", Markdown).source  # read again
        assert "reports/model_card.md: changed, not committed (git status M)" in text(
            view.query_one("#rv-state", Static))
        assert commit_count(path) == before
        assert errors(app) == []
