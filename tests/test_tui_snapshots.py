"""Snapshot tests (pytest-textual-snapshot) of the main screen and the settings
screen at fixed sizes, against a real daemon.  What differs from run to run
(task ids, store paths, latencies) is masked before the picture is taken.

Update the pictures after an intended change with ``pytest --snapshot-update``."""

from __future__ import annotations

import re

import anyio
import pytest
from textual.widgets import Log, Static

from octra_tui.app import OctraApp
from tests.fakes.providers import FakeProvider
from tests.test_tui import KEY, team_script

MASK_TID = "t0123456789"


@pytest.fixture
def finished_task(daemon):
    """A finished fake-provider task in the daemon (its id)."""
    with FakeProvider() as fake:
        fake.responder = team_script()

        async def run() -> str:
            async with daemon.connect() as c:
                await c.call("providers.set", {"name": "fake", "kind": "openai", "base_url": fake.base_url("openai"),
                                               "model": "gpt-test", "api_key": KEY})
                tid = (await c.call("task.create", {"description": "notes service", "provider": "fake"}))["task_id"]
                with anyio.fail_after(90):
                    while (await c.call("task.get", {"task_id": tid}))["status"] not in ("done", "failed"):
                        await anyio.sleep(0.1)
                return tid

        yield anyio.run(run)


def masked(text: str, tid: str) -> str:
    text = text.replace(tid, MASK_TID)
    text = re.sub(r"/nix/store/[a-z0-9]{32}-\S+", "/nix/store/<hash>-<name>", text)
    text = re.sub(r"\d+ ms\b", "N ms", text)
    return re.sub(r"in \d+(\.\d+)?s\b", "in Ns", text)


def settle_and_mask(tid: str, worker: str | None = None):
    """Wait for the task on screen (and show ``worker``'s log: the whole task's log interleaves
    parallel workers differently on each run); then mask what differs between runs."""
    async def run_before(pilot) -> None:
        app = pilot.app
        with anyio.fail_after(30):
            while not (app.selected_task == tid and tid in app.models and (app.detail or {}).get("status") == "done"):
                await pilot.pause(0.05)
        await pilot.pause(0.3)
        if worker is not None:
            tree = app.query_one("#agents")
            tree.focus()
            model = app.models[tid]
            tree.move_cursor(next(n for aid, n in app._agent_nodes.items() if model.agents[aid].role == worker))
            await pilot.press("enter")
            await pilot.pause(0.2)
        log = app.query_one("#log", Log)
        lines = [masked(line, tid) for line in log.lines]
        log.clear()
        log.write_lines(lines)
        app.call_after_refresh(log.scroll_end, animate=False, x_axis=False)
        for wid in ("#task-title", "#summary"):
            widget = app.query_one(wid, Static)
            content = widget.content
            if hasattr(content, "plain"):  # rich Text: keep its styles, mask its text
                new = content.copy()
                new.plain = masked(content.plain, tid)
                widget.update(new)
            else:
                widget.update(masked(str(content), tid))
        chat = app.query_one("#chat")
        chat.border_title = masked(str(chat.border_title), tid)
        await pilot.pause(0.1)

    return run_before


def test_main_screen(snap_compare, daemon, finished_task):
    app = OctraApp(socket=daemon.socket, autostart=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle_and_mask(finished_task))


def test_main_screen_with_a_workers_log(snap_compare, daemon, finished_task):
    app = OctraApp(socket=daemon.socket, autostart=False)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle_and_mask(finished_task, worker="api"))


def test_settings_screen(snap_compare, daemon):
    app = OctraApp(socket=daemon.socket, autostart=False)

    async def run_before(pilot) -> None:
        with anyio.fail_after(20):
            while app.connection != "connected":
                await pilot.pause(0.05)
        await pilot.press("s")
        with anyio.fail_after(20):
            while not (app.screen.query("#set-github_api_url") and app.screen.query_one("#set-github_api_url").value):
                await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare, daemon):
    app = OctraApp(socket=daemon.socket, autostart=False)

    async def run_before(pilot) -> None:
        with anyio.fail_after(20):
            while app.connection != "connected":
                await pilot.pause(0.05)
        await pilot.press("question_mark")
        with anyio.fail_after(20):
            while not app.screen.query("#help-keys"):
                await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
