"""``mlops-workbench status``: the lifecycle position, each step's state, the next step."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import print_json

NAME = "status"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("status", help="lifecycle position, each step's state, the next step")
    add_project_option(p)
    p.add_argument("--json", action="store_true", help="print as JSON")


def run(args: argparse.Namespace) -> int:
    from workbench.status import STATE_LABELS, project_status

    status = project_status(project_path(args))
    if args.json:
        print_json(status.to_json())
        return 0
    marks = {"done": "[x]", "attention": "[!]", "todo": "[ ]"}
    print(f"{status.name}  ({status.task}; success metric: {status.success_metric or 'not set'})")
    print(f"Phase: {status.phase}")
    phase = None
    for step in status.steps:
        if step.phase != phase:
            phase = step.phase
            print(f"\n{phase}")
        label = STATE_LABELS[step.state]
        print(f"  {marks[step.state]} {step.title:<26} {label:<16} {step.detail}")
    print(f"\nNext: {status.next_action}")
    if status.next_step is not None:
        print(f"      {status.next_step.command}")
    if status.blockers:
        print("\nBlockers:")
        for line in status.blockers:
            print(f"  ! {line}")
    if status.maturity is not None:
        m = status.maturity
        print(f"\nMLOps maturity: level {m.level} ({m.name})")
        if m.missing:
            print(f"  for level {m.level + 1}: add {', '.join(m.missing)}")
    remote = (status.team or {}).get("remote") or {}
    if remote.get("fetched"):
        since = remote.get("teammates_since_sync") or []
        print(f"\nTeam: {remote['ahead']} commit(s) ahead of origin, {remote['behind']} behind (last fetch)"
              + (f"; new from {', '.join(since)}: run 'mlops-workbench sync'" if since else ""))
    return 0
