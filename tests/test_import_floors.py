"""Import floors: the commands that need no model import neither scikit-learn nor skops (issue 19).

Importing pandas, scikit-learn and ``skops.io`` costs a Python process about 3.5 s here;
``status``, ``history``, ``review card``, ``review show``, ``model list`` and ``check`` read
git, YAML, JSON and markdown only, so they must not pay it. Each case runs the real command in
a fresh subprocess (``python -m workbench`` through ``runpy``) on a trained, registered,
data-checked project and writes ``sorted(sys.modules)`` at exit (``atexit``), then asserts
the heavy libraries are absent. None of these commands reads a table, so pandas is forbidden
too; and none imports gto (0.3-0.6 s): the registry gto last read is read back from its cache
while the tags are unchanged (``model register`` leaves it there). Not timed: the benchmark ``benchmarks/bench_floors.py`` measures the seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.test_registry import add_evidence, build_trained_project

WRAPPER = """
import atexit, runpy, sys
out = sys.argv[1]
def _dump():
    with open(out, "w", encoding="utf-8") as f:
        f.write("\\n".join(sorted(sys.modules)))
atexit.register(_dump)
sys.argv = ["mlops-workbench", *sys.argv[2:]]
runpy.run_module("workbench", run_name="__main__", alter_sys=True)
"""

HEAVY = ("sklearn", "skops", "pandas", "gto")

# command -> exit codes it may end with on this project (check: no monitoring report yet -> 3,
# or a gate fails -> 1; the test is about imports, the exit only proves the command ran)
COMMANDS = {
    "status": (0,),
    "history": (0,),
    "review card": (0,),
    "review show": (0,),
    "model list": (0,),
    "check": (0, 1, 3),
}


@pytest.fixture(scope="module")
def floors_template(tmp_path_factory) -> Path:
    """A trained project with validation/card/review evidence, a registered version and a data check."""
    path = build_trained_project(tmp_path_factory.mktemp("floors-template"), tmp_path_factory)
    add_evidence(path)
    for args in (("model", "register"), ("data", "check")):
        done = run_cli(*args, cwd=path)
        assert done.returncode in (0, 1), done.stdout + done.stderr
    return path


@pytest.mark.parametrize("command", list(COMMANDS), ids=[c.replace(" ", "-") for c in COMMANDS])
def test_no_model_command_imports_no_model_library(command, floors_template, tmp_path):
    path = tmp_path / "diagnosis"
    shutil.copytree(floors_template, path, symlinks=True)
    modules_file = tmp_path / "modules.txt"
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(modules_file), *command.split()], cwd=path,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ})
    assert done.returncode in COMMANDS[command], done.stdout + done.stderr
    assert done.stdout.strip(), "the command printed nothing"
    modules = set(modules_file.read_text(encoding="utf-8").split())
    assert "workbench.cli" in modules  # the wrapper really ran the workbench
    imported = [name for name in HEAVY if name in modules]
    assert not imported, f"`mlops-workbench {command}` imported {', '.join(imported)}"
