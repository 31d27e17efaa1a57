"""What every workbench screen shares: the testing switch, the one-line error notification
and how a thread worker reports a core call back to its view."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.screen import ModalScreen, Screen

from workbench.errors import CancelledError, WorkbenchError

if TYPE_CHECKING:
    from textual.message import Message
    from textual.message_pump import MessagePump


def quiet_cursors(screen: Screen) -> None:
    """Stop blinking cursors when the app runs under test, so screenshots are stable."""
    if getattr(screen.app, "testing", False):
        for widget in screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]


def notify_error(screen: Screen, message: str) -> None:
    """Show a core error exactly as the CLI prints it (no markup: paths may hold brackets)."""
    screen.app.notify(message, severity="error", markup=False, timeout=10)


def post_core_result(
    view: MessagePump,
    build: Callable[[], Message],
    failed: Callable[..., Message],
    *,
    cancelled: bool | Callable[[str], Message] = False,
    **flags: Any,
) -> None:
    """Run ``build`` (the core calls, returning the message that says they succeeded) and post its message.

    Called in a thread worker. A :class:`WorkbenchError` posts ``failed(str(exc), **flags)``
    instead. A :class:`CancelledError` is such a failure too, unless ``cancelled`` says
    otherwise: ``True`` posts ``failed(str(exc), cancelled=True, **flags)``, a message class
    posts ``cancelled(str(exc))``. Any other exception is left to the worker.
    """
    try:
        message = build()
    except WorkbenchError as exc:
        if not isinstance(exc, CancelledError) or cancelled is False:
            message = failed(str(exc), **flags)
        elif cancelled is True:
            message = failed(str(exc), cancelled=True, **flags)
        else:
            message = cancelled(str(exc))
    view.post_message(message)


class WorkbenchScreen(Screen):
    """A full screen of the workbench."""

    def on_mount(self) -> None:
        quiet_cursors(self)


class WorkbenchModal(ModalScreen[None]):
    """A modal of the workbench."""

    def on_mount(self) -> None:
        quiet_cursors(self)
