"""The TUI against a real daemon driven by the fake provider: Textual's
``App.run_test()`` and Pilot press the keys a user would."""

from __future__ import annotations

import anyio
import pytest

from octra_tui.app import OctraApp
from octra_tui.model import TaskModel
from tests.fakes.ai_script import Script, files, plan, staff
from tests.fakes.providers import FakeProvider
from tests.tasks import events_of
from tests.tasks import use_fake as configure_fake

KEY = "sk-tui-test-key-0123456789"

#: marked here, not only by conftest's hook, so the ids are final at collection
#: (syrupy, behind the snapshot tests, fails at the session's end otherwise)
pytestmark = pytest.mark.anyio


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


def team_script() -> Script:
    """Boss -> backend (api, db), docs (readme); every answer right the first time."""
    def work(ask, n):
        name = {"api": "api.py", "db": "db.py", "readme": "README.md"}[ask.worker]
        return files((name, f"# {ask.worker}\n"), commands=["python3 -c 'print(40 + 2)'"] if ask.worker == "api" else [])

    return Script(
        plan=lambda a, n: plan(("backend", "the code"), ("docs", "the README")),
        staff=lambda a, n: staff(("api", "the API", ["api.py"]), ("db", "storage", ["db.py"]))
        if a.manager == "backend" else staff(("readme", "usage", ["README.md"])),
        work=work,
        review=lambda a, n: {"approved": True, "feedback": "fine"},
        validate=lambda a, n: {"approved": True},
    )


async def use_fake(daemon, fake) -> None:
    async with daemon.connect() as c:
        await configure_fake(c, fake)


async def until(pilot, cond, timeout: float = 60) -> None:
    try:
        with anyio.fail_after(timeout):
            while not cond():
                await pilot.pause(0.05)
    except TimeoutError:
        app = pilot.app
        m = model(app)
        raise AssertionError(f"not reached in {timeout}s: connection {app.connection}, screen {app.screen!r}, "
                             f"task {app.selected_task} detail status {status(app)}, model status {m and m.status}, "
                             f"agents {m and [(a.role, a.status) for a in m.agents.values()]}") from None


async def type_text(pilot, text: str) -> None:
    await pilot.press(*["space" if ch == " " else ch for ch in text])


def model(app) -> TaskModel | None:
    return app.models.get(app.selected_task or "")


def status(app) -> str | None:
    return (app.detail or {}).get("status")


def tree_shape(app) -> list:
    """The agent tree on screen: [(label of boss, [(manager, [workers])])] by role."""
    from textual.widgets import Tree

    tree = app.query_one("#agents", Tree)

    def role(node) -> str:
        return app.models[app.selected_task].agents[node.data].role

    def walk(node):
        return [(role(ch), walk(ch)) if ch.children else role(ch) for ch in node.children]

    return walk(tree.root)


async def set_options(pilot, **opts) -> None:
    """Fill the task options dialog (o) as a user would."""
    from textual.widgets import Switch

    await pilot.press("o")
    await until(pilot, lambda: pilot.app.screen.query("#opt-provider"))
    screen = pilot.app.screen
    for key, value in opts.items():
        if isinstance(value, bool):
            if screen.query_one(f"#opt-{key}", Switch).value != value:
                await pilot.click(f"#opt-{key}")
        else:
            await pilot.click(f"#opt-{key}")
            await type_text(pilot, value)
    await pilot.click("#ok")
    await until(pilot, lambda: not pilot.app.screen.query("#opt-provider"))


async def start_task(pilot, description: str) -> str:
    app = pilot.app
    before = set(app.tasks)
    await pilot.press("n")
    await type_text(pilot, description)
    await pilot.press("enter")
    await until(pilot, lambda: app.selected_task and app.selected_task not in before, 20)
    return app.selected_task


async def test_task_from_the_input_grows_the_tree_and_shows_a_workers_log(daemon, fake):
    from textual.widgets import Log, Tree

    fake.responder = team_script()
    await use_fake(daemon, fake)
    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.connection == "connected", 20)
        await set_options(pilot, provider="fake")
        tid = await start_task(pilot, "notes service")
        await until(pilot, lambda: status(app) == "done", 90)
        await pilot.pause(0.2)
        assert tree_shape(app) == [("boss", [("backend", ["api", "db"]), ("docs", ["readme"])])]
        m = model(app)
        assert all(a.status == "done" for a in m.agents.values())
        # the worker's usage reached its node: one call, 11+7 tokens
        api = next(a for a in m.agents.values() if a.role == "api")
        assert (api.calls, api.tokens_in, api.tokens_out) == (1, 11, 7)

        # select the worker "api": its own log, with its file and its command's output
        tree = app.query_one("#agents", Tree)
        tree.focus()
        node = next(n for aid, n in app._agent_nodes.items() if m.agents[aid].role == "api")
        tree.move_cursor(node)
        await pilot.press("enter")
        await pilot.pause(0.1)
        lines = list(app.query_one("#log", Log).lines)
        assert app.selected_agent == api.agent_id
        assert "wrote api.py (6 bytes)" in lines
        assert any(line.startswith("$ python3 -c 'print(40 + 2)' → exit 0") for line in lines)
        assert "  │ 42" in lines
        assert not any("README.md" in line for line in lines), "another agent's line in the worker's log"
        # the summary of the finished task
        summary = str(app.query_one("#summary").content)
        assert "done[/]  4 files  9 calls  99 in / 63 out" in summary and "snapshot /nix/store/" in summary

        # a message on the finished task is a follow-up: a new run on the same project, shown at once
        app.query_one("#chat").focus()
        await type_text(pilot, "add a health check")
        await pilot.press("enter")
        await until(pilot, lambda: app.selected_task not in (None, tid), 20)
        follow_up = app.selected_task

    # what the UI applied is exactly the daemon's story of the task
    async with daemon.connect() as c:
        stored = await events_of(c, tid)
        first, second = [await c.call("task.get", {"task_id": t}) for t in (tid, follow_up)]
    assert list(m.seqs) == [e.seq for e in stored]
    assert second["project_id"] == first["project_id"] and "add a health check" in second["description"]


async def test_plan_approval_from_the_dialog(daemon, fake):
    fake.responder = team_script()
    await use_fake(daemon, fake)
    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connection == "connected", 20)
        await set_options(pilot, provider="fake", approve_plan=True)
        tid = await start_task(pilot, "gated service")
        await until(pilot, lambda: status(app) == "awaiting_approval", 60)
        assert "plan awaits approval" in str(app.query_one("#summary").content)
        assert tree_shape(app) == ["boss"]
        await pilot.press("a")
        await until(pilot, lambda: app.screen.query("#approve"))
        assert "backend" in str(app.screen.query_one("#plan Static").content)
        await pilot.click("#approve")
        await until(pilot, lambda: status(app) == "done", 90)
        assert tree_shape(app) == [("boss", [("backend", ["api", "db"]), ("docs", ["readme"])])]
    async with daemon.connect() as c:
        task = await c.call("task.get", {"task_id": tid})
        verdicts = [e.data for e in await events_of(c, tid) if e.kind == "review.verdict" and e.data["by"] == "user"]
    assert task["status"] == "done" and task["meta"].get("approve_plan") is True
    assert verdicts and verdicts[0]["approved"] is True


async def test_settings_toggle_and_a_bad_value(daemon):
    from textual.widgets import Input, Switch

    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connection == "connected", 20)
        # from the command palette, as every action
        await pilot.press("ctrl+p")
        await type_text(pilot, "settings")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query("#set-publish_repositories")
                    and app.screen.query_one("#set-github_api_url", Input).value)
        assert app.screen.query_one("#set-publish_repositories", Switch).value is False
        await pilot.click("#set-publish_repositories")
        async with daemon.connect() as c:
            with anyio.fail_after(10):
                while not (await c.call("settings.get"))["publish_repositories"]:
                    await pilot.pause(0.05)
        # a value that is not a number: said where, nothing sent
        field = app.screen.query_one("#set-max_llm_calls", Input)
        field.focus()
        await type_text(pilot, "lots")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "max_llm_calls must be a whole number" in str(app.screen.query_one("#settings-status").content)
        field.value = ""
        await type_text(pilot, "40")
        await pilot.press("enter")
        async with daemon.connect() as c:
            with anyio.fail_after(10):
                while (await c.call("settings.get"))["max_llm_calls"] != 40:
                    await pilot.pause(0.05)
        await pilot.press("escape")
        assert app.screen.query("#chat")


async def test_snapshot_restore_to_a_folder(daemon, fake, tmp_path):
    from textual.widgets import DataTable, Input

    fake.responder = team_script()
    await use_fake(daemon, fake)
    async with daemon.connect() as c:
        tid = (await c.call("task.create", {"description": "snap me", "provider": "fake"}))["task_id"]
        with anyio.fail_after(90):
            while (task := await c.call("task.get", {"task_id": tid}))["status"] not in ("done", "failed"):
                await anyio.sleep(0.1)
    if not task["store_path"]:
        pytest.skip(f"no snapshot taken here (Nix unusable): {task['notes']}")
    dest = tmp_path / "restored"
    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connection == "connected" and tid in app._task_nodes, 20)
        await until(pilot, lambda: app.selected_task == tid)  # the newest task is shown on start
        await pilot.press("h")
        await until(pilot, lambda: app.screen.query("#table") and app.screen.query_one("#table", DataTable).row_count)
        await pilot.press("r")
        await until(pilot, lambda: app.screen.query("#prompt"))
        app.screen.query_one("#prompt", Input).value = ""
        await type_text(pilot, str(dest))
        await pilot.press("enter")
        with anyio.fail_after(30):
            while not (dest / "README.md").exists():
                await pilot.pause(0.05)
        await pilot.pause(0.2)
        assert f"restored to {dest}" in str(app.screen.query_one("#detail").content)
    assert (dest / "api.py").read_text() == "# api\n"
    assert (dest / ".git").is_dir()


async def test_daemon_restart_mid_run_loses_and_repeats_nothing(daemon, fake):
    script = team_script()
    script.delay = 0.6
    fake.responder = script
    await use_fake(daemon, fake)
    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connection == "connected", 20)
        await set_options(pilot, provider="fake")
        tid = await start_task(pilot, "survive a restart")
        # mid-run: workers spawned, some still asking
        await until(pilot, lambda: model(app) is not None and any(a.kind == "worker" for a in model(app).agents.values()), 60)
        seen_before = len(model(app).seqs)
        await anyio.to_thread.run_sync(daemon.stop)
        await until(pilot, lambda: app.connection == "disconnected", 10)
        assert "unreachable" in str(app.query_one("#conn").content)
        script.delay = 0.0
        await anyio.to_thread.run_sync(daemon.start)
        await until(pilot, lambda: app.connection == "connected", 20)
        # (the daemon stores no task.status event for a stop: the UI learns it from task.get)
        await until(pilot, lambda: model(app).status == "interrupted", 20)
        assert "interrupted" in str(app.query_one("#task-title").content)
        app.query_one("#agents").focus()
        await pilot.press("r")  # resume from the keyboard
        await until(pilot, lambda: model(app).status == "done", 90)
        await pilot.pause(0.3)
        seqs = list(model(app).seqs)
    assert len(seqs) > seen_before
    async with daemon.connect() as c:
        stored = [e.seq for e in await events_of(c, tid)]
    assert seqs == stored, "the UI lost or repeated events across the restart"


async def test_providers_add_then_test_then_remove(daemon, fake):
    from textual.widgets import DataTable, Input

    from tests.fakes.providers import Reply

    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connection == "connected", 20)
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query("#table") and "offline" in str(app.screen.query_one("#table-intro").content))
        await pilot.press("a")
        await until(pilot, lambda: app.screen.query("#pf-name"))
        # a missing model is said in the form, nothing is sent
        app.screen.query_one("#pf-name", Input).value = "local"
        await pilot.click("#ok")
        assert "model needed" in str(app.screen.query_one("#pf-error").content)
        for field, value in (("model", "gpt-test"), ("base_url", fake.base_url("openai")), ("api_key", KEY)):
            app.screen.query_one(f"#pf-{field}", Input).focus()
            await type_text(pilot, value)
        await pilot.click("#ok")
        await until(pilot, lambda: app.screen.query("#table") and app.screen.query_one("#table", DataTable).row_count == 1)
        # providers.test asks for a real Plan, the way a task's first call does
        fake.push(Reply.json({"tech_stack": "python", "managers": [{"role": "backend", "description": "d"}]}))
        await pilot.press("t")
        await until(pilot, lambda: "answered \"a valid Plan: 1 manager(s)" in str(app.screen.query_one("#detail").content), 20)
        assert fake.requests[-1].headers.get("authorization") == f"Bearer {KEY}"
        # a failing test call shows the provider's error in place
        fake.push(Reply.error(401, "bad key"))
        await pilot.press("t")
        await until(pilot, lambda: "local:" in str(app.screen.query_one("#detail").content)
                    and "answered" not in str(app.screen.query_one("#detail").content), 30)
        assert KEY not in str(app.screen.query_one("#detail").content)
        # the first provider added is the default; o makes offline the default, m this one again
        assert "default provider: local" in str(app.screen.query_one("#table-intro").content)
        await pilot.press("o")
        await until(pilot, lambda: "default provider: offline" in str(app.screen.query_one("#table-intro").content))
        await pilot.press("m")
        await until(pilot, lambda: "default provider: local" in str(app.screen.query_one("#table-intro").content))
        # removing asks first: n (or Esc) keeps it, y removes it and its key
        await pilot.press("d")
        await until(pilot, lambda: app.screen.query("#yes"))
        assert "Remove provider local and its stored key?" in app.screen.query_one("Label").render().plain
        await pilot.press("n")
        await until(pilot, lambda: app.screen.query("#table"))
        await pilot.pause(0.3)
        assert app.screen.query_one("#table", DataTable).row_count == 1
        async with daemon.connect() as c:
            assert [p["name"] for p in (await c.call("providers.list"))["providers"]] == ["local"]
        await pilot.press("d")
        await until(pilot, lambda: app.screen.query("#yes"))
        await pilot.press("y")
        await until(pilot, lambda: app.screen.query("#table") and app.screen.query_one("#table", DataTable).row_count == 0)
        await pilot.press("escape")  # and back on the main screen, with its keys
        await until(pilot, lambda: app.screen.query("#chat") and "New" in footer_keys(app))
        assert app.return_code is None
    async with daemon.connect() as c:
        assert (await c.call("providers.list"))["providers"] == []


async def test_context_add_and_forget(daemon):
    from textual.widgets import DataTable, Input

    async with daemon.connect() as c:
        tid = (await c.call("task.create", {"description": "a python script", "stack": "python",
                                            "meta": {"approve_plan": True}}))["task_id"]
        project = (await c.call("task.get", {"task_id": tid}))["project_id"]
    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.selected_task == tid, 20)
        await pilot.press("x")
        await until(pilot, lambda: app.screen.query("#table") and "0 entries" in str(app.screen.query_one("#table-intro").content))
        await pilot.press("a")
        await until(pilot, lambda: app.screen.query("#cf-content"))
        app.screen.query_one("#cf-content", Input).focus()
        await type_text(pilot, "use tabs")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query("#table") and app.screen.query_one("#table", DataTable).row_count == 1)
        await pilot.press("f")
        await until(pilot, lambda: app.screen.query("#prompt"))
        assert app.screen.query_one("#prompt", Input).value == "use tabs"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query("#table") and app.screen.query_one("#table", DataTable).row_count == 0)
    async with daemon.connect() as c:
        entries = (await c.call("context.list", {"project": project, "include_forgotten": True}))["entries"]
    assert [(e["content"], e["scope"], e["type"], e["forgotten"]) for e in entries] == [("use tabs", "global", "rule", True)]


async def test_answering_the_bosss_questions_in_the_chat(daemon, fake):
    def plan_or_ask(ask, n):
        if "Answers from the user" not in ask.prompt:
            return {"questions": ["Which [database]?"], "managers": []}
        assert "SQLite, please" in ask.prompt
        return plan(("backend", "the code"), ("docs", "the README"))

    script = team_script()
    script.handlers["plan"] = plan_or_ask
    fake.responder = script
    await use_fake(daemon, fake)
    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connection == "connected", 20)
        await set_options(pilot, provider="fake")
        tid = await start_task(pilot, "a notes service")
        await until(pilot, lambda: status(app) == "awaiting_input", 60)
        # the question is shown as written (brackets are text, not markup)
        assert "Which [database]?" in app.query_one("#summary").render().plain
        assert "Answer the Boss" in app.query_one("#chat").placeholder
        app.query_one("#chat").focus()
        await type_text(pilot, "SQLite, please")
        await pilot.press("enter")
        await until(pilot, lambda: status(app) == "done", 90)
        assert app.selected_task == tid, "an answer continues the same task"
        assert tree_shape(app) == [("boss", [("backend", ["api", "db"]), ("docs", ["readme"])])]


async def test_autostart_starts_the_daemon_and_again_when_it_stopped(octra_env, monkeypatch):
    """As the CLI does: a stopped daemon is started again by the next attempt (unless autostart is off)."""
    from octra_protocol.autostart import daemon_answers

    for key, value in octra_env.env.items():
        monkeypatch.setenv(key, value)  # the daemon it starts lives in the private environment
    app = OctraApp(socket=octra_env.socket, autostart=True)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.connection == "connected", 30)
            st = await app.link.call("daemon.status")
            assert st["data_dir"] == str(octra_env.data_dir)
            await app.link.call("daemon.shutdown")
            await until(pilot, lambda: app.connection != "connected", 20)
            await until(pilot, lambda: app.connection == "connected", 30)
            again = await app.link.call("daemon.status")
            assert again["pid"] != st["pid"] and daemon_answers(octra_env.socket)
    finally:
        if daemon_answers(octra_env.socket):
            from octra_protocol.client import connect

            async with connect(octra_env.socket) as c:
                await c.call("daemon.shutdown")


async def test_a_daemon_of_another_major_version_stops_the_app():
    """A real socket that answers the handshake with protocol 2.0: the app exits with code 2."""
    import json
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="oct-", dir="/tmp")
    path = f"{folder}/future.sock"

    async def serve(stream):
        async with stream:
            req = json.loads((await stream.receive()).split(b"\n")[0])
            answer = {"jsonrpc": "2.0", "id": req["id"],
                      "result": {"server_version": "9.0.0", "protocol_version": "2.0", "capabilities": {}}}
            await stream.send(json.dumps(answer).encode() + b"\n")
            await anyio.sleep(10)

    try:
        listener = await anyio.create_unix_listener(path)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, serve)
            app = OctraApp(socket=path, autostart=False)
            async with app.run_test() as pilot:
                with anyio.fail_after(10):
                    while app.return_code is None:
                        await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
        assert app.return_code == 2
        assert app.connection == "incompatible" and "protocol 2.0" in app.connection_detail
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- a user's first day (issue 16) ------------------------------------------------

async def test_opening_settings_writes_nothing_and_saving_writes_only_the_change(daemon):
    import sqlite3

    from textual.widgets import Input

    async with daemon.connect() as c:
        await c.call("settings.set", {"sandbox": "none"})
    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connection == "connected", 20)
        await pilot.press("s")
        await until(pilot, lambda: app.screen.query("#set-github_api_url")
                    and app.screen.query_one("#set-github_api_url", Input).value)
        await pilot.pause(0.5)  # late first Changed messages of the widgets
        assert app.screen.query_one("#set-sandbox").value == "none"
        await pilot.click("#set-publish_repositories")
        async with daemon.connect() as c:
            with anyio.fail_after(10):
                while not (await c.call("settings.get"))["publish_repositories"]:
                    await pilot.pause(0.05)
        await pilot.press("escape")
        await pilot.press("s")  # and opening it again writes nothing either
        await until(pilot, lambda: app.screen.query("#set-github_api_url")
                    and app.screen.query_one("#set-github_api_url", Input).value)
        await pilot.pause(0.5)
    async with daemon.connect() as c:
        assert (await c.call("settings.get"))["sandbox"] == "none"
    db = sqlite3.connect(f"file:{daemon.oenv.data_dir / 'octra.db'}?mode=ro", uri=True)
    try:
        stored = {k for (k,) in db.execute("SELECT key FROM settings")}
    finally:
        db.close()
    assert stored == {"sandbox", "publish_repositories"}, "a setting the user did not change was written"


def footer_keys(app) -> set[str]:
    return {k.description for k in app.screen.query("FooterKey")}


async def test_help_footer_and_keys_panel(daemon):
    from textual.widgets import HelpPanel

    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.connection == "connected", 20)
        await pilot.pause(0.2)
        keys = footer_keys(app)
        assert {"Help", "New", "Settings", "Providers", "Skills", "Guides", "Quit"} <= keys
        assert not keys & {"Approve", "Cancel", "Resume"}, "keys shown that do nothing now"
        for key in ("question_mark", "f1"):
            await pilot.press(key)
            await until(pilot, lambda: app.screen.query("#help-keys"))
            assert "Octra keys" in app.screen.query_one("#help Label").render().plain
            await pilot.press("escape")
            await until(pilot, lambda: not app.screen.query("#help-keys"))
        app.action_show_help_panel()
        await until(pilot, lambda: app.screen.query(HelpPanel))
        await pilot.press("escape")
        await until(pilot, lambda: not app.screen.query(HelpPanel))


async def test_the_footer_fits_80_columns_with_a_plan_waiting(daemon, fake):
    """The most keys at once (approve and cancel): whole keys, the least used left out, none cut."""
    from octra_tui.footer import width_of

    fake.responder = team_script()
    await use_fake(daemon, fake)
    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.connection == "connected", 20)
        await set_options(pilot, provider="fake", approve_plan=True)
        await start_task(pilot, "gated service")
        await until(pilot, lambda: status(app) == "awaiting_approval" and "Approve" in footer_keys(app), 60)
        await pilot.pause(0.2)
        assert {"Help", "New", "Approve", "Cancel", "Settings", "Providers", "Quit"} <= footer_keys(app)
        assert width_of(list(app.screen.query("FooterKey"))) <= 80
        await pilot.press("p")
        await until(pilot, lambda: "Remove" in footer_keys(app))
        assert width_of(list(app.screen.query("FooterKey"))) <= 80


async def test_enter_then_c_cancels_and_a_task_typed_while_the_daemon_is_down_is_kept(daemon, fake):
    from textual.widgets import Input

    script = team_script()
    script.delay = 1.0
    fake.responder = script
    await use_fake(daemon, fake)
    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connection == "connected", 20)
        await set_options(pilot, provider="fake")
        await pilot.press("n")
        await type_text(pilot, "slow service")
        await pilot.press("enter", "c")  # c at once: the hint says "c cancels"
        chat = app.query_one("#chat", Input)
        assert chat.value == "" and app.focused is not chat
        await until(pilot, lambda: status(app) == "cancelled", 30)
        assert "Cancel" not in footer_keys(app)

        await anyio.to_thread.run_sync(daemon.stop)
        await until(pilot, lambda: app.connection == "disconnected", 10)
        await pilot.press("n")
        await type_text(pilot, "typed while down")
        await pilot.press("enter")
        await until(pilot, lambda: chat.value == "typed while down")
        assert "not sent" in str(chat.border_subtitle) and app.focused is chat and app.new_mode
        await anyio.to_thread.run_sync(daemon.start)
        await until(pilot, lambda: app.connection == "connected", 20)
        await pilot.press("enter")  # sent now
        await until(pilot, lambda: chat.value == "" and any(t.get("description") == "typed while down" for t in app.tasks.values()), 20)


async def test_a_failed_tasks_error_wraps_and_its_report_opens_whole(daemon, fake):
    from tests.fakes.providers import Reply

    long_fix = "the model's account has no quota left: " + "add credit or choose another provider " * 6 + "THE-END"
    fake.responder = lambda req: Reply.error(400, long_fix)
    await use_fake(daemon, fake)
    async with daemon.connect() as c:
        tid = (await c.call("task.create", {"description": "doomed", "provider": "fake"}))["task_id"]
    app = OctraApp(socket=daemon.socket, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.selected_task == tid and status(app) == "failed", 60)
        await pilot.pause(0.3)
        summary = app.query_one("#summary")
        assert "THE-END" in summary.render().plain
        assert summary.size.height >= 2, "the error wraps instead of being cut at the pane's width"
        log = app.query_one("#log")
        assert all(len(line) <= log.size.width for line in log.lines), "a log line wider than the pane"
        assert any("THE-END" in line for line in log.lines)
        assert "Report" in footer_keys(app) and "Resume" in footer_keys(app)
        await pilot.press("e")
        await until(pilot, lambda: app.screen.query("#report-text"))
        assert "THE-END" in app.screen.query_one("#report-text").render().plain
        await pilot.press("escape")
        await until(pilot, lambda: not app.screen.query("#report-text"))
