"""Fast git plumbing for the experiment history: refs, one ``cat-file --batch``, notes.

The history reads up to thousands of commits, so it talks to git directly in a few
processes instead of one git call per object: ``for-each-ref`` lists the refs,
one ``git cat-file --batch`` streams every commit and blob it needs, ``git notes list``
maps notes. Nothing here writes except :func:`write_note`. Every git process is started
by :func:`workbench.versioning.git.git_bytes` (one environment, one error rule).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.versioning.exp_refs import EXP_REF, parse_exp_ref  # what an experiment ref is
from workbench.versioning.git import git_bytes, git_text

__all__ = ["EXP_REF", "git_bytes", "git_text", "parse_exp_ref"]
NOTES_REF = "refs/notes/workbench"


@dataclass(frozen=True)
class RepoInfo:
    """Where the project sits in its git repository, and HEAD."""

    top: Path          # the repository's work tree
    git_dir: Path      # its .git folder
    prefix: str        # the project's folder inside the repository ("" at the top)
    head: str | None   # HEAD's full sha, None before the first commit
    branch: str | None  # the checked-out branch, None when detached

    def path(self, name: str) -> str:
        """A project-relative file as a path inside the repository's trees."""
        return f"{self.prefix}{name}" if self.prefix else name


def repo_info(project: Path) -> RepoInfo:
    """One ``git rev-parse`` for the top, git dir, prefix, HEAD and its branch."""
    out = git_text(project, "rev-parse", "--show-toplevel", "--absolute-git-dir", "--show-prefix",
                   check=False).split("\n")
    if len(out) < 3 or not out[0]:
        raise WorkbenchError(f"{project} is not inside a git repository: create the project first")
    head = git_text(project, "rev-parse", "HEAD", "--symbolic-full-name", "HEAD", check=False).split()
    sha = head[0] if head and re.fullmatch(r"[0-9a-f]{40}", head[0]) else None
    branch = head[1][len("refs/heads/"):] if len(head) > 1 and head[1].startswith("refs/heads/") else None
    return RepoInfo(Path(out[0]), Path(out[1]), out[2].strip(), sha, branch)


@dataclass(frozen=True)
class Refs:
    """Experiment refs and branch tips."""

    exps: tuple[tuple[str, str, str], ...]   # (name, commit sha, baseline sha)
    branches: dict[str, str]                 # branch name -> tip sha
    notes: str | None                        # the notes ref's commit sha


def read_refs(top: Path) -> Refs:
    """Experiment refs (:func:`parse_exp_ref`: DVC's stash, apply, exec and queue refs are not
    experiments), branches, notes."""
    out = git_text(top, "for-each-ref", "--format=%(objectname) %(objecttype) %(refname)",
                   "refs/exps/", "refs/heads/", NOTES_REF, check=False)
    exps: list[tuple[str, str, str]] = []
    branches: dict[str, str] = {}
    notes = None
    for line in out.splitlines():
        sha, kind, ref = (line.split(" ", 2) + ["", ""])[:3]
        if ref.startswith("refs/heads/"):
            branches[ref[len("refs/heads/"):]] = sha
        elif ref == NOTES_REF:
            notes = sha
        else:
            exp = parse_exp_ref(ref, sha, kind)
            if exp is not None:
                exps.append((exp.name, exp.sha, exp.baseline))
    return Refs(tuple(exps), branches, notes)


@dataclass(frozen=True)
class CommitInfo:
    parents: tuple[str, ...]
    time: int
    offset_minutes: int

    def iso(self) -> str:
        tz = timezone(timedelta(minutes=self.offset_minutes))
        return datetime.fromtimestamp(self.time, tz).isoformat()


def parse_commit(data: bytes) -> CommitInfo:
    parents: list[str] = []
    when, offset = 0, 0
    for line in data.split(b"\n"):
        if not line:
            break
        if line.startswith(b"parent "):
            parents.append(line[7:].decode())
        elif line.startswith(b"committer "):
            stamp, tz = line.rsplit(b" ", 2)[-2:]
            when = int(stamp)
            sign = -1 if tz.startswith(b"-") else 1
            offset = sign * (int(tz[1:3]) * 60 + int(tz[3:5]))
    return CommitInfo(tuple(parents), when, offset)


def cat_file_batch(top: Path, requests: Sequence[str]) -> dict[str, tuple[str, str, bytes] | None]:
    """``git cat-file --batch`` for many objects in one process: request -> (oid, type, data) or None."""
    if not requests:
        return {}
    raw = git_bytes(top, "cat-file", "--batch", input=("\n".join(requests) + "\n").encode())
    out: dict[str, tuple[str, str, bytes] | None] = {}
    pos = 0
    for request in requests:
        end = raw.index(b"\n", pos)
        header = raw[pos:end].decode("utf-8", "replace")
        pos = end + 1
        parts = header.split(" ")
        if len(parts) == 3 and parts[2].isdigit() and parts[1] in ("blob", "commit", "tree", "tag"):
            size = int(parts[2])
            out[request] = (parts[0], parts[1], raw[pos:pos + size])
            pos += size + 1  # the content is followed by a newline
        else:  # "<request> missing" / "ambiguous"
            out[request] = None
    return out


def blob_ids(top: Path, requests: Iterable[str]) -> dict[str, str | None]:
    """``git cat-file --batch-check``: ``rev:path`` -> blob id (None when missing)."""
    reqs = list(requests)
    if not reqs:
        return {}
    raw = git_bytes(top, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                    input=("\n".join(reqs) + "\n").encode()).decode("utf-8", "replace")
    out: dict[str, str | None] = {}
    for req, line in zip(reqs, raw.splitlines(), strict=False):
        parts = line.split(" ")
        out[req] = parts[0] if len(parts) == 2 and parts[1] == "blob" else None
    return out


def read_notes(top: Path) -> dict[str, str]:
    """commit sha -> note text in ``refs/notes/workbench``."""
    listing = git_text(top, "notes", f"--ref={NOTES_REF}", "list", check=False)
    pairs = [line.split(" ") for line in listing.splitlines() if " " in line]
    if not pairs:
        return {}
    blobs = cat_file_batch(top, [blob for blob, _ in pairs])
    out: dict[str, str] = {}
    for blob, commit in pairs:
        got = blobs.get(blob)
        if got is not None:
            out[commit] = got[2].decode("utf-8", "replace").strip()
    return out


def write_note(top: Path, commit: str, text: str) -> None:
    """Set (or with empty text, remove) the workbench note on ``commit``."""
    if text.strip():
        git_bytes(top, "notes", f"--ref={NOTES_REF}", "add", "--force", "--file=-", commit,
                  input=text.strip().encode() + b"\n")
    else:
        git_bytes(top, "notes", f"--ref={NOTES_REF}", "remove", "--ignore-missing", commit)


# --- what promote and discard compare: trees, the index and the work tree, by name ------------


def changed_between(top: Path, old: str, new: str, prefix: str = "") -> set[str]:
    """Repository paths (under ``prefix``) that differ between commits ``old`` and ``new`` (no renames)."""
    scope = ["--", prefix] if prefix else []
    return set(git_text(top, "diff", "--name-only", "-z", "--no-renames", old, new, *scope).split("\0")) - {""}


def tree_blobs(top: Path, rev: str, prefix: str = "") -> dict[str, str]:
    """Repository path -> blob id of every file (under ``prefix``) in ``rev``'s tree."""
    scope = ["--", prefix] if prefix else []
    out: dict[str, str] = {}
    for rec in git_text(top, "ls-tree", "-r", "-z", rev, *scope).split("\0"):
        if "\t" in rec:
            meta, path = rec.split("\t", 1)
            out[path] = meta.split(" ")[2]
    return out


def worktree_status(top: Path, prefix: str = "") -> dict[str, str]:
    """Dirty paths under ``prefix`` (untracked included, no renames) -> git's two-letter status code."""
    raw = git_text(top, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--",
                   prefix or ".")
    return {rec[3:]: rec[:2] for rec in raw.split("\0") if len(rec) > 3}


def worktree_blobs(top: Path, paths: Sequence[str]) -> list[str]:
    """The blob ids the work-tree files ``paths`` would get (``git hash-object``), in order."""
    return git_text(top, "hash-object", "--", *paths).split() if paths else []


def tracked_among(top: Path, paths: Sequence[str]) -> set[str]:
    """Those of ``paths`` git tracks (``ls-files``)."""
    return set(git_text(top, "ls-files", "-z", "--", *paths).split("\0")) if paths else set()


def index_blobs(top: Path, paths: Sequence[str]) -> dict[str, str]:
    """Repository path -> blob id of ``paths`` as staged in the index (absent: not in the index)."""
    raw = git_text(top, "ls-files", "-s", "-z", "--", *paths)
    return {rec.split("\t", 1)[1]: rec.split(" ")[1] for rec in raw.split("\0") if "\t" in rec}

