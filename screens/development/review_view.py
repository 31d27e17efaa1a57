"""The Review & governance step: the model card, a sign-off form, and whether the decision holds.

The card (``reports/model_card.md``) is shown as Markdown; "Generate card" (g) regenerates it
with :func:`workbench.development.review.write_card` (keeping a person's edits to
Limitations and Ethical considerations) and commits it. Approve / Reject call
:func:`workbench.development.review.decide` with the comment typed here; the core refuses
an approval without a passing validation of this exact model, and the refusal shows as a
notification. Whether the current decision still holds comes from
:func:`workbench.versioning.evidence.promotion_blockers`, shown line by line. Every core
call loads the model or reads git, so each runs in a thread worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, Markdown, Static

from screens.base import (
    EDIT_KEY,
    EDIT_TOOLTIP,
    StepView,
    notify_error,
    post_core_result,
    set_disabled,
    state_line,
    step_ended,
)

if TYPE_CHECKING:
    from workbench.development.review import CardResult, DecisionResult, ReviewStatus
    from workbench.status import ProjectStatus

import re

# The core's lines name the CLI command; beside the Approve button the view says to use it instead.
_CLI_SIGN = re.compile(r"(run |runs )?[`']mlops-workbench review approve[^`']*[`']")


def here_not_cli(line: str) -> str:
    """A blocker line as the review view shows it: the sign-off is done with this view's buttons."""
    return _CLI_SIGN.sub(lambda m: ("approves it here with a comment" if m.group(1) == "runs "
                                    else "approve or reject it here with a comment"), line)


NO_CARD = "_No model card yet. Refresh the card to generate it from the charter, data and validation._"


def card_markdown(text: str | None) -> str:
    """The card for display: without the workbench's first-line marker comment."""
    if not text:
        return NO_CARD
    lines = text.splitlines()
    if lines and lines[0].startswith("<!-- mlops-workbench-card"):
        lines = lines[1:]
    return "\n".join(lines)


class ReviewView(StepView, VerticalScroll):
    """Model card, sign-off form, current decision and its history."""

    STEP_ID = "review"

    BINDINGS = [
        Binding("g", "refresh_card", "Generate card"),
        Binding(EDIT_KEY, "edit_file", "Edit file", tooltip=EDIT_TOOLTIP),
    ]

    @dataclass
    class Loaded(Message):
        status: ReviewStatus

    @dataclass
    class CardWritten(Message):
        result: CardResult

    @dataclass
    class Decided(Message):
        result: DecisionResult

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.busy = False
        self.status: ReviewStatus | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[b]Review & governance[/b]  [dim]Development[/dim]"),
                     classes="view-title")
        yield Static("", id="rv-state")
        yield Static("Reading the review…", id="rv-decision")
        with Horizontal(id="rv-form"):
            yield Label("Comment")
            yield Input(placeholder="why you approve or reject (required)", id="rv-comment", compact=True)
            yield Button("Approve", id="rv-approve", variant="success", compact=True)
            yield Button("Reject", id="rv-reject", variant="error", compact=True)
            yield Button("Generate card  g", id="rv-refresh", compact=True)
        yield Static("", id="rv-result")
        yield DataTable(id="rv-history", cursor_type="row", zebra_stripes=True)
        yield Markdown(NO_CARD, id="rv-card")

    def on_mount(self) -> None:
        table = self.query_one("#rv-history", DataTable)
        for key, label in (("at", "When"), ("decision", "Decision"), ("reviewer", "Reviewer"),
                           ("role", "Role"), ("comment", "Comment")):
            table.add_column(label, key=key)
        self.quiet_inputs("#rv-comment")
        self.load()

    # --- hooks from the project screen ------------------------------------------------

    def show_status(self, status: ProjectStatus) -> None:
        if (line := state_line(status, "review")) is not None:
            self.set_state(Content(here_not_cli(line.plain)) if "review approve" in line.plain else line,
                           "#rv-state")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "edit_file":  # in the footer once there is a card to edit
            return self.status is not None and self.status.card_text is not None
        return True

    def action_edit_file(self) -> None:
        from workbench.versioning.evidence import CARD_FILE

        self.edit_file(self.path / CARD_FILE, "#rv-state")

    # --- workers ----------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="review-load",
          description="read the review")
    def load(self) -> None:
        from workbench.development.review import review_status

        post_core_result(self, lambda: self.Loaded(review_status(self.path)), self.Failed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="review-write",
          description="write the model card")
    def _write_card(self) -> None:
        from workbench.development.review import write_card

        post_core_result(self, lambda: self.CardWritten(write_card(self.path)), self.Failed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="review-write",
          description="record the decision")
    def _decide(self, decision: str, comment: str) -> None:
        from workbench.development.review import decide

        post_core_result(self, lambda: self.Decided(decide(self.path, decision, comment)), self.Failed)

    # --- actions ----------------------------------------------------------------------

    def _start(self) -> bool:
        if self.busy:
            self.app.notify("The review is being written: wait a moment.", severity="warning")
            return False
        self.busy = True
        set_disabled(self, {f"#{button.id}": True for button in self.query(Button)})
        return True

    def _finish(self) -> None:
        self.busy = False
        set_disabled(self, {f"#{button.id}": False for button in self.query(Button)})

    @on(Button.Pressed, "#rv-refresh")
    def action_refresh_card(self) -> None:
        if self._start():
            self._write_card()

    @on(Button.Pressed, "#rv-approve")
    def _approve(self) -> None:
        self._sign("approved")

    @on(Button.Pressed, "#rv-reject")
    def _reject(self) -> None:
        """A rejection is a signed commit that blocks the release: asked first (issue 16.9)."""
        from screens.base import ConfirmScreen

        if self.busy:
            return
        comment = self.query_one("#rv-comment", Input).value.strip()
        if not comment:  # the core's own refusal, without asking first
            self._sign("rejected")
            return
        digest = (self.status.model_digest if self.status else None) or "the current model"

        def answered(yes: bool | None) -> None:
            if yes:
                self._sign("rejected")

        self.app.push_screen(ConfirmScreen(
            "Reject this model?", f"Commits a rejection of model {digest} with your comment to "
            "reports/review.json: it cannot be promoted to production until approved again.", "Reject"),
            answered)

    def _sign(self, decision: str) -> None:
        comment = self.query_one("#rv-comment", Input).value
        if self._start():
            self._decide(decision, comment)

    # --- results ----------------------------------------------------------------------

    async def on_review_view_loaded(self, message: Loaded) -> None:
        status = self.status = message.status
        decision = self.query_one("#rv-decision", Static)
        parts: list[tuple[str, str] | str] = []
        if status.model_digest is None:
            parts.append(("No trained model yet: train one first.", "bold"))
        elif status.decision is None:
            parts.append(("No decision yet. ", "bold"))
            parts.append(f"Model {status.model_digest}")
        else:
            d = status.decision
            who = d.get("reviewer") or {}
            word = str(d.get("decision"))
            style = "$success" if word == "approved" else "$error"
            parts += [(word.capitalize(), f"bold {style}"),
                      f" by {who.get('name')} ({who.get('role')}) on {str(d.get('at'))[:19]}: ",
                      (str(d.get("comment") or ""), "italic"), "\n",
                      ("Still holds" if status.holds else "No longer holds",
                       "bold $success" if status.holds else "bold $warning")]
        if status.validation is not None and status.model_digest is not None:
            v = status.validation
            parts += ["\n", ("Validation: ", "dim"),
                      ("passed" if v["passed"] else "failed", "$success" if v["passed"] else "$error"),
                      ("" if v["current"] else " (for another model)", "$warning")]
        for line in status.blockers:
            parts += ["\n", ("! ", "$warning"), here_not_cli(line)]
        decision.update(Content.assemble(*parts))
        table = self.query_one("#rv-history", DataTable)
        table.clear()
        for entry in status.history:
            who = entry.get("reviewer") or {}
            table.add_row(str(entry.get("at") or entry.get("when") or "")[:19], str(entry.get("decision")),
                          str(who.get("name") or ""), str(who.get("role") or ""),
                          str(entry.get("comment") or ""), key=entry["commit"])
        await self.query_one("#rv-card", Markdown).update(card_markdown(status.card_text))
        self.refresh_bindings()

    def on_review_view_card_written(self, message: CardWritten) -> None:
        self._finish()
        result = message.result
        if result.commit:
            self.app.notify(f"Wrote the model card (commit {result.commit[:7]})")
        else:
            self.app.notify("The model card is up to date: nothing committed")
        for note in result.messages:
            self.app.notify(note, markup=False, timeout=8)
        self.load()
        step_ended(self)

    def on_review_view_decided(self, message: Decided) -> None:
        self._finish()
        self.query_one("#rv-result", Static).update("")
        review = message.result.review
        self.query_one("#rv-comment", Input).value = ""
        self.app.notify(f"{str(review['decision']).capitalize()} model {review['model_digest'][:12]} "
                        f"(commit {(message.result.commit or '')[:7]})")
        for note in message.result.messages:
            self.app.notify(note, markup=False, timeout=8)
        self.load()
        step_ended(self)

    def on_step_view_failed(self, message: StepView.Failed) -> None:
        self._finish()
        self.query_one("#rv-result", Static).update(Content.assemble(("Refused: ", "bold $error"), message.message))
        notify_error(self.screen, message.message)
