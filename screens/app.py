"""The workbench application and its factory, shared by the CLI and the tests.

The first screen depends on the folder: a workbench project opens on its dashboard,
anything else on the welcome screen. Only what those screens need is imported here.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from workbench.errors import WorkbenchError
from workbench.project import CONFIG_NAME

TITLE = "mlops-workbench"


class WorkbenchApp(App[None]):
    """The workbench: welcome, wizard, sample picker and the project screen."""

    CSS_PATH = "workbench.tcss"
    TITLE = TITLE
    ENABLE_COMMAND_PALETTE = True
    #: Every screen gets -narrow under 100 columns (forms stack, the sidebar hides), -wide above.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def __init__(self, path: Path, *, testing: bool = False, prefetched: Future | None = None) -> None:
        super().__init__()
        self.launch_path = Path(path).expanduser().absolute()
        self.testing = testing
        self._prefetched = prefetched
        self._welcome = True  # set by get_default_screen: whether the welcome screen comes first
        #: What the app has told the user, oldest first, (message, severity): toasts expire after
        #: a few seconds, this record does not (the last 500).
        self.told: deque[tuple[str, str]] = deque(maxlen=500)
        if testing:
            self.animation_level = "none"

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        self.told.append((str(message), severity))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def get_default_screen(self) -> Screen:
        """A workbench project's dashboard is the first screen itself; anything else starts blank.

        The project screen is not pushed from ``on_mount``: Textual batches the app's mount,
        and a screen pushed inside it was rendered, thrown away, and painted only on a later
        full refresh (about 70 ms more before the dashboard showed).
        """
        self._welcome = not (self.launch_path / CONFIG_NAME).is_file()
        if not self._welcome:
            from screens.project.project_screen import ProjectScreen

            self.sub_title = self.launch_path.name
            return ProjectScreen(self.launch_path)
        return super().get_default_screen()

    def on_mount(self) -> None:
        if self._welcome:
            from screens.onboarding.welcome_screen import WelcomeScreen

            self.push_screen(WelcomeScreen(self.launch_path))

    def take_prefetched(self, path: Path) -> Future | None:
        """The status the CLI started computing while Textual was importing (once, for the launch path)."""
        future, self._prefetched = self._prefetched, None
        return future if future is not None and Path(path) == self.launch_path else None

    def open_project(self, path: Path) -> None:
        """Leave onboarding (whatever screens are open) and show the project's dashboard."""
        from screens.project.project_screen import ProjectScreen

        path = Path(path).expanduser().absolute()
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.sub_title = path.name
        self.push_screen(ProjectScreen(path))

    #: Worker groups that only read (the status, the timeline): quitting stops nothing of the user's.
    READ_ONLY_GROUPS = frozenset({"status", "timeline", "locks", "_loader", "default", "samples",
                                  "open-project"})
    READ_ONLY_SUFFIXES = ("-load", "-poll", "-histogram", "-curves")

    def running_jobs(self) -> list[str]:
        """What quitting would stop: the descriptions of the workers that do a job (train, validate, ...)."""
        return sorted({w.description or w.name for w in self.workers
                       if w.is_running and w.group not in self.READ_ONLY_GROUPS
                       and not w.group.endswith(self.READ_ONLY_SUFFIXES)})

    async def action_quit(self) -> None:
        """Quit; while a job runs, ask first and name what would be stopped (issue 16.9)."""
        jobs = self.running_jobs()
        if not jobs:
            self.exit()
            return
        from screens.base import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(
            "Quit while a job runs?",
            "Quitting stops: " + "; ".join(jobs) + ". A stopped command commits nothing. "
            "Enter or y quits, escape or n goes back.", "Quit"), answered)

    def action_help(self) -> None:
        from screens.project.help_screen import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(view_keys(self.screen)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed without posting its own message still reaches the user."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            text = str(error) if isinstance(error, WorkbenchError) else (
                f"unexpected {type(error).__name__}: {error} (run with --debug for details)"
            )
            self.notify(text, severity="error", markup=False, timeout=10)


def view_keys(screen: Screen) -> list[tuple[str, str]]:
    """(key, what it does) for the keys that work now and are not the app's or the screen's own."""
    app = screen.app
    shown: list[tuple[str, str]] = []
    seen: set[str] = set()
    for node, binding, enabled, _tooltip in screen.active_bindings.values():
        if node is app or node is screen or not enabled or not binding.description:
            continue
        if type(node).__module__.split(".")[0] != "screens" or binding.action in seen:
            continue
        seen.add(binding.action)
        shown.append((app.get_key_display(binding), binding.description))
    return shown


def make_app(path: Path, *, testing: bool = False, prefetched: Future | None = None) -> WorkbenchApp:
    """Build the app the same way for the CLI and the tests (testing: no blink, no animation).

    ``prefetched`` is a future of :func:`workbench.status.project_status` for ``path``,
    started before Textual was imported so the dashboard's first paint does not wait for git.
    """
    return WorkbenchApp(Path(path), testing=testing, prefetched=prefetched)
