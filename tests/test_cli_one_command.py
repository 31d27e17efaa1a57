"""A command line that starts with a command is parsed by that command's parser alone (issue 19).

Building the full parser imports every command module; ``mlops-workbench status`` needs one.
The one-command parser must be indistinguishable: the same help for the command and each of
its actions, the same namespace for the same line, the same error for a bad line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io

import pytest

from workbench.cli.parser import COMMAND_NAMES, MODULES, build_parser


def _sub(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _helps(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, str]:
    """Every parser's help below ``parser``, by its command path."""
    out = {prefix: parser.format_help()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out |= _helps(sub, f"{prefix} {name}")
    return out


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[object, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            return vars(parser.parse_args(argv)), ""
        except SystemExit as exc:
            return exc.code, err.getvalue()


def test_every_listed_name_is_its_modules_name() -> None:
    for name, module in MODULES:
        assert importlib.import_module(module).NAME == name
    assert COMMAND_NAMES == set(_sub(build_parser()))


@pytest.mark.parametrize("name", sorted(COMMAND_NAMES))
def test_one_command_parser_is_the_full_parsers_branch(name: str) -> None:
    full, one = build_parser(), build_parser(only=name)
    assert list(_sub(one)) == [name]
    assert _helps(_sub(one)[name]) == _helps(_sub(full)[name])
    actions = [a for a in _helps(_sub(full)[name]) if a]
    lines = [[name], [name, "--json"], [name, "-C", "/x", "--quiet"], [name, "--no-such-flag"],
             ["--debug", name], *([name, *a.split(), "--json"] for a in actions),
             *([name, *a.split(), "extra", "words", "-q"] for a in actions)]
    for argv in lines:
        assert _parse(one, argv) == _parse(full, argv), argv
