"""The ``mlops-workbench`` command: parse, call the core, print text or ``--json``.

With no subcommand it opens the TUI on PATH (default: the current folder). Every
error a user can cause prints one line on stderr and exits non-zero; ``--debug``
adds the traceback. Later issues register more subcommands in :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from workbench import __version__
from workbench.errors import WorkbenchError

SUBCOMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register a subcommand handler under ``name``."""

    def register(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        SUBCOMMANDS[name] = func
        return func

    return register


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


@contextlib.contextmanager
def cancel_on_interrupt() -> Iterator[threading.Event]:
    """An Event set by Ctrl-C (SIGINT) or SIGTERM while the block runs.

    DVC runs in its own session (so the TUI's terminal never reaches it), which means a
    Ctrl-C typed at the CLI does not reach DVC either: the core's ``cancel`` argument stops
    it, cleanly, and the command exits 130 with nothing committed.
    """
    event = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(_signum: int, _frame: Any) -> None:
        if event.is_set():  # a second Ctrl-C: stop waiting for a clean stop
            raise KeyboardInterrupt
        print("mlops-workbench: stopping (Ctrl-C again to abandon the clean stop)…", file=sys.stderr)
        event.set()

    try:
        for sig in previous:
            signal.signal(sig, handler)
    except ValueError:  # not the main thread: no signals to catch
        previous = {}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    if getattr(args, "json", False) or getattr(args, "quiet", False):
        return None
    return lambda line: print(f"  {line}", file=sys.stderr) if line.strip() else None


# --- new --------------------------------------------------------------------------


@command("new")
def cmd_new(args: argparse.Namespace) -> int:
    from workbench.new_project import create_from_sample, create_project
    from workbench.project import Charter, parse_member

    path = Path(args.path)
    if args.sample:
        made = create_from_sample(args.sample, path, name=args.name, remote=args.remote,
                                  in_outer_repo=args.in_outer_repo, git_remote=args.git_remote,
                                  dvc_remote=args.dvc_remote, dvc_endpoint=args.dvc_endpoint,
                                  progress=_progress(args))
    else:
        members = tuple(parse_member(m) for m in args.member or [])
        constraints: dict[str, Any] = {}
        if args.latency_ms is not None:
            constraints["latency_ms"] = args.latency_ms
        if args.interpretability:
            constraints["interpretability"] = args.interpretability
        if args.privacy:
            constraints["privacy"] = args.privacy
        name = args.name if args.name is not None else path.expanduser().absolute().name
        charter = Charter(
            name=name, problem=args.problem or "", business_owner=args.owner or "",
            success_metric=args.metric or "", task=args.task, constraints=constraints, team=members,
        )
        made = create_project(path, charter, description=args.description or "", remote=args.remote,
                              in_outer_repo=args.in_outer_repo, role=args.role,
                              git_remote=args.git_remote, dvc_remote=args.dvc_remote,
                              dvc_endpoint=args.dvc_endpoint, progress=_progress(args))
    if args.json:
        _print_json({"schema": 1, "path": str(made.path), "commit": made.commit,
                     "data_commit": made.data_commit, "remote": made.remote,
                     "messages": list(made.messages)})
        return 0
    for message in made.messages:
        print(f"note: {message}", file=sys.stderr)
    print(f"Created project at {made.path} (commit {made.commit[:7]})")
    if made.data_commit:
        print(f"Data tracked with DVC (commit {made.data_commit[:7]}) and pushed to {made.remote}")
    else:
        print(f"DVC remote: {made.remote}")
    print(f"Open it with: mlops-workbench {made.path}")
    return 0


# --- samples ------------------------------------------------------------------------


@command("samples")
def cmd_samples(args: argparse.Namespace) -> int:
    from workbench.samples import list_samples

    samples = list_samples()
    if args.json:
        _print_json({"schema": 1, "samples": [
            {"id": s.id, "name": s.name, "description": s.description,
             "data": list(s.data), "incoming": list(s.incoming)} for s in samples]})
        return 0
    width = max((len(s.id) for s in samples), default=0)
    for s in samples:
        print(f"{s.id:<{width}}  {s.description}")
    return 0


# --- status / history -----------------------------------------------------------


def _project_path(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "project", None) or ".").expanduser().absolute()


@command("status")
def cmd_status(args: argparse.Namespace) -> int:
    from workbench.status import STATE_LABELS, project_status

    status = project_status(_project_path(args))
    if args.json:
        _print_json(status.to_json())
        return 0
    marks = {"done": "[x]", "attention": "[!]", "todo": "[ ]"}
    print(f"{status.name}  ({status.task}; success metric: {status.success_metric or 'not set'})")
    print(f"Phase: {status.phase}")
    phase = None
    for step in status.steps:
        if step.phase != phase:
            phase = step.phase
            print(f"\n{phase}")
        label = STATE_LABELS[step.state]
        print(f"  {marks[step.state]} {step.title:<26} {label:<16} {step.detail}")
    print(f"\nNext: {status.next_action}")
    if status.next_step is not None:
        print(f"      {status.next_step.command}")
    if status.blockers:
        print("\nBlockers:")
        for line in status.blockers:
            print(f"  ! {line}")
    if status.maturity is not None:
        m = status.maturity
        print(f"\nMLOps maturity: level {m.level} ({m.name})")
        if m.missing:
            print(f"  for level {m.level + 1}: add {', '.join(m.missing)}")
    remote = (status.team or {}).get("remote") or {}
    if remote.get("fetched"):
        since = remote.get("teammates_since_sync") or []
        print(f"\nTeam: {remote['ahead']} commit(s) ahead of origin, {remote['behind']} behind (last fetch)"
              + (f"; new from {', '.join(since)}: run 'mlops-workbench sync'" if since else ""))
    return 0


@command("history")
def cmd_history(args: argparse.Namespace) -> int:
    from workbench.project import Project
    from workbench.versioning.timeline import read_timeline

    project = Project(_project_path(args))
    project.read_config()
    entries = read_timeline(project.path, limit=args.limit)
    if args.json:
        _print_json({"schema": 1, "entries": [e.to_json() for e in entries]})
        return 0
    if not entries:
        print("No versioned steps yet.")
        return 0
    for e in entries:
        when = e.when.replace("T", " ")[:16]
        print(f"{e.short}  {when}  {e.author:<18.18} {e.role:<15} {e.step_title:<24.24} {e.summary}")
    return 0


# --- parser ---------------------------------------------------------------------


def _add_project_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-C", "--project", metavar="PATH",
                        help="the project folder (default: the current folder)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-workbench",
        description="A terminal workbench from idea to monitored model; every step is a git commit, "
        "data and models live in DVC. With no command it opens the workbench on PATH.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-workbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("open", help="open the workbench (TUI) on PATH (the default command)")
    p.add_argument("path", nargs="?", default=".", help="project or empty folder (default: .)")
    p.add_argument("--web", action="store_true", help="serve the workbench to a browser instead (textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="with --web: the address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="with --web: the port (default: 8000)")

    p = sub.add_parser("new", help="create a project without the TUI (from a sample or from flags)")
    p.add_argument("path", help="the project folder (created if missing)")
    p.add_argument("--sample", metavar="NAME", help="start from a bundled sample (see 'samples')")
    p.add_argument("--name", help="project name (default: the folder's name)")
    p.add_argument("--description", help="one line saying what the project is for")
    p.add_argument("--problem", help="the problem statement")
    p.add_argument("--owner", help="the business owner")
    p.add_argument("--metric", help="success metric, e.g. 'recall >= 0.80 at precision >= 0.50'")
    p.add_argument("--task", choices=["classification", "regression"], default="classification")
    p.add_argument("--member", action="append", metavar="NAME,EMAIL,ROLE",
                   help="a team member (repeatable); role: business_owner, data_scientist, "
                   "ml_engineer, researcher")
    p.add_argument("--latency-ms", type=int, help="latency constraint in milliseconds")
    p.add_argument("--interpretability", help="interpretability constraint")
    p.add_argument("--privacy", help="data privacy constraint")
    p.add_argument("--remote", metavar="DIR", help="DVC remote folder (default: PATH.dvc-storage beside it)")
    p.add_argument("--in-outer-repo", action="store_true",
                   help="inside another git repository: make a DVC sub-project of it")
    p.add_argument("--git-remote", metavar="URL", help="the team's shared git repository (becomes origin)")
    p.add_argument("--dvc-remote", metavar="URL",
                   help="the team's DVC remote: a folder, s3://bucket/prefix, ssh://... (instead of --remote)")
    p.add_argument("--dvc-endpoint", metavar="URL", help="with an s3:// --dvc-remote: the S3-compatible endpoint")
    p.add_argument("--role", help="the role you act in for the first commit")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("samples", help="list the bundled sample projects")
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = sub.add_parser("status", help="lifecycle position, each step's state, the next step")
    _add_project_option(p)
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = sub.add_parser("history", help="the timeline of versioned steps, read from git")
    _add_project_option(p)
    p.add_argument("--limit", type=int, metavar="N", help="only the newest N steps")
    p.add_argument("--json", action="store_true", help="print as JSON")

    for extend in EXTENSIONS:
        extend(sub)
    return parser


#: Functions that add subparsers (later issues register theirs here).
EXTENSIONS: list[Callable[[Any], None]] = []


def _load_extensions() -> None:
    """Import the modules that register extra subcommands (kept light: argparse only)."""
    import importlib

    for name in ("workbench.cli_design", "workbench.cli_data", "workbench.cli_dev", "workbench.cli_exp",
                 "workbench.cli_validate", "workbench.cli_ops", "workbench.cli_monitor", "workbench.cli_retrain",
                 "workbench.cli_ci", "workbench.cli_team"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


#: Every command name, those the extensions register included: a launch on a path that is
#: none of them opens the TUI without importing the extensions or building the parser
#: (:func:`_plain_launch`). tests/test_cli.py checks it against the parser.
COMMAND_NAMES = frozenset({
    "open", "new", "samples", "status", "history",
    "charter", "usecase", "data", "check", "pipeline", "train", "exp", "validate", "review",
    "model", "stage", "serve", "predict", "monitor", "retrain", "ci", "remote", "sync",
})


def _plain_launch(argv: Sequence[str]) -> argparse.Namespace | None:
    """The parsed arguments of ``[--debug] [PATH]`` with PATH an existing path, else None.

    The most common launch, and the one whose start-up a person waits on: it needs neither
    the extension modules nor the full parser (about 20 ms), so it skips both. Anything
    else — a command, an option, a missing path (which may be a mistyped command) — goes
    through the parser as before.
    """
    debug = 0
    while debug < len(argv) and argv[debug] == "--debug":
        debug += 1
    rest = argv[debug:]
    if len(rest) > 1:
        return None
    if rest and (rest[0].startswith("-") or rest[0] in COMMAND_NAMES
                 or not Path(rest[0]).expanduser().exists()):
        return None
    return argparse.Namespace(debug=bool(debug), command="open", path=rest[0] if rest else ".",
                              web=False, host="127.0.0.1", port=8000)


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
    """The arguments, parsed with every subcommand registered; or the exit code of a usage error."""
    _load_extensions()
    parser = build_parser()
    known = set(SUBCOMMANDS) | {"open"}
    first = _first_word(argv)
    if first is not None and first not in known and not Path(first).expanduser().exists() \
            and "/" not in first and not first.startswith("."):
        # A word that is neither a command nor a folder: a typo or a command this version lacks.
        import difflib

        close = difflib.get_close_matches(first, sorted(SUBCOMMANDS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        print(f"mlops-workbench: error: '{first}' is not a command and no folder of that name exists: "
              f"{hint}see 'mlops-workbench --help' (to create a project there: "
              f"'mlops-workbench new {first}')", file=sys.stderr)
        return 2
    if first is None or first not in known:
        if not any(a in ("-h", "--help", "--version") for a in argv):
            argv.insert(len([a for a in argv if a == "--debug"]), "open")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mlops-workbench``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _plain_launch(argv)
    if args is None:
        args = _parse(argv)
        if isinstance(args, int):
            return args
    try:
        if args.command == "open":
            return _open(args)
        return SUBCOMMANDS[args.command](args)
    except WorkbenchError as exc:
        if args.debug:
            raise
        print(f"mlops-workbench: error: {exc}", file=sys.stderr)
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
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"mlops-workbench: internal error: {type(exc).__name__}{': ' + text if text else ''} "
              "(run again with --debug for the traceback, and please report it)", file=sys.stderr)
        return 70


def _checked_folder(path: Path) -> Path:
    path = path.expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise WorkbenchError(f"{path} is a file: open a project folder or an empty folder")
    if not path.exists():
        raise WorkbenchError(f"{path} does not exist: create it, or run 'mlops-workbench new {path}'")
    return path


#: How a project opens in the terminal ("tui") and in a browser ("web"): filled in by the UI
#: layer's entry point (screens/launch.py), so this module never imports the UI.
OPENERS: dict[str, Callable[..., int]] = {}


def _open(args: argparse.Namespace) -> int:
    path = _checked_folder(Path(args.path))
    if args.web and not 0 < args.port < 65536:
        raise WorkbenchError(f"--port {args.port} is not a port number: use 1-65535, e.g. --port 8000")
    opener = OPENERS.get("web" if args.web else "tui")
    if opener is None:
        raise WorkbenchError("'python -m workbench' runs the headless commands only: open the workbench "
                             "with 'mlops-workbench' (or 'python -m screens')")
    return opener(path, host=args.host, port=args.port, debug=args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
