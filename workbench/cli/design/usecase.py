"""Use-case prioritization: ``mlops-workbench usecase add|score|weights|rank|select``.

The command only parses and prints; the work is in :mod:`workbench.design.use_cases`.
Every action takes ``-C/--project PATH`` (default: the current folder). Bad input prints
one line on stderr and exits 2; nothing is written and nothing is committed. A save that
changes nothing exits 0 with no commit.

Usage::

    mlops-workbench usecase add ID --name NAME [--description TEXT] [--score business_value=4]... [--json]
    mlops-workbench usecase score ID business_value=4 risk=2 ... [--json]
    mlops-workbench usecase weights [business_value=0.4 ...] [--json]   (no pairs: show the weights)
    mlops-workbench usecase rank [--json] [--chart] [--width N] [--height N]
    mlops-workbench usecase select ID --reason TEXT [--json]

Criteria: business_value, feasibility, data_readiness, risk (lower is better; ranked as
6 - risk), time_to_value. Scores are whole numbers 1-5. Weights are relative: any
numbers >= 0, not all zero; they are stored as given and divided by their sum to rank.

JSON shape (schema 1; keys are stable, new keys may be added)::

    usecase rank --json / usecase add|score|weights|select --json
    {"schema": 1,
     "commit": "<sha>" | null,                 # null for rank and when nothing changed
     "summary": str,                           # the commit subject's summary ("" for rank)
     "weights": {"business_value": float, "feasibility": float, "data_readiness": float,
                 "risk": float, "time_to_value": float},            # as stored (relative)
     "normalised_weights": {<same keys>: float},                    # sum to 1, used for ranking
     "selected": {"id": str, "by": str, "email": str, "role": str, "reason": str,
                  "at": "ISO 8601 time"} | null,
     "data_check": {"verdict": "GO" | "NO-GO", "use_case": str | null, "readiness_score": 1-5} | null,
     "ranking": [{"rank": 1, "id": str, "name": str, "description": str,
                  "weighted_score": float,                          # 1-5, rounded to 4 decimals
                  "scores": {<criterion>: 1-5},                     # the scores used
                  "contributions": {<criterion>: float},            # weight x score (risk: 6 - score)
                  "data_readiness_source": "manual" | "data check",
                  "manual_data_readiness": 1-5, "selected": bool}]}
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import notes, print_json
from workbench.errors import WorkbenchError

NAME = "usecase"

_CRITERIA_HELP = "business_value, feasibility, data_readiness, risk (lower is better), time_to_value"



def _print_ranking(result: Any, *, chart: bool = False, width: int = 70,
                   height: int | None = None) -> None:
    from workbench.design.use_cases import CRITERIA, bar_chart

    if not result.ranking:
        print("No candidate use cases yet: add one with "
              "'mlops-workbench usecase add ID --name NAME --description TEXT'")
        return
    short = {"business_value": "value", "feasibility": "feas", "data_readiness": "data",
             "risk": "risk", "time_to_value": "ttv"}
    id_w = max(len(r.id) for r in result.ranking)
    head = "  ".join(f"{short[c]:>5}" for c in CRITERIA)
    print(f"{'#':>2}  {'id':<{id_w}}  {'score':>5}  {head}  name")
    for r in result.ranking:
        from_check = r.data_readiness_source != "manual"
        cells = "  ".join(
            f"{str(r.scores[c]) + ('*' if c == 'data_readiness' and from_check else ''):>5}"
            for c in CRITERIA)
        mark = "  <- selected" if r.selected else ""
        print(f"{r.rank:>2}  {r.id:<{id_w}}  {r.weighted_score:>5.2f}  {cells}  {r.name}{mark}")
    weights = ", ".join(f"{c} {result.weights[c]:.2f}" for c in CRITERIA)
    print(f"\nWeights (normalised): {weights}; risk counts as 6 - risk.")
    if any(r.data_readiness_source != "manual" for r in result.ranking):
        dc = result.data_check
        print(f"* data readiness from the last data check ({dc.verdict}, "
              f"readiness {dc.readiness_score}).")
    if result.selection:
        s = result.selection
        by = f" by {s.by} ({s.role})" if s.by else ""
        print(f"Selected: {s.id}{by}{' on ' + s.at if s.at else ''}: {s.reason}")
    if chart:
        print()
        print(bar_chart(result.ranking, width=width, height=height))


def run(args: argparse.Namespace) -> int:
    from workbench.design import use_cases as uc

    path = project_path(args)
    action = args.usecase_command or "rank"
    role = getattr(args, "role", None)
    if action == "rank":
        result = uc.rank_project(path)
    elif action == "add":
        scores = uc.parse_pairs(args.score or [], "score")
        result = uc.add_use_case(path, args.id, args.name or "",
                                 description=args.description or "", scores=scores, role=role)
    elif action == "score":
        result = uc.score_use_case(path, args.id, role=role, **uc.parse_pairs(args.pairs, "score"))
    elif action == "weights":
        pairs = uc.parse_pairs(args.pairs, "weight")
        result = uc.set_weights(path, role=role, **pairs) if pairs else uc.rank_project(path)
    elif action == "select":
        result = uc.select_use_case(path, args.id, args.reason or "", role=role)
    else:  # pragma: no cover - argparse restricts the choices
        raise WorkbenchError(
            f"unknown usecase action {action!r}: use add, score, weights, rank or select")
    if getattr(args, "json", False):
        print_json(uc.ranking_json(result))
        return 0
    notes(result.messages)
    if action != "rank" and not (action == "weights" and not args.pairs):
        if result.commit is None:
            print("Nothing changed; no commit.")
        else:
            print(f"Use-case prioritization: {result.summary} (commit {result.commit[:7]})\n")
    if action == "weights" and not args.pairs:
        for c in uc.CRITERIA:
            print(f"{c:<15} {result.stored_weights[c]:g}  ({result.weights[c]:.0%})")
        return 0
    _print_ranking(result, chart=getattr(args, "chart", False), width=getattr(args, "width", 70),
                   height=getattr(args, "height", None))
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("usecase", help="candidate use cases: add, score, weights, rank, select")
    add_project_option(p)
    inner = p.add_subparsers(dest="usecase_command", metavar="ACTION")

    def common(s: argparse.ArgumentParser, *, writes: bool = True) -> None:
        add_project_option(s)
        if writes:
            s.add_argument("--role", help="the role you act in for this commit")
        s.add_argument("--json", action="store_true", help="print the result as JSON")

    s = inner.add_parser("add", help="add a candidate use case; one commit")
    s.add_argument("id", help="a slug, like card-fraud-scoring")
    s.add_argument("--name", help="a short name")
    s.add_argument("--description", help="one or two sentences")
    s.add_argument("--score", action="append", metavar="CRITERION=N",
                   help=f"a 1-5 score (repeatable; unscored criteria start at 3): {_CRITERIA_HELP}")
    common(s)

    s = inner.add_parser("score", help="change a use case's scores; one commit")
    s.add_argument("id", help="the use case id")
    s.add_argument("pairs", nargs="*", metavar="CRITERION=N", help=f"1-5 scores: {_CRITERIA_HELP}")
    common(s)

    s = inner.add_parser("weights", help="show or change the criterion weights; one commit")
    s.add_argument("pairs", nargs="*", metavar="CRITERION=W",
                   help="relative weights >= 0, not all zero (divided by their sum to rank)")
    common(s)

    s = inner.add_parser("rank", help="the ranked table (and a bar chart with --chart)")
    s.add_argument("--chart", action="store_true", help="add a bar chart of the weighted scores")
    s.add_argument("--width", type=int, default=70, metavar="N", help="chart width (default 70)")
    s.add_argument("--height", type=int, metavar="N", help="chart height (default: by row count)")
    common(s, writes=False)

    s = inner.add_parser("select", help="select the use case to pursue, with a reason; one commit")
    s.add_argument("id", help="the use case id")
    s.add_argument("--reason", help="why this one (required; recorded with your name and role)")
    common(s)
