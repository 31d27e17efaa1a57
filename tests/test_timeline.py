"""The timeline reads all three kinds of history from git: steps, registry tags, experiment refs.

Real DVC runs a real experiment and the real ``gto`` command writes the registry tags, so
the test fails if the ref layouts the timeline parses ever drift from what the tools write.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import git, run_cli, run_tool

BIN = Path(sys.executable).parent


def test_history_merges_steps_registry_tags_and_experiments(project: Path) -> None:
    (project / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: python3 -c \"open('out.txt','w').write('1')\"\n"
        "    params: [a]\n    outs:\n      - out.txt:\n          cache: false\n")
    (project / "params.yaml").write_text("a: 1\n")
    git(project, "add", "dvc.yaml", "params.yaml")
    git(project, "commit", "-qm", "hand-made pipeline (not a workbench step)")
    run_tool(project, "dvc", "exp", "run", "-q", "-n", "first-try", "-S", "a=2")
    run_tool(project, "gto", "register", "model", "--version", "v0.1.0", "-m", "first model")
    run_tool(project, "gto", "assign", "model", "--version", "v0.1.0", "--stage", "production")

    done = run_cli("history", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)["entries"]
    kinds = [e["kind"] for e in entries]
    assert kinds[:3] == ["registry", "registry", "experiment"], entries
    assert entries[0]["ref"] == "model#production#1" and "production" in entries[0]["summary"]
    assert entries[1]["ref"] == "model@v0.1.0" and entries[1]["summary"] == "registered model v0.1.0 (first model)"
    head = git(project, "rev-parse", "HEAD").strip()
    assert entries[0]["commit"] == entries[1]["commit"] == head
    exp_ref = git(project, "for-each-ref", "--format=%(objectname)", "refs/exps/").split()
    assert entries[2]["ref"] == "first-try" and entries[2]["commit"] in exp_ref
    # the hand-made commit is not a step; the project's creation is
    assert [e["step"] for e in entries if e["kind"] == "step"] == ["project"]

    status = json.loads(run_cli("status", "--json", cwd=project).stdout)
    assert status["last_step"]["kind"] == "step"

    text = run_cli("history", cwd=project).stdout
    assert "registered model v0.1.0" in text and "experiment first-try" in text
