"""Shared remotes: ``new --git-remote/--dvc-remote/--dvc-endpoint`` and ``remote show|set``, on real git,
real DVC and a real S3-compatible store (SeaweedFS on 127.0.0.1); credentials never reach git."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, run_cli
from tests.seaweed import seaweed  # noqa: F401  (the session fixture)

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
PATH_ENV = {"PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}


def one_line(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("  ")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def snapshot(path: Path) -> tuple[str, str, str, bool]:
    return (git(path, "rev-parse", "HEAD"), (path / ".dvc" / "config").read_text(),
            git(path, "remote"), (path / ".dvc" / "config.local").exists())


@pytest.mark.parametrize("args, words", [
    (["--git", "not a url"], "does not parse"),
    (["--git", "ftp//host"], "does not parse"),
    (["--git", "file:///nowhere/team.git"], "cannot be reached"),
    (["--dvc", "s3://"], "needs a bucket"),
    (["--dvc", "rsync://host/x"], "scheme DVC does not know"),
    (["--dvc", "/nowhere/at/all/store"], "cannot be reached"),
    (["--dvc", "s3://team/p", "--endpoint", "127.0.0.1:9"], "does not parse"),
    (["--dvc", "/tmp/x-store", "--endpoint", "http://127.0.0.1:9"], "for s3:// remotes"),
    (["--access-key-id", "AKIA"], "give both"),
])
def test_bad_remote_input_is_one_line_and_writes_nothing(project, args, words):
    before = snapshot(project)
    line = one_line(run_cli("remote", "set", *args, cwd=project))
    assert words in line
    assert snapshot(project) == before


def test_an_s3_endpoint_that_does_not_answer_is_refused_before_anything_is_written(project):
    before = snapshot(project)
    line = one_line(run_cli("remote", "set", "--dvc", "s3://team/p", "--endpoint",
                            f"http://127.0.0.1:{closed_port()}", cwd=project))
    assert "cannot be reached" in line and "--endpoint" in line
    assert snapshot(project) == before


def test_new_with_an_unreachable_git_remote_creates_nothing(tmp_path):
    target = tmp_path / "p"
    line = one_line(run_cli("new", str(target), "--name", "P", "--git-remote", (tmp_path / "none.git").as_uri()))
    assert "cannot be reached" in line
    assert not target.exists() and not (tmp_path / "p.dvc-storage").exists()
    line = one_line(run_cli("new", str(target), "--name", "P", "--dvc-endpoint", "http://127.0.0.1:1"))
    assert "--dvc-remote" in line and not target.exists()


def test_new_with_shared_remotes_and_a_fresh_clone_pulls_the_data(tmp_path):
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    store = tmp_path / "store"
    done = run_cli("new", str(tmp_path / "p"), "--sample", "fraud_detection", "--git-remote", bare.as_uri(),
                   "--dvc-remote", str(store), env=PATH_ENV)
    assert done.returncode == 0, done.stderr
    p = tmp_path / "p"
    assert git(p, "remote", "get-url", "origin").strip() == bare.as_uri()
    assert str(store) in (p / ".dvc" / "config").read_text()
    assert run_cli("sync", cwd=p, env=PATH_ENV).returncode == 0
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", bare.as_uri(), str(fresh)], check=True)
    subprocess.run([sys.executable, "-m", "dvc", "pull", "-q"], cwd=fresh, check=True)
    assert (fresh / "data" / "transactions.csv").read_bytes() == (p / "data" / "transactions.csv").read_bytes()


def test_remote_set_commits_the_config_and_keeps_the_keys_out_of_git(project, tmp_path, seaweed):  # noqa: F811
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    before = git(project, "rev-parse", "HEAD").strip()
    done = run_cli("remote", "set", "--git", bare.as_uri(), "--dvc", f"s3://{seaweed.bucket}/set",
                   "--endpoint", seaweed.endpoint, "--access-key-id", seaweed.access_key,
                   "--secret-access-key", seaweed.secret_key, cwd=project, env=PATH_ENV)
    assert done.returncode == 0, done.stderr
    assert ".dvc/config.local (git-ignored" in done.stdout
    assert git(project, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert git(project, "show", "--name-only", "--format=%s", "HEAD").split("\n")[-2:] == [".dvc/config", ""] or \
        ".dvc/config" in git(project, "show", "--name-only", "--format=", "HEAD").split()
    committed = git(project, "show", "HEAD:.dvc/config")
    assert seaweed.endpoint in committed and seaweed.secret_key not in committed
    assert seaweed.access_key not in git(project, "log", "-p", "--all")
    local = (project / ".dvc" / "config.local").read_text()
    assert seaweed.secret_key in local
    assert git(project, "check-ignore", ".dvc/config.local").strip() == ".dvc/config.local"
    shown = json.loads(run_cli("remote", "show", "--json", cwd=project).stdout)
    assert shown["git"]["url"] == bare.as_uri() and shown["dvc"]["endpoint"] == seaweed.endpoint
    assert "config.local" in shown["dvc"]["credentials"] and seaweed.secret_key not in json.dumps(shown)
    # the data goes through the store with the keys from config.local only (none in the environment)
    (project / "data").mkdir(exist_ok=True)
    (project / "data" / "rows.csv").write_text("a,b\n1,x\n2,y\n,z\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "data/rows.csv"], cwd=project, check=True, env=env)
    subprocess.run([sys.executable, "-m", "dvc", "push", "-q"], cwd=project, check=True, env=env)
    assert any(k.startswith("set/files/md5/") for k in seaweed.keys("set/"))


def test_wrong_s3_credentials_are_one_line_naming_the_setting(project, tmp_path, seaweed):  # noqa: F811
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    done = run_cli("remote", "set", "--git", bare.as_uri(), "--dvc", f"s3://{seaweed.bucket}/wrong",
                   "--endpoint", seaweed.endpoint, "--access-key-id", seaweed.access_key,
                   "--secret-access-key", "not-the-secret", cwd=project, env=PATH_ENV)
    assert done.returncode == 0, done.stderr
    (project / "data").mkdir(exist_ok=True)
    (project / "data" / "rows.csv").write_text("a,b\n1,x\n2,y\n")
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "data/rows.csv"], cwd=project, check=True)
    git(project, "add", "data/rows.csv.dvc", "data/.gitignore")
    git(project, "commit", "-q", "-m", "Data: rows")
    head = git(project, "rev-parse", "HEAD")
    line = one_line(run_cli("sync", cwd=project, env=PATH_ENV), 2)
    assert "refused the credentials" in line and "secret_access_key" in line and "--secret-access-key" in line
    assert git(project, "rev-parse", "HEAD") == head
    assert git(bare, "for-each-ref").strip() == ""  # nothing was pushed


def test_ci_workflow_uses_the_shared_remote_names_its_secrets_and_schedules_monitoring(project):
    import yaml

    local = json.loads(run_cli("ci", "init", "--json", cwd=project).stdout)
    assert any("local folder" in m for m in local["messages"])
    done = run_cli("remote", "set", "--dvc", "s3://team/ci", cwd=project)  # no endpoint: AWS itself, not reached
    assert done.returncode == 0, done.stderr
    out = json.loads(run_cli("ci", "init", "--force", "--json", cwd=project).stdout)
    assert not any("local folder" in m for m in out["messages"])
    assert any("AWS_ACCESS_KEY_ID" in m and "secrets" in m for m in out["messages"])
    text = (project / ".github/workflows/mlops-workbench.yml").read_text()
    assert "can't be reached" not in text and "a folder on your" not in text
    assert "Repository secrets it needs (for the DVC remote): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY" in text
    workflow = yaml.safe_load(text)
    assert workflow["on"]["schedule"][0]["cron"]
    for job in ("check", "monitor"):
        assert workflow["jobs"][job]["env"]["AWS_SECRET_ACCESS_KEY"] == "${{ secrets.AWS_SECRET_ACCESS_KEY }}"
    steps = {s.get("id"): s for s in workflow["jobs"]["monitor"]["steps"]}
    assert "mlops-workbench monitor" in steps["monitor"]["run"] and steps["pull"]["run"] == "dvc pull"
    assert steps["retrain"]["if"] == "steps.monitor.outputs.action == 'yes'"
    assert steps["retrain"]["run"].startswith("mlops-workbench retrain")
    assert workflow["jobs"]["check"]["if"] == "github.event_name != 'schedule'"
