"""The command palette entries of the project screen: every step, the dashboard, the timeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from workbench.lifecycle import STEPS


class WorkbenchCommands(Provider):
    """'Go to: <step>' for each lifecycle step, plus Dashboard, Timeline and Refresh."""

    def _commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        screen = self.screen
        if not hasattr(screen, "show_step"):
            return
        yield "Go to: Dashboard", screen.action_dashboard, "where the project stands, the next step"
        yield "Go to: Timeline", screen.action_timeline, "every versioned step, read from git"
        for step in STEPS:
            yield f"Go to: {step.title}", partial(screen.show_step, step.id), f"{step.phase}: {step.summary}"
        yield "Refresh status", screen.action_refresh, "recompute every step's state from the repository"

    async def discover(self) -> Hits:
        for name, command, help_text in self._commands():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, command, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, text=name, help=help_text)
