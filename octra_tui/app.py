"""The Textual application: the main screen (projects and tasks, the live
agent tree, the log pane, the summary, the chat/task input) and the glue to
the daemon.  Its keys and their actions are in :mod:`.actions`.

Events are queued by the link as they arrive and applied in batches on a
timer (``flush_interval``), so a burst of thousands of events costs one
screen update, and key presses are never stuck behind them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Header, Input, Log, Static, Tree

from octra_protocol.errors import ConnectionLost, RpcError
from octra_protocol.methods.tasks import FINAL_STATES, WAITING_STATES

from .actions import BINDINGS, FOOTER_DROP_FIRST, MainActions
from .footer import FittingFooter
from .labels import UNVERIFIED_MARK, agent_label, first_line, natural_key, task_label, unverified
from .link import Link, NotConnected
from .logpane import WrappedLog
from .model import STATUS_MARK, TASK_LINES, TaskModel, human_tokens, status_style, summary_text

#: task models kept in memory (the selected one and the few before it)
KEEP_MODELS = 4


def ui_gone_is_fine(fn):
    """For timers and workers that may finish while the app shuts down: the widgets
    they would update are gone, which is no error."""
    import functools
    import inspect

    from textual.css.query import NoMatches

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(*args, **kwargs):
            try:
                return await fn(*args, **kwargs)
            except NoMatches:
                return None

        return run_async

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NoMatches:
            return None

    return run


class OctraApp(MainActions, App):
    TITLE = "Octra"
    CSS_PATH = "octra.tcss"
    BINDINGS = BINDINGS

    #: connecting | connected | disconnected | incompatible
    connection = reactive("connecting")

    def __init__(self, socket: str | None = None, autostart: bool = True, flush_interval: float = 0.05):
        super().__init__()
        self.link = Link(socket, autostart=autostart, on_event=self._queue_event, on_state=self._on_link_state,
                         on_ready=self._on_link_ready)
        self.flush_interval = flush_interval
        self.pending: list[Any] = []
        self.models: OrderedDict[str, TaskModel] = OrderedDict()
        #: events of tasks whose history is loading, applied after it
        self.loading: dict[str, list[Any]] = {}
        self.tasks: dict[str, dict] = {}
        self.projects: dict[str, dict] = {}
        self.selected_task: str | None = None
        self.selected_agent: str | None = None
        self.detail: dict | None = None
        self.new_mode = False
        self.task_options: dict[str, Any] = {"project": "", "stack": "", "provider": "", "model": "", "approve_plan": False}
        self.connection_detail = ""
        self._frame = 0
        self._task_nodes: dict[str, Any] = {}
        self._project_nodes: dict[str, Any] = {}
        self._agent_nodes: dict[str, Any] = {}
        self._highlight_timer: Any = None
        self._auto_selected = False
        #: done tasks whose verdict was asked for (task.list does not carry ``verified``)
        self._verdict_asked: set[str] = set()

    # -- layout -------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            with Vertical(id="side"):
                tasks: Tree = Tree("Projects", id="tasks")
                tasks.show_root = False
                tasks.guide_depth = 2
                yield tasks
            with Vertical(id="main"):
                yield Static("Select a task, or press [b]n[/] and describe a new one.", id="task-title")
                agents: Tree = Tree("no task", id="agents")
                agents.guide_depth = 2
                yield agents
                yield WrappedLog(max_lines=TASK_LINES, id="log")
                with VerticalScroll(id="summary-box"):
                    yield Static("", id="summary")
        yield Static("", id="conn")
        yield Input(placeholder="Describe a new task and press Enter (ctrl+o: options)", id="chat")
        yield FittingFooter(drop_first=FOOTER_DROP_FIRST)

    def on_mount(self) -> None:
        self.query_one("#log", Log).border_title = "log"
        self.query_one("#agents", Tree).border_title = "agents"
        self.query_one("#tasks", Tree).border_title = "tasks"
        self.query_one("#tasks", Tree).focus()
        self.run_worker(self.link.run(), name="link", group="link")
        self.set_interval(self.flush_interval, self.flush)
        self.set_interval(0.12, self._spin)
        self._show_connection()

    # -- connection ---------------------------------------------------------
    def _on_link_state(self, state: str, detail: str) -> None:
        self.connection = state
        self.connection_detail = detail
        self._show_connection()
        if state == "incompatible":
            # a daemon of another major protocol version: stop, as every client does (exit code 2)
            self.exit(return_code=2, message=f"octra-tui: {detail}")

    def _show_connection(self) -> None:
        try:
            bar = self.query_one("#conn", Static)
        except Exception:
            return
        state, detail = self.connection, self.connection_detail
        style = {"connected": "green", "connecting": "yellow", "disconnected": "red", "incompatible": "red"}[state]
        text = {"connected": "● connected", "connecting": "◌ connecting…", "disconnected": "✗ daemon unreachable",
                "incompatible": "✗ incompatible daemon"}[state]
        bar.update(Text.assemble((text, f"bold {style}"), "  ", (detail, "dim")))
        bar.set_class(state != "connected", "down")
        self.sub_title = {"connected": "", "connecting": "connecting…"}.get(state, "offline")

    @ui_gone_is_fine
    def _on_link_ready(self, resumed: bool) -> None:
        """Connected (again): refresh the lists and finish any interrupted history load."""
        self._verdict_asked.clear()
        self.reload_lists()
        for tid in list(self.loading):
            self.load_task(tid)
        if self.selected_task and self.selected_task in self.models:
            self.refresh_detail(self.selected_task)

    def _queue_event(self, ev: Any) -> None:
        self.pending.append(ev)

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Notifications carry daemon and AI text: plain unless asked otherwise."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    async def rpc(self, method: str, params: Any = None, *, quiet: bool = False) -> Any:
        """Call the daemon; on failure say so (a notification) and return None."""
        try:
            return await self.link.call(method, params)
        except RpcError as exc:
            detail = exc.data.get("detail")
            if not quiet:
                self.notify(f"{method}: {exc.message}" + (f" ({detail})" if detail and detail not in exc.message else ""),
                            title=exc.kind, severity="error", timeout=8)
        except (NotConnected, ConnectionLost) as exc:
            if not quiet:
                self.notify(f"{method}: {exc}", title="daemon", severity="error")
        return None

    # -- lists (sidebar) ------------------------------------------------------
    @work(group="lists", exclusive=True)
    @ui_gone_is_fine
    async def reload_lists(self) -> None:
        projects = await self.rpc("project.list", quiet=True)
        tasks = await self.rpc("task.list", {"limit": 200}, quiet=True)
        if projects is None or tasks is None:
            return
        self.projects = {p["id"]: p for p in projects["projects"]}
        for t in reversed(tasks["tasks"]):
            known = self.tasks.get(t["task_id"])
            if known is not None and known.get("seen_status_at", 0) > t["updated_at"]:
                t["status"] = known["status"]  # an event newer than the list
            self.tasks[t["task_id"]] = {**(known or {}), **t}
        self._render_sidebar()

    def _render_sidebar(self) -> None:
        tree = self.query_one("#tasks", Tree)
        by_project: dict[str, list[dict]] = {}
        for t in self.tasks.values():
            by_project.setdefault(t["project_id"], []).append(t)
        order = sorted(by_project, key=lambda pid: -max(t.get("created_at", 0) for t in by_project[pid]))
        for index, pid in enumerate(order):
            pnode = self._project_nodes.get(pid)
            name = self.projects.get(pid, {}).get("name") or next((t.get("project") for t in by_project[pid] if t.get("project")), pid)
            if pnode is None:
                pnode = tree.root.add(Text(name, "bold"), data=("project", pid), expand=True, before=index if index < len(tree.root.children) else None)
                self._project_nodes[pid] = pnode
            else:
                pnode.set_label(Text(name, "bold"))
            for t in sorted(by_project[pid], key=lambda t: -t.get("created_at", 0)):
                node = self._task_nodes.get(t["task_id"])
                if node is None:
                    before = 0 if pnode.children else None
                    node = pnode.add_leaf(task_label(t), data=("task", t["task_id"]), before=before)
                    self._task_nodes[t["task_id"]] = node
                else:
                    node.set_label(task_label(t))
        tree.border_subtitle = f"{len(self.tasks)}"
        if self.selected_task is None and not self._auto_selected and self._task_nodes:
            # on start, the newest task is shown
            self._auto_selected = True
            newest = max(self.tasks.values(), key=lambda t: t.get("created_at", 0))
            node = self._task_nodes.get(newest["task_id"])
            if node is not None:
                tree.move_cursor(node)
                self.select_task(newest["task_id"])
        if any(t.get("status") == "done" and "verified" not in t and tid not in self._verdict_asked
               for tid, t in self.tasks.items()):
            self.fetch_verdicts()

    @work(group="verdicts")
    @ui_gone_is_fine
    async def fetch_verdicts(self) -> None:
        """Whether each done task was verified (its mark in the tree), asked once per task."""
        for tid, t in list(self.tasks.items()):
            if t.get("status") == "done" and "verified" not in t and tid not in self._verdict_asked:
                self._verdict_asked.add(tid)
                task = await self.rpc("task.get", {"task_id": tid}, quiet=True)
                if task is not None:
                    self._note_verdict(task)

    def _note_verdict(self, task: dict) -> None:
        """Keep what a task.get answer says of a done task's checks (``verified``) for its mark."""
        t = self.tasks.get(task["task_id"])
        if t is None or task["status"] != "done" or t.get("status") != "done":
            return
        if "verified" not in t or t["verified"] != task.get("verified"):
            t["verified"] = task.get("verified")
            node = self._task_nodes.get(task["task_id"])
            if node is not None:
                node.set_label(task_label(t))

    # -- selecting a task -----------------------------------------------------
    @on(Tree.NodeSelected, "#tasks")
    def _task_chosen(self, event: Tree.NodeSelected) -> None:
        data = event.node.data
        if data and data[0] == "task" and data[1] != self.selected_task:
            self.select_task(data[1])

    @on(Tree.NodeHighlighted, "#tasks")
    def _task_highlighted(self, event: Tree.NodeHighlighted) -> None:
        """Moving the cursor selects too, after a short pause (scrolling past loads nothing)."""
        data = event.node.data
        if self._highlight_timer is not None:
            self._highlight_timer.stop()
        if data and data[0] == "task" and data[1] != self.selected_task:
            self._highlight_timer = self.set_timer(0.15, lambda: self._task_chosen(event))

    def select_task(self, task_id: str | None) -> None:
        self.selected_task = task_id
        self.selected_agent = None
        self.detail = None
        self.new_mode = False
        self._agent_nodes = {}
        tree = self.query_one("#agents", Tree)
        tree.clear()
        self.query_one("#log", Log).clear()
        self.query_one("#summary", Static).update("")
        self._update_input()
        self.refresh_bindings()
        if task_id is None:
            tree.root.set_label("no task")
            self.query_one("#task-title", Static).update("Select a task, or press [b]n[/] and describe a new one.")
            return
        t = self.tasks.get(task_id, {})
        tree.root.set_label(Text(first_line(t.get("description"), 60) or task_id, "bold"))
        tree.root.data = None
        self._render_title()
        model = self.models.get(task_id)
        if model is not None:
            self.models.move_to_end(task_id)
            self._render_task(model)
        else:
            self.query_one("#log", Log).border_title = "log · loading the task's history…"
            if task_id not in self.loading:
                self.load_task(task_id)
        self.refresh_detail(task_id)

    @work(group="history")
    @ui_gone_is_fine
    async def load_task(self, task_id: str) -> None:
        """The task's past from its events, then whatever came while loading."""
        self.loading.setdefault(task_id, [])
        upto = self.link.seq or 0
        try:
            history = await self.link.history(task_id, upto)
        except (NotConnected, ConnectionLost):
            return  # retried when the link is back (see _on_link_ready)
        except RpcError as exc:
            self.loading.pop(task_id, None)
            self.notify(f"cannot load {task_id}: {exc.message}", severity="error")
            return
        model = TaskModel(task_id)
        model.apply_all(history)
        model.apply_all(self.loading.pop(task_id, []))
        self.models[task_id] = model
        self.models.move_to_end(task_id)
        while len(self.models) > KEEP_MODELS:
            oldest = next(iter(self.models))
            if oldest == self.selected_task:
                break
            self.models.pop(oldest)
        if task_id == self.selected_task:
            self._render_task(model)
            model.status_changed = False
            self.refresh_detail(task_id)

    @work(group="detail", exclusive=True)
    @ui_gone_is_fine
    async def refresh_detail(self, task_id: str) -> None:
        task = await self.rpc("task.get", {"task_id": task_id}, quiet=True)
        if task is None or task_id != self.selected_task:
            return
        self.detail = task
        model = self.models.get(task_id)
        if model is not None and task.get("last_seq", 0) <= model.last_seq and model.status != task["status"]:
            # the task moved without an event the model has (e.g. interrupted by a daemon stop):
            # the answer is at least as new as the model's events, so it wins
            model.status = task["status"]
        if task_id in self.tasks and self.tasks[task_id].get("status") != task["status"]:
            self.tasks[task_id]["status"] = task["status"]
            self._render_sidebar()
        self._note_verdict(task)
        self._render_title()
        self._render_summary()
        self._update_input()
        self.refresh_bindings()

    def _render_title(self) -> None:
        tid = self.selected_task
        if not tid:
            return
        t = self.tasks.get(tid) or {}
        d = self.detail or {}
        model = self.models.get(tid)
        status = (model.status if model and model.seqs else None) or d.get("status") or t.get("status", "?")
        project = d.get("project") or t.get("project") or ""
        if d.get("status") == status and unverified(d):
            shown, style = f"{UNVERIFIED_MARK} {status}, unverified", "yellow"
        else:
            shown, style = f"{STATUS_MARK.get(status, '▶')} {status}", status_style(status)
        title = Text.assemble(
            (shown, f"bold {style}"), "  ",
            (tid, "dim"), "  ", (project, "bold"), "  ", ((d.get("provider") or t.get("provider") or ""), "dim"),
        )
        self.query_one("#task-title", Static).update(title)

    def _render_summary(self) -> None:
        tid = self.selected_task
        model = self.models.get(tid) if tid else None
        d = self.detail
        widget = self.query_one("#summary", Static)
        if d is not None and (d["status"] in FINAL_STATES or d["status"] in WAITING_STATES or d["status"] == "interrupted"):
            widget.update(summary_text(d))
        elif model is not None:
            widget.update(Text.assemble((model.status, status_style(model.status)),
                                        f"  {len(model.files)} files written  {model.calls} calls  "
                                        f"{human_tokens(model.tokens_in + model.tokens_out)} tokens  ${model.cost_usd:.4f}"))

    def _render_task(self, model: TaskModel) -> None:
        """Draw a task from scratch (after selecting it)."""
        tree = self.query_one("#agents", Tree)
        tree.clear()
        self._agent_nodes = {}
        tree.root.set_label(Text(first_line(model.description, 60) or model.task_id, "bold"))
        model.changed = set(model.agents)
        self._render_agents(model)
        tree.root.expand_all()
        self._render_log(model)
        self._render_title()
        self._render_summary()

    def _render_agents(self, model: TaskModel) -> None:
        tree = self.query_one("#agents", Tree)
        # parents before children: agents were spawned in that order
        for aid in [a for a in model.agents if a in model.changed]:
            agent = model.agents[aid]
            node = self._agent_nodes.get(aid)
            if node is None:
                parent = self._agent_nodes.get(agent.parent_id or "", tree.root)
                # siblings in the plan's order (ids count m1, m2.., w1, w2..), not in the racy order of spawning
                key = natural_key(aid)
                after = next((ch for ch in parent.children if natural_key(ch.data or "") > key), None)
                node = parent.add(agent_label(agent, self._frame), data=aid, expand=True,
                                  allow_expand=agent.kind != "worker", before=after)
                self._agent_nodes[aid] = node
            else:
                node.set_label(agent_label(agent, self._frame))
        model.changed = set()

    def _log_indent(self) -> str:
        return "    " if self.selected_agent else " " * 13 + "│   "

    def rewrap_log(self) -> None:
        model = self.models.get(self.selected_task or "")
        if model is not None:
            self._render_log(model)

    def _render_log(self, model: TaskModel) -> None:
        log = self.query_one("#log", WrappedLog)
        log.clear()
        log.write_lines(log.wrapped(model.view_lines(self.selected_agent), self._log_indent()))
        # the new size is known after the next layout: scroll then
        self.call_after_refresh(log.scroll_end, animate=False, x_axis=False)
        log.border_title = f"log · {model.role(self.selected_agent)}" if self.selected_agent else "log · all agents"

    @on(Tree.NodeHighlighted, "#agents")
    @on(Tree.NodeSelected, "#agents")
    def _agent_chosen(self, event) -> None:
        aid = event.node.data
        if aid == self.selected_agent:
            return
        self.selected_agent = aid
        model = self.models.get(self.selected_task or "")
        if model is not None:
            self._render_log(model)

    # -- the batch of events --------------------------------------------------
    @ui_gone_is_fine
    def flush(self) -> None:
        """Apply the events that came since the last flush, with one screen update."""
        if not self.pending:
            return
        events, self.pending = self.pending, []
        sidebar = False
        reload = False
        sel = self.selected_task
        new_lines: list[tuple[str | None, str]] = []
        for ev in events:
            tid = ev.task_id
            if tid is None:
                continue
            if ev.kind == "task.created":
                data = ev.data or {}
                if tid not in self.tasks:
                    self.tasks[tid] = {"task_id": tid, "project_id": data.get("project_id"), "description": data.get("description", ""),
                                       "status": "queued", "provider": data.get("provider"), "created_at": ev.ts, "updated_at": ev.ts}
                    sidebar = True
                    reload = reload or data.get("project_id") not in self.projects
            elif ev.kind == "task.status" and tid in self.tasks:
                self.tasks[tid]["status"] = (ev.data or {}).get("status", self.tasks[tid]["status"])
                self.tasks[tid]["seen_status_at"] = ev.ts
                sidebar = True
            buffered = self.loading.get(tid)
            if buffered is not None:
                buffered.append(ev)
                continue
            model = self.models.get(tid)
            if model is None:
                continue
            lines = model.apply(ev)
            if tid == sel:
                new_lines.extend(lines)
        if reload:
            self.reload_lists()
        elif sidebar:
            self._render_sidebar()
        model = self.models.get(sel or "")
        if model is None:
            return
        if model.changed:
            self._render_agents(model)
        if new_lines:
            aid = self.selected_agent
            log = self.query_one("#log", WrappedLog)
            lines = [model.format(a, text) for a, text in new_lines] if aid is None else [t for a, t in new_lines if a == aid]
            lines = log.wrapped(lines, self._log_indent())
            if lines:
                # follow the end unless the user scrolled up (a new horizontal scrollbar must not stop it)
                follow = log.scroll_y >= log.max_scroll_y - 2
                log.write_lines(lines, scroll_end=False)
                if follow:
                    self.call_after_refresh(log.scroll_end, animate=False, x_axis=False)
        if model.status_changed:
            model.status_changed = False
            self._render_title()
            self.refresh_detail(model.task_id)
        self._render_summary()

    @ui_gone_is_fine
    def _spin(self) -> None:
        model = self.models.get(self.selected_task or "")
        if model is None or not model.working:
            return
        self._frame += 1
        for aid, node in self._agent_nodes.items():
            agent = model.agents.get(aid)
            if agent is not None and agent.working:
                node.set_label(agent_label(agent, self._frame))

    # -- the chat/task input ----------------------------------------------------
    def _update_input(self) -> None:
        chat = self.query_one("#chat", Input)
        status = (self.detail or {}).get("status") or (self.tasks.get(self.selected_task or "") or {}).get("status")
        if self.new_mode or self.selected_task is None:
            opts = ", ".join(f"{k}={v}" for k, v in self.task_options.items() if v)
            chat.placeholder = "New task: describe it and press Enter" + (f"  [{opts}]" if opts else "  (ctrl+o: options)")
        elif status == "awaiting_approval":
            chat.placeholder = "Plan waits: a approves it; or type what to change + Enter"
        elif status == "awaiting_input":
            chat.placeholder = "Answer the Boss's questions (see below) and press Enter"
        elif status in FINAL_STATES or status == "interrupted":
            chat.placeholder = "Follow up on this task (a new run on its project), or n for a new task"
        else:
            chat.placeholder = "The task is running (c cancels); n for a new task"
        chat.border_title = "new task" if self.new_mode or self.selected_task is None else f"to {self.selected_task}"

    @on(Input.Submitted, "#chat")
    async def _chat_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        chat = event.input
        new = self.new_mode or self.selected_task is None
        # the keys work again at once (c cancels, not types a c), before the daemon answers
        chat.value = ""
        chat.border_subtitle = ""
        self.query_one("#agents", Tree).focus()
        if new:
            sent = await self.create_task(text) is not None
        else:
            status = (self.detail or {}).get("status")
            if status == "awaiting_approval":
                sent = await self.rpc("task.approve", {"task_id": self.selected_task, "approved": False, "feedback": text}) is not None
                if sent:
                    self.notify("plan rejected: the Boss plans again with your feedback")
            else:
                res = await self.rpc("task.message", {"task_id": self.selected_task, "content": text})
                sent = res is not None
                if sent:
                    self._expect_task(res["task_id"], text)
        if not sent:
            # nothing typed is lost: the text goes back in the input, with why
            self.new_mode = new
            chat.value = text
            chat.border_subtitle = ("not sent: the daemon is unreachable, Enter sends it again" if self.connection != "connected"
                                    else "not sent (see the message): change it and press Enter")
            self._update_input()
            chat.focus()

    async def create_task(self, description: str) -> str | None:
        o = self.task_options
        params: dict[str, Any] = {"description": description, "meta": {}}
        for key in ("project", "stack", "provider", "model"):
            if o.get(key):
                params[key] = o[key]
        if o.get("approve_plan"):
            params["meta"]["approve_plan"] = True
        res = await self.rpc("task.create", params)
        if res is None:
            return None
        self._expect_task(res["task_id"], description, res.get("project_id"))
        return res["task_id"]

    def _expect_task(self, task_id: str, description: str, project_id: str | None = None) -> None:
        if task_id not in self.tasks:
            self.tasks[task_id] = {"task_id": task_id, "project_id": project_id or (self.tasks.get(self.selected_task or "") or {}).get("project_id"),
                                   "description": description, "status": "queued", "created_at": time.time(), "updated_at": time.time()}
            self.reload_lists()
        self.select_task(task_id)
        node = self._task_nodes.get(task_id)
        if node is not None:
            self.query_one("#tasks", Tree).move_cursor(node)

    @on(Input.Blurred, "#chat")
    def _chat_left(self, event: Input.Blurred) -> None:
        if self.new_mode and not event.input.value and event.input.is_attached:
            self.new_mode = False
            self._update_input()


def run() -> None:
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="octra-tui", description="Octra's terminal UI")
    parser.add_argument("--socket", help="daemon socket [env OCTRA_SOCKET]")
    parser.add_argument("--no-autostart", action="store_true", help="do not start octrad [env OCTRA_NO_AUTOSTART=1]")
    args = parser.parse_args()
    autostart = not args.no_autostart and os.environ.get("OCTRA_NO_AUTOSTART", "").strip().lower() not in {"1", "true", "yes", "on"}
    app = OctraApp(socket=args.socket, autostart=autostart)
    app.run()
    if app.return_code:
        raise SystemExit(app.return_code)
