"""Design-phase commands: ``charter`` (requirements) and ``usecase`` (prioritization).

The commands only parse and print; the work is in :mod:`workbench.design.requirements`
and :mod:`workbench.design.use_cases`. Every option takes ``-C/--project PATH`` (default:
the current folder). Bad input prints one line on stderr and exits 2; nothing is
written and nothing is committed. A save that changes nothing exits 0 with no commit.

Usage::

    mlops-workbench charter show [--json]
    mlops-workbench charter set [--problem TEXT] [--owner NAME] [--metric "recall >= 0.8 at precision >= 0.5"]
        [--task classification|regression] [--latency-ms N] [--interpretability TEXT] [--privacy TEXT]
        [--add-member "Name,email,role"]... [--remove-member NAME]... [--role ROLE] [--json]
    mlops-workbench usecase add ID --name NAME [--description TEXT] [--score business_value=4]... [--json]
    mlops-workbench usecase score ID business_value=4 risk=2 ... [--json]
    mlops-workbench usecase weights [business_value=0.4 ...] [--json]   (no pairs: show the weights)
    mlops-workbench usecase rank [--json] [--chart] [--width N] [--height N]
    mlops-workbench usecase select ID --reason TEXT [--json]

Criteria: business_value, feasibility, data_readiness, risk (lower is better; ranked as
6 - risk), time_to_value. Scores are whole numbers 1-5. Weights are relative: any
numbers >= 0, not all zero; they are stored as given and divided by their sum to rank.

JSON shapes (schema 1; keys are stable, new keys may be added)::

    charter show --json / charter set --json
    {"schema": 1,
     "commit": "<sha>" | null,                 # set only; null when nothing changed
     "changed_fields": ["success_metric", "constraints.latency_ms", "team", ...],   # set only
     "summary": "set success metric to recall >= 0.8",                             # set only
     "charter": {"name": str, "problem": str, "business_owner": str, "success_metric": str,
                 "task": "classification" | "regression",
                 "constraints": {"latency_ms": int | null, "interpretability": str, "privacy": str, ...},
                 "team": [{"name": str, "email": str, "role": str}]},
     "success_gate": [{"metric": str, "op": ">=" | "<=" | ">" | "<", "target": float, "primary": bool}],
     "missing": ["problem" | "business owner" | "success metric" | "team", ...]}

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
import sys
from typing import Any

from workbench.cli import EXTENSIONS, _print_json, _project_path, command
from workbench.errors import WorkbenchError

_CRITERIA_HELP = "business_value, feasibility, data_readiness, risk (lower is better), time_to_value"


def _add_project_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a sub-subparser's default must not overwrite -C given before the action.
    parser.add_argument("-C", "--project", metavar="PATH", default=argparse.SUPPRESS,
                        help="the project folder (default: the current folder)")


def _notes(messages: Any) -> None:
    for message in messages:
        print(f"note: {message}", file=sys.stderr)


# --- charter ---------------------------------------------------------------------------


def _charter_payload(charter: Any) -> dict[str, Any]:
    from workbench.design.requirements import charter_json, success_gate

    try:
        gate = [g.to_json() for g in success_gate(charter)]
    except WorkbenchError:
        gate = []
    return {"charter": charter_json(charter), "success_gate": gate, "missing": charter.missing()}


def _print_charter(charter: Any) -> None:
    from workbench.design.requirements import success_gate
    from workbench.project import ROLES

    c = charter.constraints
    print(f"{charter.name}  ({charter.task})")
    print(f"Problem:          {charter.problem or '(not set)'}")
    print(f"Business owner:   {charter.business_owner or '(not set)'}")
    print(f"Success metric:   {charter.success_metric or '(not set)'}")
    try:
        gate = success_gate(charter)
    except WorkbenchError as exc:
        print(f"  (does not parse: {exc})")
        gate = []
    for clause in gate:
        print(f"  gate: {clause}{'  (primary)' if clause.primary else ''}")
    print("Constraints:")
    latency = c.get("latency_ms")
    print(f"  latency:          {f'{latency} ms' if latency else '(none)'}")
    print(f"  interpretability: {c.get('interpretability') or '(none)'}")
    print(f"  privacy:          {c.get('privacy') or '(none)'}")
    for key, value in c.items():
        if key not in ("latency_ms", "interpretability", "privacy"):
            print(f"  {key}: {value}")
    print("Team:" if charter.team else "Team:             (nobody yet)")
    for m in charter.team:
        email = f" <{m.email}>" if m.email else ""
        print(f"  {m.name}{email} - {ROLES.get(m.role, m.role)}")
    missing = charter.missing()
    if missing:
        print(f"Missing: {', '.join(missing)}")


@command("charter")
def cmd_charter(args: argparse.Namespace) -> int:
    from workbench.project import Project

    path = _project_path(args)
    if args.charter_command in (None, "show"):
        charter = Project(path).read_charter()
        if getattr(args, "json", False):
            _print_json({"schema": 1, **_charter_payload(charter)})
        else:
            _print_charter(charter)
        return 0

    from workbench.design.requirements import update_charter

    constraints: dict[str, Any] = {}
    if args.latency_ms is not None:
        constraints["latency_ms"] = args.latency_ms
    if args.interpretability is not None:
        constraints["interpretability"] = args.interpretability
    if args.privacy is not None:
        constraints["privacy"] = args.privacy
    given = [args.problem, args.owner, args.metric, args.task, *constraints.values()]
    if all(v is None for v in given) and not args.add_member and not args.remove_member:
        raise WorkbenchError(
            "nothing to change: pass at least one of --problem, --owner, --metric, --task, "
            "--latency-ms, --interpretability, --privacy, --add-member, --remove-member"
        )
    saved = update_charter(
        path, problem=args.problem, business_owner=args.owner, success_metric=args.metric,
        task=args.task, constraints=constraints or None, add_members=args.add_member or [],
        remove_members=args.remove_member or [], role=args.role,
    )
    if args.json:
        _print_json({"schema": 1, "commit": saved.commit,
                     "changed_fields": list(saved.changed_fields), "summary": saved.summary,
                     **_charter_payload(saved.charter)})
        return 0
    _notes(saved.messages)
    if saved.commit is None:
        print("Nothing changed; no commit.")
    else:
        print(f"Requirements: {saved.summary} (commit {saved.commit[:7]})")
    return 0


def _add_charter_parser(sub: Any) -> None:
    p = sub.add_parser("charter", help="show or edit the charter (requirements step)")
    _add_project_option(p)
    inner = p.add_subparsers(dest="charter_command", metavar="ACTION")

    s = inner.add_parser("show", help="print the charter and its success gate")
    _add_project_option(s)
    s.add_argument("--json", action="store_true", help="print as JSON")

    s = inner.add_parser("set", help="change charter fields; one commit")
    _add_project_option(s)
    s.add_argument("--problem", help="the problem statement")
    s.add_argument("--owner", help="the business owner")
    s.add_argument("--metric", help="success metric, e.g. 'recall >= 0.80 at precision >= 0.50'")
    s.add_argument("--task", help="classification or regression")
    s.add_argument("--latency-ms", metavar="N", help="latency limit in milliseconds ('' clears it)")
    s.add_argument("--interpretability", help="interpretability constraint ('' clears it)")
    s.add_argument("--privacy", help="data privacy constraint ('' clears it)")
    s.add_argument("--add-member", action="append", metavar="NAME,EMAIL,ROLE",
                   help="add a team member, or update the one with that name (repeatable); role: "
                   "business_owner, data_scientist, ml_engineer, researcher")
    s.add_argument("--remove-member", action="append", metavar="NAME",
                   help="remove a team member (repeatable)")
    s.add_argument("--role", help="the role you act in for this commit")
    s.add_argument("--json", action="store_true", help="print the result as JSON")


# --- usecase ---------------------------------------------------------------------------


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


@command("usecase")
def cmd_usecase(args: argparse.Namespace) -> int:
    from workbench.design import use_cases as uc

    path = _project_path(args)
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
        _print_json(uc.ranking_json(result))
        return 0
    _notes(result.messages)
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


def _add_usecase_parser(sub: Any) -> None:
    p = sub.add_parser("usecase", help="candidate use cases: add, score, weights, rank, select")
    _add_project_option(p)
    inner = p.add_subparsers(dest="usecase_command", metavar="ACTION")

    def common(s: argparse.ArgumentParser, *, writes: bool = True) -> None:
        _add_project_option(s)
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


def _extend(sub: Any) -> None:
    _add_charter_parser(sub)
    _add_usecase_parser(sub)


EXTENSIONS.append(_extend)
