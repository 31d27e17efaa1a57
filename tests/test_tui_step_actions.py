"""Pilot tests of the steps done from their views (issue 16 items 5-7): register and promote from
the deployment view, approve and reject from the review view, fixing a NO-GO from the data check
view, the training parameters form.

Real projects (the trained/validated templates, copied per test), the real core in the views'
workers; the tests wait for the workers, then read the screen and git.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input, Static

from screens.app import make_app
from screens.base import ConfirmScreen
from screens.project.step_dialogs import PromoteScreen, RegisterScreen
from tests.conftest import git
from tests.test_validation import copy_of, trained_template, validated_template
from tests.tui_helpers import commit_count, errors, open_step, settle, table_ids, text

pytestmark = pytest.mark.anyio

SIZE = (130, 45)


@pytest.fixture
def trained(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    return copy_of(trained_template(tmp_path_factory), tmp_path, monkeypatch)


@pytest.fixture
def validated(tmp_path_factory, tmp_path, monkeypatch) -> Path:
    return copy_of(validated_template(tmp_path_factory), tmp_path, monkeypatch)


def tags(path: Path) -> list[str]:
    return sorted(git(path, "tag", "--list").split())


# --- item 5: review ---------------------------------------------------------------------------


async def test_approve_on_an_unvalidated_model_shows_the_refusal_line(trained) -> None:
    path = trained
    before = commit_count(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "review")
        await settle(app, pilot)
        decision = text(view.query_one("#rv-decision", Static))
        assert "mlops-workbench review approve" not in decision
        assert "approve or reject it here with a comment" in decision
        view.query_one("#rv-comment", Input).value = "looks fine"
        view.query_one("#rv-approve", Button).press()
        await settle(app, pilot)
        shown = text(view.query_one("#rv-result", Static))
        assert shown.startswith("Refused: the model has not been validated, so it cannot be approved")
        assert errors(app)[-1] == shown.removeprefix("Refused: ")
    assert commit_count(path) == before


async def test_reject_asks_first_and_escape_commits_nothing(validated) -> None:
    path = validated
    before = commit_count(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "review")
        await settle(app, pilot)
        view.query_one("#rv-comment", Input).value = "recall too low on the elderly slice"
        view.query_one("#rv-reject", Button).press()
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert commit_count(path) == before
        view.query_one("#rv-reject", Button).press()
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        assert commit_count(path) == before + 1
        review = git(path, "show", "HEAD:reports/review.json")
        assert '"rejected"' in review and "elderly slice" in review


# --- item 5: registry -------------------------------------------------------------------------


async def test_register_then_production_needs_an_approval_then_promote(validated) -> None:
    path = validated
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "deployment")
        await settle(app, pilot)
        assert "register it: i" in text(view.query_one("#dep-state", Static))
        view.focus()
        await pilot.press("i")
        await settle(app, pilot)
        assert isinstance(app.screen, RegisterScreen)
        assert app.screen.query_one("#dlg-version", Input).value == "v1.0.0"  # the suggestion
        await pilot.press("enter")
        await settle(app, pilot, rounds=6)
        assert "model@v1.0.0" in tags(path)
        assert table_ids(view.query_one("#dep-registry", DataTable)) == ["v1.0.0"]
        assert "Registered model v1.0.0" in text(view.query_one("#dep-registry-result", Static))

        # a second register suggests the next version; the core refuses HEAD twice, one line
        await pilot.press("i")
        await settle(app, pilot)
        assert app.screen.query_one("#dlg-version", Input).value == "v1.1.0"
        await pilot.press("enter")
        await settle(app, pilot, rounds=6)
        refusal = text(view.query_one("#dep-registry-result", Static))
        assert refusal.startswith("Refused: HEAD (") and "is already registered as model v1.0.0" in refusal

        # production: what it needs and what is missing (no approval yet), then the core's refusal
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, PromoteScreen)
        needs = text(app.screen.query_one("#dlg-needs", Static))
        assert "validation passed for model" in needs and ": passed" in needs
        assert "approvals: 0 of 1 needed" in needs and "data check GO and not stale" in needs
        missing = text(app.screen.query_one("#dlg-missing", Static))
        assert "sign-off" in missing
        app.screen.query_one("#dlg-production", Button).press()
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        refusal = text(view.query_one("#dep-registry-result", Static))
        assert refusal.startswith("Refused: cannot promote v1.0.0 to production:")
        assert not any("production" in t for t in tags(path))

        # staging needs nothing; no confirmation
        await pilot.press("p")
        await settle(app, pilot)
        app.screen.query_one("#dlg-staging", Button).press()
        await settle(app, pilot, rounds=6)
        assert any(t.startswith("model#staging#") for t in tags(path))
        assert "Promoted model v1.0.0 to staging" in text(view.query_one("#dep-registry-result", Static))

        # approve in the review view, then production goes through (after the confirmation)
        review = await open_step(app, pilot, "review")
        await settle(app, pilot)
        review.query_one("#rv-comment", Input).value = "validated, card read"
        review.query_one("#rv-approve", Button).press()
        await settle(app, pilot, rounds=6)
        assert '"approved"' in git(path, "show", "HEAD:reports/review.json")

        view = await open_step(app, pilot, "deployment")
        await settle(app, pilot)
        view.focus()
        await pilot.press("p")
        await settle(app, pilot)
        assert "approvals: 1 of 1 needed" in text(app.screen.query_one("#dlg-needs", Static))
        assert "Nothing is missing" in text(app.screen.query_one("#dlg-missing", Static))
        app.screen.query_one("#dlg-production", Button).press()
        await settle(app, pilot)
        await pilot.press("escape")  # the confirmation: escape leaves everything as it was
        await settle(app, pilot)
        assert not any("production" in t for t in tags(path))
        await pilot.press("p")
        await settle(app, pilot)
        app.screen.query_one("#dlg-production", Button).press()
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        assert any(t.startswith("model#production#") for t in tags(path))
        assert "Promoted model v1.0.0 to production" in text(view.query_one("#dep-registry-result", Static))


# --- item 6: fixing a NO-GO from the data check view ------------------------------------------


def head_config(path: Path, rev: str = "HEAD") -> dict:
    import yaml

    return yaml.safe_load(git(path, "show", f"{rev}:workbench.yaml"))


def head_report(path: Path) -> dict:
    import json

    return json.loads(git(path, "show", "HEAD:reports/data_check.json"))


async def test_exclude_the_leakage_suspect_include_it_threshold_and_target_each_a_step(make_sample) -> None:
    from screens.project.step_dialogs import ExcludeScreen, TargetScreen, ThresholdScreen
    from tests.tui_helpers import wait_until
    from workbench.design.data_check import check_data

    path = make_sample("fraud_detection")
    assert check_data(path).verdict == "NO-GO"
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "data_availability")
        table = view.query_one("#dc-columns", DataTable)
        table.focus()
        await settle(app, pilot)
        table.move_cursor(row=table.get_row_index("transactions\x1fchargeback_flag"))
        await pilot.pause()
        before = commit_count(path)

        await pilot.press("space")  # exclude: a modal with the finding as the reason
        await settle(app, pilot)
        assert isinstance(app.screen, ExcludeScreen)
        assert app.screen.query_one("#dlg-reason", Input).value.startswith("leakage 0.")
        await pilot.press("enter")
        await settle(app, pilot, rounds=8)
        await wait_until(pilot, lambda: view.busy is None)
        await settle(app, pilot)
        assert commit_count(path) == before + 2  # the exclusion, then the check's report
        assert "chargeback_flag" in head_config(path, "HEAD~1")["data"]["exclude_columns"]
        assert "exclude chargeback_flag: leakage 0." in git(path, "log", "-1", "--format=%B", "HEAD~1")
        report = head_report(path)
        assert not any("chargeback_flag predicts" in r for r in report["reasons"])
        row = view.rows["transactions\x1fchargeback_flag"]
        assert row.role == "excluded"

        table.move_cursor(row=table.get_row_index("transactions\x1fchargeback_flag"))
        await pilot.pause()
        await pilot.press("space")  # include it back: no question, a step, the check again
        await settle(app, pilot, rounds=8)
        await wait_until(pilot, lambda: view.busy is None)
        await settle(app, pilot)
        assert commit_count(path) == before + 4
        assert "chargeback_flag" not in (head_config(path)["data"].get("exclude_columns") or [])
        assert head_report(path)["verdict"] == "NO-GO"

        # a threshold: a bad value is the core's one line at the field, nothing written
        await pilot.press("h")
        await settle(app, pilot)
        assert isinstance(app.screen, ThresholdScreen)
        app.screen.query_one("#dlg-key", Input).value = "min_rows"
        app.screen.query_one("#dlg-value", Input).value = "lots"
        app.screen.query_one("#dlg-ok", Button).press()
        await settle(app, pilot)
        assert isinstance(app.screen, ThresholdScreen)
        assert text(app.screen.query_one("#dlg-error", Static)) == \
            "threshold min_rows='lots' is not a number: write it like min_rows=300"
        app.screen.query_one("#dlg-value", Input).value = "300"
        app.screen.query_one("#dlg-ok", Button).press()
        await settle(app, pilot, rounds=8)
        await wait_until(pilot, lambda: view.busy is None)
        await settle(app, pilot)
        assert commit_count(path) == before + 6
        assert head_config(path)["data"]["thresholds"]["min_rows"] == 300
        assert head_report(path)["thresholds"]["min_rows"] == 300

        # the target: a choice of the columns, saved with the check's report in one commit
        await pilot.press("f")
        await settle(app, pilot)
        assert isinstance(app.screen, TargetScreen)
        app.screen.query_one("#dlg-target").value = "chargeback_flag"
        app.screen.query_one("#dlg-ok", Button).press()
        await settle(app, pilot, rounds=8)
        await wait_until(pilot, lambda: view.busy is None)
        await settle(app, pilot)
        assert commit_count(path) == before + 7
        assert head_config(path)["data"]["target"] == "chargeback_flag"
        assert head_report(path)["target"] == "chargeback_flag"
        assert not errors(app)


# --- item 7: training parameters --------------------------------------------------------------


def exp_refs(path: Path) -> list[str]:
    refs = git(path, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    return sorted(r for r in refs if r.count("/") == 4)


async def test_family_form_switches_with_defaults_checks_at_the_field_and_runs(trained) -> None:
    import yaml
    from textual.widgets import RichLog, Select

    from tests.tui_helpers import log_text, wait_until

    path = trained
    refs = exp_refs(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "training")
        await settle(app, pilot)
        family = view.query_one("#tr-family", Select)
        assert family.value == "logistic_regression"
        assert [str(o[0]) for o in family._options if o[1] is not Select.NULL] == ["dummy", "logistic_regression", "ridge", "random_forest",
                                                        "hist_gradient_boosting"]
        assert view.query_one("#tr-hp-C", Input).value == "0.5"  # params.yaml's value
        assert view.query_one("#tr-hp-max_iter", Input).value == "1000"
        assert view.form_params() == {}

        family.value = "random_forest"  # the family's defaults, its valid keys
        await settle(app, pilot)
        assert not view.query("#tr-hp-C")
        assert view.query_one("#tr-hp-n_estimators", Input).value == "100"
        assert view.query_one("#tr-hp-max_depth", Input).value == "null"
        assert "min_samples_leaf" in text(view.query_one("#tr-hyper-keys", Static))  # valid names listed
        assert view.form_params() == {"model.name": "random_forest", "model.params.n_estimators": "100",
                                      "model.params.max_depth": "null"}

        field = view.query_one("#tr-hp-n_estimators", Input)
        field.value = "many"
        await settle(app, pilot)
        assert field.has_class("-invalid")
        line = text(view.query_one("#tr-hyper-error", Static))
        assert line == "✘ model.params.n_estimators='many' is not valid for random_forest: it must be " \
                       "a whole number >= 1" or line.startswith("✘ model.params.n_estimators='many' is not valid")
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert not view.running and exp_refs(path) == refs

        more = view.query_one("#tr-hp-more", Input)
        field.value = "20"
        more.value = "min_samples_lef=3"  # a typo: the core names the valid ones, at the field
        await settle(app, pilot)
        assert more.has_class("-invalid")
        assert "has no hyperparameter 'min_samples_lef' (did you mean 'min_samples_leaf'?)" in \
            text(view.query_one("#tr-hyper-error", Static))
        more.value = "min_samples_leaf=3"
        await settle(app, pilot)
        assert not view.query("#tr-hyper .-invalid, #tr-hp-more.-invalid")
        refused = len(errors(app))  # the refusals above were told; the run below tells none
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not view.running)
        await settle(app, pilot)
        assert not errors(app)[refused:], errors(app)
        assert len(exp_refs(path)) == len(refs) + 1
        params = yaml.safe_load((path / "params.yaml").read_text())  # the experiment is applied
        assert params["model"] == {"name": "random_forest",
                                   "params": {"n_estimators": 20, "max_depth": None, "min_samples_leaf": 3}}
        assert "Traceback" not in log_text(view, "#tr-log")
        assert isinstance(view.query_one("#tr-log"), RichLog)


async def test_a_value_only_scikit_learn_refuses_is_caught_before_dvc_at_the_field(trained) -> None:
    from tests.tui_helpers import log_text, wait_until

    path = trained
    refs = exp_refs(path)
    status = git(path, "status", "--porcelain")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "training")
        await settle(app, pilot)
        more = view.query_one("#tr-hp-more", Input)
        more.value = "solver=nope"
        await settle(app, pilot)
        assert not more.has_class("-invalid")  # only scikit-learn knows the solvers
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not view.running)
        await settle(app, pilot)
        assert more.has_class("-invalid")
        shown = text(view.query_one("#tr-hyper-error", Static))
        assert shown.startswith("✘ model 'logistic_regression': The 'solver' parameter of LogisticRegression")
        assert errors(app)[-1] == shown.removeprefix("✘ ")
        assert "Running stage" not in log_text(view, "#tr-log")  # DVC never started
    assert exp_refs(path) == refs and git(path, "status", "--porcelain") == status


async def test_an_early_cancel_leaves_no_traceback_in_the_log(trained) -> None:
    from tests.tui_helpers import log_text, wait_until

    path = trained
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "training")
        await settle(app, pilot)
        view.query_one("#tr-set", Input).value = "model.params.C=0.3"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "$ dvc exp run" in log_text(view, "#tr-log"))
        await pilot.press("escape")  # while DVC is still starting
        await wait_until(pilot, lambda: not view.running)
        await settle(app, pilot)
        log = log_text(view, "#tr-log")
        assert text(view.query_one("#tr-stage")) == "cancelled"
        assert "Traceback" not in log and "AttributeError" not in log and "KeyboardInterrupt" not in log


async def test_production_with_a_no_go_data_check_asks_for_a_recorded_override(validated) -> None:
    from workbench.design.data_check import check_data, set_thresholds
    from workbench.development.review import decide
    from workbench.versioning.registry import register_model

    path = validated
    decide(path, "approved", "validated and read")
    register_model(path, push=False)
    set_thresholds(path, ["leakage_score=0.5"])  # the strongest features now count as leakage
    assert check_data(path).verdict == "NO-GO"
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_step(app, pilot, "deployment")
        await settle(app, pilot)
        view.focus()
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, PromoteScreen)
        assert "data check GO and not stale: " in text(app.screen.query_one("#dlg-needs", Static))
        assert "NO-GO" in text(app.screen.query_one("#dlg-missing", Static))
        app.screen.query_one("#dlg-override", Input).value = "leakage threshold set for a drill"
        app.screen.query_one("#dlg-production", Button).press()
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "leakage threshold set for a drill" in text(app.screen.query(Static)[1])
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        production = [t for t in tags(path) if t.startswith("model#production#")]
        assert production, text(view.query_one("#dep-registry-result", Static))
        assert "leakage threshold set for a drill" in git(path, "tag", "-l", "--format=%(contents)", production[0])
