"""The screens beside the main one: settings, providers, snapshots, context,
skills and guides (the dialogs they open are in :mod:`.dialogs`).

Every screen talks to the daemon through ``app.rpc`` (which reports errors
as notifications), inside workers, so nothing waits on the event loop.
"""

from __future__ import annotations

import os
import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Select, Static, Switch

from .dialogs import ContextFormScreen, PromptScreen, ProviderFormScreen, row
from .footer import FittingFooter

#: the keys a screen's footer leaves out first when narrow (F5 and q still work; ctrl+p lists them)
SCREEN_DROP_FIRST = ("reload", "quit")


def human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


# -- settings ------------------------------------------------------------------

#: (field, label, hint) of the settings set by typing a value
TEXT_SETTINGS = (
    ("max_parallel_llm_calls", "parallel AI calls", ""),
    ("command_timeout_s", "command timeout (s)", ""),
    ("temperature", "temperature", ""),
    ("max_llm_calls", "max AI calls / task", "empty: no limit"),
    ("max_tokens", "max tokens / task", "empty: no limit"),
    ("max_cost_usd", "max cost / task ($)", "empty: no limit"),
    ("github_api_url", "GitHub API URL", ""),
)
SWITCH_SETTINGS = (
    ("publish_repositories", "publish repositories", "no issue: create a GitHub repository and push"),
    ("create_pull_requests", "create pull requests", "an issue: open a PR (off: push the branch only)"),
    ("sandbox_network", "network in sandbox", "commands may reach package registries"),
)
INTS = {"max_parallel_llm_calls", "max_llm_calls", "max_tokens"}
FLOATS = {"command_timeout_s", "temperature", "max_cost_usd"}
NULLABLE = {"max_llm_calls", "max_tokens", "max_cost_usd"}


def parse_setting(name: str, raw: str) -> Any:
    """The typed value of a setting typed by the user; ValueError says what is wrong."""
    raw = raw.strip()
    if not raw:
        if name in NULLABLE:
            return None
        raise ValueError(f"{name} needs a value")
    if name in INTS:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if name in FLOATS:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{name} must be a number, not {raw!r}") from None
    return raw


class SettingsScreen(Screen):
    """The daemon's settings; a toggle or a choice applies at once, a typed value on Enter.

    Opening it never writes: a widget's change is sent only when it differs from the
    value the daemon last gave (widgets report their first values too, late)."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("f5", "reload", "Reload")]

    def __init__(self) -> None:
        super().__init__()
        #: the daemon's values as last read or saved (None: not read yet, nothing is sent)
        self.known: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="settings", classes="form compact"):
            yield Static("Settings apply to new tasks. Toggles save at once; type a value and press Enter.", classes="intro")
            for name, label, hint in SWITCH_SETTINGS:
                yield row(label, Switch(id=f"set-{name}"), hint)
            yield row("sandbox", Select([("auto (bubblewrap when installed)", "auto"), ("bwrap (required)", "bwrap"),
                                         ("none", "none")], allow_blank=False, value="auto", id="set-sandbox", compact=True))
            for name, label, hint in TEXT_SETTINGS:
                yield row(label, Input(id=f"set-{name}", compact=True), hint)
            yield Static("", id="settings-status")
        yield FittingFooter(drop_first=SCREEN_DROP_FIRST)

    def on_mount(self) -> None:
        self.sub_title = "settings"
        self.action_reload()

    @work(exclusive=True, group="settings")
    async def action_reload(self) -> None:
        s = await self.app.rpc("settings.get")
        if s is not None:
            self.show(s)

    def show(self, s: dict) -> None:
        self.known = dict(s)
        with self.prevent(Switch.Changed, Select.Changed):
            for name, _, _ in SWITCH_SETTINGS:
                self.query_one(f"#set-{name}", Switch).value = bool(s.get(name))
            self.query_one("#set-sandbox", Select).value = s.get("sandbox", "auto")
        for name, _, _ in TEXT_SETTINGS:
            value = s.get(name)
            self.query_one(f"#set-{name}", Input).value = "" if value is None else str(value)

    def say(self, text: str, error: bool = False) -> None:
        self.query_one("#settings-status", Static).update(Text(text, "bold red" if error else "green"))

    def changed(self, name: str, value: Any) -> None:
        """Save ``name`` only when the user made it differ from the daemon's value."""
        if self.known is not None and self.known.get(name) != value:
            self.save({name: value})

    @on(Switch.Changed)
    def _switch(self, event: Switch.Changed) -> None:
        self.changed(event.switch.id.removeprefix("set-"), event.value)

    @on(Select.Changed, "#set-sandbox")
    def _sandbox(self, event: Select.Changed) -> None:
        self.changed("sandbox", event.value)

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        name = (event.input.id or "").removeprefix("set-")
        try:
            value = parse_setting(name, event.value)
        except ValueError as exc:
            self.say(str(exc), error=True)
            return
        if self.known is not None and self.known.get(name) == value:
            self.say(f"{name} is already {value}")
            return
        self.changed(name, value)

    @work(group="settings-save")
    async def save(self, change: dict) -> None:
        s = await self.app.rpc("settings.set", change)
        if s is None:
            self.say(f"not saved: {', '.join(change)} (see the notification)", error=True)
            self.action_reload()
            return
        self.say("saved " + ", ".join(f"{k} = {v}" for k, v in change.items()))
        self.show(s)


# -- tables --------------------------------------------------------------------


class TableScreen(Screen):
    """A table of things and a detail pane for the highlighted one."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("f5", "reload", "Reload")]
    heading = ""
    columns: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(classes="table-screen"):
            yield Static("", id="table-intro", classes="intro")
            table: DataTable = DataTable(id="table", cursor_type="row", zebra_stripes=True)
            yield table
            yield VerticalScroll(Static("", id="detail"), id="detail-box")
        yield FittingFooter(drop_first=SCREEN_DROP_FIRST)

    def on_mount(self) -> None:
        self.sub_title = self.heading
        table = self.query_one("#table", DataTable)
        table.add_columns(*self.columns)
        table.focus()
        self.action_reload()

    def intro(self, text: str | Text) -> None:
        self.query_one("#table-intro", Static).update(Text(text) if isinstance(text, str) else text)

    def detail(self, text: str | Text) -> None:
        """Plain strings are shown as they are (guides and skills hold brackets, not markup)."""
        self.query_one("#detail", Static).update(Text(text) if isinstance(text, str) else text)

    def fill(self, rows: list[tuple[str, tuple]]) -> None:
        table = self.query_one("#table", DataTable)
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)

    @property
    def current(self) -> str | None:
        table = self.query_one("#table", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            self.show_detail(event.row_key.value)

    def show_detail(self, key: str) -> None:
        pass

    def action_reload(self) -> None:
        pass


class ProvidersScreen(TableScreen):
    heading = "providers"
    columns = ("name", "kind", "model", "base url", "key", "source")
    BINDINGS = [*TableScreen.BINDINGS, Binding("a", "add", "Add"), Binding("t", "test", "Test"),
                Binding("e", "edit", "Edit"), Binding("m", "make_default", "Make default"),
                Binding("o", "offline_default", "Default: offline"), Binding("d", "remove", "Remove")]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict] = {}

    @work(exclusive=True, group="load")
    async def action_reload(self) -> None:
        res = await self.app.rpc("providers.list")
        if res is None:
            return
        self.items = {p["name"]: p for p in res["providers"]}
        self.fill([(p["name"], (p["name"] + (" *" if p.get("default") else ""), p["kind"], p["model"],
                                p.get("base_url") or "", "yes" if p.get("has_key") else "no", p.get("source", "")))
                   for p in res["providers"]])
        intro = Text.assemble("default provider: ", (res["default"], "bold"),
                              "   (a add, t test, e edit, m make default, o default offline, d remove)")
        for err in res.get("errors") or []:
            intro.append(f"\n{err['name']}: {err['error']}", "red")
        self.intro(intro)
        if not self.items:
            self.detail("No provider configured: tasks use the offline provider (no AI). Press a to add one.")

    def show_detail(self, key: str) -> None:
        p = self.items.get(key)
        if p:
            self.detail(f"{p['name']}: {p['kind']} {p['model']} at {p.get('base_url') or 'the default URL'}"
                        f" (key {'configured' if p.get('has_key') else 'none'}, from {p.get('source')})")

    def action_add(self, existing: dict | None = None) -> None:
        def done(params: dict | None) -> None:
            if params is not None:
                self.save(params)

        self.app.push_screen(ProviderFormScreen(existing), done)

    def action_edit(self) -> None:
        p = self.items.get(self.current or "")
        if p is not None:
            self.action_add(p)

    @work(group="save")
    async def save(self, params: dict) -> None:
        if await self.app.rpc("providers.set", params) is not None:
            self.app.notify(f"provider {params['name']} saved")
            self.action_reload()

    @work(group="test", exclusive=True)
    async def action_test(self) -> None:
        name = self.current
        if name is None:
            return
        from octra_protocol.errors import ConnectionLost, RpcError

        from .link import NotConnected

        self.detail(f"testing {name}…")
        try:
            res = await self.app.link.call("providers.test", {"name": name})
        except (RpcError, NotConnected, ConnectionLost) as exc:  # the error is the answer here
            self.detail(Text(f"{name}: {exc}", "red"))
            return
        self.detail(Text(f"{name}: {res['model']} answered {res['answer']!r} in {res['latency_ms']:.0f} ms "
                         f"({res['tokens_in']}+{res['tokens_out']} tokens, {res['attempts']} attempt(s))", "green"))

    def action_make_default(self) -> None:
        if self.current is not None:
            self.choose_default(self.current)

    def action_offline_default(self) -> None:
        self.choose_default("offline")

    @work(group="save")
    async def choose_default(self, name: str) -> None:
        if await self.app.rpc("settings.set", {"default_provider": name}) is not None:
            self.app.notify(f"default provider: {name}" + (" (no AI)" if name == "offline" else ""))
            self.action_reload()

    def action_remove(self) -> None:
        from .dialogs import ConfirmScreen

        p = self.items.get(self.current or "")
        if p is None:
            return
        key = " and its stored key" if p.get("has_key") and p.get("source") == "stored" else ""

        def answer(yes: bool | None) -> None:
            if yes:
                self.remove_provider(p["name"])

        self.app.push_screen(ConfirmScreen(f"Remove provider {p['name']}{key}?", yes="Remove"), answer)

    @work(group="save")
    async def remove_provider(self, name: str) -> None:
        if await self.app.rpc("providers.remove", {"name": name}) is not None:
            self.app.notify(f"provider {name} removed")
            self.action_reload()


class SnapshotsScreen(TableScreen):
    heading = "snapshots"
    columns = ("task", "created", "files", "size", "store path")
    BINDINGS = [*TableScreen.BINDINGS, Binding("r", "restore", "Restore")]

    def __init__(self, project: str, name: str) -> None:
        super().__init__()
        self.project = project
        self.name_ = name
        self.items: dict[str, dict] = {}

    @work(exclusive=True, group="load")
    async def action_reload(self) -> None:
        res = await self.app.rpc("project.snapshots", {"project": self.project})
        if res is None:
            return
        self.items = {s["task_id"]: s for s in res["snapshots"]}
        self.fill([(s["task_id"], (s["task_id"], when(s["created_at"]), str(s["files"]), human_bytes(s["bytes"]),
                                   s["store_path"])) for s in res["snapshots"]])
        self.intro(Text.assemble("snapshots of ", (self.name_, "bold"), ", newest first   (r restore to a folder)"))
        if not self.items:
            self.detail("No snapshot yet: a task's snapshot is taken when it finishes (Nix is needed).")

    def show_detail(self, key: str) -> None:
        s = self.items.get(key)
        if s:
            self.detail(f"{s['store_path']}\n{s['files']} files, {human_bytes(s['bytes'])}, task {key}")

    def action_restore(self) -> None:
        task_id = self.current
        if task_id is None:
            return
        default = os.path.join("~", "octra-restored", f"{self.name_}-{task_id}")

        def done(dest: str | None) -> None:
            if dest:
                self.restore(task_id, dest)

        self.app.push_screen(PromptScreen(f"Restore the snapshot of {task_id} to (a new or empty folder):", default), done)

    @work(group="restore")
    async def restore(self, task_id: str, dest: str) -> None:
        dest = os.path.abspath(os.path.expanduser(dest))
        self.detail(f"restoring {task_id} to {dest}…")
        res = await self.app.rpc("project.restore", {"task_id": task_id, "dest": dest})
        if res is not None:
            self.detail(Text(f"restored to {res['path']}", "green"))
            self.app.notify(f"restored to {res['path']}")
        else:
            self.detail(Text("restore failed (see the notification)", "red"))


class ContextScreen(TableScreen):
    heading = "context"
    columns = ("id", "scope", "type", "!", "by", "content")
    BINDINGS = [*TableScreen.BINDINGS, Binding("a", "add", "Add"), Binding("f", "forget", "Forget"),
                Binding("v", "toggle_forgotten", "Show forgotten")]

    def __init__(self, project: str, name: str) -> None:
        super().__init__()
        self.project = project
        self.name_ = name
        self.include_forgotten = False
        self.items: dict[str, dict] = {}

    @work(exclusive=True, group="load")
    async def action_reload(self) -> None:
        res = await self.app.rpc("context.list", {"project": self.project, "include_forgotten": self.include_forgotten})
        if res is None:
            return
        self.items = {str(e["id"]): e for e in res["entries"]}
        self.fill([(str(e["id"]), (str(e["id"]), e["scope"], e["type"], "!" if e["important"] else "",
                                   e.get("source_agent") or "", Text(e["content"].splitlines()[0][:80] if e["content"] else "",
                                                                     "strike dim" if e["forgotten"] else "")))
                   for e in res["entries"]])
        shown = "with forgotten ones" if self.include_forgotten else "forgotten ones hidden"
        self.intro(Text.assemble("context of ", (self.name_, "bold"), f": {len(self.items)} entries, {shown}   (a add, f forget, v toggle)"))

    def show_detail(self, key: str) -> None:
        e = self.items.get(key)
        if e:
            target = f" → {e['target']}" if e.get("target") else ""
            self.detail(f"#{e['id']} {e['scope']}{target} {e['type']}{' (important)' if e['important'] else ''}"
                        f"{' (forgotten)' if e['forgotten'] else ''}\n{e['content']}")

    def action_toggle_forgotten(self) -> None:
        self.include_forgotten = not self.include_forgotten
        self.action_reload()

    def action_add(self) -> None:
        def done(params: dict | None) -> None:
            if params:
                self.add(params)

        self.app.push_screen(ContextFormScreen(), done)

    @work(group="save")
    async def add(self, params: dict) -> None:
        if await self.app.rpc("context.add", {"project": self.project, **params}) is not None:
            self.action_reload()

    def action_forget(self) -> None:
        e = self.items.get(self.current or "")
        default = e["content"][:60] if e else ""

        def done(match: str | None) -> None:
            if match:
                self.forget(match)

        self.app.push_screen(PromptScreen("Forget the entries whose content contains:", default), done)

    @work(group="save")
    async def forget(self, match: str) -> None:
        res = await self.app.rpc("context.forget", {"project": self.project, "match": match})
        if res is not None:
            self.app.notify(f"{res['forgotten']} entries forgotten")
            self.action_reload()


class SkillsScreen(TableScreen):
    heading = "skills"
    columns = ("slug", "name", "area", "weight")

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict] = {}

    @work(exclusive=True, group="load")
    async def action_reload(self) -> None:
        res = await self.app.rpc("skills.catalog")
        if res is None:
            return
        self.items = {s["slug"]: s for s in res["skills"]}
        self.fill([(s["slug"], (s["slug"], s["name"], s["area"], str(s.get("weight", "")))) for s in res["skills"]])
        self.intro(f"{len(self.items)} skill fragments; the highlighted one is shown below")

    @work(exclusive=True, group="detail")
    async def show_detail(self, key: str) -> None:
        s = self.items.get(key, {})
        res = await self.app.rpc("skills.select", {"slugs": [key]}, quiet=True)
        head = f"{s.get('name', key)} ({s.get('area', '')}) keywords: {', '.join(s.get('keywords') or [])}\n\n"
        self.detail(head + (res["text"] if res else ""))


class GuidesScreen(TableScreen):
    heading = "guides"
    columns = ("tool", "ecosystem", "description")

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict] = {}

    @work(exclusive=True, group="load")
    async def action_reload(self) -> None:
        res = await self.app.rpc("guides.list")
        if res is None:
            return
        self.items = {g["tool"]: g for g in res["guides"]}
        self.fill([(g["tool"], (g["tool"], g.get("ecosystem", ""), (g.get("description") or "")[:70])) for g in res["guides"]])
        self.intro(f"{len(self.items)} tool guides; the highlighted one is shown below")

    @work(exclusive=True, group="detail")
    async def show_detail(self, key: str) -> None:
        g = await self.app.rpc("guides.get", {"tool": key}, quiet=True)
        if not g:
            return
        lines = [f"{g.get('name', key)} ({g.get('ecosystem', '')}): {g.get('description', '')}"]
        for c in g.get("commands") or []:
            lines.append(f"  {c.get('purpose', '')}: {c.get('command', '')}")
        if g.get("nix_packages"):
            lines.append(f"nix: {', '.join(g['nix_packages'])}")
        self.detail("\n".join(lines))
