"""The help modal: the keys, and what each phase of the lifecycle is for."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from screens.base import WorkbenchModal
from workbench.lifecycle import PHASES, steps_in

KEYS: tuple[tuple[str, str], ...] = (
    ("d", "dashboard: where the project stands, the next step"),
    ("n", "on the dashboard: open the next step it recommends"),
    ("t", "timeline: every versioned step, read from git"),
    ("r", "refresh the status (it is read from the repository)"),
    ("S", "sync with the team: the three-way status with origin (a dry run); S again syncs, after asking"),
    ("ctrl+p", "command palette: go to any step, or run a step's action (train, validate, ...)"),
    ("1 / 2 / 3", "jump: 1 the sidebar, 2 the view on show, 3 the view's next panel"),
    ("\\", "show or hide the sidebar (hidden by itself under 100 columns)"),
    ("arrows, enter", "move in the lifecycle sidebar and open a step"),
    ("tab / shift+tab", "move between the sidebar and the content"),
    ("escape", "back (in the wizard and pickers); close this help"),
    ("?", "this help"),
    ("q", "quit"),
)

#: Keys that mean one family of things wherever they are bound (issue 16.3): every other key
#: of the project screen and its views means one thing across the app.
SHARED_KEYS: dict[str, str] = {
    "escape": "back: close a dialog, leave a field, cancel what runs",
    "ctrl+s": "save the form on show (a commit), or add/create in a dialog",
    "ctrl+r": "run an experiment (train, retrain): asks first when it commits data",
    "x": "stop what runs in the view (a check, a run, the service)",
    "space": "mark or unmark the row under the cursor",
    "enter": "open or edit the row under the cursor, press the focused button",
}

#: Screens whose letters are alone on the screen (nothing else is live): the welcome menu's
#: n/s/o pick an entry, a confirmation's y/n answer it, help's q/? close it.
MENU_SCREENS = ("WelcomeScreen", "ConfirmScreen", "HelpScreen")

PHASE_MEANING: dict[str, str] = {
    "Design": "decide what to build and whether the data can support it",
    "Development": "turn data into a validated, reviewed model, with every experiment versioned",
    "Operations": "release, automate and watch the model; retrain through the same gates",
}


class HelpScreen(WorkbenchModal):
    """Keys and the lifecycle, in one page (escape, q or ? closes it)."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    def __init__(self, view_keys: list[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.view_keys = view_keys or []

    def compose(self) -> ComposeResult:
        parts: list[Content | str | tuple[str, str]] = []
        if self.view_keys:
            parts.append(("Keys of this view\n", "bold"))
            for key, meaning in self.view_keys:
                parts += [(f"  {key:<16}", "bold $accent"), f"{meaning}\n"]
            parts.append("\n")
        parts.append(("Keys everywhere\n", "bold"))
        for key, meaning in KEYS:
            parts += [(f"  {key:<16}", "bold $accent"), f"{meaning}\n"]
        parts.append(("\nKeys that mean one family of things\n", "bold"))
        for key, meaning in SHARED_KEYS.items():
            parts += [(f"  {key:<16}", "bold $accent"), f"{meaning}\n"]
        parts.append(("\nThe lifecycle\n", "bold"))
        for phase in PHASES:
            parts += [(f"  {phase}", "bold"), f": {PHASE_MEANING[phase]}\n",
                      (f"    {' · '.join(step.title for step in steps_in(phase))}\n", "dim")]
        parts.append(("\nMarks: ", "bold"))
        parts += [("✔ done", "$success"), "   ", ("! needs attention", "$warning"), "   ",
                  ("· to do", "$text-muted")]
        with VerticalScroll(id="help-box"):
            yield Static(Content.assemble(*parts), id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
