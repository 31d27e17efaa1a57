"""``check``'s pipeline status remembered while nothing DVC looks at changed (versioning/dvc_status.py).

On a real trained project, after each change a person makes (a data edit, a params edit, a
touch that changes nothing, a revert, a new file in a tracked folder) the remembered answer
equals what ``dvc status --json`` says now; an unchanged project is answered from the store
(proved by a marker written into it), never from a stale one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_registry import build_trained_project
from workbench.versioning import dvc_status


def _dvc_says(root: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=root, capture_output=True,
                          text=True, check=True, stdin=subprocess.DEVNULL)
    text = done.stdout.strip()
    return json.loads(text[text.find("{"):])


def _agrees(root: Path) -> dict:
    changed, error = dvc_status.pipeline_status(root)
    assert error == "" and changed == _dvc_says(root)
    again, _ = dvc_status.pipeline_status(root)
    assert again == changed
    return changed


def test_remembered_status_is_dvcs_after_every_change(tmp_path: Path, tmp_path_factory) -> None:
    root = build_trained_project(tmp_path, tmp_path_factory)
    assert _agrees(root) == {}
    store = root / ".git" / "mlops-workbench" / "dvc-status.json"
    stored = json.loads(store.read_text())
    store.write_text(json.dumps({**stored, "changed": {"marker": []}}))
    assert dvc_status.pipeline_status(root)[0] == {"marker": []}  # unchanged: read from the store
    data = root / "data" / "breast_cancer.csv"
    original = data.read_bytes()
    data.write_bytes(original + original.splitlines(keepends=True)[-1])
    assert "prepare" in _agrees(root)
    data.write_bytes(original)
    assert _agrees(root) == {}
    params = root / "params.yaml"
    text = params.read_text()
    params.write_text(text.replace("test_size: 0.2", "test_size: 0.25"))
    assert _agrees(root) != {}
    params.write_text(text)
    os.utime(params)  # touched, same bytes
    assert _agrees(root) == {}
    model = root / "models" / "model.skops"
    blob = model.read_bytes()
    model.unlink()
    assert _agrees(root) != {}  # a deleted output
    model.write_bytes(blob)
    assert _agrees(root) == {}
