"""The project's history, read from git: step commits, registry tags, experiment refs.

Nothing is kept in a side file: the timeline is whatever git says, so a clone shows the
same history, and commits made by hand simply do not appear. Three kinds of entry:

- ``step``: a commit carrying the ``Workbench-Step`` trailer on the current branch;
- ``registry``: a model registry tag in GTO's format (``model@v1.2.0`` registers a
  version, ``model#production#3`` assigns a stage), with its tagger and message;
- ``experiment``: a DVC experiment ref (``refs/exps/<sha[:2]>/<sha[2:]>/<name>``).

They are merged newest first. Tags and refs are read with one ``git for-each-ref``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.lifecycle import step_title
from workbench.versioning import git
from workbench.versioning.exp_refs import parse_exp_ref

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
    kind: str = "step"
    ref: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


_REF_FIELDS = ("%(refname)", "%(objecttype)", "%(objectname)", "%(*objectname)",
               "%(taggername)", "%(taggeremail:trim)", "%(taggerdate:iso-strict)",
               "%(authorname)", "%(authoremail:trim)", "%(authordate:iso-strict)", "%(contents)")
_GTO_REGISTER = re.compile(r"^(?P<artifact>[\w.\-/]+)@(?P<version>v\d+\.\d+\.\d+)$")
_GTO_STAGE = re.compile(r"^(?P<artifact>[\w.\-/]+)#(?P<stage>[\w\-]+)#(?P<n>\d+)$")
_GTO_DEFAULT_SUBJECTS = ("Registering artifact", "Assigning stage", "Deregistering", "Unassigning",
                         "Deprecating")
_ROLE_LINE = re.compile(rf"^{git.TRAILER_ROLE}:\s*(\S+)", re.MULTILINE)


def _records(out: str, fields: int) -> list[list[str]]:
    """Split git's output into records (0x1e) of ``fields`` fields (0x1f); others are skipped."""
    records = (r.strip("\n").split("\x1f") for r in out.split("\x1e") if r.strip("\n"))
    return [parts for parts in records if len(parts) == fields]


def _ref_entries(project_path: Path) -> list[TimelineEntry]:
    """Registry tags and experiment refs as timeline entries (unsorted)."""
    fmt = "%1f".join(_REF_FIELDS) + "%1e"  # for-each-ref spells hex bytes without the x
    out = git.run_git(project_path, "for-each-ref", f"--format={fmt}", "refs/tags", "refs/exps", check=False)
    entries = []
    for parts in _records(out, len(_REF_FIELDS)):
        (refname, objtype, objname, peeled, tagger, tagger_email, tag_date,
         author, author_email, author_date, contents) = parts
        if refname.startswith("refs/tags/"):
            name = refname[len("refs/tags/"):]
            reg, stage = _GTO_REGISTER.match(name), _GTO_STAGE.match(name)
            if not (reg or stage) or objtype != "tag":
                continue
            if reg:
                summary = f"registered {reg['artifact']} {reg['version']}"
            elif stage:
                summary = f"{stage['artifact']} assigned to {stage['stage']}"
            subject = contents.strip().splitlines()[0] if contents.strip() else ""
            if subject and not subject.startswith(_GTO_DEFAULT_SUBJECTS):
                summary += f" ({subject})"
            role = _ROLE_LINE.search(contents)
            commit = peeled or objname
            entries.append(TimelineEntry(commit, commit[:7], tag_date, tagger, tagger_email,
                                         role.group(1) if role else "", "deployment",
                                         step_title("deployment"), summary, "registry", name))
        else:
            exp = parse_exp_ref(refname, objname, objtype)
            if exp is None:
                continue
            entries.append(TimelineEntry(objname, objname[:7], author_date, author, author_email, "",
                                         "training", step_title("training"),
                                         f"experiment {exp.name}", "experiment", exp.name))
    return entries


def read_timeline(project_path: Path, *, limit: int | None = None,
                  kinds: tuple[str, ...] = ("step", "registry", "experiment")) -> list[TimelineEntry]:
    """The project's history newest first: step commits, registry tags and experiment refs."""
    root = git.repo_root(project_path)
    if root is None or not git.has_head(root):
        return []
    entries = _step_entries(project_path, root, limit) if "step" in kinds else []
    if "registry" in kinds or "experiment" in kinds:
        entries += [e for e in _ref_entries(Path(project_path)) if e.kind in kinds]
        entries.sort(key=_order, reverse=True)
    return entries[:limit] if limit is not None else entries


def _order(entry: TimelineEntry) -> tuple[float, int]:
    """Newest first; within one second a stage assignment follows its registration."""
    rank = {"step": 0, "experiment": 1, "registry": 2}[entry.kind] + ("#" in entry.ref)
    return _instant(entry.when), rank


def _instant(when: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(when).timestamp()
    except ValueError:
        return 0.0


def _step_entries(project_path: Path, root: Path, limit: int | None) -> list[TimelineEntry]:
    # --grep keeps -n honest: only commits that carry the trailer are counted
    args = ["log", f"--format={_FORMAT}", "--no-color", f"--grep=^{git.TRAILER_STEP}: "]
    if limit is not None:
        args.append(f"-n{limit}")
    rel = Path(project_path).resolve().relative_to(root).as_posix()
    args += ["--", "."] if rel != "." else []
    out = git.run_git(Path(project_path), *args)
    entries = []
    for parts in _records(out, len(_FIELDS)):
        full, short, when, author, email, subject, step, role = parts
        step = step.strip()
        if not step:
            continue
        title = step_title(step)
        summary = subject[len(title) + 2:] if subject.startswith(f"{title}: ") else subject
        entries.append(TimelineEntry(full, short, when, author, email, role.strip(), step, title, summary))
    return entries
