"""Requirements: ``mlops-workbench charter show|set``.

The command only parses and prints; the work is in :mod:`workbench.design.requirements`.
Every action takes ``-C/--project PATH`` (default: the current folder). Bad input prints
one line on stderr and exits 2; nothing is written and nothing is committed. A save that
changes nothing exits 0 with no commit.

Usage::

    mlops-workbench charter show [--json]
    mlops-workbench charter set [--problem TEXT] [--owner NAME] [--metric "recall >= 0.8 at precision >= 0.5"]
        [--task classification|regression] [--latency-ms N] [--interpretability TEXT] [--privacy TEXT]
        [--add-member "Name,email,role"]... [--remove-member NAME]... [--role ROLE] [--json]

JSON shape (schema 1; keys are stable, new keys may be added)::

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
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import notes, print_json
from workbench.errors import WorkbenchError

NAME = "charter"


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


def run(args: argparse.Namespace) -> int:
    from workbench.project import Project

    path = project_path(args)
    if args.charter_command in (None, "show"):
        charter = Project(path).read_charter()
        if getattr(args, "json", False):
            print_json({"schema": 1, **_charter_payload(charter)})
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
        print_json({"schema": 1, "commit": saved.commit,
                    "changed_fields": list(saved.changed_fields), "summary": saved.summary,
                    **_charter_payload(saved.charter)})
        return 0
    notes(saved.messages)
    if saved.commit is None:
        print("Nothing changed; no commit.")
    else:
        print(f"Requirements: {saved.summary} (commit {saved.commit[:7]})")
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("charter", help="show or edit the charter (requirements step)")
    add_project_option(p)
    inner = p.add_subparsers(dest="charter_command", metavar="ACTION")

    s = inner.add_parser("show", help="print the charter and its success gate")
    add_project_option(s)
    s.add_argument("--json", action="store_true", help="print as JSON")

    s = inner.add_parser("set", help="change charter fields; one commit")
    add_project_option(s)
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
