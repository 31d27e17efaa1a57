"""The project's history, read from git: commits carrying the workbench trailers.

Nothing is kept in a side file: the timeline is whatever ``git log`` says, so a
clone shows the same history, and commits made by hand simply do not appear.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.lifecycle import step_title
from workbench.versioning import git

_FIELDS = ("%H", "%h", "%aI", "%an", "%ae", "%s",
           f"%(trailers:key={git.TRAILER_STEP},valueonly,separator=%x2C)",
           f"%(trailers:key={git.TRAILER_ROLE},valueonly,separator=%x2C)")
_FORMAT = "%x1f".join(_FIELDS) + "%x1e"


@dataclass(frozen=True)
class TimelineEntry:
    """One versioned step."""

    commit: str
    short: str
    when: str
    author: str
    email: str
    role: str
    step: str
    step_title: str
    summary: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def read_timeline(project_path: Path, *, limit: int | None = None) -> list[TimelineEntry]:
    """Every commit with a ``Workbench-Step`` trailer on the current branch, newest first."""
    root = git.repo_root(project_path)
    if root is None or not git.has_head(root):
        return []
    args = ["log", f"--format={_FORMAT}", "--no-color"]
    if limit is not None:
        args.append(f"-n{limit}")
    rel = Path(project_path).resolve().relative_to(root).as_posix()
    args += ["--", "."] if rel != "." else []
    out = git.run_git(Path(project_path), *args)
    entries = []
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        parts = record.split("\x1f")
        if len(parts) != len(_FIELDS):
            continue
        full, short, when, author, email, subject, step, role = parts
        step = step.strip()
        if not step:
            continue
        title = step_title(step)
        summary = subject[len(title) + 2:] if subject.startswith(f"{title}: ") else subject
        entries.append(TimelineEntry(full, short, when, author, email, role.strip(), step, title, summary))
    return entries
