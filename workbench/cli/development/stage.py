"""``mlops-workbench stage prepare|train|evaluate``: one pipeline stage, what dvc.yaml runs.

The work is in :mod:`workbench.development.stages`; it reads params.yaml.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli.options import add_project_option

NAME = "stage"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("stage", help="run one pipeline stage (the cmd in dvc.yaml)")
    p.add_argument("stage", choices=["prepare", "train", "evaluate"])
    add_project_option(p)


def run(args: argparse.Namespace) -> int:
    from workbench.development.stages import run_stage
    from workbench.versioning.locks import hold_project_lock

    root = Path(args.project).expanduser().absolute() if args.project else Path.cwd()
    with hold_project_lock(root, f"stage {args.stage}", dvc_locks=False):  # DVC's own run is let through
        info = run_stage(args.stage, root)
    print(f"{args.stage}: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    return 0
