"""What every workbench screen shares: the testing switch and the one-line error notification."""

from __future__ import annotations

from textual.screen import ModalScreen, Screen


def quiet_cursors(screen: Screen) -> None:
    """Stop blinking cursors when the app runs under test, so screenshots are stable."""
    if getattr(screen.app, "testing", False):
        for widget in screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]


def notify_error(screen: Screen, message: str) -> None:
    """Show a core error exactly as the CLI prints it (no markup: paths may hold brackets)."""
    screen.app.notify(message, severity="error", markup=False, timeout=10)


class WorkbenchScreen(Screen):
    """A full screen of the workbench."""

    def on_mount(self) -> None:
        quiet_cursors(self)


class WorkbenchModal(ModalScreen[None]):
    """A modal of the workbench."""

    def on_mount(self) -> None:
        quiet_cursors(self)
