"""The schema check remembered per content (workbench/config_check.py, issue 19 command floors).

A content that passed is not checked again (no pydantic import); a content that fails is
never remembered, so a wrong key is reported with the schema's own line however often the
same file was read before it went wrong, and a schema edit forgets every pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import config_check
from workbench.errors import WorkbenchError

PROBE = """
import json, sys
from workbench.config_check import check_params
check_params(json.loads(sys.argv[1]))
print(json.dumps("pydantic" in sys.modules))
"""


def _pydantic_loaded(data: dict, env: dict[str, str]) -> bool:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(data)], capture_output=True, text=True,
                          env=env, check=True)
    return json.loads(done.stdout)


def test_a_passed_content_is_not_checked_again(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    good = {"features": {"a": "numeric", "b": "categorical"}, "target": "y"}
    assert _pydantic_loaded(good, env) is True  # checked with the schema
    assert _pydantic_loaded(good, env) is False  # remembered
    assert _pydantic_loaded({**good, "target": "z"}, env) is True  # another content: checked
    assert len(list((tmp_path / "cache" / "mlops-workbench" / "checked").iterdir())) == 2


def test_a_failing_content_is_never_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bad = {"features": {"a": "numeric"}, "target": 7}
    for _ in range(2):
        with pytest.raises(WorkbenchError, match=r"params.yaml: target holds 7"):
            config_check.check_params(bad)
    assert not (tmp_path / "cache" / "mlops-workbench" / "checked").exists()
    good = {"target": "y"}
    config_check.check_params(good)
    assert len(list((tmp_path / "cache" / "mlops-workbench" / "checked").iterdir())) == 1
    # the same data checked as the other file is another check (markers are per check)
    assert config_check._marker("check_params", good) != config_check._marker("check_workbench_config", good)


def test_a_schema_edit_forgets_every_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    schema = tmp_path / "config.py"
    schema.write_bytes(config_check._SCHEMA.read_bytes())
    monkeypatch.setattr(config_check, "_SCHEMA", schema)
    before = config_check._marker("check_params", {"target": "y"})
    schema.write_bytes(schema.read_bytes() + b"\n# edited\n")
    assert config_check._marker("check_params", {"target": "y"}) != before
