"""Pilot tests of the team's faces in the TUI (issue 18): the sync view, the wizard's shared
remotes, and cloning a teammate's project from "Open an existing project".

Real parts only: a bare git repository on disk (``file://``) is the team's remote, a folder is
the DVC remote, and the core's ``sync``, ``remote set`` and ``clone_project`` run in the app's
workers exactly as a person's keys start them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static, TextArea

from screens.app import make_app
from screens.base import ConfirmScreen
from screens.onboarding.new_project_screen import NewProjectScreen
from screens.onboarding.open_project_screen import OpenProjectScreen
from screens.project.project_screen import ProjectScreen
from screens.project.sync_view import NO_REMOTE, SyncView
from tests.conftest import git, run_cli
from tests.tui_helpers import SIZE, errors, settle, text, wait_until

pytestmark = pytest.mark.anyio


def bare_remote(tmp_path: Path, name: str = "team.git") -> str:
    bare = tmp_path / name
    git(tmp_path, "init", "-q", "--bare", str(bare))
    return bare.as_uri()


def remote_head(url: str) -> str:
    out = git(Path(url.removeprefix("file://")), "for-each-ref", "--format=%(objectname)", "refs/heads/main")
    return out.strip()


def commit_file(path: Path, rel: str, text_: str, subject: str) -> None:
    (path / rel).write_text(text_, encoding="utf-8")
    git(path, "add", rel)
    git(path, "commit", "-q", "-m", f"{subject}\n\nWorkbench-Step: requirements\nWorkbench-Role: data_scientist")


async def open_sync(app, pilot) -> SyncView:
    await settle(app, pilot)
    assert isinstance(app.screen, ProjectScreen)
    await pilot.press("S")
    await settle(app, pilot, rounds=6)
    view = app.screen.query_one("#sync", SyncView)
    assert app.screen.current_view == "sync"
    return view


@pytest.fixture
def shared(project, tmp_path):
    """(bare remote URL, the project that pushed its first commit there)."""
    url = bare_remote(tmp_path)
    done = run_cli("remote", "set", "--git", url, cwd=project)
    assert done.returncode == 0, done.stderr
    done = run_cli("sync", cwd=project)
    assert done.returncode == 0, done.stderr
    return url, project


async def test_sync_view_shows_the_dry_run_asks_first_and_escape_changes_nothing(shared):
    url, path = shared
    commit_file(path, "notes.md", "a note\n", "Requirements: a note for the team")
    before_remote, before_local = remote_head(url), git(path, "rev-parse", "HEAD").strip()
    assert before_remote != before_local
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_sync(app, pilot)
        assert view.preview is not None and view.preview.ahead == 1 and view.preview.behind == 0
        table = view.query_one("#sync-table", DataTable)
        assert table.get_row("Commits") == ["Commits", "1", ""]
        assert "pushes 1 commit(s) on main" in text(view.query_one("#sync-plan", Static))
        # the dry run changed nothing on the remote
        assert remote_head(url) == before_remote
        await pilot.press("S")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert remote_head(url) == before_remote
        # now yes: the sync pushes the commit and the view says it is in sync
        await pilot.press("S")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: not view.running and "in sync" in text(view.query_one("#sync-result")))
        await settle(app, pilot, rounds=6)
        assert errors(app) == []
    assert remote_head(url) == before_local == git(path, "rev-parse", "HEAD").strip()


async def test_sync_view_refusal_is_the_cli_line(shared, tmp_path):
    """A teammate pushed a change to workbench.yaml; here it is edited and not committed: the
    pull would change it, so sync refuses with the CLI's one line and nothing is pulled."""
    url, path = shared
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", url, str(other))
    git(other, "config", "user.name", "Ben Okafor")
    git(other, "config", "user.email", "ben@example.com")
    config = other / "workbench.yaml"
    commit_file(other, "workbench.yaml", config.read_text(encoding="utf-8") + "# ben's edit\n",
                "Requirements: Ben's edit")
    git(other, "push", "-q", "origin", "main")
    mine = path / "workbench.yaml"
    mine.write_text(mine.read_text(encoding="utf-8") + "# my edit in progress\n", encoding="utf-8")
    before = git(path, "rev-parse", "HEAD").strip()
    cli = run_cli("sync", cwd=path)
    assert cli.returncode != 0
    line = cli.stderr.strip().splitlines()[-1].removeprefix("mlops-workbench: ").removeprefix("error: ")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_sync(app, pilot)
        assert view.preview is not None and view.preview.behind == 1
        await pilot.press("S")
        await settle(app, pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not view.running and bool(errors(app)))
        await settle(app, pilot)
        assert any(line in e for e in errors(app)), (line, errors(app))
    assert git(path, "rev-parse", "HEAD").strip() == before
    assert mine.read_text(encoding="utf-8").endswith("# my edit in progress\n")


async def test_sync_view_without_a_remote_says_how_and_the_form_sets_it(project, tmp_path):
    url = bare_remote(tmp_path)
    app = make_app(project, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_sync(app, pilot)
        assert NO_REMOTE in text(view.query_one("#sync-plan", Static))
        # S on the view names what is missing and puts the focus in the form
        await pilot.press("S")
        await settle(app, pilot)
        assert any("no shared git remote" in e for e in errors(app))
        assert app.focused is view.form.input("git")
        await pilot.press(*url)
        await pilot.press("ctrl+s")
        await settle(app, pilot, rounds=8)
        assert view.remotes is not None and view.remotes.git_url == url
    assert git(project, "remote", "get-url", "origin").strip() == url


async def test_sync_view_bad_remote_url_is_marked_at_the_field_and_writes_nothing(project):
    head = git(project, "rev-parse", "HEAD").strip()
    app = make_app(project, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_sync(app, pilot)
        view.form.input("git").focus()
        await pilot.press(*"no such remote")
        await pilot.press("ctrl+s")
        await settle(app, pilot, rounds=6)
        assert errors(app), "a bad URL must be said"
        assert view.form.input("git").has_class("-invalid")
    assert git(project, "rev-parse", "HEAD").strip() == head
    assert git(project, "remote").strip() == ""


async def test_wizard_remote_fields_reach_the_new_project(tmp_path):
    url = bare_remote(tmp_path)
    folder = tmp_path / "p"
    folder.mkdir()
    store = tmp_path / "store"
    app = make_app(folder, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, NewProjectScreen)
        screen.query_one("#name", Input).value = "Churn"
        screen.query_one("#problem", TextArea).text = "Customers leave without warning."
        screen.query_one("#owner", Input).value = "Dana Ortiz"
        screen.query_one("#metric", Input).value = "recall >= 0.8"
        screen.query_one("#wiz-git", Input).value = url
        screen.query_one("#wiz-dvc", Input).value = str(store)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ProjectScreen) or bool(errors(app)), timeout=180)
        await settle(app, pilot)
        assert errors(app) == []
    assert git(folder, "remote", "get-url", "origin").strip() == url
    assert str(store) in (folder / ".dvc" / "config").read_text(encoding="utf-8")


async def test_wizard_unreachable_git_remote_is_marked_and_nothing_is_created(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    app = make_app(folder, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        screen = app.screen
        screen.query_one("#name", Input).value = "Churn"
        screen.query_one("#problem", TextArea).text = "Customers leave without warning."
        screen.query_one("#owner", Input).value = "Dana Ortiz"
        screen.query_one("#metric", Input).value = "recall >= 0.8"
        screen.query_one("#wiz-git", Input).value = (tmp_path / "none.git").as_uri()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: bool(errors(app)), timeout=120)
        await settle(app, pilot)
        assert isinstance(app.screen, NewProjectScreen)
        assert any("cannot be reached" in e for e in errors(app)), errors(app)
    assert list(folder.iterdir()) == []


async def test_open_screen_clones_a_teammates_project_and_opens_it(shared, tmp_path):
    url, path = shared
    launch = tmp_path / "work"
    launch.mkdir()
    app = make_app(launch, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        assert isinstance(app.screen, OpenProjectScreen)
        app.screen.query_one("#clone-url", Input).value = url
        await settle(app, pilot)
        assert app.screen.query_one("#clone-folder", Input).value == str(launch / "team")
        app.screen.query_one("#clone-folder", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ProjectScreen) or bool(errors(app)), timeout=180)
        await settle(app, pilot)
        assert errors(app) == []
    clone = launch / "team"
    assert (clone / "workbench.yaml").read_bytes() == (path / "workbench.yaml").read_bytes()
    assert git(clone, "rev-parse", "HEAD").strip() == git(path, "rev-parse", "HEAD").strip()


async def test_open_screen_bad_clone_url_is_one_line_and_leaves_nothing(tmp_path):
    launch = tmp_path / "work"
    launch.mkdir()
    app = make_app(launch, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        app.screen.query_one("#clone-url", Input).value = (tmp_path / "none.git").as_uri()
        app.screen.query_one("#clone-folder", Input).value = str(launch / "none")
        app.screen.query_one("#clone-folder", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(errors(app)), timeout=120)
        await settle(app, pilot)
        assert isinstance(app.screen, OpenProjectScreen)
        assert len(errors(app)[-1].splitlines()) == 1
    assert list(launch.iterdir()) == []


# --- the same clone, headless: mlops-workbench clone URL [FOLDER] ------------------------------


def test_clone_command_fetches_the_project_and_its_data(shared, tmp_path):
    url, path = shared
    work = tmp_path / "elsewhere"
    work.mkdir()
    done = run_cli("clone", url, cwd=work)
    assert done.returncode == 0, done.stderr
    clone = work / "team"
    assert f"Open it with: mlops-workbench {clone}" in done.stdout
    assert git(clone, "rev-parse", "HEAD").strip() == git(path, "rev-parse", "HEAD").strip()
    assert "Counting objects:  5%" not in done.stderr  # git's counters are shown once done, not per step


@pytest.mark.parametrize("case", ["unreachable", "not empty", "not a project"])
def test_clone_command_bad_input_is_one_line_and_leaves_nothing(case, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    if case == "unreachable":
        url, folder, words = (tmp_path / "none.git").as_uri(), work / "none", "cannot be reached"
    elif case == "not empty":
        url, folder, words = bare_remote(tmp_path), work / "full", "is not empty"
        folder.mkdir()
        (folder / "keep.txt").write_text("mine\n", encoding="utf-8")
    else:
        plain = tmp_path / "plain"
        plain.mkdir()
        git(plain, "init", "-q", "-b", "main")
        (plain / "README.md").write_text("not a workbench project\n", encoding="utf-8")
        git(plain, "add", "README.md")
        git(plain, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q", "-m", "readme")
        url, folder, words = plain.as_uri(), work / "plain", "not a workbench project"
    before = sorted(p.name for p in work.iterdir())
    done = run_cli("clone", url, str(folder), cwd=work)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert words in last and "Traceback" not in done.stderr
    assert sorted(p.name for p in work.iterdir()) == before
    if case == "not empty":
        assert (folder / "keep.txt").read_text(encoding="utf-8") == "mine\n"


async def test_dashboard_shows_the_team_from_the_last_fetch(shared, tmp_path):
    """Ahead/behind origin as of the last fetch (no network on startup), who pushed since, the last steps."""
    url, path = shared
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", url, str(other))
    git(other, "config", "user.name", "Ben Okafor")
    git(other, "config", "user.email", "ben@example.com")
    commit_file(other, "notes.md", "from Ben\n", "Requirements: Ben's note")
    git(other, "push", "-q", "origin", "main")
    git(path, "fetch", "-q", "origin")
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot, rounds=6)
        block = app.screen.query_one("#dash-team", Static)
        assert block.display
        shown = text(block)
        assert f"origin {url}  0 ahead, 1 behind" in shown
        assert "Pushed since your last sync by: Ben Okafor" in shown
        assert "(data_scientist)" in shown or "(business_owner)" in shown  # the last steps, with their roles
        # after a sync the same block says so
        await pilot.press("S")
        await settle(app, pilot, rounds=6)
        await pilot.press("S")
        await settle(app, pilot)
        await pilot.press("y")
        view = app.screen.query_one("#sync", SyncView)
        await wait_until(pilot, lambda: not view.running and "in sync" in text(view.query_one("#sync-result")))
        await pilot.press("d")
        await settle(app, pilot, rounds=6)
        shown = text(app.screen.query_one("#dash-team", Static))
        assert "in sync" in shown and "Pushed since" not in shown
        assert "Ben Okafor" in shown  # his step is among the last steps now


async def test_dashboard_has_no_team_block_for_one_person_without_a_remote(project):
    app = make_app(project, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot, rounds=6)
        assert not app.screen.query_one("#dash-team", Static).display
