"""``mlops-workbench open [PATH] [--web]``: the terminal app (or the browser face) on a folder.

The default command: ``mlops-workbench PATH`` is ``mlops-workbench open PATH``. The UI is
not imported here: screens/launch.py fills in :data:`OPENERS` before it runs the CLI, so
``python -m workbench`` (the headless commands alone) says where the UI is instead.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

NAME = "open"

#: How a project opens in the terminal ("tui") and in a browser ("web"): filled in by the UI
#: layer's entry point (screens/launch.py), so this module never imports the UI.
OPENERS: dict[str, Callable[..., int]] = {}


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("open", help="open the workbench (TUI) on PATH (the default command)")
    p.add_argument("path", nargs="?", default=".", help="project or empty folder (default: .)")
    p.add_argument("--web", action="store_true", help="serve the workbench to a browser instead (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="with --web: the address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="with --web: the port (default: 8000)")


def _checked_folder(path: Path) -> Path:
    path = path.expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise WorkbenchError(f"{path} is a file: open a project folder or an empty folder")
    if not path.exists():
        raise WorkbenchError(f"{path} does not exist: create it, or run 'mlops-workbench new {path}'")
    return path


def run(args: argparse.Namespace) -> int:
    path = _checked_folder(Path(args.path))
    if args.web and not 0 < args.port < 65536:
        raise WorkbenchError(f"--port {args.port} is not a port number: use 1-65535, e.g. --port 8000")
    opener = OPENERS.get("web" if args.web else "tui")
    if opener is None:
        raise WorkbenchError("'python -m workbench' runs the headless commands only: open the workbench "
                             "with 'mlops-workbench' (or 'python -m screens')")
    return opener(path, host=args.host, port=args.port, debug=args.debug)
