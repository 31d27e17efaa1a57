"""Shared fixtures: real git + DVC repositories in temporary folders.

Every test runs with its own HOME (a git identity configured there, no system git
config) so nothing on the developer's machine leaks in. Sample projects are built
once per session with the real ``create_from_sample`` and copied per test, because
building one costs a few seconds of real DVC work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IDENTITY = ("Ada Lovelace", "ada@example.com")

# pytest imports this file as ``conftest`` (tests/ is no package) and the test files import it as
# ``tests.conftest``: one module object for both, so the per-worker templates below and
# ``session_cache`` are built once per worker, not once per name.
sys.modules.setdefault("tests.conftest", sys.modules[__name__])
_SESSION: dict[str, dict] = {}


def session_cache(name: str) -> dict:
    """A dict that lives as long as the worker, shared by every test file that asks for ``name``.

    A test file is imported twice (by pytest as ``test_x``, by other test files as
    ``tests.test_x``): a module-level dict would exist twice, and its template be built twice.
    """
    return _SESSION.setdefault(name, {})


def _isolated_env(home: Path) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1",
        "DVC_NO_UPDATER": "1",
        "DVC_GLOBAL_CONFIG_DIR": str(home / ".config" / "dvc"),
        "DVC_SITE_CACHE_DIR": str(home / ".cache" / "dvc"),
    }
    return env


def configure_identity(home: Path, name: str = IDENTITY[0], email: str = IDENTITY[1]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **_isolated_env(home)}
    subprocess.run(["git", "config", "--global", "user.name", name], env=env, check=True)
    subprocess.run(["git", "config", "--global", "user.email", email], env=env, check=True)
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "main"], env=env, check=True)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """A HOME with a git identity, and no identity or DVC settings from the outside."""
    home = tmp_path_factory.mktemp("home")
    # what configure_identity writes (three `git config --global`), written by git once per worker
    identity = session_cache("identity")
    if "gitconfig" not in identity:
        made = tmp_path_factory.mktemp("identity-home")
        configure_identity(made)
        identity["gitconfig"] = made / ".gitconfig"
    shutil.copy2(identity["gitconfig"], home / ".gitconfig")
    for key, value in _isolated_env(home).items():
        monkeypatch.setenv(key, value)
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                "GIT_DIR", "GIT_WORK_TREE", "MLOPS_WORKBENCH_DVC"):
        monkeypatch.delenv(key, raising=False)
    return home


_TEMPLATES: dict[str, Path] = session_cache("samples")


def _template(sample_id: str, tmp_path_factory) -> Path:
    if sample_id not in _TEMPLATES:
        from workbench.new_project import create_from_sample

        base = tmp_path_factory.mktemp(f"template-{sample_id}")
        home = base / "home"
        configure_identity(home)
        old = {k: os.environ.get(k) for k in _isolated_env(home)}
        os.environ.update(_isolated_env(home))
        try:
            create_from_sample(sample_id, base / sample_id)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        _TEMPLATES[sample_id] = base / sample_id
    return _TEMPLATES[sample_id]


@pytest.fixture
def make_sample(tmp_path, tmp_path_factory):
    """``make_sample("fraud_detection")`` -> a fresh copy of that sample project in tmp_path.

    The copy's DVC remote is the session template's storage folder (content-addressed,
    so sharing it is safe).
    """

    def make(sample_id: str = "fraud_detection") -> Path:
        template = _template(sample_id, tmp_path_factory)
        dest = tmp_path / sample_id
        shutil.copytree(template, dest, symlinks=True)
        return dest

    return make


def _project_template(tmp_path_factory) -> Path:
    """The ``project`` fixture's project, made once per worker by the real ``create_project``."""
    cache = session_cache("project")
    if "churn" not in cache:
        from workbench.new_project import create_project
        from workbench.project import Charter, TeamMember

        base = tmp_path_factory.mktemp("project-template")
        home = base / "home"
        configure_identity(home)
        charter = Charter(
            name="Churn", problem="Customers leave without warning.", business_owner="Dana Ortiz",
            success_metric="recall >= 0.7", task="classification",
            team=(TeamMember("Dana Ortiz", "dana@example.com", "business_owner"),
                  TeamMember(*IDENTITY, "data_scientist")),
        )
        with pytest.MonkeyPatch.context() as mp:
            for key, value in _isolated_env(home).items():
                mp.setenv(key, value)
            made = create_project(base / "churn", charter)
        cache["churn"] = (made.path, made.remote)
    return cache["churn"]


@pytest.fixture
def project(tmp_path, tmp_path_factory) -> Path:
    """A new, empty workbench project (charter filled, no data), made by the real code.

    ``create_project`` runs once per worker (it costs seconds of DVC subprocesses); each test
    gets a copy moved to ``tmp_path / "churn"`` as if made there: its own empty DVC remote
    folder beside it (``churn.dvc-storage``), that path in ``.dvc/config`` and the README, in
    the project's one commit (remade now, by this test's identity; the template's objects and
    reflog entry are dropped, so the history is exactly a fresh project's).
    """
    template, template_remote = _project_template(tmp_path_factory)
    dest = tmp_path / "churn"
    shutil.copytree(template, dest, symlinks=True)
    remote = tmp_path / "churn.dvc-storage"
    remote.mkdir()
    old = git(dest, "rev-parse", "HEAD", "HEAD^{tree}", "HEAD:.dvc", "HEAD:.dvc/config",
              "HEAD:README.md").split()
    for rel in (".dvc/config", "README.md"):
        file = dest / rel
        file.write_text(file.read_text(encoding="utf-8").replace(template_remote, str(remote)),
                        encoding="utf-8")
    git(dest, "add", "--", ".dvc/config", "README.md")
    git(dest, "commit", "-q", "--amend", "--no-edit", "--reset-author")
    new = git(dest, "rev-parse", "HEAD", "HEAD^{tree}", "HEAD:.dvc", "HEAD:.dvc/config",
              "HEAD:README.md").split()
    stamp, subject = git(dest, "log", "-1", "--date=raw", "--format=%cn <%ce> %cd%n%s").splitlines()
    entry = f"{'0' * 40} {new[0]} {stamp}\tcommit (initial): {subject}\n"
    for log in (dest / ".git" / "logs" / "HEAD", dest / ".git" / "logs" / "refs" / "heads" / "main"):
        log.write_text(entry, encoding="utf-8")
    for sha in set(old) - set(new):
        (dest / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    return dest


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``mlops-workbench`` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], cwd=str(cwd) if cwd else None,
        capture_output=True, text=True, env=full_env, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stdout."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def run_tool(cwd: Path, name: str, *args: str) -> str:
    """Run a tool of the venv (dvc, gto...) as a shell with the venv active would; assert success."""
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": str(bindir) + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run([str(bindir / name), *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def anyio_backend() -> str:
    """The Pilot tests (``pytest.mark.anyio``) run on asyncio, Textual's loop."""
    return "asyncio"




# --- the order of the files on the xdist workers (make test: -n 2 --dist loadfile) ------------
#
# xdist hands out whole files, by default the files with the most tests first, so the files of
# one or two long tests (a day of work, a lifecycle) came last and one worker ran them alone
# while the other had finished. The longest files go first instead (longest-processing-time
# first), so the two workers end within a short file of each other. Seconds per file, measured
# in a full run on a busy 2-core machine (only their order matters); a file not listed counts
# one second per test.
FILE_SECONDS: dict[str, float] = {
    # one or two long tests each
    "test_day_of_work.py": 185, "test_lifecycle_small_data.py": 140, "test_contract_retrain.py": 170,
    "test_no_regression.py": 220, "test_ci_workflow_e2e.py": 75, "test_import_floors.py": 35,
    # many tests on real DVC
    "test_team_sync.py": 270, "test_retrain.py": 285, "test_data_gates.py": 240, "test_tui_step_actions.py": 220,
    "test_tui_dev_views.py": 205, "test_tui_monitoring_view.py": 200, "test_monitoring.py": 180,
    "test_contract_train.py": 155, "test_exp_history.py": 145, "test_dev_training.py": 145,
    "test_model_truth.py": 145, "test_faults.py": 140, "test_validation.py": 140, "test_train_families.py": 130,
    "test_workspace_experiment.py": 105, "test_tui_design_views.py": 100, "test_review.py": 95,
    "test_serving_security.py": 95, "test_governance.py": 90, "test_data_check.py": 85,
    "test_tui_deployment_view.py": 65, "test_tui_data_view.py": 65, "test_tui_keys_focus.py": 60,
    "test_serving_fuzz.py": 50, "test_cicd.py": 50, "test_tui_app.py": 50, "test_dev_pipeline.py": 50,
    "test_registry.py": 45, "test_remotes.py": 40, "test_tui_governance_views.py": 35, "test_web.py": 35,
    "test_status_maturity.py": 30, "test_serving.py": 90, "test_data_bad_input.py": 85, "test_onnx.py": 40,
    "test_new_project.py": 40, "test_exp_refs.py": 25,
}


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "dist", "no") == "loadfile":
        config.option.loadscopereorder = False  # keep the order the workers collected (below)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # not an xdist worker: keep pytest's order
        return
    counts: dict[str, int] = {}
    for item in items:
        name = item.nodeid.split("::", 1)[0]
        counts[name] = counts.get(name, 0) + 1

    def weight(item: pytest.Item) -> float:
        name = item.nodeid.split("::", 1)[0]
        return FILE_SECONDS.get(Path(name).name, float(counts[name]))

    items.sort(key=weight, reverse=True)  # stable: a file's tests keep their order
