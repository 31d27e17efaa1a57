"""The user's work kept out of a DVC experiment and put back byte for byte, with a journal.

``dvc exp run`` (and ``--queue``, and ``dvc exp apply``) take every modified tracked file
and everything staged, and reset the index when they end. :func:`guarded_run` moves the
user's other changes aside around such a command and puts them back, the index exactly as
it was; a journal in ``<git dir>/mlops-workbench/exp-run.json`` (written before anything
is moved) lets the next command that takes the project lock finish a killed run
(:func:`finish_dead_run`, called by :mod:`workbench.versioning.locks`).

Git and DVC plumbing only (index trees, ``checkout``, ``symbolic-ref``, ``dvc.yaml``'s
outputs), so it lives in versioning: training, promote and retrain use it through
:func:`guarded_run` and :func:`recover_interrupted_run`, and pass no git arguments.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.progress import Progress
from workbench.versioning.dvc import as_dvc_text, yaml_value
from workbench.versioning.run_aside import (
    _index_tree,
    _paths_to_move_aside,
    _pipeline_files,
    _pipeline_reads,
    _put_back_aside,
    _repo,
    _restore_index,
    _save_aside,
    _set_to_head,
    _under,
    pipeline_outputs,
)

# development/experiments.py imports these from here (it is another helper's file): kept importable
__all__ = ["_pipeline_files", "_pipeline_reads", "_set_to_head", "_under", "finish_dead_run", "guarded_run",
           "pipeline_outputs", "recover_interrupted_run"]

# --- leaving the workspace as it was when a run does not finish ------------------------


def _journal_path(root: Path) -> Path:
    from workbench.versioning.git import git_text

    found = git_text(root, "rev-parse", "--absolute-git-dir", check=False).strip()
    if not found:
        raise WorkbenchError(f"{root} is not inside a git repository: create the project first")
    return Path(found) / "mlops-workbench" / "exp-run.json"


def _staged(root: Path) -> set[str]:
    from workbench.versioning.git import git_text

    return {p for p in git_text(root, "diff", "--cached", "--name-only", "-z", "--relative", check=False)
            .split("\0") if p}



def _begin_journal(root: Path, original: bytes | None, overrides: Mapping[str, Any], *,
                   aside: Sequence[str] = (), outputs: bool = True, what: str = "train") -> Path:
    """Write the run's journal, then move the user's ``aside`` paths aside (in that order)."""
    import time

    from workbench.fsutil import atomic_write_text
    from workbench.versioning.git import git_text

    path = _journal_path(root)
    top, _prefix = _repo(root)
    tree = _index_tree(top)
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = _save_aside(top, path.parent / "exp-run-aside", aside)
    snap = _snapshot_outputs(root, path.parent / "exp-run-outputs") if outputs else None
    atomic_write_text(path, json.dumps({
        "what": what, "phase": "running", "top": str(top), "root": str(root),
        "outputs": snap,
        "pid": os.getpid(), "started": time.time(),
        "params": None if original is None else original.decode("utf-8", "surrogateescape"),
        "head": git_text(root, "rev-parse", "--verify", "-q", "HEAD", check=False).strip(),
        "branch": git_text(root, "symbolic-ref", "-q", "HEAD", check=False).strip(),
        "overrides": {k: as_dvc_text(yaml_value(v)) for k, v in overrides.items()},
        "staged": sorted(_staged(root)),
        # The index as a tree (its objects are written now): what the user had staged, exactly.
        "index_tree": tree,
        "aside": saved,
    }))
    _set_to_head(top, list(aside))
    return path


def _finish_run(root: Path, journal: Mapping[str, Any]) -> list[str]:
    """After DVC finished: the user's moved-aside files and the index put back as they were."""
    top = Path(str(journal.get("top") or _repo(root)[0]))
    folder = _journal_path(root).parent / "exp-run-aside"
    saved = dict(journal.get("aside") or {})
    messages: list[str] = []
    back = _put_back_aside(top, folder, saved)
    if back:
        messages.append(f"your uncommitted work moved aside for the run is back as it was: {', '.join(back)}")
    if _restore_index(top, str(journal.get("index_tree") or ""), str(journal.get("head") or ""), list(saved)):
        messages.append("the index (what you had staged) put back as it was before the run")
    return messages


def _end_journal(path: Path) -> None:
    import shutil

    path.unlink(missing_ok=True)  # the journal first: a folder without it is a leftover, never half a journal
    shutil.rmtree(path.parent / "exp-run-outputs", ignore_errors=True)
    shutil.rmtree(path.parent / "exp-run-aside", ignore_errors=True)


def _mark_done(path: Path, journal: dict[str, Any]) -> None:
    """DVC has finished and recorded its experiment: only the user's work is left to put back."""
    from workbench.fsutil import atomic_write_text

    journal["phase"] = "done"
    atomic_write_text(path, json.dumps(journal))


def _snapshot_outputs(root: Path, backup: Path) -> dict[str, bool]:
    """Keep a copy of each pipeline output (path -> existed) so an unfinished run can be undone.

    Files are hard-linked when they can be (DVC removes an output before a stage writes it,
    so the old inode keeps the old bytes) and copied otherwise.
    """
    import shutil

    shutil.rmtree(backup, ignore_errors=True)
    existed: dict[str, bool] = {}
    for rel in pipeline_outputs(root):
        for parent in Path(rel).parents:
            if parent != Path("."):
                existed.setdefault(f"{parent.as_posix()}/", (root / parent).is_dir())
        src = root / rel
        existed[rel] = src.exists()
        if not existed[rel]:
            continue
        dst = backup / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, copy_function=shutil.copy2)
        elif rel.endswith((".gitignore", ".lock", ".json", ".yaml")):
            shutil.copy2(src, dst)  # small text files a tool may rewrite in place
        else:
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
    return existed


def _restore_outputs(root: Path, backup: Path, existed: Mapping[str, bool]) -> list[str]:
    """Put the pipeline outputs back as the snapshot saw them; the names of those changed."""
    import filecmp
    import shutil

    changed: list[str] = []
    for rel, was in existed.items():
        if rel.endswith("/"):
            continue  # folders: handled after the files
        here, saved = root / rel, backup / rel
        if not was:
            if here.is_dir() and not here.is_symlink():
                shutil.rmtree(here, ignore_errors=True)
                changed.append(rel)
            elif here.exists() or here.is_symlink():
                here.unlink()
                changed.append(rel)
            continue
        if not saved.exists():
            continue
        if saved.is_dir():
            same = here.is_dir() and not filecmp.dircmp(saved, here).diff_files and \
                not filecmp.dircmp(saved, here).left_only and not filecmp.dircmp(saved, here).right_only
            if not same:
                if here.is_dir() and not here.is_symlink():
                    shutil.rmtree(here)
                elif here.exists() or here.is_symlink():
                    here.unlink()
                shutil.copytree(saved, here, copy_function=shutil.copy2)
                changed.append(rel)
        elif not (here.is_file() and filecmp.cmp(saved, here, shallow=False)):
            if here.is_dir() and not here.is_symlink():
                shutil.rmtree(here)
            tmp = here.with_name(f".{here.name}.wb-restore")
            here.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(saved, tmp)
            os.replace(tmp, here)
            changed.append(rel)
    # Folders the run created go too, when nothing else lives in them (deepest first).
    for rel in sorted((r for r, was in existed.items() if r.endswith("/") and not was),
                      key=lambda r: r.count("/"), reverse=True):
        try:
            (root / rel).rmdir()
        except OSError:
            pass
    shutil.rmtree(backup, ignore_errors=True)
    return changed


def _only_overrides_differ(original: str, current: str, keys: Sequence[str]) -> bool:
    """Whether params.yaml differs from ``original`` only at the ``-S`` keys (or their parents' subtrees).

    That is what DVC's ``-S`` write looks like, however it merged the values (``model.params={}``
    then ``model.params.C=2`` keeps the other keys in DVC, replaces them in Python).
    """
    import yaml

    try:
        before, now = yaml.safe_load(original) or {}, yaml.safe_load(current) or {}
    except yaml.YAMLError:
        return False

    def drop(data: Any, key: str) -> None:
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(data, dict) or part not in data:
                return
            data = data[part]
        if isinstance(data, dict):
            data.pop(parts[-1], None)

    for key in keys:
        drop(before, key)
        drop(now, key)
    return before == now


def _undo_run(root: Path, journal: Mapping[str, Any], *, ours: bool = False) -> list[str]:
    """Reattach HEAD, put back params.yaml and the outputs, the user's work and the index.

    ``dvc exp run`` detaches HEAD at the baseline while it runs and reattaches it at the
    end; killed in between, it leaves HEAD detached, and the next ``dvc exp run`` would
    then keep it detached for good. Only ``git symbolic-ref`` is used for that. ``ours``:
    this process ran DVC and holds the project lock, so params.yaml is put back whatever
    DVC wrote; after a kill it is put back when it differs only where the ``-S`` keys
    were written (an edit made since is left alone, and said).
    """
    from workbench.fsutil import atomic_write_bytes
    from workbench.versioning.git import run_git

    messages: list[str] = []
    branch, head = str(journal.get("branch") or ""), str(journal.get("head") or "")
    if branch.startswith("refs/heads/") and head:
        now_branch = run_git(root, "symbolic-ref", "-q", "HEAD", check=False).strip()
        now_head = run_git(root, "rev-parse", "--verify", "-q", "HEAD", check=False).strip()
        tip = run_git(root, "rev-parse", "--verify", "-q", branch, check=False).strip()
        if not now_branch and now_head == head == tip:
            run_git(root, "symbolic-ref", "HEAD", branch)
            messages.append(f"HEAD reattached to {branch[len('refs/heads/'):]} (DVC had left it detached)")
    params_file = root / "params.yaml"
    original = journal.get("params")
    try:
        current = params_file.read_bytes()
    except OSError:
        current = None
    if isinstance(original, str):
        data = original.encode("utf-8", "surrogateescape")
        if current != data:
            text = (current or b"").decode("utf-8", "replace")
            if ours or current is None or _only_overrides_differ(original, text, list(journal.get("overrides") or {})):
                atomic_write_bytes(params_file, data)
                messages.append("params.yaml put back as it was before the unfinished run")
            else:
                messages.append("params.yaml was edited during the unfinished run; left as it is")
    outputs = journal.get("outputs")
    if isinstance(outputs, dict):
        put_back = _restore_outputs(root, _journal_path(root).parent / "exp-run-outputs", outputs)
        if put_back:
            messages.append(f"pipeline outputs put back as they were: {', '.join(put_back)}")
    tree = str(journal.get("index_tree") or "")
    if re.fullmatch(r"[0-9a-f]{40,64}", tree):
        messages += _finish_run(root, journal)
        return messages
    before = set(journal.get("staged") or [])
    extra = sorted(_staged(root) - before)
    if extra:
        run_git(root, "restore", "--staged", "--", *extra, check=False)
        messages.append(f"unstaged {', '.join(extra)} (staged by the unfinished run)")
    return messages


def finish_dead_run(git_dir: Path) -> list[str]:
    """Finish the journal of a killed ``train``/``exp promote`` (the caller holds the project lock).

    Unfinished (DVC had not recorded the experiment): everything is put back as before the
    run. Finished: the user's moved-aside work and the index are put back. Nothing is
    done while the journal's process is alive. One message per repair.
    """
    from workbench.versioning.locks import _pid_alive

    path = Path(git_dir) / "mlops-workbench" / "exp-run.json"
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        _end_journal(path)
        return ["removed an unreadable experiment-run journal left by a killed workbench"]
    if not isinstance(journal, dict):
        _end_journal(path)
        return []
    if int(journal.get("pid", -1)) == os.getpid() or _pid_alive(int(journal.get("pid", -1)), journal.get("started")):
        return []  # still running
    root = Path(str(journal.get("root") or journal.get("top") or Path(git_dir).parent))
    what = str(journal.get("what") or "train")
    from workbench.errors import ProjectBusyError
    from workbench.versioning.locks import recover_stale_locks

    try:
        recover_stale_locks(root, None)  # the killed workbench's DVC may still be running
    except ProjectBusyError:
        return []
    if journal.get("phase") == "done":
        messages = [f"a {what} was killed after DVC had finished; putting back your work"]
        messages += _finish_run(root, journal)
    else:
        messages = [f"{'an experiment run' if what.startswith('train') else 'an ' + what} was interrupted "
                    "(its process was killed); nothing was recorded"]
        messages += _undo_run(root, journal)
    _end_journal(path)
    return messages


def recover_interrupted_run(project_path: str | Path) -> list[str]:
    """Undo what a killed ``train`` left (see the module docstring); one message per repair.

    Takes the project lock for it (nested when the caller holds it); while another process
    holds it, nothing is done (that process may be the run).
    """
    from workbench.errors import ProjectBusyError
    from workbench.versioning.locks import hold_project_lock

    root = Path(project_path).absolute()
    try:
        path = _journal_path(root)
    except WorkbenchError:
        return []
    if not path.exists():
        return []
    try:
        with hold_project_lock(root, "recovery") as cleared:
            return [*cleared, *finish_dead_run(path.parent.parent)]
    except ProjectBusyError:
        return []


@contextmanager
def guarded_run(root: Path, overrides: Mapping[str, Any], *, include: Sequence[str] = (),
                outputs: bool = True, what: str = "train", params: bool = True,
                keep: Sequence[str] | None = None, refuse_reads: bool = True,
                progress: Progress | None = None) -> Iterator[dict[str, Any]]:
    """Around one DVC command that runs or queues experiments: the workspace comes back as it was.

    Before: the journal, then the user's unrelated changes moved aside (only the pipeline's
    files and ``include`` stay for DVC to see). The body raising (a failed run, a cancel,
    Ctrl-C): params.yaml, the outputs, the user's work and the index are put back as
    before. The body ending: the user's work and the index are put back, the pipeline's
    files stay as DVC left them. The caller holds the project lock. ``keep`` (default: the
    pipeline's files) are the project-relative paths left for DVC; ``params=False`` leaves
    params.yaml to the caller (a step that protects it).
    """
    params_file = root / "params.yaml"
    original = params_file.read_bytes() if params and params_file.is_file() else None
    aside = _paths_to_move_aside(root, include, keep=keep, refuse_reads=refuse_reads)
    journal_file = _begin_journal(root, original, overrides, aside=aside, outputs=outputs, what=what)
    journal = json.loads(journal_file.read_text(encoding="utf-8"))
    try:
        try:
            yield journal
        except BaseException:
            _undo_run(root, journal, ours=True)
            raise
        _mark_done(journal_file, journal)
        for line in _finish_run(root, journal):
            if progress is not None:
                progress(line)
    finally:
        _end_journal(journal_file)
