"""Which commit was made from a monitoring report: read from its git trailer, on a real repository.

The monitoring view says "Retrained on this batch: <commit>"; a commit that only mentions the
report in its text (a person's note, a revert) must not be taken for it, and commits made before
the trailer existed are still found by the sentence retraining always wrote.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git
from workbench.versioning.git import TRAILER_MONITORING_REPORT, format_message
from workbench.versioning.history import commit_from_report


def commit(repo: Path, name: str, message: str) -> str:
    (repo / name).write_text(name + "\n", encoding="utf-8")
    git(repo, "add", name)
    msg = repo / ".git" / "MSG"
    msg.write_text(message, encoding="utf-8")
    git(repo, "commit", "-q", "-F", str(msg))
    return git(repo, "log", "-1", "--format=%h %s").strip()


def test_the_trailer_commit_is_found_and_a_mention_is_not(tmp_path):
    repo = tmp_path / "p"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    old_style = commit(repo, "a", format_message("Monitoring & triggering", "retraining candidate rejected",
                                                 "monitoring", "ml_engineer",
                                                 "Kept for inspection:\n- x\nFrom monitoring report r-old."))
    made = commit(repo, "b", format_message("Monitoring & triggering", "retraining candidate rejected",
                                            "monitoring", "ml_engineer",
                                            "Kept for inspection:\n- y\nFrom monitoring report r-new.",
                                            trailers={TRAILER_MONITORING_REPORT: "r-new"}))
    # newer commits that only mention the reports in their text
    commit(repo, "c", "Requirements: a note\n\nAs said in From monitoring report r-new. and "
                      f"{TRAILER_MONITORING_REPORT}: r-new (quoted)\n\nWorkbench-Step: requirements\n")
    commit(repo, "d", "Requirements: another\n\nFrom monitoring report r-old.\n\n"
                      f"Workbench-Step: requirements\n{TRAILER_MONITORING_REPORT}: r-other\n")
    commit(repo, "e", "Requirements: quoting an old report\n\nFrom monitoring report r-old.\n\n"
                      "Workbench-Step: requirements\nWorkbench-Role: business_owner\n")
    assert commit_from_report(repo, "r-new") == made
    # the newer mentions are another report's trailer commit and a step that is not retraining
    assert commit_from_report(repo, "r-old") == old_style
    assert commit_from_report(repo, "r-none") is None
    assert commit_from_report(repo, "r-new"[:3]) is None  # a prefix of an id is not the id
    trailer = git(repo, "log", "-1", "--skip=3", f"--format=%(trailers:key={TRAILER_MONITORING_REPORT},valueonly)")
    assert trailer.strip() == "r-new"
