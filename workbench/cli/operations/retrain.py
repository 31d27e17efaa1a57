"""Retraining command: ``mlops-workbench retrain``.

The command only parses and prints; the work (and the documentation of what it does, its
exit codes and its JSON) is in :mod:`workbench.operations.retrain`.

Usage::

    mlops-workbench retrain [--data PATH] [--name EXP] [--allow-duplicates] [--json] [-q] [--role ROLE] [-C PATH]
    mlops-workbench retrain discard EXP [--json] [-q] [-C PATH]

Exit codes: 0 the candidate passes the gates (the promotion commands are printed, never
run), 1 a gate fails (the candidate is rejected: what was kept and where is printed),
2 unusable input (one line on stderr, nothing written or committed), 130 cancelled (Ctrl-C).
``retrain discard EXP`` removes a candidate's experiment: exit 0, or 2 for an unknown one.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.interrupt import cancel_on_interrupt
from workbench.cli.options import project_path
from workbench.cli.output import print_json, progress_printer

NAME = "retrain"


def print_result(result: Any) -> None:
    """The text form of a :class:`~workbench.operations.retrain.RetrainResult` (also used by ``monitor``)."""
    d = result.data
    dup = f", {d.rows_duplicate:,} already in the source" if d.rows_duplicate else ""
    print(f"New data version: {d.source} v{d.version} (+{d.rows_added:,} rows from {d.display}{dup}, "
          f"{d.rows_before:,} -> {d.rows_before + d.rows_added:,}; md5 {d.md5[:12]}), in experiment "
          f"{result.experiment} only: the branch gets it when the experiment is promoted")
    shown = "  ".join(f"{k}={v:.4f}" for k, v in result.metrics.items())
    print(f"Experiment: {result.experiment}  {shown}")
    for gate in result.gates:
        mark = {True: "PASS", False: "FAIL", None: " -- "}[gate.passed]
        print(f"  {mark}  {gate.name:<16} {gate.why}")
    where = f" (commit {result.validation_commit[:7]})" if result.validation_commit else ""
    if result.passed:
        print(f"Validation: PASSED{where}. Nothing was promoted; to promote {result.experiment}:")
        for line in result.proposal:
            print(f"  {line}")
    else:
        print(f"Validation: FAILED{where}: {', '.join(result.failed_gates)}. Not proposed for promotion.")
        undo = f" (commit {result.rejected_commit[:7]} put the current model's validation report back)" \
            if result.rejected_commit else ""
        print(f"Rejected: HEAD keeps its data, pipeline and model{undo}; the workspace is as it was. Kept:")
        for line in result.kept:
            print(f"  {line}")
    for message in result.messages:
        print(f"note: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from workbench.operations.retrain import discard_candidate, retrain

    progress = None if args.quiet else progress_printer(args)
    if getattr(args, "retrain_command", None) == "discard":
        done = discard_candidate(project_path(args), args.experiment, progress=progress)
        if args.json:
            print_json(done.to_json())
        else:
            print(f"Discarded experiment {done.experiment} ({done.commit[:7]}): removed from refs/exps")
            for message in done.messages:
                print(f"note: {message}", file=sys.stderr)
        return 0
    with cancel_on_interrupt() as cancel:
        result = retrain(project_path(args), args.data, name=args.name, role=args.role,
                         allow_duplicates=args.allow_duplicates, progress=progress, cancel=cancel)
    if args.json:
        print_json(result.to_json())
    else:
        print_result(result)
    return result.exit_code


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("retrain", help="new labelled data -> a new DVC data version, an experiment, validation "
                       "against production, promotion proposed (never run); exit 0 passes, 1 a gate fails")
    p.add_argument("-C", "--project", metavar="PATH", help="the project folder (default: the current folder)")
    p.add_argument("--data", metavar="PATH",
                   help="labelled new data (CSV/TSV/Parquet with the training source's columns; default: the "
                   "latest monitoring report's batch, when it has labels)")
    p.add_argument("--name", metavar="EXP", help="the experiment's name (default: retrain-vK, K the data version)")
    p.add_argument("--allow-duplicates", action="store_true",
                   help="append incoming rows that are already in the training source (left out by default)")
    p.add_argument("--role", help="the role you act in for the commits")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    inner = p.add_subparsers(dest="retrain_command", metavar="ACTION")
    d = inner.add_parser("discard", help="remove a retraining candidate's experiment (dvc exp remove)")
    d.add_argument("experiment", metavar="EXP", help="the candidate's experiment name (e.g. retrain-v2)")
    d.add_argument("-C", "--project", metavar="PATH", default=argparse.SUPPRESS,
                   help="the project folder (default: the current folder)")
    d.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the result as JSON")
    d.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress lines")

