"""The ``mlops-workbench`` command: parse, call the core, print text or ``--json``.

With no subcommand it opens the TUI on PATH (default: the current folder). Every
error a user can cause prints one line on stderr and exits non-zero; ``--debug``
adds the traceback. The commands are listed in :mod:`workbench.cli.parser`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench.cli.options import DEFAULTS
from workbench.cli.output import error_line, internal_error_line
from workbench.cli.project import open as open_
from workbench.errors import WorkbenchError


def _is_command(word: str) -> bool:
    """Whether ``word`` is a command's name; a path-like word is not, without a look at the list.

    ``mlops-workbench /path``, ``./p``, ``~/p`` or ``.`` need not import the command modules
    (about 30 of them: some 10 ms of a start-up a person waits on); a bare word may be a
    command, so it is looked up in :data:`~workbench.cli.parser.COMMAND_NAMES`.
    """
    if os.sep in word or (os.altsep and os.altsep in word) or word.startswith((".", "~")):
        return False
    from workbench.cli.parser import COMMAND_NAMES

    return word in COMMAND_NAMES


def _plain_launch(argv: Sequence[str]) -> argparse.Namespace | None:
    """The parsed arguments of ``[--debug] [PATH]`` with PATH an existing path, else None.

    The most common launch, and the one whose start-up a person waits on: it needs no
    parser (building it takes about 20 ms), so it skips it, and with a path-like PATH it
    does not even import the command modules (:func:`_is_command`). Anything else — a
    command, an option, a missing path (which may be a mistyped command) — goes through the
    parser as before.
    """
    debug = 0
    while debug < len(argv) and argv[debug] == "--debug":
        debug += 1
    rest = argv[debug:]
    if len(rest) > 1:
        return None
    if rest and (rest[0].startswith("-") or not Path(rest[0]).expanduser().exists()
                 or _is_command(rest[0])):
        return None
    return argparse.Namespace(**{**DEFAULTS, "debug": bool(debug)}, command="open",
                              path=rest[0] if rest else ".", web=False, host="127.0.0.1", port=8000)


#: Options of the plain launch that take a value (``--web --port 8000 PATH``).
_VALUE_OPTIONS = ("--port", "--host")


def _first_word(argv: Sequence[str]) -> str | None:
    """The first argument that is neither an option nor an option's value: a command or a path."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _VALUE_OPTIONS:
            skip = True
            continue
        if not arg.startswith("-"):
            return arg
    return None


def _parse(argv: list[str]) -> argparse.Namespace | int:
    """The arguments, parsed with every command; or the exit code of a usage error."""
    from workbench.cli.parser import COMMAND_NAMES, build_parser

    first = _first_word(argv)
    debug = len([a for a in argv if a == "--debug"])
    if first is not None and first in COMMAND_NAMES and argv[:argv.index(first)] == ["--debug"] * argv.index(first):
        # The line starts with a command: that command's parser alone parses it as the full
        # one would (its help and errors are the command's own), importing one command module.
        return build_parser(only=first).parse_args(argv)
    parser = build_parser()
    if first is not None and first not in COMMAND_NAMES and not Path(first).expanduser().exists() \
            and "/" not in first and not first.startswith("."):
        # A word that is neither a command nor a folder: a typo or a command this version lacks.
        import difflib

        # 'open' is never suggested: a mistyped word more likely meant a step's command.
        close = difflib.get_close_matches(first, sorted(COMMAND_NAMES - {"open"}), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        print(f"mlops-workbench: error: '{first}' is not a command and no folder of that name exists: "
              f"{hint}see 'mlops-workbench --help' (to create a project there: "
              f"'mlops-workbench new {first}')", file=sys.stderr)
        return 2
    if first is None or first not in COMMAND_NAMES:
        if not any(a in ("-h", "--help", "--version") for a in argv):
            argv.insert(debug, "open")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mlops-workbench``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _plain_launch(argv)
    if args is None:
        parsed = _parse(argv)
        if isinstance(parsed, int):
            return parsed
        args = parsed
    try:
        if args.command == "open":  # the plain launch: no need to import the other commands
            return open_.run(args)
        from workbench.cli.parser import command_module

        return command_module(args.command).run(args)
    except WorkbenchError as exc:
        if args.debug:
            raise
        print(error_line(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mlops-workbench: interrupted; nothing was committed", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `mlops-workbench exp list | head`: the reader left; not an error worth a line.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug, not bad input: still one line unless --debug
        if args.debug:
            raise
        print(internal_error_line(exc), file=sys.stderr)
        return 70
