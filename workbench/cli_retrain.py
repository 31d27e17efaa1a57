"""Retraining command: ``mlops-workbench retrain``.

The command only parses and prints; the work (and the documentation of what it does, its
exit codes and its JSON) is in :mod:`workbench.operations.retrain`.

Usage::

    mlops-workbench retrain [--data PATH] [--name EXP] [--json] [-q] [--role ROLE] [-C PATH]

Exit codes: 0 the candidate passes the gates (the promotion commands are printed, never
run), 1 a gate fails, 2 unusable input (one line on stderr, nothing written or committed),
130 cancelled (Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli import EXTENSIONS, _print_json, _progress, _project_path, cancel_on_interrupt, command


def print_result(result: Any) -> None:
    """The text form of a :class:`~workbench.operations.retrain.RetrainResult` (also used by ``monitor``)."""
    d = result.data
    print(f"New data version: {d.source} v{d.version} (+{d.rows_added:,} rows from {d.display}, "
          f"{d.rows_before:,} -> {d.rows_before + d.rows_added:,}; md5 {d.md5[:12]}; commit {(d.commit or '')[:7]})")
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
    for message in result.messages:
        print(f"note: {message}", file=sys.stderr)


@command("retrain")
def cmd_retrain(args: argparse.Namespace) -> int:
    from workbench.operations.retrain import retrain

    progress = None if args.quiet else _progress(args)
    with cancel_on_interrupt() as cancel:
        result = retrain(_project_path(args), args.data, name=args.name, role=args.role,
                         progress=progress, cancel=cancel)
    if args.json:
        _print_json(result.to_json())
    else:
        print_result(result)
    return result.exit_code


def _extend(sub: Any) -> None:
    p = sub.add_parser("retrain", help="new labelled data -> a new DVC data version, an experiment, validation "
                       "against production, promotion proposed (never run); exit 0 passes, 1 a gate fails")
    p.add_argument("-C", "--project", metavar="PATH", help="the project folder (default: the current folder)")
    p.add_argument("--data", metavar="PATH",
                   help="labelled new data (CSV/TSV/Parquet with the training source's columns; default: the "
                   "latest monitoring report's batch, when it has labels)")
    p.add_argument("--name", metavar="EXP", help="the experiment's name (default: retrain-vK, K the data version)")
    p.add_argument("--role", help="the role you act in for the commits")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


EXTENSIONS.append(_extend)
