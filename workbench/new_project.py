"""Create a workbench project: git, DVC, a local DVC remote, workbench.yaml, README, one commit.

All checks run before anything is written (identity, DVC, the folder, the charter).
If a later part fails, everything this call created is removed again, so a folder is
never left half-initialised; files that were there before are never touched.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.paths import user_path
from workbench.progress import Progress
from workbench.project import (
    CONFIG_NAME,
    ROLES,
    Charter,
    charter_from_config,
    default_config,
    dump_config,
    validate_charter,
)
from workbench.versioning import dvc, git
from workbench.versioning import remote as shared_remotes
from workbench.versioning.locks import recover_stale_locks
from workbench.versioning.step import begin_step

GITIGNORE_LINES = ("# mlops-workbench: rebuildable caches", "/.workbench/cache/")


@dataclass(frozen=True)
class CreatedProject:
    """What :func:`create_project` made."""

    path: Path
    commit: str
    remote: str
    data_commit: str | None = None
    messages: tuple[str, ...] = field(default_factory=tuple)


def default_remote_path(path: Path) -> Path:
    """The default DVC remote: a folder beside the project, ``<name>.dvc-storage``."""
    path = Path(path).absolute()
    return path.parent / f"{path.name}.dvc-storage"


def project_readme(charter: Charter, remote: str, description: str = "") -> str:
    """The README written into a new project (plain Markdown, regenerated only on creation)."""
    team = "\n".join(
        f"| {m.name} | {ROLES.get(m.role, m.role)} | {m.email} |" for m in charter.team
    ) or "| (none yet) | | |"
    constraints = "\n".join(
        f"- **{k.replace('_', ' ')}**: {v}" for k, v in charter.constraints.items() if v not in (None, "")
    ) or "- (none recorded)"
    intro = f"{description}\n\n" if description else ""
    return f"""# {charter.name}

{intro}This is an [mlops-workbench](https://pypi.org/project/mlops-workbench/) project: a plain
git + DVC repository. Every step taken in the workbench is one commit with the trailers
`Workbench-Step` and `Workbench-Role`; data and models are tracked by DVC.

## Charter

**Problem.** {charter.problem or '(to be written)'}

**Business owner.** {charter.business_owner or '(to be named)'}

**Success metric.** `{charter.success_metric or '(to be set)'}` ({charter.task})

**Constraints**

{constraints}

**Team**

| name | role | email |
|---|---|---|
{team}

The charter lives in `workbench.yaml`; this README is written once, when the project is made.

## Working with it

```bash
mlops-workbench            # the workbench on this project
mlops-workbench status     # where the project stands and the next step
mlops-workbench history    # every versioned step, read from git
dvc pull                   # data and models from the DVC remote
```

The default DVC remote is a local folder outside the project: `{remote}`.
Point it elsewhere with `dvc remote add -d -f storage s3://bucket/path`.
"""


def _check_target(path: Path, in_outer_repo: bool) -> tuple[Path | None, bool]:
    """Refuse folders the workbench cannot use; return (repo root or None, use a DVC subdir)."""
    if path.exists() and not path.is_dir():
        raise WorkbenchError(f"{path} is a file: give a folder for the project (it may not exist yet)")
    if (path / CONFIG_NAME).exists():
        raise WorkbenchError(
            f"{path} is already a workbench project: open it with 'mlops-workbench {path}'"
        )
    root = git.repo_root(path) if path.exists() else git.repo_root(path.parent)
    if root is not None and root != path.resolve():
        if not in_outer_repo:
            raise WorkbenchError(
                f"{path} is inside the git repository at {root}: choose a folder outside it, "
                "or pass --in-outer-repo to make a DVC sub-project of that repository"
            )
        return root, True
    return root, False


def _plan_remotes(path: Path, root: Path | None, subdir: bool, remote: str | Path | None,
                  git_remote: str | None, dvc_remote: str | None,
                  dvc_endpoint: str | None) -> tuple[str | None, str | None, str | None, Path | None]:
    """``(git_remote, shared_url, dvc_endpoint, remote_path)`` checked; a local remote has a path."""
    shared_url = None
    if dvc_endpoint and not dvc_remote:
        raise WorkbenchError("--dvc-endpoint needs --dvc-remote s3://bucket/prefix")
    if dvc_remote and remote:
        raise WorkbenchError("give either --remote DIR or --dvc-remote URL, not both")
    if git_remote:
        git_remote = shared_remotes.check_git_url(git_remote)
    if dvc_remote:
        shared_url, dvc_endpoint = shared_remotes.check_dvc_url(dvc_remote, dvc_endpoint)
        remote = shared_url if "://" not in shared_url else None
    if shared_url and "://" in shared_url:
        remote_path = None
    elif remote:
        remote_path = user_path(remote)  # '..' as the system resolves it, so the check below is right
    elif subdir and root is not None:
        # Beside the outer repository, not inside it, where it would show up as untracked files.
        flat = path.resolve().relative_to(root).as_posix().replace("/", "-")
        remote_path = root.parent / f"{root.name}-{flat}.dvc-storage"
    else:
        remote_path = default_remote_path(path)
    if remote_path is not None and (remote_path == path or path in remote_path.parents):
        raise WorkbenchError("the DVC remote must be outside the project folder: choose another --remote")
    return git_remote, shared_url, dvc_endpoint, remote_path


def _set_up_repo(path: Path, root: Path | None, subdir: bool, remote_path: Path | None,
                 shared_url: str | None, dvc_endpoint: str | None, created: list[Path],
                 say: Callable[[str], None]) -> str:
    """git and DVC in ``path`` with its DVC remote; returns the remote's URL.

    Everything made is appended to ``created`` as it is made, so the caller can remove it.
    """
    if not path.exists():
        path.mkdir(parents=True)
        created.append(path)
    if root is None:
        created.append(path / ".git")
        git.init_repo(path)
        say("git repository initialised")
    if not (path / ".dvc").exists():
        created += [path / ".dvc", path / ".dvcignore"]
        dvc.init(path, subdir=subdir)
        say("DVC initialised")
    if remote_path is None:
        assert shared_url is not None
        shared_remotes.write_dvc_remote(path, shared_url, dvc_endpoint)
        remote_url = shared_url
    else:
        if not remote_path.exists():
            remote_path.mkdir(parents=True)
            created.append(remote_path)
        remote_url = str(remote_path)
        dvc.add_remote(path, shared_remotes.DVC_REMOTE_NAME if shared_url else "local", remote_url)
    say(f"DVC remote -> {remote_url}" + (f" (endpoint {dvc_endpoint})" if dvc_endpoint else ""))
    return remote_url


def _commit_project(path: Path, config: dict[str, Any], charter: Charter, remote_url: str,
                    description: str, role: str | None, cancel: threading.Event | None) -> tuple[str, list[str]]:
    """The ``project`` step's one commit (workbench.yaml, README, .gitignore, DVC's files):
    its hash and its messages (a list the caller may add to)."""
    with begin_step(path, "project", role=role, summary=f'create "{charter.name}"',
                    cancel=cancel) as step:
        step.write_text(CONFIG_NAME, dump_config(config))
        if not (path / "README.md").exists():
            step.write_text("README.md", project_readme(charter, remote_url, description))
        gitignore = path / ".gitignore"
        old = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
        missing = [ln for ln in GITIGNORE_LINES if ln not in old.splitlines()]
        if missing:
            sep = "" if not old or old.endswith("\n") else "\n"
            step.write_text(".gitignore", old + sep + "\n".join(missing) + "\n")
        for name in (".dvc/config", ".dvc/.gitignore", ".dvcignore"):
            if (path / name).exists():
                step.include(name)
        step.body = f"Task: {charter.task}. Success metric: {charter.success_metric or 'not set'}."
    if step.commit is None:
        raise WorkbenchError("nothing was committed: the project files were already there")
    return step.commit, step.messages


def create_project(
    path: str | Path,
    charter: Charter | None = None,
    *,
    config: dict[str, Any] | None = None,
    description: str = "",
    remote: str | Path | None = None,
    in_outer_repo: bool = False,
    role: str | None = None,
    git_remote: str | None = None,
    dvc_remote: str | None = None,
    dvc_endpoint: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> CreatedProject:
    """Make ``path`` a workbench project and commit it (see the module docstring).

    Give either a ``charter`` (the wizard, ``new --name ...``) or a full ``config``
    (a sample's workbench.yaml). ``git_remote`` becomes ``origin``; ``dvc_remote`` (a folder,
    ``s3://bucket/prefix`` with ``dvc_endpoint`` for an S3-compatible store, ``ssh://``...)
    replaces the local default remote; both are checked (parse and reach) before anything is
    written, and credentials are read from the environment, never written.
    """
    path = Path(path).expanduser().absolute()
    if config is None:
        if charter is None:
            raise WorkbenchError("a new project needs a charter: give at least --name")
        config = default_config(validate_charter(charter), description)
    else:
        charter = validate_charter(charter_from_config(config))
    say = progress or (lambda _line: None)

    root, subdir = _check_target(path, in_outer_repo)
    who = git.identity(path if path.exists() else path.parent)
    if role is None:
        role = next((m.role for m in charter.team
                     if (m.email and m.email.lower() == who.email.lower())
                     or m.name.lower() == who.name.lower()), None)
    # A live workbench or DVC in the repository means "busy" before anything is written.
    cleared = recover_stale_locks(path, git.git_dir(root)) if root is not None else []
    dvc_version = dvc.check_dvc()
    git_remote, shared_url, dvc_endpoint, remote_path = _plan_remotes(
        path, root, subdir, remote, git_remote, dvc_remote, dvc_endpoint)
    if root is not None:
        mine = [CONFIG_NAME, ".gitignore", ".dvcignore", ".dvc/config", ".dvc/.gitignore"]
        rel = path.resolve().relative_to(root)
        git.refuse_dirty(root, [(rel / p).as_posix() for p in mine if (path / p).exists()])

    say(f"DVC {dvc_version} found")  # only now: a refusal above is the one line printed
    created: list[Path] = []  # removed again, newest first, if anything below fails
    try:
        remote_url = _set_up_repo(path, root, subdir, remote_path, shared_url, dvc_endpoint, created, say)
        commit, messages = _commit_project(path, config, charter, remote_url, description, role, cancel)
        if git_remote:
            shared_remotes.set_git_remote(root or path, git_remote)
            messages.append(f"git remote 'origin' -> {git_remote}: share the project with "
                                 "'mlops-workbench sync'")
        if shared_url and shared_url.startswith("s3://"):
            messages.append(shared_remotes.store_credentials(path, None, None))
    except BaseException:
        for item in reversed(created):
            if item.is_dir():
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink(missing_ok=True)
        raise
    return CreatedProject(path=path, commit=commit, remote=remote_url, messages=tuple(cleared + messages))


def create_from_sample(
    sample_id: str,
    path: str | Path,
    *,
    name: str | None = None,
    remote: str | Path | None = None,
    in_outer_repo: bool = False,
    git_remote: str | None = None,
    dvc_remote: str | None = None,
    dvc_endpoint: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> CreatedProject:
    """Create a project from a bundled sample: its charter and use cases in the first commit,
    its data tracked with DVC (and pushed to the remote) in the second."""
    import yaml

    from workbench.samples import get_sample

    sample = get_sample(sample_id)
    config = yaml.safe_load((sample.path / CONFIG_NAME).read_text(encoding="utf-8"))
    if name:
        config["project"]["name"] = name
    target = Path(path).expanduser().absolute()
    if target.is_dir() and any(target.iterdir()):
        raise WorkbenchError(
            f"{target} is not empty: a sample goes into a new or empty folder, e.g. {target / sample.id}"
        )
    made = create_project(target, config=config, description=config["project"].get("description", ""),
                          remote=remote, in_outer_repo=in_outer_repo, git_remote=git_remote,
                          dvc_remote=dvc_remote, dvc_endpoint=dvc_endpoint, progress=progress, cancel=cancel)
    say = progress or (lambda _line: None)
    files = [*sample.data, *sample.incoming]
    try:
        for rel in files:
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sample.path / rel, dest)
        from workbench.design.data_sources import add_sources

        data_commit, messages = add_sources(
            target, list(sample.data), incoming=list(sample.incoming), progress=say, cancel=cancel,
            extra_files={"generate.py": (sample.path / "generate.py").read_text(encoding="utf-8")}
            if (sample.path / "generate.py").exists() else None,
        )
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        if remote is None and dvc_remote is None:
            shutil.rmtree(made.remote, ignore_errors=True)
        raise
    return CreatedProject(path=made.path, commit=made.commit, remote=made.remote,
                          data_commit=data_commit, messages=made.messages + tuple(messages))
