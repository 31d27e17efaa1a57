"""Options the command modules share: the project folder (``-C``) and where it points; the defaults."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

#: The common flags' values when not given (held by the top-level parser; see
#: :mod:`workbench.cli.parser`). Here, not there, because the plain launch needs them
#: without building (or importing) the parser.
DEFAULTS: dict[str, Any] = {"project": None, "json": False, "role": None, "quiet": False, "debug": False}

PROJECT_HELP = "the project folder (default: the current folder)"


def add_project_option(parser: argparse.ArgumentParser) -> None:
    """Add ``-C/--project PATH``, shown in the command's help."""
    parser.add_argument("-C", "--project", metavar="PATH", help=PROJECT_HELP)


def project_path(args: argparse.Namespace) -> Path:
    """The project folder ``-C`` names, absolute; the current folder without it."""
    return Path(getattr(args, "project", None) or ".").expanduser().absolute()
