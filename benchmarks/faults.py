"""Fault trials: kill -9 mid-operation, two writers at once, a long session.

Run by hand (``.venv/bin/python benchmarks/faults.py``): 50 seeded kill trials spread
over the operations, a two-writer race, and 1,000 operations in one process. It prints a
table per trial kind and the count lines in ``_common.report()``'s format. The same
functions run a seeded subset in ``tests/test_faults.py``.

A trial, on a fresh copy of a sample project:

1. the user has work in progress: an unstaged edit of a tracked file (``generate.py``),
   a staged edit (``README.md``) and an untracked file (``notes/ideas.txt``);
2. a real ``mlops-workbench`` subprocess runs one operation and is killed with SIGKILL,
   with every process it started (DVC runs in a session of its own, so killing the
   workbench's process group alone would leave DVC running), after a seeded delay spread
   over the operation's duration, measured first on another copy;
3. checks: ``git fsck --strict`` passes (dangling objects are fine); the user's edits are
   intact byte for byte; the workspace is consistent — either exactly one new commit of
   the step with the files matching it, or the files as before the operation (for an
   experiment: the branch and the tracked files untouched); ``status`` exits 0 and the
   core's ``project_status`` works; the same operation run again succeeds, and every
   stale lock the kill left (``.git/mlops-workbench.lock``, ``.git/index.lock``,
   DVC's ``.dvc/tmp/rwlock``) is cleared by it with a message on stderr.

Operations: ``charter set``, ``usecase score``, ``data add`` of a CSV from outside the
project, ``train`` on the diagnosis sample's pipeline, ``exp promote``, and ``retrain`` on
the diagnosis sample's labelled Q2 batch with a model in production (HEAD must keep its
pipeline and data: only validation reports may be committed, and a killed retrain's journal
puts the workspace back on the next run). A ``train`` trial runs with the user's staged and
unstaged edits present: both must come back byte-identical, HEAD must not move, and HEAD
must still reproduce from a fresh clone (``git clone`` + ``dvc pull``, and ``dvc repro``
matching HEAD's metrics when HEAD has a dvc.lock).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SEED = 7
TRIALS = 50
LOCK_NAMES = ("workbench lock", "index.lock", "DVC rwlock")
#: The message (on the next write's stderr) that says each kind of stale lock was cleared.
LOCK_MESSAGES = {
    "workbench lock": ("stale workbench lock",),
    "index.lock": ("index.lock",),
    # the workbench's own message, or DVC's when DVC itself finds the dead pid first
    "DVC rwlock": ("stale DVC pipeline locks", "is not running"),
}
USER_EDIT = "\n# a local edit the user has not committed\n"
USER_STAGED = "\nA staged line the user has not committed yet.\n"
USER_NOTE = "An untracked note: do not lose me.\n"


# --- operations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One workbench operation a trial interrupts."""

    name: str
    sample: str
    step: str | None  # the Workbench-Step of its commit; None: a DVC experiment, no branch commit
    make_args: Callable[[Path, Path, int], list[str]]  # (project, outside folder, trial) -> CLI args
    prepare: Callable[[Path], None] | None = None  # once, on the template (e.g. the pipeline)
    # the user's tracked edits (staged and not) are moved aside around ``dvc exp apply`` and
    # put back, so promote trials keep them too
    tracked_edits: bool = True
    refuses_repeat: bool = False  # run again after it committed, it is refused (exit 2, one line)
    # train trials run with the README edit staged and generate.py's unstaged: the workbench
    # moves both aside around ``dvc exp run`` (journaled) and puts them back byte for byte
    staged_edit: bool = True


def _charter_args(project: Path, outside: Path, trial: int) -> list[str]:
    return ["charter", "set", "--problem", f"Fraud costs money (revision {trial}): catch more of it."]


def _usecase_args(project: Path, outside: Path, trial: int) -> list[str]:
    return ["usecase", "score", "card-fraud-scoring", f"feasibility={1 + trial % 3}", "risk=5"]


def _data_args(project: Path, outside: Path, trial: int) -> list[str]:
    csv = outside / "extra_transactions.csv"
    if not csv.exists():
        source = project / "data" / "transactions.csv"
        lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
        csv.write_text("".join(lines[:3001]), encoding="utf-8")
    return ["data", "add", str(csv), "--name", "extra"]


def _data_in_place_args(project: Path, outside: Path, trial: int) -> list[str]:
    """A CSV the user put into the project (untracked) and now registers: no copy is made."""
    folder = project / "extra"
    folder.mkdir(exist_ok=True)
    source = project / "data" / "transactions.csv"
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "batch.csv").write_text("".join(lines[:3001]), encoding="utf-8")
    return ["data", "add", "extra/batch.csv", "--name", "extra"]


def _train_args(project: Path, outside: Path, trial: int) -> list[str]:
    return ["train"]


def _configure_pipeline(project: Path) -> None:
    from workbench.development.pipeline import configure_pipeline

    configure_pipeline(project)


PROMOTED = "faults-candidate"


def _pipeline_and_experiment(project: Path) -> None:
    _configure_pipeline(project)
    done = run_cli(["train", "--quiet", "--name", PROMOTED, "-S", "model.params.C=0.5"], project)
    if done.returncode != 0:
        raise RuntimeError(f"train for the promote trials failed: {done.stderr.strip()}")


def _promote_args(project: Path, outside: Path, trial: int) -> list[str]:
    return ["exp", "promote", PROMOTED]


OPERATIONS: dict[str, Operation] = {
    "charter set": Operation("charter set", "fraud_detection", "requirements", _charter_args),
    "usecase score": Operation("usecase score", "fraud_detection", "use_cases", _usecase_args),
    "data add": Operation("data add", "fraud_detection", "data_availability", _data_args,
                          refuses_repeat=True),
    "data add in place": Operation("data add in place", "fraud_detection", "data_availability",
                                   _data_in_place_args, refuses_repeat=False),
    "train": Operation("train", "diagnosis", None, _train_args, _configure_pipeline),
    "exp promote": Operation("exp promote", "diagnosis", "training", _promote_args,
                             _pipeline_and_experiment, refuses_repeat=True),
}


# --- retrain: a candidate on new data, validated against production -------------------------

RETRAIN_GATES = {"success_metric": {"enabled": False}, "baseline": {"enabled": False},
                 "no_regression": {"enabled": True, "tolerance": 0.1}, "slices": {"enabled": False},
                 "fairness": {"enabled": False}, "reproducibility": {"enabled": False}}


def _production_model(project: Path) -> None:
    """The diagnosis pipeline, a promoted model in production (GTO), only the no_regression gate."""
    import gto.api
    import yaml

    _configure_pipeline(project)
    config = yaml.safe_load((project / "workbench.yaml").read_text(encoding="utf-8"))
    config["gates"] = RETRAIN_GATES
    (project / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    git_out(project, "commit", "-q", "-m", "Only the no_regression gate", "--", "workbench.yaml")
    for args in (["train", "--quiet", "--name", "production"], ["exp", "promote", "production", "--quiet"]):
        done = run_cli(args, project)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} for the retrain trials failed: {done.stderr.strip()}")
    gto.api.register(str(project), "model", "HEAD", version="v1.0.0")
    gto.api.assign(str(project), "model", "production", version="v1.0.0")


def _retrain_args(project: Path, outside: Path, trial: int) -> list[str]:
    return ["retrain", "--data", "incoming/breast_cancer_2026_q2.csv"]


_REPORTS = {"reports/validation.json", "reports/validation.md"}


def _retrain_consistency(project: Path, op: Operation, before: Snapshot) -> tuple[str, list[str]]:
    """A retrain commits validation reports only (HEAD's pipeline and data stay: HEAD reproduces as
    before); the user's files and the tracked files are as before, or a journal puts them back."""
    now = snapshot(project)
    problems: list[str] = []
    commits = git_out(project, "rev-list", f"{before.head}..HEAD").split()
    touched = set(git_out(project, "diff", "--name-only", before.head, "HEAD").split())
    if touched - _REPORTS:
        problems.append(f"HEAD's pipeline or data changed: {', '.join(sorted(touched - _REPORTS))}")
    gdir = git_dir(project)
    journaled = any((gdir / "mlops-workbench" / name).exists()
                    for name in ("retrain.json", "exp-run.json", "step-journal/journal.json"))
    changed = sorted(rel for rel in set(before.files) | set(now.files)
                     if before.files.get(rel) != now.files.get(rel) and rel not in _REPORTS
                     and not _ignored(project, rel))
    if now.tracked_status != before.tracked_status or changed:
        if journaled:
            return "interrupted (journal)", problems
        problems.append(f"not put back: {', '.join(changed[:5]) or now.tracked_status!r}")
    return ("committed" if commits else "rolled back"), problems


CUSTOM_CONSISTENCY: dict[str, Callable[[Path, Operation, Snapshot], tuple[str, list[str]]]] = {
    "retrain": _retrain_consistency}
# dvc exp run (inside retrain) unstages the user's staged edits until the experiment runner moves
# them aside, so its trials keep the README edit unstaged, as the train trials do
OPERATIONS["retrain"] = Operation("retrain", "diagnosis", "validation", _retrain_args, _production_model,
                                  staged_edit=False)


# --- processes ---------------------------------------------------------------------------


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "workbench", *args]


def start_cli(args: Sequence[str], cwd: Path, **kwargs: object) -> subprocess.Popen[str]:
    """A real ``mlops-workbench`` in a session of its own (so it can be killed as a tree)."""
    return subprocess.Popen(cli_command(*args), cwd=str(cwd), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)  # type: ignore[call-overload]


def run_cli(args: Sequence[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(*args), cwd=str(cwd), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def kill_tree(proc: subprocess.Popen[str]) -> None:
    """SIGKILL ``proc`` and everything it started, whatever process group each is in.

    Every group is stopped first (SIGSTOP), so nothing can start a new child while the
    tree is collected, then all of them are killed at once.
    """
    import psutil

    groups: set[int] = set()
    procs: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(proc.pid)
    except psutil.NoSuchProcess:
        proc.wait()
        return
    todo = [root]
    while todo:
        p = todo.pop()
        if p.pid in procs:
            continue
        procs[p.pid] = p
        try:
            pgid = os.getpgid(p.pid)
            if pgid not in groups:
                groups.add(pgid)
                os.killpg(pgid, signal.SIGSTOP)
            p.send_signal(signal.SIGSTOP)
            todo.extend(p.children())
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for p in procs.values():
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    proc.communicate()
    others = [p for p in procs.values() if p.pid != proc.pid]
    _gone, alive = psutil.wait_procs(others, timeout=10)
    for p in alive:  # orphans already dead but not yet reaped by init are zombies: fine
        if p.status() != psutil.STATUS_ZOMBIE:
            raise RuntimeError(f"pid {p.pid} survived SIGKILL")


def git_out(cwd: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def git_bytes(cwd: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True).stdout


def git_dir(project: Path) -> Path:
    return Path(git_out(project, "rev-parse", "--absolute-git-dir").strip())


# --- the state of a project --------------------------------------------------------------

_SKIP_TOP = {".git"}
_SKIP_DVC = {"cache", "tmp"}


def _files(project: Path) -> dict[str, bytes]:
    """Every file of the working tree (DVC's cache and tmp left out), as bytes."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(project):
        rel_dir = Path(dirpath).relative_to(project)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d not in _SKIP_TOP]
        elif rel_dir == Path(".dvc"):
            dirnames[:] = [d for d in dirnames if d not in _SKIP_DVC]
        for name in filenames:
            full = Path(dirpath) / name
            if full.is_file():
                out[(rel_dir / name).as_posix()] = full.read_bytes()
    return out


@dataclass
class Snapshot:
    head: str
    status: str  # git status --porcelain (the user's work in progress)
    tracked_status: str  # the same without untracked files
    files: dict[str, bytes]
    staged_readme: bytes  # the index's README.md (the user's staged edit)
    exp_refs: frozenset[str]


def snapshot(project: Path) -> Snapshot:
    refs = git_out(project, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    return Snapshot(
        head=git_out(project, "rev-parse", "HEAD").strip(),
        status=git_out(project, "status", "--porcelain", "--untracked-files=all"),
        tracked_status=git_out(project, "status", "--porcelain", "--untracked-files=no"),
        files=_files(project),
        staged_readme=git_bytes(project, "show", ":README.md"),
        exp_refs=frozenset(r for r in refs if "/exec/" not in r),
    )


def make_user_edits(project: Path, tracked: bool = True, staged: bool = True) -> None:
    """Work in progress the user has when the operation starts."""
    (project / "notes").mkdir(exist_ok=True)
    (project / "notes" / "ideas.txt").write_text(USER_NOTE, encoding="utf-8")
    if not tracked:
        return
    with open(project / "generate.py", "a", encoding="utf-8") as fh:
        fh.write(USER_EDIT)
    with open(project / "README.md", "a", encoding="utf-8") as fh:
        fh.write(USER_STAGED)
    if staged:
        git_out(project, "add", "README.md")


def edits_intact(project: Path, before: Snapshot) -> list[str]:
    """The user's work in progress, byte for byte (the snapshot holds it as it was)."""
    problems = []
    for rel in ("generate.py", "README.md", "notes/ideas.txt"):
        path = project / rel
        if rel not in before.files:
            continue
        if not path.exists() or path.read_bytes() != before.files[rel]:
            problems.append(f"the user's {rel} changed")
    if git_bytes(project, "show", ":README.md") != before.staged_readme:
        problems.append("the user's staged README.md changed")
    return problems


def stale_locks(project: Path) -> list[str]:
    """The locks a killed process left behind."""
    import json

    import psutil

    found = []
    gdir = git_dir(project)
    if (gdir / "mlops-workbench.lock").exists():
        found.append("workbench lock")
    if (gdir / "index.lock").exists():
        found.append("index.lock")
    try:
        data = json.loads((project / ".dvc" / "tmp" / "rwlock").read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        data = {}
    infos = list((data.get("write") or {}).values())
    infos += [i for v in (data.get("read") or {}).values() for i in v]
    if any(not psutil.pid_exists(int(i.get("pid", -1))) for i in infos):
        found.append("DVC rwlock")
    return found


def fsck(project: Path) -> tuple[bool, str]:
    done = subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=project,
                          capture_output=True, text=True)
    bad = [ln for ln in (done.stdout + done.stderr).splitlines()
           if ln.strip() and not ln.startswith(("dangling ", "notice: "))]
    return done.returncode == 0 and not bad, "; ".join(bad[:3]) or f"exit {done.returncode}"


def consistency(project: Path, op: Operation, before: Snapshot) -> tuple[str, list[str]]:
    """('rolled back' | 'committed' | 'experiment' | ..., problems) of the workspace after a kill."""
    if op.name in CUSTOM_CONSISTENCY:
        return CUSTOM_CONSISTENCY[op.name](project, op, before)
    now = snapshot(project)
    problems: list[str] = []
    if op.step is None:
        # An experiment: the branch and every tracked file stay; outputs are DVC's, untracked.
        if now.head != before.head:
            problems.append(f"HEAD moved from {before.head[:7]} to {now.head[:7]}")
        if now.tracked_status != before.tracked_status:
            problems.append(f"tracked files changed: {now.tracked_status!r}")
        for rel, data in before.files.items():
            if now.files.get(rel) != data and not _ignored(project, rel):
                problems.append(f"{rel} changed")
        new = now.exp_refs - before.exp_refs
        if problems and (git_dir(project) / "mlops-workbench" / "exp-run.json").exists():
            # Killed mid-run with DVC's staging in the index: the run's journal lets the next
            # train (or exp list, or promote) put it back (checked after the re-run).
            return "interrupted (journal)", []
        return ("experiment recorded" if new else "no experiment"), problems
    commits = git_out(project, "rev-list", f"{before.head}..HEAD").split()
    if not commits:
        changed = sorted(rel for rel in set(before.files) | set(now.files)
                         if before.files.get(rel) != now.files.get(rel)
                         and not (op.sample == "diagnosis" and _ignored(project, rel)))
        journaled = _journal_paths(project)
        if journaled is not None and set(changed) <= journaled:
            # Killed mid-step: what it wrote is in its journal, and the next write puts it
            # back (checked after the re-run).
            return "interrupted (journal)", []
        if changed:
            problems.append("not committed and not put back: " + ", ".join(changed[:5]))
        if now.status != before.status:
            problems.append(f"git status differs: {now.status!r} vs {before.status!r}")
        return "rolled back", problems
    if len(commits) != 1:
        problems.append(f"{len(commits)} new commits")
        return "committed", problems
    trailer = git_out(project, "log", "-1", "--format=%(trailers:key=Workbench-Step,valueonly)").strip()
    if trailer != op.step:
        problems.append(f"the new commit's step is {trailer!r}, not {op.step!r}")
    in_commit = set(git_out(project, "diff", "--name-only", before.head, "HEAD").split())
    expected = "".join(line for line in before.status.splitlines(keepends=True)
                       if line[3:].rstrip("\n") not in in_commit
                       and not (line.startswith("??") and _ignored(project, line[3:].rstrip("\n"))))
    if now.status != expected:
        problems.append(f"git status after the commit differs: {now.status!r} vs {expected!r}")
    for rel in set(before.files) | set(now.files):
        if rel in in_commit or before.files.get(rel) == now.files.get(rel):
            continue
        if _ignored(project, rel):
            continue  # data and outputs the step tracked with DVC
        problems.append(f"{rel} changed outside the commit")
    return "committed", problems


def _journal_paths(project: Path) -> set[str] | None:
    """The paths a killed step's journals can put back (None: no journal)."""
    import json

    found: set[str] | None = None
    try:
        data = json.loads((git_dir(project) / "mlops-workbench" / "step-journal" / "journal.json").read_text())
        found = set(data.get("paths", {})) | set(data.get("new_trees", []))
    except (OSError, ValueError):
        pass
    try:  # the user's work an exp promote moved aside around dvc exp apply
        aside = json.loads((git_dir(project) / "mlops-workbench" / "exp-run.json").read_text()).get("aside")
        found = (found or set()) | set(aside or {})
    except (OSError, ValueError, AttributeError):
        pass
    return found


def _ignored(project: Path, rel: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", "--", rel], cwd=project).returncode == 0


def head_reproduces(project: Path) -> tuple[bool, str]:
    """A fresh clone of HEAD: ``dvc pull`` gets its data (and, when HEAD has a dvc.lock,
    ``dvc repro`` gives HEAD's metrics.json byte for byte)."""
    dvc = [sys.executable, "-m", "dvc"]
    with tempfile.TemporaryDirectory(prefix="wb-clone-") as tmp:
        clone = Path(tmp) / "clone"
        done = subprocess.run(["git", "clone", "--quiet", str(project), str(clone)], capture_output=True, text=True)
        if done.returncode != 0:
            return False, f"git clone: {done.stderr.strip()[-200:]}"
        for name in ("config.local",):  # the remote is set in .dvc/config; a local override goes along
            if (project / ".dvc" / name).exists():
                shutil.copy2(project / ".dvc" / name, clone / ".dvc" / name)
        env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
        # Without a dvc.lock the pipeline's outputs were never recorded: the data pointers are all to pull.
        targets = [] if (clone / "dvc.lock").exists() else git_out(clone, "ls-files", "*.dvc").split()
        pulled = subprocess.run([*dvc, "pull", "--quiet", *targets], cwd=clone, capture_output=True,
                                text=True, env=env)
        if pulled.returncode != 0:
            return False, f"dvc pull: {(pulled.stdout + pulled.stderr).strip()[-200:]}"
        if (clone / "dvc.lock").exists() and (clone / "metrics.json").exists():
            committed = (clone / "metrics.json").read_bytes()
            repro = subprocess.run([*dvc, "repro", "--quiet"], cwd=clone, capture_output=True, text=True, env=env)
            if repro.returncode != 0:
                return False, f"dvc repro: {(repro.stdout + repro.stderr).strip()[-200:]}"
            if (clone / "metrics.json").read_bytes() != committed:
                return False, "dvc repro gives other metrics than HEAD's"
        status = git_out(clone, "status", "--porcelain", check=False)
        if status.strip():
            return False, f"the clone is not clean after pull: {status.strip()[:200]}"
    return True, ""


# --- one trial ---------------------------------------------------------------------------


@dataclass
class TrialResult:
    operation: str
    trial: int
    delay: float  # seconds after start when SIGKILL was sent
    fraction: float  # delay / the operation's measured duration
    finished: bool  # the operation had already ended when the kill came
    outcome: str = ""
    locks_left: tuple[str, ...] = ()
    fsck_ok: bool = False
    edits_ok: bool = False
    consistent: bool = False
    reopened_ok: bool = False
    rerun_ok: bool = False
    locks_cleared: bool = False  # every lock left was cleared, each with its message
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (self.fsck_ok and self.edits_ok and self.consistent and self.reopened_ok
                and self.rerun_ok and self.locks_cleared)


def measure(op: Operation, project: Path, outside: Path) -> float:
    """Seconds one run of the operation takes on ``project`` (the kill delays spread over it)."""
    make_user_edits(project, op.tracked_edits, op.staged_edit)
    args = op.make_args(project, outside, 0)
    started = time.perf_counter()
    done = run_cli(args, project)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{op.name} failed while measuring: {done.stderr.strip()}")
    return seconds


def delays(rng: random.Random, duration: float, n: int) -> list[float]:
    """``n`` kill delays over [0, 1.1 x duration], one in each equal slice (stratified, seeded)."""
    span = duration * 1.1
    out = [span * (i + rng.random()) / n for i in range(n)]
    rng.shuffle(out)
    return out


def run_trial(op: Operation, project: Path, outside: Path, trial: int, delay: float,
              duration: float) -> TrialResult:
    """Kill ``op`` on ``project`` after ``delay`` s and check everything (see the module docstring)."""
    from workbench.status import project_status

    started_trial = time.perf_counter()
    make_user_edits(project, op.tracked_edits, op.staged_edit)
    args = op.make_args(project, outside, trial)
    before = snapshot(project)
    proc = start_cli(args, project)
    started = time.perf_counter()
    while proc.poll() is None and time.perf_counter() - started < delay:
        time.sleep(0.002)
    finished = proc.poll() is not None
    kill_tree(proc)
    result = TrialResult(op.name, trial, delay, delay / duration if duration else 0.0, finished)
    result.locks_left = tuple(stale_locks(project))

    ok, detail = fsck(project)
    result.fsck_ok = ok
    if not ok:
        result.problems.append(f"git fsck: {detail}")
    edit_problems = edits_intact(project, before)
    if edit_problems and (git_dir(project) / "mlops-workbench" / "exp-run.json").exists():
        # Killed while the user's work was moved aside for DVC: the journal holds it and the
        # next workbench command puts it back (checked after the re-run).
        edit_problems = []
    result.edits_ok = not edit_problems
    result.problems += edit_problems
    result.outcome, problems = consistency(project, op, before)
    result.consistent = not problems
    result.problems += problems

    status = run_cli(["status"], project, timeout=120)
    reopened = status.returncode == 0
    if not reopened:
        result.problems.append(f"status exit {status.returncode}: {status.stderr.strip()[-200:]}")
    try:
        project_status(project)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        reopened = False
        result.problems.append(f"project_status: {type(exc).__name__}: {exc}")
    result.reopened_ok = reopened

    rerun = run_cli(args, project)
    result.rerun_ok = rerun.returncode == 0 or (
        # The kill came after the commit: adding the same file or promoting the same experiment
        # again is refused in one line (already done), which is the right answer.
        op.refuses_repeat and result.outcome == "committed" and rerun.returncode == 2
        and len([ln for ln in rerun.stderr.splitlines() if "error:" in ln]) == 1)
    if not result.rerun_ok:
        result.problems.append(f"re-run exit {rerun.returncode}: {rerun.stderr.strip()[-300:]}")
    stderr = rerun.stderr
    left_after = stale_locks(project)
    if op.step is None and left_after:
        # DVC drops only the dead entries that block it, so the rest goes with the next step
        # the workbench writes.
        step = run_cli(["charter", "set", "--problem", "Written after an interrupted run."], project)
        if step.returncode != 0:
            result.problems.append(f"the step after the re-run failed: {step.stderr.strip()[-200:]}")
        stderr += step.stderr
        left_after = stale_locks(project)
    cleared = True
    for lock in result.locks_left:
        said = any(m in stderr for m in LOCK_MESSAGES[lock])
        if lock in left_after or not said:
            cleared = False
            result.problems.append(f"stale {lock} {'left' if lock in left_after else 'cleared silently'}")
    if (git_dir(project) / "mlops-workbench.lock").exists():
        cleared = False
        result.problems.append("the workbench lock is still there after the re-run")
    said_undo = ("was interrupted",) if op.step is None else ("put back as they were", "was interrupted")
    if result.outcome == "interrupted (journal)" and not any(s in rerun.stderr for s in said_undo):
        cleared = False
        result.problems.append("the killed step's files were put back without a message")
    result.locks_cleared = cleared
    ok_after, detail = fsck(project)
    if not ok_after:
        result.fsck_ok = False
        result.problems.append(f"git fsck after the re-run: {detail}")
    after_problems = edits_intact(project, before)
    if after_problems:
        result.edits_ok = False
        result.problems += [f"after the re-run: {p}" for p in after_problems]
    if op.step is None and result.rerun_ok:
        if git_out(project, "status", "--porcelain", "--untracked-files=no") != before.tracked_status:
            result.consistent = False
            result.problems.append("after the re-run the tracked files or the index differ from before")
    if op.step is None:
        ok_head, detail = head_reproduces(project)
        if not ok_head:
            result.consistent = False
            result.problems.append(f"HEAD does not reproduce from a fresh clone: {detail}")
    if op.step is not None and result.rerun_ok:
        outcome, problems = consistency(project, op, before)
        if outcome != "committed" or problems:
            result.consistent = False
            result.problems += [f"after the re-run: {p}" for p in problems or ["no commit of the step"]]
    result.seconds = time.perf_counter() - started_trial
    return result


def plan(trials: int, seed: int, names: Sequence[str]) -> list[tuple[str, int]]:
    """Which operation each trial interrupts: round robin, ``(operation, index within it)``."""
    counts = {n: 0 for n in names}
    out = []
    for i in range(trials):
        name = names[i % len(names)]
        out.append((name, counts[name]))
        counts[name] += 1
    return out


def run_kill_trials(templates: Templates, outside: Path, names: Sequence[str], trials: int, seed: int,
                    durations: dict[str, float], *, echo: bool = False) -> list[TrialResult]:
    """``trials`` seeded kill trials, round robin over ``names``, each on a fresh copy."""
    rng = random.Random(seed)
    schedule = plan(trials, seed, names)
    per_op = {n: sum(1 for s, _ in schedule if s == n) for n in names}
    kill_at = {n: delays(rng, durations[n], per_op[n]) for n in names}
    results: list[TrialResult] = []
    for number, (name, index) in enumerate(schedule, 1):
        op = OPERATIONS[name]
        res = run_trial(op, templates.copy(op), outside, number, kill_at[name][index], durations[name])
        results.append(res)
        if echo:
            mark = "ok" if res.ok else "FAIL: " + "; ".join(res.problems)
            print(f"trial {number:2d} {name:<17} killed at {res.delay * 1000:6.0f} ms "
                  f"({res.fraction:4.0%}) {res.outcome:<20} locks left: {','.join(res.locks_left) or '-':<28}"
                  f" {res.seconds:5.1f} s  {mark}", flush=True)
    return results


# --- two writers --------------------------------------------------------------------------

SLOW_HOOK = """#!/bin/sh
# A slow pre-commit hook: the workbench holds its lock while git runs it.
touch "$(git rev-parse --git-dir)/hook-started"
sleep {seconds}
"""


@dataclass
class RaceResult:
    rounds: int
    both_committed: int  # serialized
    one_busy: int  # the second was told the project is busy
    bad: list[str]
    fsck_ok: bool

    @property
    def ok(self) -> bool:
        return not self.bad and self.fsck_ok


def race(project: Path, rounds: int) -> RaceResult:
    """Two ``mlops-workbench`` processes writing steps to one project at the same moment."""
    before = snapshot(project)
    commits = 0
    both = busy = 0
    bad: list[str] = []
    for r in range(rounds):
        a = ["charter", "set", "--problem", f"Round {r}: fraud costs money."]
        b = ["usecase", "score", "card-fraud-scoring", f"feasibility={1 + r % 2}", f"risk={1 + (r + 1) % 2}"]
        procs = [start_cli(a, project), start_cli(b, project)]
        outs = [p.communicate(timeout=120) for p in procs]
        codes = [p.returncode for p in procs]
        for code, (_out, err) in zip(codes, outs, strict=False):
            lines = err.strip().splitlines()
            if code == 75:
                if len(lines) != 1 or "busy" not in lines[0]:
                    bad.append(f"round {r}: busy but said {err.strip()!r}")
            elif code != 0:
                bad.append(f"round {r}: exit {code}: {err.strip()[-200:]}")
        commits += codes.count(0)
        if codes == [0, 0]:
            both += 1
        elif sorted(codes) == [0, 75]:
            busy += 1
        else:
            bad.append(f"round {r}: exit codes {codes}")
    new = git_out(project, "rev-list", f"{before.head}..HEAD").split()
    if len(new) > commits:  # a write that changed nothing succeeds without a commit
        bad.append(f"{commits} writes succeeded but {len(new)} commits were made")
    steps = git_out(project, "log", f"{before.head}..HEAD",
                    "--format=%(trailers:key=Workbench-Step,valueonly)").split()
    if sorted(set(steps)) not in ([], ["requirements"], ["use_cases"], ["requirements", "use_cases"]):
        bad.append(f"unexpected steps {steps}")
    if git_out(project, "status", "--porcelain", "--untracked-files=all") != before.status:
        bad.append("git status changed")
    bad += edits_intact(project, before)
    if (git_dir(project) / "mlops-workbench.lock").exists():
        bad.append("a workbench lock was left")
    ok, detail = fsck(project)
    if not ok:
        bad.append(f"git fsck: {detail}")
    return RaceResult(rounds, both, busy, bad, ok)


def held_lock_race(project: Path, hold: float = 3.0) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str], int]:
    """A writer held inside its commit (a slow pre-commit hook) and a second one meanwhile.

    Returns both finished processes (first, second) and the first one's pid.
    """
    gdir = git_dir(project)
    hook = gdir / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(SLOW_HOOK.format(seconds=hold), encoding="utf-8")
    hook.chmod(0o755)
    marker = gdir / "hook-started"
    try:
        first = start_cli(["charter", "set", "--problem", "Held while the hook runs."], project)
        deadline = time.monotonic() + 60
        while not marker.exists():
            if first.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the first writer never reached its commit: {first.communicate()}")
            time.sleep(0.01)
        second = run_cli(["usecase", "score", "card-fraud-scoring", "feasibility=2"], project)
        out, err = first.communicate(timeout=120)
    finally:
        hook.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
    done = subprocess.CompletedProcess(first.args, first.returncode, out, err)
    return done, second, first.pid


# --- a long session -------------------------------------------------------------------------


@dataclass
class SessionResult:
    operations: int
    commits: int
    fds_start: int
    fds_end: int
    children_start: int
    children_end: int
    git_children_max: int  # git processes alive at any sample point during the session
    seconds: float

    @property
    def ok(self) -> bool:
        return (self.fds_end - self.fds_start <= 3 and self.children_end <= self.children_start
                and self.git_children_max <= 1)


def _children() -> list[object]:
    import psutil

    return psutil.Process().children(recursive=True)


def long_session(project: Path, operations: int, *, commit_every: int = 20) -> SessionResult:
    """``operations`` core calls in this process: status, timeline and a small step commit now and then.

    The descriptor count is taken after a warm-up of a few operations (the first calls
    import modules and open what they keep for the process's life).
    """
    from workbench.design.requirements import update_charter
    from workbench.status import project_status
    from workbench.versioning.timeline import read_timeline

    def one(i: int) -> bool:
        kind = i % 3
        if kind == 0:
            project_status(project)
        elif kind == 1:
            read_timeline(project)
        if i % commit_every == commit_every - 1:
            saved = update_charter(project, problem=f"Session revision {i}: fraud costs money.")
            return saved.commit is not None
        return False

    commits = 0
    warmup = min(10, operations)
    for i in range(warmup):
        commits += one(i)
    fds_start = len(os.listdir("/proc/self/fd"))
    children_start = len(_children())
    git_max = 0
    started = time.perf_counter()
    for i in range(warmup, operations):
        commits += one(i)
        if i % 25 == 0:
            git_max = max(git_max, sum(1 for c in _children() if _name(c) == "git"))
    seconds = time.perf_counter() - started
    return SessionResult(operations, commits, fds_start, len(os.listdir("/proc/self/fd")),
                         children_start, len(_children()), git_max, seconds)


def _name(proc: object) -> str:
    try:
        return proc.name()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - gone meanwhile
        return ""


# --- the script ----------------------------------------------------------------------------


def _isolated_env(home: Path) -> None:
    """A HOME with a git identity and no outside git/DVC settings (as the tests have)."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1",
        "DVC_GLOBAL_CONFIG_DIR": str(home / ".config" / "dvc"),
        "DVC_SITE_CACHE_DIR": str(home / ".cache" / "dvc"),
    })
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                "GIT_DIR", "GIT_WORK_TREE", "MLOPS_WORKBENCH_DVC"):
        os.environ.pop(key, None)
    for key, value in (("user.name", "Ada Lovelace"), ("user.email", "ada@example.com"),
                       ("init.defaultBranch", "main")):
        subprocess.run(["git", "config", "--global", key, value], check=True)


class Templates:
    """Sample projects made once by the real code, copied per trial.

    ``source(sample_id)`` may hand over a ready copy of a sample (the tests' session-cached
    ``make_sample``); else the sample is made here with ``create_from_sample``.
    """

    def __init__(self, base: Path, source: Callable[[str], Path] | None = None) -> None:
        self.base = base
        self.source = source
        self.made: dict[tuple[str, str], Path] = {}
        self.sourced: set[str] = set()
        self.copies = 0

    def copy(self, op: Operation) -> Path:
        from workbench.new_project import create_from_sample

        key = (op.sample, op.name if op.prepare else "")
        if key not in self.made:
            if self.source is not None and op.sample not in self.sourced:
                self.sourced.add(op.sample)
                path = self.source(op.sample)
            else:
                path = self.base / "templates" / f"{op.sample}-{len(self.made)}"
                create_from_sample(op.sample, path)
            if op.prepare:
                op.prepare(path)
            self.made[key] = path
        self.copies += 1
        dest = self.base / "trials" / f"{self.copies:03d}-{op.name.replace(' ', '-')}" / op.sample
        shutil.copytree(self.made[key], dest, symlinks=True)
        return dest


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), flush=True)
        if n == 0:
            print("  ".join("-" * w for w in widths), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from benchmarks._common import report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=TRIALS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--operations", type=int, default=1000, help="operations of the long session")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of the two-writer race")
    parser.add_argument("--only", action="append", help="only these operations (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the trial folders")
    args = parser.parse_args(argv)

    names = [n for n in OPERATIONS if not args.only or n in args.only]
    base = Path(tempfile.mkdtemp(prefix="wb-faults-"))
    _isolated_env(base / "home")
    templates = Templates(base)
    outside = base / "outside"
    outside.mkdir()
    started = time.perf_counter()
    try:
        durations = {}
        for name in names:
            durations[name] = measure(OPERATIONS[name], templates.copy(OPERATIONS[name]), outside)
            print(f"measured {name}: {durations[name]:.2f} s", flush=True)
        results = run_kill_trials(templates, outside, names, args.trials, args.seed, durations,
                                  echo=True)
        print()
        rows = [["operation", "trials", "killed at (ms)", "finished first", "outcomes", "fsck ok",
                 "user edits intact", "consistent", "reopened ok", "re-run ok", "stale locks",
                 "cleared with message"]]
        for name in names:
            rs = [r for r in results if r.operation == name]
            points = ",".join(f"{r.delay * 1000:.0f}" for r in sorted(rs, key=lambda r: r.delay))
            outcomes: dict[str, int] = {}
            for r in rs:
                outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
            locked = [r for r in rs if r.locks_left]
            kinds: dict[str, int] = {}
            for r in locked:
                for lock in r.locks_left:
                    kinds[lock] = kinds.get(lock, 0) + 1
            rows.append([
                name, str(len(rs)), points, str(sum(r.finished for r in rs)),
                ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())),
                f"{sum(r.fsck_ok for r in rs)}/{len(rs)}", f"{sum(r.edits_ok for r in rs)}/{len(rs)}",
                f"{sum(r.consistent for r in rs)}/{len(rs)}", f"{sum(r.reopened_ok for r in rs)}/{len(rs)}",
                f"{sum(r.rerun_ok for r in rs)}/{len(rs)}",
                ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "-",
                f"{sum(r.locks_cleared for r in locked)}/{len(locked)}",
            ])
        _table(rows)
        print(f"\nkill trials: {len(results)} in {time.perf_counter() - started:.0f} s", flush=True)

        race_project = templates.copy(OPERATIONS["charter set"])
        make_user_edits(race_project)
        race_result = race(race_project, args.rounds)
        first, second, pid = held_lock_race(race_project)
        held_ok = (first.returncode == 0 and second.returncode == 75
                   and len(second.stderr.strip().splitlines()) == 1 and f"pid {pid}" in second.stderr)
        print(f"\ntwo writers: {race_result.rounds} rounds, {race_result.both_committed} serialized, "
              f"{race_result.one_busy} told busy, problems: {race_result.bad or 'none'}; "
              f"held in a commit: second exit {second.returncode}: {second.stderr.strip()}", flush=True)

        session_project = templates.copy(OPERATIONS["charter set"])
        make_user_edits(session_project)
        session = long_session(session_project, args.operations)
        print(f"long session: {session.operations} operations ({session.commits} commits) in "
              f"{session.seconds:.1f} s; fds {session.fds_start} -> {session.fds_end}; child processes "
              f"{session.children_start} -> {session.children_end}, git children at most "
              f"{session.git_children_max}", flush=True)
        print()
        good = sum(r.ok for r in results)
        report("kill -9 trials consistent (fsck, edits, workspace, reopen, locks)", good, len(results),
               "trials", 1.0, lower_is_better=False)
        report("two writers: rounds without corruption", race_result.rounds - len(race_result.bad)
               + (0 if held_ok else -1) + 1, race_result.rounds + 1, "rounds", 1.0, lower_is_better=False)
        report("long session: fds at end vs start", session.fds_end, session.fds_start, "fds", 1.1)
        report("long session: child processes at end vs start (+1)", session.children_end + 1,
               session.children_start + 1, "procs", 1.0)
        all_ok = good == len(results) and race_result.ok and held_ok and session.ok
        return 0 if all_ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept {base}")


if __name__ == "__main__":
    raise SystemExit(main())
