"""Team: ``mlops-workbench clone URL [FOLDER]``, a teammate's project from its shared git remote.

The work is :func:`workbench.versioning.clone.clone_project` (git clone, the experiment refs and
notes, then ``dvc pull``), the same the TUI's "Open an existing project" runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli.output import print_json, progress_printer

NAME = "clone"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("clone", help="clone a teammate's project from its shared git remote, then dvc pull")
    p.add_argument("url", metavar="URL", help="the shared git repository, e.g. file:///srv/git/p.git, ssh://...")
    p.add_argument("folder", metavar="FOLDER", nargs="?",
                   help="a new or empty folder (default: the repository's name in the current folder)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from workbench.versioning.clone import clone_project, default_folder

    folder = Path(args.folder) if args.folder else default_folder(args.url, Path.cwd())
    done = clone_project(args.url, folder, progress=progress_printer(args))
    if args.json:
        print_json({"schema": 1, "path": str(done.path), "messages": list(done.messages)})
        return 0
    for message in done.messages:
        print(message)
    print(f"Open it with: mlops-workbench {done.path}")
    return 0
