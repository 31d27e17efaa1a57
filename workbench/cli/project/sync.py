"""Team: ``mlops-workbench sync`` (share commits, experiments, registry tags, notes and DVC data).

The work is in :mod:`workbench.versioning.sync` (which documents what sync shares, what it
refuses and its exit codes: 0 in sync, 1 conflicts to resolve, 2 bad input, 75 busy).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.interrupt import cancel_on_interrupt
from workbench.cli.options import project_path
from workbench.cli.output import print_json, progress_printer

NAME = "sync"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("sync", help="share commits, experiments, registry tags, notes and DVC data with the team "
                       "and bring in theirs; exit 0 in sync, 1 conflicts, 2 bad input, 75 busy")
    p.add_argument("-C", "--project", metavar="PATH", help="the project folder (default: the current folder)")
    p.add_argument("--dry-run", action="store_true", help="fetch and show the three-way status only")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def _status_lines(r: Any) -> list[str]:
    st = r.to_json()["status"]
    c = st["commits"]
    lines = [f"{r.branch} vs origin ({r.remote}): {c['ahead']} commit(s) ahead, {c['behind']} behind"]

    def some(label: str, items: list[str]) -> None:
        if items:
            shown = ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")
            lines.append(f"  {label}: {shown}")

    some("experiments only here", st["experiments"]["only_here"])
    some("experiments only there", st["experiments"]["only_there"])
    some("registry tags only here", st["registry_tags"]["only_here"])
    some("registry tags only there", st["registry_tags"]["only_there"])
    if st["notes"] != "in sync":
        lines.append(f"  notes (refs/notes/workbench): {st['notes']}")
    if st["dvc"]["checked"]:
        some("DVC objects missing on the remote", st["dvc"]["missing_on_remote"])
        some("DVC objects missing here", st["dvc"]["missing_locally"])
    return lines


def run(args: argparse.Namespace) -> int:
    from workbench.versioning.sync import sync

    with cancel_on_interrupt() as cancel:
        result = sync(project_path(args), dry_run=args.dry_run, progress=progress_printer(args), cancel=cancel)
    if args.json:
        print_json(result.to_json())
        return result.exit_code
    for line in _status_lines(result):
        print(line)
    if result.dry_run:
        print("dry run: nothing was pulled or pushed")
    if result.pulled:
        print(f"pulled ({result.pulled}): {len(result.pulled_files)} file(s) changed")
    if result.pipeline:
        print(f"pipeline: {result.pipeline}")
    for item in result.pushed:
        print(f"pushed {item}")
    for race in result.races:
        print(f"refused: {race.line()}", file=sys.stderr)
    for message in result.messages:
        print(f"note: {message}", file=sys.stderr)
    if result.in_sync and not result.dry_run:
        print("in sync with origin")
    return result.exit_code
