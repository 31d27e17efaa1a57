"""Small modals for steps done from a view: register a version, promote it, change a data-check
threshold, choose the target column.

Each modal only collects the answer (enter submits, escape leaves everything as it was); the
view that opened it calls the core with it, in a worker, and shows the core's one-line refusal
(the same text the CLI prints). A modal never writes anything itself.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from screens.base import quiet_cursors


class _Dialog(ModalScreen[Any]):
    """The skeleton every step dialog shares: a box with a title, the dialog's own body, the
    buttons (``OK`` and Cancel unless :meth:`buttons` says otherwise); escape or Cancel
    dismisses with None, ``#dlg-ok`` or enter in a field dismisses with :meth:`answer`
    (None from it keeps the dialog open, e.g. after marking a field)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    OK: str = "OK"

    def heading(self) -> str:
        raise NotImplementedError

    def body(self) -> ComposeResult:
        yield from ()

    def buttons(self) -> ComposeResult:
        yield Button(self.OK, variant="primary", id="dlg-ok", compact=True)
        yield Button("Cancel", id="dlg-cancel", compact=True)

    def answer(self) -> Any:
        return None

    def compose(self) -> ComposeResult:
        with Vertical(classes="uc-modal confirm-box"):
            yield Static(self.heading(), classes="view-title", markup=False)
            yield from self.body()
            with Horizontal(classes="uc-modal-buttons"):
                yield from self.buttons()

    def on_mount(self) -> None:
        quiet_cursors(self)
        first = next((w for w in self.query("Input, Select") if w.focusable), None)
        if first is not None:
            first.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#dlg-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#dlg-ok")
    def _ok(self, event: Any) -> None:
        event.stop()
        value = self.answer()
        if value is not None:
            self.dismiss(value)


class RegisterScreen(_Dialog):
    """The version to register HEAD's model as, prefilled with the registry's next version."""

    OK = "Register"

    def __init__(self, suggestion: str, commit: str = "") -> None:
        super().__init__()
        self.suggestion, self.commit = suggestion, commit

    def heading(self) -> str:
        return "Register the model committed at HEAD"

    def body(self) -> ComposeResult:
        yield Static(f"A git tag for commit {self.commit[:7] or 'HEAD'}; the version must be new "
                     f"(suggested: {self.suggestion}, the next after the latest).", markup=False)
        yield Input(value=self.suggestion, id="dlg-version", compact=True)

    def answer(self) -> str:
        return self.query_one("#dlg-version", Input).value.strip()


class PromoteScreen(_Dialog):
    """Choose the stage for a version, seeing what production needs and what is still missing.

    ``needs`` are the lines of what production checks (validation of this digest, approvals,
    the data check), ``missing`` the core's blockers. Dismisses with ``(stage, override)``.
    """

    def __init__(self, version: str, needs: list[str], missing: list[str], data_check: str) -> None:
        super().__init__()
        self.version, self.needs, self.missing, self.data_check = version, needs, missing, data_check

    def heading(self) -> str:
        return f"Promote model {self.version}"

    def body(self) -> ComposeResult:
        yield Static("Production needs:\n" + "\n".join(f"  {line}" for line in self.needs),
                     id="dlg-needs", markup=False)
        if self.missing:
            yield Static("Missing for production:\n" + "\n".join(f"  ! {b}" for b in self.missing),
                         id="dlg-missing", markup=False)
        else:
            yield Static("Nothing is missing: production can be assigned.", id="dlg-missing", markup=False)
        if self.data_check in ("NO-GO", "stale"):
            yield Input(placeholder="reason to override the data check (production only, recorded)",
                        id="dlg-override", compact=True)

    def buttons(self) -> ComposeResult:
        yield Button("Staging", variant="primary", id="dlg-staging", compact=True)
        yield Button("Production…", variant="warning", id="dlg-production", compact=True)
        yield Button("Cancel", id="dlg-cancel", compact=True)

    def on_mount(self) -> None:
        quiet_cursors(self)
        self.query_one("#dlg-staging").focus()

    @on(Button.Pressed, "#dlg-staging, #dlg-production")
    def _stage(self, event: Button.Pressed) -> None:
        event.stop()
        stage = "staging" if event.button.id == "dlg-staging" else "production"
        override = None
        if stage == "production" and self.query("#dlg-override"):
            override = self.query_one("#dlg-override", Input).value.strip() or None
        self.dismiss((stage, override))


class ThresholdScreen(_Dialog):
    """A data-check threshold to change: key and value (the core validates both)."""

    OK = "Save"

    def __init__(self, current: dict[str, Any], key: str = "") -> None:
        super().__init__()
        self.current, self.key = current, key

    def heading(self) -> str:
        return "Change a data-check threshold"

    def body(self) -> ComposeResult:
        now = ", ".join(f"{k}={v}" for k, v in self.current.items())
        yield Static(f"Now: {now or 'the defaults'}. Committed as a step; the check runs again.", markup=False)
        with Horizontal(classes="uc-modal-buttons"):
            yield Input(value=self.key, placeholder="key, e.g. min_rows", id="dlg-key", compact=True)
            yield Input(value=str(self.current.get(self.key, "")) if self.key else "",
                        placeholder="value", id="dlg-value", compact=True)
        yield Static("", id="dlg-error", markup=False)

    def answer(self) -> str | None:
        key = self.query_one("#dlg-key", Input).value.strip()
        value = self.query_one("#dlg-value", Input).value.strip()
        from workbench.design.data_check import parse_thresholds
        from workbench.errors import WorkbenchError

        try:  # the core's own check (pure): the one-line error shows at the field, nothing is written
            parse_thresholds([f"{key}={value}"])
        except WorkbenchError as exc:
            self.query_one("#dlg-error", Static).update(str(exc))
            return None
        return f"{key}={value}"


class ExcludeScreen(_Dialog):
    """Exclude a column from the data check and the default features, with a reason (prefilled
    from the finding); dismisses with the reason."""

    OK = "Exclude"

    def __init__(self, column: str, reason: str) -> None:
        super().__init__()
        self.column, self.reason = column, reason

    def heading(self) -> str:
        return f"Exclude column {self.column!r}"

    def body(self) -> ComposeResult:
        yield Static("Adds it to data.exclude_columns in workbench.yaml (one commit): the data check no "
                     "longer judges it and the pipeline does not propose it. The check runs again.",
                     markup=False)
        yield Input(value=self.reason, placeholder="reason (recorded in the commit)", id="dlg-reason",
                    compact=True)

    def answer(self) -> str:
        return self.query_one("#dlg-reason", Input).value.strip()


class TargetScreen(_Dialog):
    """The target column, chosen among the data's columns."""

    OK = "Set target"

    def __init__(self, columns: list[str], current: str | None) -> None:
        super().__init__()
        self.columns, self.current = columns, current

    def heading(self) -> str:
        return "Set the target column"

    def body(self) -> ComposeResult:
        yield Static("Saved as data.target in workbench.yaml with the check's report, as one step.",
                     markup=False)
        yield Select([(c, c) for c in self.columns], value=self.current if self.current in self.columns
                     else Select.NULL, id="dlg-target", prompt="choose a column")

    def answer(self) -> str | None:
        value = self.query_one("#dlg-target", Select).value
        if value is Select.NULL or value is None:
            return None
        return str(value)
