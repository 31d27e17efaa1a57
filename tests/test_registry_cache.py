"""The registry read back from the cache is the registry gto reads (issue 19, command floors).

``read_registry`` remembers what gto read against a digest of the tags; these tests write
tags with the real ``gto`` command (registrations, assignments, a deregistration, an
unassignment, as a person running gto by hand would) and check after each change that the
registry read through the cache equals gto's own read and ``gto show``, and that a read
whose tags did not change imports no gto.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import git, run_tool
from workbench.versioning import registry_cache
from workbench.versioning.registry import read_registry, read_registry_with_gto


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    for n in range(3):
        (root / "model.txt").write_text(f"model {n}\n")
        git(root, "add", "model.txt")
        git(root, "commit", "-q", "-m", f"model {n}")
    return root


def _commits(root: Path) -> list[str]:
    return git(root, "log", "--format=%H", "--reverse").split()


def _agrees(root: Path) -> None:
    first = read_registry(root)  # through gto (the tags changed) or the cache
    again = read_registry(root)  # through the cache
    truth = read_registry_with_gto(root)
    assert first == truth and again == truth
    assert registry_cache.load(root, registry_cache.tags_digest(root)) is not None
    shown = json.loads(run_tool(root, "gto", "show", "model", "--json"))
    assert sorted(v.version for v in truth.versions) == sorted(v["version"] for v in shown
                                                               if v.get("registrations") and v["is_active"])
    overview = json.loads(run_tool(root, "gto", "show", "--json"))
    assert truth.stages == overview["model"]["stage"]


def test_cached_registry_is_gtos_after_every_change(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    one, two, three = _commits(root)
    steps = [
        ("register", "model", one, "--version", "v1.0.0"),
        ("assign", "model", "model@v1.0.0", "--stage", "staging", "--simple", "false"),
        ("register", "model", two, "--version", "v1.1.0"),
        ("assign", "model", "model@v1.0.0", "--stage", "production", "--simple", "false"),
        ("assign", "model", "model@v1.1.0", "--stage", "staging", "--simple", "false"),
        ("register", "model", three, "--version", "v2.0.0"),
        ("assign", "model", "model@v2.0.0", "--stage", "production", "--simple", "false"),
        ("deprecate", "model", "v2.0.0", "production", "--simple", "false"),
        ("deprecate", "model", "v1.1.0"),
    ]
    seen = set()
    for step in steps:
        run_tool(root, "gto", *step)
        _agrees(root)
        r = read_registry(root)
        seen.add((r.versions, tuple(r.stages.items()), r.events))
    assert len(seen) == len(steps)  # each step changed what the registry shows
    assert read_registry(root).find("v2.0.0") is not None
    git(root, "tag", "-d", "model@v2.0.0")  # a deleted tag is a change as well
    _agrees(root)
    assert read_registry(root).find("v2.0.0") is None


def test_an_unchanged_registry_is_read_without_gto(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    run_tool(root, "gto", "register", "model", _commits(root)[0], "--version", "v1.0.0")
    run_tool(root, "gto", "assign", "model", "model@v1.0.0", "--stage", "production", "--simple", "false")
    probe = ("import json, sys\nfrom pathlib import Path\nfrom workbench.versioning.registry import read_registry\n"
             "r = read_registry(Path(sys.argv[1]))\n"
             "print(json.dumps([r.in_stage('production').version, 'gto' in sys.modules]))")
    runs = [json.loads(subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(2)]
    assert runs == [["v1.0.0", True], ["v1.0.0", False]]  # the first read pays gto, the next does not
