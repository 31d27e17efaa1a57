"""The parser of ``mlops-workbench``: the command modules, listed, and the flags they share.

Commands are listed, not discovered (as DVC's ``dvc/cli/parser.py`` does): :data:`MODULES`
names every command module, in the order ``--help`` shows them. Each module has ``NAME``,
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
import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from workbench import __version__
from workbench.cli.options import DEFAULTS

#: Every command, in the order of ``mlops-workbench --help``: its name and its module. Named,
#: not imported: a run of one command imports that command's module only (importing all of
#: them is some 30-70 ms of every command's start); ``tests/test_cli.py`` checks each name
#: against its module's ``NAME``.
MODULES: tuple[tuple[str, str], ...] = (
    ("open", "workbench.cli.project.open"), ("new", "workbench.cli.project.new"),
    ("samples", "workbench.cli.project.samples"), ("status", "workbench.cli.project.status"),
    ("history", "workbench.cli.project.history"),
    ("charter", "workbench.cli.design.charter"), ("usecase", "workbench.cli.design.usecase"),
    ("data", "workbench.cli.design.data"),
    ("pipeline", "workbench.cli.development.pipeline"), ("stage", "workbench.cli.development.stage"),
    ("train", "workbench.cli.development.train"), ("exp", "workbench.cli.development.exp"),
    ("validate", "workbench.cli.development.validate"), ("review", "workbench.cli.development.review"),
    ("model", "workbench.cli.operations.model"), ("serve", "workbench.cli.operations.serve"),
    ("predict", "workbench.cli.operations.predict"), ("monitor", "workbench.cli.operations.monitor"),
    ("retrain", "workbench.cli.operations.retrain"), ("ci", "workbench.cli.operations.ci"),
    ("check", "workbench.cli.operations.check"),
    ("remote", "workbench.cli.project.remote"), ("sync", "workbench.cli.project.sync"),
    ("clone", "workbench.cli.project.clone"),
)

#: Every command name: a launch on a path that is none of them opens the TUI without
#: building the parser (:func:`workbench.cli.main._plain_launch`).
COMMAND_NAMES = frozenset(name for name, _ in MODULES)


def command_module(name: str) -> ModuleType:
    """The module of the command ``name`` (imported on first use)."""
    return importlib.import_module(dict(MODULES)[name])


def __getattr__(name: str) -> Any:
    """``COMMANDS`` (every command module, in ``--help`` order) and ``BY_NAME`` (name -> module).

    Computed on first use, since computing them imports every command module.
    """
    if name == "COMMANDS":
        return tuple(command_module(n) for n, _ in MODULES)
    if name == "BY_NAME":
        return {module.NAME: module for module in (command_module(n) for n, _ in MODULES)}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser: every command of :data:`MODULES`, each accepting the common flags.

    With ``only`` (a command name), the parser of that command alone, for a command line that
    starts with it: it parses that line and prints that command's help and errors exactly as
    the full parser does, and imports one command module instead of all of them.
    """
    parser = Parser(
        prog="mlops-workbench",
        description="A terminal workbench from idea to monitored model; every step is a git commit, "
        "data and models live in DVC. With no command it opens the workbench on PATH.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-workbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.set_defaults(**DEFAULTS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, _ in MODULES:
        if only is None or name == only:
            command_module(name).add_parser(sub)
    for command_parser in _action_parsers(parser):
        accept_common(command_parser)
    return parser
