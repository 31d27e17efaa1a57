"""The core never imports the UI, and the command starts without the heavy libraries.

Checked in fresh subprocesses, because ``sys.modules`` in the test process is polluted
by whatever other tests imported (harlequin's test_import_hygiene does the same).
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import workbench

UI = ("textual", "screens")
HEAVY = ("pandas", "sklearn", "dvc", "gto", "numpy", "scipy", "textual", "screens")


def core_modules() -> list[str]:
    names = ["workbench"]
    for info in pkgutil.walk_packages(workbench.__path__, prefix="workbench."):
        if info.name != "workbench.__main__":  # runs the CLI on import
            names.append(info.name)
    return sorted(names)


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def top_level(modules: list[str], wanted: tuple[str, ...]) -> list[str]:
    return sorted({m for m in modules if m.split(".")[0] in wanted})


def test_walk_finds_the_core_modules() -> None:
    names = core_modules()
    for expected in ("workbench.cli", "workbench.versioning.step", "workbench.new_project",
                     "workbench.status", "workbench.design.data_sources"):
        assert expected in names


def test_every_core_module_imports_without_the_ui() -> None:
    modules = core_modules()
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    assert top_level(loaded_after(code), UI) == []
    # One by one as well, so a module that only some import order hides is caught.
    for name in modules:
        assert top_level(loaded_after(f"import {name}"), UI) == [], name


def test_no_core_source_imports_the_ui_even_lazily() -> None:
    """An import inside a function is an import too: read every core module's source."""
    import ast
    from pathlib import Path

    found = []
    for file in sorted(Path(workbench.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{file.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in UI]
    assert found == []


#: What stays light: code run in a fresh interpreter -> the top-level packages it must not load.
#: Heavy libraries load inside the functions that need them (a worker, a stage), never at import.
LIGHT = {
    "cli startup": ("import workbench.cli", HEAVY),
    # building the parser (every command module imported) stays light too
    "cli parsing": ("from workbench.cli.parser import build_parser\nbuild_parser()", HEAVY),
    "data check and sources": ("import workbench.design.data_check, workbench.design.data_sources, workbench.cli.design.data",
                               ("textual", "screens", "pandas", "sklearn")),
    "use cases and requirements": ("import workbench.design.use_cases, workbench.design.requirements, "
                                   "workbench.cli.design.usecase, workbench.cli.design.charter", ("textual", "screens", "plotext", "pandas", "dvc")),
    "development": ("import workbench.cli.development.pipeline, workbench.cli.development.stage, "
                    "workbench.cli.development.train, workbench.development.pipeline, workbench.development.stages\n"
                    "import workbench.development.training, workbench.development.models",
                    ("textual", "pandas", "sklearn", "skops", "dvc")),
    # opening the app: pandas, scikit-learn and DVC load inside workers
    "app startup": ("import screens.app, screens.onboarding.welcome_screen, screens.project.project_screen",
                    ("pandas", "sklearn", "dvc", "git")),
    "experiment history": ("import workbench.cli.development.exp, "
                           "workbench.development.experiments, workbench.versioning.exp_git",
                           ("textual", "pandas", "sklearn", "skops", "dvc", "git", "ruamel")),
}


@pytest.mark.parametrize("code, banned", list(LIGHT.values()), ids=list(LIGHT))
def test_import_stays_light(code: str, banned: tuple[str, ...]) -> None:
    assert top_level(loaded_after(code), banned) == []
