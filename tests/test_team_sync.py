"""``sync`` on real clones of a real bare git repository (file://), with real DVC remotes: a folder
and a real S3-compatible store (SeaweedFS on 127.0.0.1, tests/seaweed.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, run_cli
from tests.seaweed import seaweed  # noqa: F401  (the session fixture)

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
PATH_ENV = {"PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}


def one_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("  ")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def clone(url: str, dest: Path, name: str, email: str) -> Path:
    subprocess.run(["git", "clone", "-q", url, str(dest)], check=True, capture_output=True)
    git(dest, "config", "user.name", name)
    git(dest, "config", "user.email", email)
    return dest


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def sync(path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("sync", *args, cwd=path, env={**PATH_ENV, **(env or {})})


def sync_json(path: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> dict:
    done = sync(path, "--json", *args, env=env)
    assert done.returncode == code, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def shared(project, tmp_path):
    """(bare remote URL, first clone = the project that pushed it)."""
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    url = bare.as_uri()
    done = run_cli("remote", "set", "--git", url, cwd=project)
    assert done.returncode == 0, done.stderr
    assert sync(project).returncode == 0
    return url, project


def commit_file(path: Path, rel: str, text: str, subject: str) -> None:
    (path / rel).write_text(text, encoding="utf-8")
    git(path, "add", rel)
    git(path, "commit", "-q", "-m", f"{subject}\n\nWorkbench-Step: requirements\nWorkbench-Role: data_scientist")


# --- bad input and refusals ---------------------------------------------------------------------


def test_sync_without_a_remote_is_one_line(project):
    line = one_line(sync(project), 2)
    assert "no shared git remote" in line and "remote set --git" in line


def test_dry_run_shows_the_three_way_status_and_changes_nothing(shared, tmp_path):
    url, alice = shared
    bob = clone(url, tmp_path / "bob", "Bob ML", "bob@example.com")
    commit_file(bob, "notes.md", "from bob\n", "Notes: bob's")
    assert sync(bob).returncode == 0
    commit_file(alice, "alice.md", "from alice\n", "Notes: alice's")
    git(alice, "tag", "-a", "model@v9.0.0", "-m", "Registering artifact model version v9.0.0")
    before = head(alice)
    data = sync_json(alice, "--dry-run")
    assert data["dry_run"] and data["status"]["commits"] == {"ahead": 1, "behind": 1}
    assert data["status"]["registry_tags"]["only_here"] == ["model@v9.0.0"]
    assert head(alice) == before and not (alice / "notes.md").exists()
    # status reads the last fetch (refs only): who pushed since, ahead/behind
    team = json.loads(run_cli("status", "--json", cwd=alice).stdout)["team"]
    assert team["remote"]["ahead"] == 1 and team["remote"]["behind"] == 1
    assert team["remote"]["teammates_since_sync"] == ["Bob ML"]
    assert "new from Bob ML" in run_cli("status", cwd=alice).stdout
    assert "model@v9.0.0" not in git(Path(url.removeprefix("file://")), "tag", "--list")
    # the real sync: a rebase of alice's own commit onto bob's, then the push
    data = sync_json(alice)
    assert data["pulled"] == "rebase" and (alice / "notes.md").read_text() == "from bob\n"
    assert git(alice, "log", "-1", "--format=%s").strip() == "Notes: alice's"
    remote = Path(url.removeprefix("file://"))
    assert git(remote, "rev-parse", "main").strip() == head(alice)
    assert "model@v9.0.0" in git(remote, "tag", "--list")
    # notes: both write one; each sync merges and shares them (refs/notes/workbench)
    git(alice, "notes", "--ref=workbench", "add", "-m", "alice: baseline looks fine", "HEAD")
    git(bob, "notes", "--ref=workbench", "add", "-m", "bob: check the dates", "HEAD~1")
    assert sync_json(alice)["status"]["notes"] == "only here"
    data = sync_json(bob)
    assert data["status"]["notes"] == "diverged" and data["pulled"] == "fast-forward"
    assert sync_json(alice)["status"]["notes"] == "behind"
    assert "bob: check the dates" in git(alice, "log", "--notes=workbench", "-3")
    assert "alice: baseline looks fine" in git(bob, "log", "--notes=workbench", "-3")
    assert "model@v9.0.0" in git(bob, "tag", "--list")


def test_conflicting_workbench_yaml_edits_stop_with_the_file_named_and_nothing_changed(shared, tmp_path):
    url, alice = shared
    bob = clone(url, tmp_path / "bob", "Bob ML", "bob@example.com")
    text = (bob / "workbench.yaml").read_text()
    commit_file(bob, "workbench.yaml", text.replace("recall >= 0.7", "recall >= 0.9"), "Requirements: bob")
    assert sync(bob).returncode == 0
    commit_file(alice, "workbench.yaml", text.replace("recall >= 0.7", "recall >= 0.5"), "Requirements: alice")
    (alice / "scratch.txt").write_text("my own untracked work\n")
    before = head(alice)
    done = sync(alice)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "workbench.yaml" in done.stderr and "git pull --rebase" in done.stderr
    assert head(alice) == before and "recall >= 0.5" in (alice / "workbench.yaml").read_text()
    assert git(alice, "status", "--porcelain").strip() == "?? scratch.txt"
    assert not (Path(git(alice, "rev-parse", "--absolute-git-dir").strip()) / "rebase-merge").exists()
    assert git(alice, "worktree", "list").count("\n") == 1
    data = sync_json(alice, "--json", code=1)
    assert data["conflicts"] == ["workbench.yaml"] and not data["in_sync"]


def test_uncommitted_edits_in_a_file_the_pull_changes_are_refused_by_name(shared, tmp_path):
    url, alice = shared
    bob = clone(url, tmp_path / "bob", "Bob ML", "bob@example.com")
    commit_file(bob, "README.md", "# Churn\n\nrewritten by bob\n", "Project: readme")
    assert sync(bob).returncode == 0
    (alice / "README.md").write_text("alice's unsaved draft\n")
    before = head(alice)
    line = one_line(sync(alice), 2)
    assert "README.md" in line and "uncommitted" in line
    assert head(alice) == before and (alice / "README.md").read_text() == "alice's unsaved draft\n"
    # an edit elsewhere does not block: the pull goes through and the edit stays
    (alice / "README.md").write_text(git(alice, "show", "HEAD:README.md"))
    (alice / ".gitignore").write_text((alice / ".gitignore").read_text() + "# mine\n")
    assert sync(alice).returncode == 0
    assert "rewritten by bob" in (alice / "README.md").read_text()
    assert (alice / ".gitignore").read_text().endswith("# mine\n")


def test_a_remote_that_rejects_pushes_is_one_line(shared):
    url, alice = shared
    hook = Path(url.removeprefix("file://")) / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are closed for the release freeze' >&2\nexit 1\n")
    hook.chmod(0o755)
    commit_file(alice, "alice.md", "x\n", "Notes: alice")
    line = one_line(sync(alice), 1)
    assert "rejected the push" in line and "release freeze" in line


def test_sync_is_busy_while_another_workbench_writes(shared):
    from workbench.versioning.locks import ProjectLock

    _url, alice = shared
    gdir = Path(git(alice, "rev-parse", "--absolute-git-dir").strip())
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from workbench.versioning.locks import ProjectLock\n"
        f"lock = ProjectLock(Path({str(gdir)!r}), 'Training & experiments').acquire()\n"
        "print('held', flush=True); sys.stdin.read()")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        line = one_line(sync(alice), 75)
        assert "busy" in line
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert ProjectLock(gdir, "x").acquire() is not None



def test_a_stage_assigned_here_after_someone_else_moved_one_is_not_pushed(shared, tmp_path):
    url, alice = shared
    remote = Path(url.removeprefix("file://"))
    bob = clone(url, tmp_path / "bob", "Bob ML", "bob@example.com")
    git(bob, "tag", "-a", "model#production#1", "-m", "Assigning stage production to artifact model version v1.0.0")
    assert sync(bob).returncode == 0
    git(alice, "tag", "-a", "model#staging#1", "-m", "Assigning stage staging to artifact model version v1.0.0")
    data = sync_json(alice, code=1)
    race = data["races"][0]
    assert race["tag"] == "model#staging#1" and race["kind"] == "stage" and race["theirs"] == "model#production#1"
    assert race["by"].startswith("Bob ML") and "--stage staging" in race["redo"]
    assert git(remote, "tag", "--list").split() == ["model#production#1"]
    assert "model#production#1" in git(alice, "tag", "--list")  # theirs came in; ours stays here



def test_a_pull_that_changes_params_says_whether_the_pipeline_is_up_to_date(make_sample, tmp_path):
    alice = make_sample("fraud_detection")
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    ok(run_cli("remote", "set", "--git", bare.as_uri(), cwd=alice))
    ok(run_cli("pipeline", cwd=alice, env=PATH_ENV))
    ok(sync(alice))
    bob = clone(bare.as_uri(), tmp_path / "bob", "Bob ML", "bob@example.com")
    first = sync_json(bob)  # a fresh clone: the data comes from the DVC remote
    assert first["status"]["dvc"]["missing_locally"] and (bob / "data" / "transactions.csv").exists()
    text = (alice / "params.yaml").read_text()
    assert "seed: 42" in text
    commit_file(alice, "params.yaml", text.replace("seed: 42", "seed: 7", 1), "Data engineering: seed 7")
    ok(sync(alice))
    data = sync_json(bob)
    assert data["pulled"] == "fast-forward" and data["pulled_files"] == ["params.yaml"]
    assert data["pipeline"].startswith("not up to date") and "dvc repro" in data["pipeline"]
    assert "dvc.lock" not in git(bob, "status", "--porcelain")  # never merged or rewritten by sync


# --- three people, one bare repository, one real S3 store ---------------------------------------

DS = ("Kwame Mensah", "kwame.mensah@example.com")
MLE = ("Ines Duarte", "ines.duarte@example.com")
BO = ("Dr. Helen Marsh", "helen.marsh@example.com")


def as_person(path: Path, who: tuple[str, str]) -> Path:
    git(path, "config", "user.name", who[0])
    git(path, "config", "user.email", who[1])
    return path


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def s3_project(seaweed, tmp_path: Path, prefix: str, monkeypatch) -> tuple[str, str, Path]:  # noqa: F811
    """A diagnosis project made by the data scientist with a bare git remote and an S3 DVC remote."""
    for key, value in seaweed.env().items():
        monkeypatch.setenv(key, value)
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    url = bare.as_uri()
    s3url = f"s3://{seaweed.bucket}/{prefix}"
    ds = tmp_path / "ds" / "diagnosis"
    (tmp_path / "ds").mkdir()
    done = ok(run_cli("new", str(ds), "--sample", "diagnosis", "--git-remote", url, "--dvc-remote", s3url,
                      "--dvc-endpoint", seaweed.endpoint, env=PATH_ENV))
    assert "environment (AWS_ACCESS_KEY_ID" in done.stderr  # where the credentials come from
    as_person(ds, DS)
    return url, s3url, ds


def test_three_roles_share_one_project_through_a_bare_repo_and_seaweedfs(seaweed, tmp_path, monkeypatch):  # noqa: F811
    url, s3url, ds = s3_project(seaweed, tmp_path, "roles", monkeypatch)
    remote = Path(url.removeprefix("file://"))
    config = (ds / ".dvc" / "config").read_text()
    assert s3url in config and seaweed.endpoint in config and seaweed.secret_key not in config
    assert len(seaweed.keys("roles/")) >= 2  # `data add` pushed the sample's data through S3
    # the data scientist trains and syncs the experiment
    ok(run_cli("pipeline", cwd=ds, env=PATH_ENV))
    ok(run_cli("train", "--name", "ds-first", "--quiet", cwd=ds, env=PATH_ENV))
    data = sync_json(ds)
    assert "1 experiment(s)" in data["pushed"] and data["in_sync"]
    assert "ds-first" in git(remote, "for-each-ref", "refs/exps")
    ok(run_cli("exp", "promote", "ds-first", "--quiet", cwd=ds, env=PATH_ENV))
    assert sync_json(ds)["in_sync"]

    # the ML engineer: a fresh clone, sync (data from S3), validate, register, sync
    mle = clone(url, tmp_path / "mle" / "diagnosis", *MLE)
    first = sync_json(mle)
    assert first["status"]["experiments"]["only_there"] == ["ds-first"]
    assert (mle / "models" / "model.skops").read_bytes() == (ds / "models" / "model.skops").read_bytes()
    assert "ds-first" in git(mle, "for-each-ref", "refs/exps")
    ok(run_cli("validate", "--quiet", "--role", "ml_engineer", cwd=mle, env=PATH_ENV))
    ok(run_cli("model", "register", "--no-push", "--role", "ml_engineer", cwd=mle, env=PATH_ENV))
    data = sync_json(mle)
    assert "1 registry tag(s)" in data["pushed"]
    assert git(remote, "tag", "--list").split() == ["model@v1.0.0"]

    # the business owner: sync, review, approve, sync
    bo = clone(url, tmp_path / "bo" / "diagnosis", *BO)
    assert sync_json(bo)["in_sync"]
    ok(run_cli("review", "approve", "-m", "fits the triage use", "--role", "business_owner", cwd=bo,
               env=PATH_ENV))
    assert "commit(s) on main" in " ".join(sync_json(bo)["pushed"])

    # the data scientist syncs and sees the approval and the registered version
    data = sync_json(ds)
    assert data["pulled"] == "fast-forward" and "reports/review.json" in data["pulled_files"]
    review = json.loads(ok(run_cli("review", "show", "--json", cwd=ds)).stdout)
    assert review["decision"]["decision"] == "approved" and review["decision"]["reviewer"]["name"] == BO[0]
    assert "model@v1.0.0" in git(ds, "tag", "--list")
    status = json.loads(ok(run_cli("status", "--json", cwd=ds)).stdout)
    assert status["team"]["last_steps"][0]["author"] == BO[0]
    assert status["team"]["remote"]["ahead"] == 0 and status["team"]["remote"]["behind"] == 0

    # two people register the same version number: the second sync refuses, naming the first
    commit_file(mle, "mle.md", "engineer's notes\n", "Notes: engineer")
    commit_file(ds, "ds.md", "scientist's notes\n", "Notes: scientist")
    ok(run_cli("model", "register", "--version", "v1.1.0", "--no-push", cwd=mle, env=PATH_ENV))
    ok(run_cli("model", "register", "--version", "v1.1.0", "--no-push", cwd=ds, env=PATH_ENV))
    assert sync_json(mle)["in_sync"]
    winner = git(remote, "rev-parse", "model@v1.1.0").strip()
    done = sync(ds, "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    data = json.loads(done.stdout)
    race = data["races"][0]
    assert race["tag"] == "model@v1.1.0" and race["kind"] == "version" and MLE[0] in race["by"]
    assert "model register" in race["redo"]
    assert git(remote, "rev-parse", "model@v1.1.0").strip() == winner  # not overwritten
    assert (ds / "mle.md").exists()  # the rest of the sync went through (rebase of ds's own commit)
    assert git(remote, "log", "-1", "--format=%an", "main").strip() == DS[0]
    text = sync(ds)
    assert text.returncode == 1 and f"{MLE[0]}" in text.stderr and "refused: model@v1.1.0" in text.stderr


def test_the_store_killed_during_the_push_and_the_next_sync_finishes_the_job(seaweed, tmp_path, monkeypatch):  # noqa: F811
    url, _s3url, ds = s3_project(seaweed, tmp_path, "killed", monkeypatch)
    remote = Path(url.removeprefix("file://"))
    assert sync(ds).returncode == 0
    shared_head = head(ds)
    # a data folder of many files (a few hundred objects to upload), tracked and committed by the user
    big = ds / "data" / "images"
    big.mkdir()
    for i in range(400):
        (big / f"img_{i:04d}.bin").write_bytes(os.urandom(8192) + i.to_bytes(4, "big"))
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "data/images"], cwd=ds, check=True)
    git(ds, "add", "data/images.dvc", "data/.gitignore")
    git(ds, "commit", "-q", "-m", "Data: images")
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "sync"], cwd=ds, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            env={**os.environ, **PATH_ENV})
    killed = False
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "pushing DVC objects to" in line and not killed:
            # at once: 400 small objects can all arrive before a poll of the store sees the first
            # (the push then finished before the kill); killed now, it dies during the push
            seaweed.kill()
            killed = True
    out = proc.stdout.read() if proc.stdout else ""
    assert proc.wait(timeout=300) == 1, out + "".join(lines)
    errors = [ln for ln in lines if ln.startswith("mlops-workbench:")]
    assert len(errors) == 1 and "Traceback" not in "".join(lines), "".join(lines)
    assert "run sync again" in errors[0]
    # the pointers were not shared without their data
    assert git(remote, "rev-parse", "main").strip() == shared_head
    seaweed.start()
    data = sync_json(ds)
    assert data["in_sync"] and git(remote, "rev-parse", "main").strip() == head(ds)
    # nothing was lost: a fresh clone gets every file back from the store
    fresh = clone(url, tmp_path / "fresh", *MLE)
    subprocess.run([sys.executable, "-m", "dvc", "pull", "-q"], cwd=fresh, check=True)
    for i in (0, 199, 399):
        name = f"img_{i:04d}.bin"
        assert (fresh / "data" / "images" / name).read_bytes() == (big / name).read_bytes()
    assert len(list((fresh / "data" / "images").iterdir())) == 400
