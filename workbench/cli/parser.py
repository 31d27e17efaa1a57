"""The parser of ``mlops-workbench``: the command modules, listed, and the flags they share.

Commands are listed, not discovered (as DVC's ``dvc/cli/parser.py`` does): :data:`COMMANDS`
is every command module, in the order ``--help`` shows them. Each module has ``NAME``,
``add_parser(subparsers)`` and ``run(args) -> exit code``, and imports nothing heavy at
module level (the core is imported inside ``run``), so building the parser stays light.
Whatever needs the command names (the plain launch in :mod:`workbench.cli.main`, the
did-you-mean hint) derives them from the list: :data:`COMMAND_NAMES`.

The common flags, ``-C/--project``, ``--json``, ``--role``, ``-q/--quiet`` and ``--debug``
(:data:`COMMON`), are accepted after the command and after each of its actions, so
``data -C /x check`` parses as ``usecase -C /x rank`` always did, whatever the command.
Where a command documents one of them (most do, with their own help text: "the role you
review in (default: your team role)") its help shows it as before; elsewhere the flag is
accepted but hidden, so every command's ``--help`` reads as it did.

Why a pass over the finished tree (:func:`accept_common`) rather than argparse's
``parents``: a parent's copy of an option string the command declares itself is a
conflict, and ``conflict_handler="resolve"`` edits the parent's action objects, which every
parser built from that parent shares. Below the top level every copy of a common flag
defaults to ``argparse.SUPPRESS``: argparse copies a sub-parser's whole namespace over its
parent's, so a default there would overwrite the value given one level up
(``model -C /x list``). The defaults live on the top-level parser
(:data:`~workbench.cli.options.DEFAULTS`).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from workbench import __version__
from workbench.cli.design import charter, data, usecase
from workbench.cli.development import exp, pipeline, review, stage, train, validate
from workbench.cli.operations import check, ci, model, monitor, predict, retrain, serve
from workbench.cli.options import DEFAULTS
from workbench.cli.project import clone, history, new, remote, samples, status, sync
from workbench.cli.project import open as open_

#: Every command module, in the order of ``mlops-workbench --help``.
COMMANDS: tuple[ModuleType, ...] = (
    open_, new, samples, status, history,
    charter, usecase, data,
    pipeline, stage, train, exp, validate, review,
    model, serve, predict, monitor, retrain, ci, check,
    remote, sync, clone,
)

#: Each command name and its module.
BY_NAME: dict[str, ModuleType] = {module.NAME: module for module in COMMANDS}

#: Every command name: a launch on a path that is none of them opens the TUI without
#: building the parser (:func:`workbench.cli.main._plain_launch`).
COMMAND_NAMES = frozenset(BY_NAME)

#: The flags every command and action accepts: (option strings, dest, add_argument keywords).
COMMON: tuple[tuple[tuple[str, ...], str, dict[str, Any]], ...] = (
    (("-C", "--project"), "project", {"metavar": "PATH"}),
    (("--json",), "json", {"action": "store_true"}),
    (("--role",), "role", {}),
    (("-q", "--quiet"), "quiet", {"action": "store_true"}),
    (("--debug",), "debug", {"action": "store_true"}),
)



class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose hidden common flags are never matched by an abbreviation.

    ``monitor --d`` meant ``--dry-run`` before ``monitor`` accepted a hidden ``--debug``,
    and ``new --pro`` meant ``--problem``: an abbreviation that was valid stays valid. The
    hidden flags themselves work when spelled out (or as ``-C/x``).
    """

    def _get_option_tuples(self, option_string: str) -> list[Any]:
        return [t for t in super()._get_option_tuples(option_string)
                if not (getattr(t[0], "hidden_common", False) and t[1].startswith("--"))]


def _action_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parsers of ``parser``'s subcommands (its actions), each once."""
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield sub


def accept_common(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` and every parser below it accept the :data:`COMMON` flags (see the module doc)."""
    for action in parser._actions:
        if action.dest in DEFAULTS and action.option_strings:
            action.default = argparse.SUPPRESS
    for strings, dest, kwargs in COMMON:
        missing = [s for s in strings if s not in parser._option_string_actions]
        if missing:
            hidden = parser.add_argument(*missing, dest=dest, default=argparse.SUPPRESS,
                                         help=argparse.SUPPRESS, **kwargs)
            hidden.hidden_common = True  # type: ignore[attr-defined]
    for sub in _action_parsers(parser):
        accept_common(sub)


def build_parser() -> argparse.ArgumentParser:
    """The full parser: every command of :data:`COMMANDS`, each accepting the common flags."""
    parser = Parser(
        prog="mlops-workbench",
        description="A terminal workbench from idea to monitored model; every step is a git commit, "
        "data and models live in DVC. With no command it opens the workbench on PATH.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-workbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.set_defaults(**DEFAULTS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    for command_parser in _action_parsers(parser):
        accept_common(command_parser)
    return parser
