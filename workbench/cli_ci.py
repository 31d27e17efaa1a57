"""CI/CD commands: ``ci init`` (write the workflow) and ``check`` (the headless verdict).

Usage::

    mlops-workbench ci init [--install "pip install -r requirements.txt"] [--force] [--json]
    mlops-workbench ci steps [--json]        the workflow's run steps, in order
    mlops-workbench check [--json] [-q]      exit 0 ok, 1 a gate fails, 3 action recommended

JSON (schema 1)::

    ci init --json  {"schema": 1, "commit": str|null, "path": str,
                     "steps": [{"id", "name", "run"}], "messages": [str]}
    check --json    {"schema": 1, "severity": "ok"|"action"|"fail", "exit_code": 0|1|3,
                     "checks": [{"name": "pipeline"|"data"|"validation"|"monitoring",
                                 "severity": "ok"|"skip"|"action"|"fail", "detail": str}]}
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from workbench.cli import EXTENSIONS, _add_project_option, _print_json, _progress, _project_path, command

MARKS = {"ok": "ok  ", "skip": "--  ", "action": "ACT ", "fail": "FAIL"}


@command("ci")
def cmd_ci(args: argparse.Namespace) -> int:
    from workbench.operations.cicd import init_ci, workflow_steps

    if args.ci_command == "steps":
        steps = workflow_steps()
        if args.json:
            _print_json({"schema": 1, "steps": [asdict(s) for s in steps]})
        else:
            for s in steps:
                print(f"{s.id:<9} {s.run}")
        return 0
    if args.ci_command != "init":
        print("mlops-workbench ci: say what to do: ci init | ci steps", file=sys.stderr)
        return 2
    done = init_ci(_project_path(args), install=args.install, force=args.force, role=args.role)
    if args.json:
        _print_json({"schema": 1, "commit": done.commit, "path": done.path,
                     "steps": [asdict(s) for s in done.steps], "messages": list(done.messages)})
        return 0
    for message in done.messages:
        print(f"note: {message}", file=sys.stderr)
    commit = f" (commit {done.commit[:7]})" if done.commit else " (unchanged, nothing committed)"
    print(f"Wrote {done.path}{commit}")
    for s in done.steps:
        print(f"  {s.id:<9} {s.run}")
    return 0


@command("check")
def cmd_check(args: argparse.Namespace) -> int:
    from workbench.operations.cicd import run_check

    report = run_check(_project_path(args), progress=_progress(args))
    if args.json:
        _print_json(report.to_json())
        return report.exit_code
    for item in report.items:
        print(f"{MARKS[item.severity]} {item.name:<11} {item.detail}")
    word = {"ok": "all clear", "action": "action recommended", "fail": "a gate fails"}[report.severity]
    print(f"Result: {word} (exit {report.exit_code})")
    return report.exit_code


def _add_parsers(sub: Any) -> None:
    p = sub.add_parser("ci", help="CI/CD: write the CI workflow (ci init), list its steps (ci steps)")
    inner = p.add_subparsers(dest="ci_command", metavar="ACTION")
    i = inner.add_parser("init", help="write .github/workflows/mlops-workbench.yml; one commit")
    i.add_argument("--install", metavar="CMD", help="the workflow's install command "
                   "(default: pip install mlops-workbench==VERSION; kept in workbench.yaml ci.install)")
    i.add_argument("--force", action="store_true", help="replace an existing workflow file")
    i.add_argument("--role", help="the role you act in for the commit")
    i.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_project_option(i)
    s = inner.add_parser("steps", help="the workflow's run steps, in order")
    s.add_argument("--json", action="store_true", help="print the steps as JSON")
    c = sub.add_parser("check", help="pipeline up to date, data check, validation, monitoring "
                       "(exit 0 ok, 1 a gate fails, 3 action recommended)")
    c.add_argument("--json", action="store_true", help="print the checks as JSON")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    _add_project_option(c)


EXTENSIONS.append(_add_parsers)
