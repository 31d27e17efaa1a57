"""Use-case prioritization: ranking math, data-check readiness, one commit per change, CLI."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import IDENTITY, git, run_cli
from workbench.design.use_cases import (
    DATA_CHECK,
    MANUAL,
    DataCheckResult,
    add_use_case,
    bar_chart,
    rank,
    rank_project,
    read_data_check,
    score_use_case,
    select_use_case,
    set_weights,
)
from workbench.errors import DirtyPathError, WorkbenchError

FRAUD_IDS = ["account-takeover-detection", "card-fraud-scoring", "chargeback-forecast",
             "review-queue-ranking"]


def head(path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def last_commit(path) -> str:
    return git(path, "log", "-1", "--format=%s%n%(trailers)").strip()


def use_cases_yaml(path) -> dict:
    return yaml.safe_load((path / "workbench.yaml").read_text(encoding="utf-8"))["use_cases"]


def config_with(candidates, weights=None, selected=None) -> dict:
    return {"charter": {}, "use_cases": {
        "weights": weights or {"business_value": 0.3, "feasibility": 0.2, "data_readiness": 0.2,
                               "risk": 0.15, "time_to_value": 0.15},
        "candidates": candidates, "selected": selected}}


def cand(cid, bv=3, fe=3, dr=3, ri=3, tv=3) -> dict:
    return {"id": cid, "name": cid.title(), "description": "",
            "scores": {"business_value": bv, "feasibility": fe, "data_readiness": dr, "risk": ri,
                       "time_to_value": tv}}


def write_data_check(path, use_case, readiness, verdict="GO") -> None:
    """A hand-written report in the data-check contract, committed like the real step would."""
    report = path / "reports" / "data_check.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps({"verdict": verdict, "use_case": use_case,
                                  "readiness_score": readiness, "reasons": []}), encoding="utf-8")
    git(path, "add", "reports/data_check.json")
    git(path, "commit", "-q", "-m", "Data availability: check")


# --- ranking math (pure) ------------------------------------------------------------------


def test_rank_fraud_sample_by_hand(make_sample):
    path = make_sample("fraud_detection")
    ranked = rank_project(path).ranking
    # weights .30/.20/.20/.15/.15, risk counted as 6 - risk:
    # review-queue: .3*3 + .2*5 + .2*4 + .15*(6-2) + .15*5 = .9+1+.8+.6+.75 = 4.05
    # card-fraud:   .3*5 + .2*4 + .2*4 + .15*(6-3) + .15*3 = 1.5+.8+.8+.45+.45 = 4.00
    # chargeback:   .3*2 + .2*4 + .2*3 + .15*(6-1) + .15*4 = .6+.8+.6+.75+.6 = 3.35
    # takeover:     .3*4 + .2*2 + .2*2 + .15*(6-4) + .15*2 = 1.2+.4+.4+.3+.3 = 2.60
    assert [(r.rank, r.id, r.weighted_score) for r in ranked] == [
        (1, "review-queue-ranking", 4.05), (2, "card-fraud-scoring", 4.0),
        (3, "chargeback-forecast", 3.35), (4, "account-takeover-detection", 2.6)]
    assert ranked[0].contributions == {"business_value": 0.9, "feasibility": 1.0,
                                       "data_readiness": 0.8, "risk": 0.6, "time_to_value": 0.75}
    assert all(r.data_readiness_source == MANUAL for r in ranked)


def test_lower_risk_ranks_higher_and_ties_break_by_id():
    ranked = rank(config_with([cand("zeta", ri=1), cand("beta"), cand("alpha"), cand("gamma", ri=5)]))
    assert [r.id for r in ranked] == ["zeta", "alpha", "beta", "gamma"]
    assert [r.rank for r in ranked] == [1, 2, 3, 4]
    assert ranked[1].weighted_score == ranked[2].weighted_score == 3.0


def test_weights_are_relative():
    cands = [cand("a", bv=5, fe=1), cand("b", bv=1, fe=5)]
    small = rank(config_with(cands, {"business_value": 0.75, "feasibility": 0.25, "data_readiness": 0,
                                     "risk": 0, "time_to_value": 0}))
    big = rank(config_with(cands, {"business_value": 3, "feasibility": 1, "data_readiness": 0,
                                   "risk": 0, "time_to_value": 0}))
    assert [(r.id, r.weighted_score) for r in small] == [(r.id, r.weighted_score) for r in big]
    assert small[0].weighted_score == 0.75 * 5 + 0.25 * 1
    # an override (a screen re-ranking as the user types) flips the order without a write
    flipped = rank(config_with(cands), weights={"business_value": 0, "feasibility": 1,
                                                "data_readiness": 0, "risk": 0, "time_to_value": 0})
    assert [r.id for r in flipped] == ["b", "a"]


def test_data_check_readiness_applies_to_named_or_selected_use_case():
    cands = [cand("a", dr=5), cand("b", dr=5)]
    check = DataCheckResult("NO-GO", "b", 1)
    ranked = {r.id: r for r in rank(config_with(cands), check)}
    assert ranked["b"].scores["data_readiness"] == 1 and ranked["b"].manual_data_readiness == 5
    assert ranked["b"].data_readiness_source == DATA_CHECK
    assert ranked["a"].data_readiness_source == MANUAL
    assert ranked["b"].weighted_score == pytest.approx(3.4 - 0.2 * 4)  # 3 everywhere but dr 5 -> 1
    anonymous = DataCheckResult("GO", None, 2)
    assert all(r.data_readiness_source == MANUAL for r in rank(config_with(cands), anonymous))
    chosen = {r.id: r for r in rank(config_with(cands, selected={"id": "a"}), anonymous)}
    assert chosen["a"].data_readiness_source == DATA_CHECK and chosen["a"].selected
    assert chosen["b"].data_readiness_source == MANUAL


def test_data_check_report_overrides_ranking(make_sample):
    path = make_sample("fraud_detection")
    write_data_check(path, "review-queue-ranking", 1, verdict="NO-GO")
    result = rank_project(path)
    assert result.data_check == DataCheckResult("NO-GO", "review-queue-ranking", 1)
    rows = {r.id: r for r in result.ranking}
    # review-queue loses .2 * (4 - 1) = .6: 4.05 -> 3.45, and card-fraud moves to the top
    assert rows["review-queue-ranking"].weighted_score == 3.45
    assert rows["review-queue-ranking"].data_readiness_source == DATA_CHECK
    assert [r.id for r in result.ranking] == ["card-fraud-scoring", "review-queue-ranking",
                                              "chargeback-forecast", "account-takeover-detection"]
    out = run_cli("usecase", "rank", cwd=path)
    assert "* data readiness from the last data check (NO-GO, readiness 1)" in out.stdout


@pytest.mark.parametrize("text", [
    "not json", '["a list"]', '{"verdict": "GO", "use_case": null, "readiness_score": 9}',
    '{"verdict": "GO", "use_case": null, "readiness_score": "4"}',
    '{"verdict": "GO", "use_case": 3, "readiness_score": 4}',
])
def test_unusable_data_check_report_is_ignored(tmp_path, text):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "data_check.json").write_text(text, encoding="utf-8")
    assert read_data_check(tmp_path) is None
    assert read_data_check(tmp_path / "missing") is None


# --- changes: one commit each -------------------------------------------------------------


def test_add_score_weights_select_each_one_commit(make_sample):
    path = make_sample("fraud_detection")
    start = head(path)

    saved = add_use_case(path, "merchant-risk", "Merchant risk", description="Score merchants.",
                         scores={"business_value": 4, "risk": "2"})
    assert saved.commit == head(path)
    # Ada is not on the fraud team, so the step's default role applies.
    assert last_commit(path) == ("Use-case prioritization: add use case merchant-risk\n"
                                 "Workbench-Step: use_cases\nWorkbench-Role: business_owner")
    assert git(path, "show", "--name-only", "--format=", "HEAD").split() == ["workbench.yaml"]
    added = use_cases_yaml(path)["candidates"][-1]
    assert added == {"id": "merchant-risk", "name": "Merchant risk", "description": "Score merchants.",
                     "scores": {"business_value": 4, "feasibility": 3, "data_readiness": 3, "risk": 2,
                                "time_to_value": 3}}

    saved = score_use_case(path, "merchant-risk", feasibility=5, risk=2, role="data_scientist")
    assert last_commit(path) == ("Use-case prioritization: score merchant-risk: feasibility 3->5\n"
                                 "Workbench-Step: use_cases\nWorkbench-Role: data_scientist")
    assert score_use_case(path, "merchant-risk", feasibility="5").commit is None

    saved = set_weights(path, business_value=3, risk="1.5")
    assert use_cases_yaml(path)["weights"] == {"business_value": 3, "feasibility": 0.2,
                                               "data_readiness": 0.2, "risk": 1.5, "time_to_value": 0.15}
    assert sum(saved.weights.values()) == pytest.approx(1.0)
    assert last_commit(path).startswith("Use-case prioritization: set weights: business_value 0.3->3, "
                                        "risk 0.15->1.5\n")
    assert set_weights(path, business_value=3.0).commit is None

    saved = select_use_case(path, "card-fraud-scoring", "  Biggest loss,\n fastest payback ")
    selected = use_cases_yaml(path)["selected"]
    assert {k: selected[k] for k in ("id", "by", "email", "role", "reason")} == {
        "id": "card-fraud-scoring", "by": IDENTITY[0], "email": IDENTITY[1], "role": "business_owner",
        "reason": "Biggest loss, fastest payback"}
    assert selected["at"][:4].isdigit() and "T" in selected["at"]
    assert saved.selection.id == "card-fraud-scoring"
    assert [r.id for r in saved.ranking if r.selected] == ["card-fraud-scoring"]
    assert last_commit(path).startswith("Use-case prioritization: select card-fraud-scoring\n")
    assert git(path, "rev-list", "--count", f"{start}..HEAD").strip() == "4"
    assert git(path, "status", "--porcelain").strip() == ""


def test_add_to_project_without_use_cases(project):
    saved = add_use_case(project, "churn-risk", "Churn risk score")
    assert [r.id for r in saved.ranking] == ["churn-risk"]
    assert saved.ranking[0].weighted_score == 3.0
    # Ada is a data scientist on this team, so that is the role of the commit
    assert last_commit(project).endswith("Workbench-Role: data_scientist")


BAD = [
    ("unknown id", lambda p: score_use_case(p, "nope", risk=2),
     "there is no use case 'nope': use one of " + ", ".join(FRAUD_IDS)),
    ("duplicate id", lambda p: add_use_case(p, "card-fraud-scoring", "Again"), "already exists"),
    ("bad slug", lambda p: add_use_case(p, "Card Fraud!", "X"), "is not a slug"),
    ("slug with double hyphen", lambda p: add_use_case(p, "a--b", "X"), "is not a slug"),
    ("empty name", lambda p: add_use_case(p, "new-one", "  "), "has no name"),
    ("score 0", lambda p: score_use_case(p, "card-fraud-scoring", risk=0), "out of range"),
    ("score 6", lambda p: add_use_case(p, "new-one", "X", scores={"feasibility": 6}), "out of range"),
    ("score 4.5", lambda p: score_use_case(p, "card-fraud-scoring", risk=4.5), "not a whole number"),
    ("score text", lambda p: score_use_case(p, "card-fraud-scoring", risk="high"), "not a whole number"),
    ("score bool", lambda p: score_use_case(p, "card-fraud-scoring", risk=True), "not a whole number"),
    ("no scores", lambda p: score_use_case(p, "card-fraud-scoring"), "no scores given"),
    ("unknown criterion", lambda p: score_use_case(p, "card-fraud-scoring", cost=2),
     "unknown criterion 'cost': use one of business_value, feasibility, data_readiness, risk"),
    ("unknown weight", lambda p: set_weights(p, cost=1), "unknown criterion 'cost'"),
    ("negative weight", lambda p: set_weights(p, risk=-0.1), "is negative"),
    ("weight text", lambda p: set_weights(p, risk="lots"), "is not a number"),
    ("weight nan", lambda p: set_weights(p, risk="nan"), "not a finite number"),
    ("all-zero weights", lambda p: set_weights(p, business_value=0, feasibility=0, data_readiness=0,
                                               risk=0, time_to_value=0), "all weights are zero"),
    ("no weights", lambda p: set_weights(p), "no weights given"),
    ("select without reason", lambda p: select_use_case(p, "card-fraud-scoring", "   "), "needs a reason"),
    ("select unknown", lambda p: select_use_case(p, "nope", "why not"), "there is no use case 'nope'"),
    ("bad role", lambda p: select_use_case(p, "card-fraud-scoring", "ok", role="ceo"), "role 'ceo'"),
]


@pytest.mark.parametrize(("call", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_writes_and_commits_nothing(make_sample, call, message):
    path = make_sample("fraud_detection")
    before, text = head(path), (path / "workbench.yaml").read_bytes()
    with pytest.raises(WorkbenchError) as err:
        call(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert head(path) == before
    assert (path / "workbench.yaml").read_bytes() == text


def test_dirty_workbench_yaml_is_refused_and_left_alone(make_sample):
    path = make_sample("fraud_detection")
    config = path / "workbench.yaml"
    edited = config.read_text(encoding="utf-8").replace("business_value: 5", "business_value: 2", 1)
    config.write_text(edited, encoding="utf-8")
    before = head(path)
    for change in (lambda: add_use_case(path, "new-one", "X"),
                   lambda: score_use_case(path, "card-fraud-scoring", risk=1),
                   lambda: set_weights(path, risk=1),
                   lambda: select_use_case(path, "card-fraud-scoring", "why")):
        with pytest.raises(DirtyPathError, match=r"^workbench\.yaml has uncommitted edits"):
            change()
    assert config.read_text(encoding="utf-8") == edited
    assert head(path) == before


def test_hand_edited_bad_score_is_reported(make_sample):
    path = make_sample("fraud_detection")
    config = path / "workbench.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("risk: 3", "risk: 7", 1), encoding="utf-8")
    with pytest.raises(WorkbenchError, match="use case card-fraud-scoring: score risk=7 is out of range"):
        rank_project(path)


# --- chart --------------------------------------------------------------------------------


def test_bar_chart_text_best_on_top():
    ranked = rank(config_with([cand("low", bv=1), cand("high", bv=5), cand("mid")]))
    text = bar_chart(ranked, width=60, height=12)
    assert "\x1b[" not in text
    lines = text.splitlines()
    pos = {name: next(i for i, ln in enumerate(lines) if name in ln) for name in ("high", "mid", "low")}
    assert pos["high"] < pos["mid"] < pos["low"]
    assert max(len(ln) for ln in lines) <= 60
    assert "1. high" in text and "█" in text
    assert bar_chart([], 40, 10) == "No use cases to chart yet."


# --- CLI ----------------------------------------------------------------------------------


def test_cli_rank_json_shape_and_chart(make_sample):
    path = make_sample("fraud_detection")
    result = run_cli("usecase", "rank", "--json", "-C", str(path), cwd=path.parent)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["schema", "commit", "summary", "weights", "normalised_weights", "selected",
                          "data_check", "ranking"]
    assert data["schema"] == 1 and data["commit"] is None and data["selected"] is None
    row = data["ranking"][0]
    assert list(row) == ["rank", "id", "name", "description", "weighted_score", "scores", "contributions",
                         "data_readiness_source", "manual_data_readiness", "selected"]
    assert (row["rank"], row["id"], row["weighted_score"]) == (1, "review-queue-ranking", 4.05)
    assert row["data_readiness_source"] == "manual"
    chart = run_cli("usecase", "rank", "--chart", "--width", "60", cwd=path)  # no terminal here
    assert chart.returncode == 0, chart.stderr
    assert "1. review-queue-ranking┤" in chart.stdout and "\x1b[" not in chart.stdout


def test_cli_changes(make_sample):
    path = make_sample("fraud_detection")
    steps = [
        ["add", "merchant-risk", "--name", "Merchant risk", "--description", "Score merchants.",
         "--score", "business_value=5", "--score", "risk=1"],
        ["score", "merchant-risk", "feasibility=5", "time_to_value=5"],
        ["weights", "business_value=0.5", "--role", "data_scientist"],
        ["select", "merchant-risk", "--reason", "Highest weighted score"],
    ]
    for args in steps:
        result = run_cli("usecase", *args, "--json", cwd=path)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["commit"] == head(path)
    assert data["selected"]["id"] == "merchant-risk" and data["selected"]["by"] == IDENTITY[0]
    assert data["ranking"][0]["id"] == "merchant-risk" and data["ranking"][0]["selected"]
    log = git(path, "log", "-4", "--format=%s|%(trailers:key=Workbench-Role,valueonly)").split("\n")
    assert [ln for ln in log if ln] == [
        "Use-case prioritization: select merchant-risk|business_owner",
        "Use-case prioritization: set weights: business_value 0.3->0.5|data_scientist",
        "Use-case prioritization: score merchant-risk: feasibility 3->5, time_to_value 3->5|business_owner",
        "Use-case prioritization: add use case merchant-risk|business_owner",
    ]
    shown = run_cli("usecase", "weights", cwd=path)
    assert shown.returncode == 0 and "business_value  0.5" in shown.stdout
    text = run_cli("usecase", "rank", cwd=path).stdout
    assert "merchant-risk" in text and "<- selected" in text and "Highest weighted score" in text


@pytest.mark.parametrize(("args", "message"), [
    (["score", "nope", "risk=2"], "there is no use case 'nope': use one of account-takeover-detection"),
    (["add", "card-fraud-scoring", "--name", "X"], "already exists"),
    (["add", "Bad_Slug", "--name", "X"], "is not a slug"),
    (["add", "new-one"], "has no name"),
    (["add", "new-one", "--name", "X", "--score", "risk=9"], "out of range"),
    (["score", "card-fraud-scoring", "risk=2.5"], "not a whole number"),
    (["score", "card-fraud-scoring", "risk"], "does not parse"),
    (["score", "card-fraud-scoring", "risk=2", "risk=3"], "given twice"),
    (["score", "card-fraud-scoring", "cost=2"], "unknown criterion 'cost'"),
    (["weights", "risk=-1"], "is negative"),
    (["weights", "business_value=0", "feasibility=0", "data_readiness=0", "risk=0", "time_to_value=0"],
     "all weights are zero"),
    (["select", "card-fraud-scoring"], "needs a reason"),
])
def test_cli_bad_input(make_sample, args, message):
    path = make_sample("fraud_detection")
    before = head(path)
    result = run_cli("usecase", *args, cwd=path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlops-workbench: error: ") and message in lines[0]
    assert result.stdout == ""
    assert head(path) == before
    assert git(path, "status", "--porcelain").strip() == ""


def test_cli_dirty_workbench_yaml(make_sample):
    path = make_sample("fraud_detection")
    config = path / "workbench.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "# note\n", encoding="utf-8")
    result = run_cli("usecase", "select", "card-fraud-scoring", "--reason", "why", cwd=path)
    assert result.returncode == 2
    assert result.stderr.startswith("mlops-workbench: error: workbench.yaml has uncommitted edits")
    assert config.read_text(encoding="utf-8").endswith("# note\n")
