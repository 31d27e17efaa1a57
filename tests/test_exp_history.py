"""Experiment history (list, cache, show, diff, note, promote) on real git + DVC experiments.

One trained project is built per module (real ``dvc exp run`` through the workbench: two
experiments on ``main``, one on a branch ``tune``) and copied for each test that writes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import _isolated_env, _template, configure_identity, git, run_cli
from workbench.errors import WorkbenchError

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))


def _shell_env() -> dict[str, str]:
    return {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}


def _dvc(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["dvc", *args], cwd=path, env=_shell_env(), capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def _exp_refs(path: Path) -> set[str]:
    refs = git(path, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    return {r for r in refs if not r.startswith(("refs/exps/exec/", "refs/exps/celery/"))}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A diagnosis project: exp-a (C=0.5), exp-b (C=2) on main; exp-t on branch tune (C=3, max_iter=500)."""
    from workbench.development.pipeline import configure_pipeline
    from workbench.development.training import run_experiment

    base = tmp_path_factory.mktemp("exp-history")
    home = base / "home"
    configure_identity(home)
    saved = dict(os.environ)
    os.environ.update(_isolated_env(home))
    try:
        path = base / "diagnosis"
        shutil.copytree(_template("diagnosis", tmp_path_factory), path, symlinks=True)
        configure_pipeline(path)
        run_experiment(path, {"model.params.C": 0.5}, name="exp-a")
        run_experiment(path, {"model.params.C": 2.0}, name="exp-b")
        git(path, "checkout", "-q", "--", "params.yaml")
        git(path, "switch", "-q", "-c", "tune")
        configure_pipeline(path, overrides={"model.params.C": 3.0})
        run_experiment(path, {"model.params.max_iter": 500}, name="exp-t")
        git(path, "checkout", "-q", "--", "params.yaml")
        git(path, "switch", "-q", "main")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return path


@pytest.fixture
def project(trained, tmp_path) -> Path:
    dest = tmp_path / "diagnosis"
    shutil.copytree(trained, dest, symlinks=True)
    return dest


def _dvc_rows(path: Path) -> list[dict]:
    shown = _dvc(path, "exp", "show", "--json", "--all-commits")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_history_agrees_with_dvc_exp_show(trained):
    from workbench.development.experiments import flatten, list_experiments, numeric_metrics

    exps = list_experiments(trained)
    main = git(trained, "rev-parse", "main").strip()
    tune = git(trained, "rev-parse", "tune").strip()
    assert exps[0].is_baseline and exps[0].rev == main and exps[0].name == "main"  # HEAD first
    ours = {e.name: e for e in exps if not e.is_baseline}
    assert set(ours) == {"exp-a", "exp-b", "exp-t"}
    assert ours["exp-a"].baseline == ours["exp-b"].baseline == main and ours["exp-t"].baseline == tune
    assert ours["exp-t"].branch == "tune"
    assert ours["exp-a"].params["model.params.C"] == 0.5 and ours["exp-t"].params["model.params.C"] == 3.0

    checked = 0
    for row in _dvc_rows(trained):
        if row["rev"] == "workspace":
            continue
        for group in row.get("experiments") or []:
            rev = group["revs"][0]
            mine = ours[rev["name"]]
            assert mine.rev == rev["rev"] and mine.baseline == row["rev"]
            assert mine.params == flatten(rev["data"]["params"]["params.yaml"]["data"])
            assert mine.metrics == numeric_metrics(rev["data"]["metrics"]["metrics.json"]["data"])
            assert mine.metrics["roc_auc"] > 0.9
            stamp = datetime.fromisoformat(rev["data"]["timestamp"]).timestamp()  # DVC: naive local time
            assert abs(datetime.fromisoformat(mine.created).timestamp() - stamp) < 1
            checked += 1
        if row.get("experiments"):
            baseline = next(e for e in exps if e.is_baseline and e.rev == row["rev"])
            assert baseline.params == flatten(row["data"]["params"]["params.yaml"]["data"])
    assert checked == 3


def test_cache_is_rebuildable_and_sees_new_notes(project):
    from workbench.development.experiments import cache_path, list_experiments, set_note

    first = list_experiments(project)
    cache = cache_path(Path(git(project, "rev-parse", "--absolute-git-dir").strip()))
    assert cache.is_file() and git(project, "status", "--porcelain", "--ignored", "--", ".git") == ""
    assert list_experiments(project) == first  # warm
    cache.write_text("{not json", encoding="utf-8")
    assert list_experiments(project) == first  # corrupt: rebuilt
    cache.unlink()
    assert list_experiments(project) == first  # missing: rebuilt
    set_note(project, "exp-b", "worth a second look")
    again = {e.name: e for e in list_experiments(project)}
    assert again["exp-b"].note == "worth a second look"
    rev = again["exp-b"].rev
    assert git(project, "notes", "--ref=workbench", "show", rev).strip() == "worth a second look"
    set_note(project, "exp-b", "")
    assert {e.name: e for e in list_experiments(project)}["exp-b"].note == ""


def test_varying_columns_hide_what_never_changes(trained):
    from workbench.development.experiments import list_experiments, varying_columns

    exps = list_experiments(trained)
    params, metrics = varying_columns(exps)
    assert set(params) == {"model.params.C", "model.params.max_iter"}
    assert "roc_auc" in metrics
    main_only = [e for e in exps if e.name in ("exp-a", "exp-b")]
    assert varying_columns(main_only)[0] == ["model.params.C"]


def test_cli_list_show_diff_and_bad_names(trained):
    done = run_cli("exp", "list", "--json", "--sort", "accuracy", "--limit", "2", cwd=trained)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    rows = data["experiments"]
    assert len(rows) == 2 and rows[0]["metrics"]["accuracy"] >= rows[1]["metrics"]["accuracy"]
    assert "model.params.C" in data["varying"]["params"]

    done = run_cli("exp", "list", cwd=trained)
    assert done.returncode == 0 and "exp-a" in done.stdout and "main (baseline)" in done.stdout
    assert "features.mean_radius" not in done.stdout  # unchanged columns hidden by default
    assert "features.mean_radius" in run_cli("exp", "list", "--all-columns", cwd=trained).stdout

    done = run_cli("exp", "list", "--sort", "auc", cwd=trained)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "no metric 'auc'" in lines[0] and "roc_auc" in lines[0] and "log_loss" in lines[0]

    done = run_cli("exp", "show", "exp-aa", cwd=trained)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "no experiment named 'exp-aa'" in lines[0] and "'exp-a'" in lines[0] and "exp list" in lines[0]

    shown = json.loads(run_cli("exp", "show", "exp-t", "--json", cwd=trained).stdout)["experiment"]
    assert shown["params"]["model.params.max_iter"] == 500 and shown["branch"] == "tune"

    diff = json.loads(run_cli("exp", "diff", "exp-a", "exp-b", "--json", cwd=trained).stdout)
    assert diff["params"] == [{"key": "model.params.C", "a": 0.5, "b": 2.0, "delta": 1.5}]
    roc = next(m for m in diff["metrics"] if m["key"] == "roc_auc")
    assert roc["delta"] == pytest.approx(roc["b"] - roc["a"])
    text = run_cli("exp", "diff", "exp-a", "exp-b", cwd=trained)
    assert text.returncode == 0 and "model.params.C" in text.stdout and "delta" in text.stdout


def test_promote_refuses_user_edits_then_makes_one_training_commit(project):
    from workbench.development.experiments import get_experiment, list_experiments

    head = git(project, "rev-parse", "HEAD").strip()
    params = project / "params.yaml"
    params.write_text(params.read_text() + "# my edit\n")
    params_before = params.read_bytes()
    done = run_cli("exp", "promote", "exp-a", cwd=project)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "params.yaml has uncommitted edits" in lines[0]
    assert git(project, "rev-parse", "HEAD").strip() == head
    assert params.read_bytes() == params_before

    git(project, "checkout", "-q", "--", "params.yaml")
    # an uncommitted edit of workbench.yaml (no stage reads it) is kept as it is, uncommitted
    config = project / "workbench.yaml"
    config.write_text(config.read_text() + "# my edit\n")
    config_before = config.read_bytes()
    exp = get_experiment(project, "exp-a")
    done = run_cli("exp", "promote", "exp-a", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    commit = json.loads(done.stdout)["commit"]
    assert git(project, "rev-parse", "HEAD").strip() == commit
    assert git(project, "rev-parse", "HEAD^").strip() == head
    message = git(project, "log", "-1", "--format=%B")
    assert message.startswith("Training & experiments: promote experiment exp-a (")
    assert "Workbench-Step: training" in message and "Workbench-Role:" in message
    committed = set(git(project, "show", "--name-only", "--format=", "HEAD").split())
    expected = set(git(project, "diff", "--name-only", head, exp.rev).split())
    assert expected <= committed and {"params.yaml", "dvc.lock", "metrics.json"} <= expected
    assert committed - expected <= {"data/prepared/.gitignore", "models/.gitignore"}
    # HEAD holds the experiment (and the .gitignore DVC wrote beside the cached outputs)
    assert set(git(project, "diff", "--name-only", "HEAD", exp.rev).split()) == committed - expected
    tracked_dirty = [ln for ln in git(project, "status", "--porcelain").splitlines() if not ln.startswith("??")]
    assert tracked_dirty == [" M workbench.yaml"] and config.read_bytes() == config_before
    assert "workbench.yaml" not in committed

    status = _dvc(project, "status")
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout + status.stderr
    rows = _dvc_rows(project)
    workspace = next(r for r in rows if r["rev"] == "workspace")
    head_row = next(r for r in rows if r["rev"] == commit)
    assert workspace["data"]["metrics"] == head_row["data"]["metrics"]
    assert head_row["data"]["metrics"]["metrics.json"]["data"] == exp.metrics
    history = list_experiments(project)
    assert history[0].rev == commit and history[0].metrics == exp.metrics
    assert {e.name for e in history if not e.is_baseline} == {"exp-a", "exp-b", "exp-t"}

    done = run_cli("exp", "promote", "exp-zz", cwd=project)
    assert done.returncode == 2 and "no experiment named 'exp-zz'" in done.stderr


def test_promote_after_a_settings_commit_keeps_the_settings(project):
    """The first ``validate`` commits the default gates to workbench.yaml; promoting still works.

    No stage reads workbench.yaml, so a commit that changed only the settings since the
    experiment ran leaves it promotable, and the promote keeps HEAD's settings. A dvc.yaml
    that names workbench.yaml makes the same commit count as a change again.
    """
    config = project / "workbench.yaml"
    config.write_text(config.read_text() + "gates:\n  baseline:\n    margin: 0.07\n")
    git(project, "commit", "-q", "-m", "settings: gates", "--", "workbench.yaml")
    settings = config.read_bytes()
    head = git(project, "rev-parse", "HEAD").strip()
    done = run_cli("exp", "promote", "exp-b", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    assert git(project, "rev-parse", "HEAD^").strip() == head
    assert config.read_bytes() == settings
    assert "workbench.yaml" not in git(project, "show", "--name-only", "--format=", "HEAD").split()
    assert "params.yaml" in git(project, "show", "--name-only", "--format=", "HEAD").split()
    assert git(project, "status", "--porcelain", "--untracked-files=no") == ""



def test_settings_commit_counts_when_a_stage_reads_workbench_yaml(project):
    from workbench.development.training import run_experiment

    dvc_yaml = project / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text() + "# the train stage also reads workbench.yaml\n")
    git(project, "commit", "-q", "-m", "own stage", "--", "dvc.yaml")
    run_experiment(project, {"model.params.C": 0.9}, name="exp-own")
    config = project / "workbench.yaml"
    config.write_text(config.read_text() + "gates:\n  baseline:\n    margin: 0.07\n")
    git(project, "commit", "-q", "-m", "settings: gates", "--", "workbench.yaml")
    head = git(project, "rev-parse", "HEAD").strip()
    done = run_cli("exp", "promote", "exp-own", cwd=project)
    assert done.returncode == 2, done.stderr
    assert "workbench.yaml has changed since" in done.stderr, done.stderr
    assert git(project, "rev-parse", "HEAD").strip() == head


def test_kill_9_of_a_run_leaves_a_consistent_history_and_workspace(project):
    import psutil

    config = project / "workbench.yaml"
    config.write_text(config.read_text() + "# uncommitted note\n")
    params_before = (project / "params.yaml").read_bytes()
    refs_before = _exp_refs(project)
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "train", "-S", "model.params.C=0.77"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        seen.append(line)
        if "Running stage 'train'" in line or time.monotonic() > deadline:
            break
    assert any("Running stage 'train'" in ln for ln in seen), "".join(seen)
    # kill -9 the whole tree: the workbench first (so it cannot clean up), then DVC (its own session)
    children = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)
    for child in children:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait(30)
    proc.stdout.close()

    done = run_cli("exp", "list", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {e["name"] for e in data["experiments"] if not e["is_baseline"]} == {"exp-a", "exp-b", "exp-t"}
    assert any("interrupted" in m for m in data["messages"])
    assert _exp_refs(project) == refs_before                       # no half experiment
    assert git(project, "symbolic-ref", "HEAD").strip() == "refs/heads/main"  # not left detached
    assert (project / "params.yaml").read_bytes() == params_before  # DVC's -S write undone
    assert config.read_text().endswith("# uncommitted note\n")      # the user's edit intact
    assert git(project, "diff", "--cached", "--name-only").strip() == ""

    again = run_cli("train", "-S", "model.params.C=0.77", "--json", cwd=project)
    assert again.returncode == 0, again.stderr                       # no stale lock in the way
    name = json.loads(again.stdout)["experiments"][0]["name"]
    assert name in {e["name"] for e in json.loads(run_cli("exp", "list", "--json", cwd=project).stdout)["experiments"]}
    assert git(project, "symbolic-ref", "HEAD").strip() == "refs/heads/main"


def test_single_run_bad_value_fails_in_one_line_and_records_nothing(project):
    params_before = (project / "params.yaml").read_bytes()
    refs_before = _exp_refs(project)
    done = run_cli("train", "-S", "model.params.solver=bogus", cwd=project)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert "'solver' parameter of LogisticRegression" in lines[-1] and "nothing was recorded" in lines[-1]
    assert _exp_refs(project) == refs_before
    assert (project / "params.yaml").read_bytes() == params_before
    assert git(project, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(project, "diff", "--cached", "--name-only").strip() == ""


def test_a_run_checks_names_without_importing_sklearn(trained):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from workbench.development.training import _checked_params\n"
        "from workbench.errors import WorkbenchError\n"
        f"root = Path({str(trained)!r})\n"
        "_checked_params(root, {'model.params.C': '0.3'}, values=False)\n"
        "try:\n"
        "    _checked_params(root, {'model.params.CC': '0.3'}, values=False)\n"
        "except WorkbenchError as exc:\n"
        "    print(exc)\n"
        "print('sklearn' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert "no hyperparameter 'CC' (did you mean 'C'?)" in lines[0]
    assert lines[-1] == "False"


def test_param_names_table_matches_installed_sklearn():
    from workbench.development.models import MODELS, PARAM_NAMES, check_param_names, estimator_class

    for task, families in MODELS.items():
        for name, (_, cls_name) in families.items():
            assert set(PARAM_NAMES[cls_name]) == set(estimator_class(task, name)().get_params()), cls_name
    with pytest.raises(WorkbenchError, match="no hyperparameter 'n_estimator' \\(did you mean 'n_estimators'"):
        check_param_names("regression", "random_forest", {"n_estimator": 3})
    with pytest.raises(WorkbenchError, match="use one of dummy"):
        check_param_names("classification", "xgboost", {})


def test_yaml_parsing_matches_dvc_on_yaml_1_2_corners():
    """Values where PyYAML (YAML 1.1) and DVC's ruamel (YAML 1.2) differ are read DVC's way."""
    from dvc.utils.serialize import parse_yaml

    from workbench.development.experiments import parse_params

    text = "a: 1e-3\nb: yes\nc: 010\nd: 1_000\ne: 0.5\nf: [1, 2]\ng: 2024-01-02\nh: off\n"
    assert parse_params(text) == parse_yaml(text, "params.yaml")
    plain = "model:\n  name: ridge\n  params: {alpha: 0.5, max_iter: null}\n"
    assert parse_params(plain) == parse_yaml(plain, "params.yaml")
