"""The command palette entries of the project screen: every step, the dashboard, the timeline, sync."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from workbench.lifecycle import STEPS

#: (palette entry, step, the view's action, what it does): a step's work from anywhere (issue 16.4).
#: Each opens the step's view and runs the action there, with the view's own checks and questions.
ACTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("Add a use case", "use_cases", "add", "a candidate use case, scored later"),
    ("Run the data check", "data_availability", "run_check", "profile the data against the charter"),
    ("Add a data source", "data_availability", "add_source", "a file or folder, tracked with DVC"),
    ("Save the pipeline", "data_engineering", "save", "commit target, features and model"),
    ("Train: run an experiment", "training", "run", "dvc exp run with the form's parameters"),
    ("Validate the model", "validation", "run_validation", "the release gates on the held-out data"),
    ("Generate the model card", "review", "refresh_card", "reports/model_card.md from the latest run"),
    ("Start the service", "deployment", "start_service", "serve the registered model locally"),
    ("Batch score", "deployment", "score", "score a file with the registered model"),
    ("Generate the CI workflow", "ci_cd", "generate", "the GitHub Actions workflow of the gates"),
    ("Run the CI check", "ci_cd", "run_check", "what CI would run, here"),
    ("Check a batch for drift", "monitoring", "check", "a monitoring report on the batch"),
    ("Retrain", "monitoring", "retrain", "retrain on the labelled batch (asks first)"),
)


async def run_step_action(screen: object, step_id: str, action: str) -> None:
    """Open ``step_id``'s view and run its ``action`` there."""
    await screen.show_step(step_id)  # type: ignore[attr-defined]
    view = screen.query_one(f"#step-{step_id}")  # type: ignore[attr-defined]
    await view.run_action(action)


class WorkbenchCommands(Provider):
    """'Go to: <step>' for each lifecycle step, plus Dashboard, Timeline and Refresh."""

    def _commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        screen = self.screen
        if not hasattr(screen, "show_step"):
            return
        yield "Go to: Dashboard", screen.action_dashboard, "where the project stands, the next step"
        yield "Go to: Timeline", screen.action_timeline, "every versioned step, read from git"
        yield "Sync with the team", screen.action_sync, \
            "S: what is only here or only there (a dry run), then share and bring in, after asking"
        yield "Set the shared remotes", screen.action_set_remotes, "the git and DVC remotes (remote set)"
        for step in STEPS:
            yield f"Go to: {step.title}", partial(screen.show_step, step.id), f"{step.phase}: {step.summary}"
        yield "Refresh status", screen.action_refresh, "recompute every step's state from the repository"
        for title, step_id, action, help_text in ACTIONS:
            yield title, partial(run_step_action, screen, step_id, action), help_text

    async def discover(self) -> Hits:
        for name, command, help_text in self._commands():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, command, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, text=name, help=help_text)
