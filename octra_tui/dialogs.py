"""The small dialogs: one line of text, task options, plan approval, the
provider form and the context entry form.  Each returns its answer with
``dismiss`` (None when cancelled)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, Switch


def row(label: str, widget, hint: str = "") -> Horizontal:
    parts = [Label(label, classes="label"), widget]
    if hint:
        parts.append(Label(hint, classes="hint"))
    return Horizontal(*parts, classes="row")


class PromptScreen(ModalScreen[str | None]):
    """One line of text, or None when dismissed."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog compact"):
            yield Label(self.question)
            yield Input(self.value, compact=True, id="prompt")
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        field = self.query_one("#prompt", Input)
        field.focus()
        # a long value (a path) is shown from its start, not scrolled to its end
        field.cursor_position = 0

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.dismiss(self.query_one("#prompt", Input).value.strip() or None)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class TaskOptionsScreen(ModalScreen[dict | None]):
    """Options of the next new task."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("enter", "submit", "OK", priority=True)]

    def action_submit(self) -> None:
        """Enter accepts the dialog from any field (a focused button is pressed instead)."""
        if isinstance(self.focused, Button):
            self.focused.press()
        else:
            self._ok()

    def __init__(self, options: dict) -> None:
        super().__init__()
        self.options = options

    def compose(self) -> ComposeResult:
        o = self.options
        with Vertical(classes="dialog compact"):
            yield Label("[b]Options of new tasks[/] (empty: the daemon decides)")
            yield row("project", Input(o.get("project", ""), placeholder="a new project", compact=True, id="opt-project"))
            yield row("stack", Input(o.get("stack", ""), placeholder="e.g. rust, python, node", compact=True, id="opt-stack"))
            yield row("provider", Input(o.get("provider", ""), placeholder="the default provider", compact=True, id="opt-provider"))
            yield row("model", Input(o.get("model", ""), placeholder="the provider's model", compact=True, id="opt-model"))
            yield row("approve plan", Switch(bool(o.get("approve_plan")), id="opt-approve_plan"))
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        out = {k: self.query_one(f"#opt-{k}", Input).value.strip() for k in ("project", "stack", "provider", "model")}
        out["approve_plan"] = self.query_one("#opt-approve_plan", Switch).value
        self.dismiss(out)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ApproveScreen(ModalScreen[tuple[bool, str] | None]):
    """The Boss's plan, to approve or reject with feedback."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+y", "approve", "Approve")]

    def __init__(self, task: dict) -> None:
        super().__init__()
        self.task_ = task

    def compose(self) -> ComposeResult:
        from rich.markup import escape as e

        plan = self.task_.get("plan") or {}
        lines = [f"[b]Plan of {self.task_['task_id']}[/]: {e(str(plan.get('task_type', '')))} in {e(str(plan.get('tech_stack', '')))}"]
        if plan.get("architecture_notes"):
            lines.append(e(str(plan["architecture_notes"])))
        for m in plan.get("managers") or []:
            lines.append(f"  • [b]{e(str(m.get('role')))}[/]: {e(str(m.get('description')))}")
        with Vertical(classes="dialog wide compact"):
            yield VerticalScroll(Static("\n".join(lines)), id="plan")
            yield Input(placeholder="feedback (for a rejection: what to change)", compact=True, id="feedback")
            with Horizontal(classes="buttons"):
                yield Button("Approve", variant="success", id="approve")
                yield Button("Reject", variant="error", id="reject")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#approve", Button).focus()

    @on(Button.Pressed, "#approve")
    def action_approve(self) -> None:
        self.dismiss((True, self.query_one("#feedback", Input).value.strip()))

    @on(Button.Pressed, "#reject")
    def _reject(self) -> None:
        self.dismiss((False, self.query_one("#feedback", Input).value.strip()))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ProviderFormScreen(ModalScreen[dict | None]):
    """Add or change a provider; the key is kept when left empty."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, existing: dict | None = None) -> None:
        super().__init__()
        self.existing = existing or {}

    def compose(self) -> ComposeResult:
        e = self.existing
        with Vertical(classes="dialog compact"):
            yield Label("[b]Provider[/]" + (" (empty key: keep the stored one)" if e else ""))
            yield row("name", Input(e.get("name", ""), compact=True, id="pf-name"))
            yield row("kind", Select([(k, k) for k in ("openai", "anthropic", "gemini", "ollama")], allow_blank=False, compact=True,
                                     value=e.get("kind", "openai") if e.get("kind") in ("openai", "anthropic", "gemini", "ollama") else "openai",
                                     id="pf-kind"))
            yield row("model", Input(e.get("model", ""), compact=True, id="pf-model"))
            yield row("base URL", Input(e.get("base_url") or "", placeholder="the kind's default", compact=True, id="pf-base_url"))
            yield row("API key", Input(password=True, compact=True, id="pf-api_key"))
            yield Static("", id="pf-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        v = {k: self.query_one(f"#pf-{k}", Input).value.strip() for k in ("name", "model", "base_url", "api_key")}
        missing = [k for k in ("name", "model") if not v[k]]
        if missing:
            self.query_one("#pf-error", Static).update(Text(f"{' and '.join(missing)} needed", "bold red"))
            return
        params: dict[str, Any] = {"name": v["name"], "kind": self.query_one("#pf-kind", Select).value, "model": v["model"]}
        if v["base_url"]:
            params["base_url"] = v["base_url"]
        if v["api_key"]:
            params["api_key"] = v["api_key"]
        self.dismiss(params)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ContextFormScreen(ModalScreen[dict | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog compact"):
            yield Label("[b]New context entry[/]")
            yield row("scope", Select([("global", "global"), ("team", "team"), ("individual", "individual")],
                                      allow_blank=False, value="global", id="cf-scope", compact=True))
            yield row("type", Input("rule", compact=True, id="cf-type"))
            yield row("target", Input(placeholder="team or agent id (not for global)", compact=True, id="cf-target"))
            yield row("content", Input(compact=True, id="cf-content"))
            yield row("important", Switch(id="cf-important"))
            yield Static("", id="cf-error")
            with Horizontal(classes="buttons"):
                yield Button("Add", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        content = self.query_one("#cf-content", Input).value.strip()
        kind = self.query_one("#cf-type", Input).value.strip()
        if not content or not kind:
            self.query_one("#cf-error", Static).update(Text("type and content needed", "bold red"))
            return
        params: dict[str, Any] = {"scope": self.query_one("#cf-scope", Select).value, "type": kind, "content": content,
                                  "important": self.query_one("#cf-important", Switch).value}
        target = self.query_one("#cf-target", Input).value.strip()
        if target:
            params["target"] = target
        self.dismiss(params)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; only y or the Yes button says yes."""

    BINDINGS = [Binding("escape,n", "no", "No"), Binding("y", "yes", "Yes")]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog compact"):
            yield Label(Text(self.question))
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def action_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_no(self) -> None:
        self.dismiss(False)


#: the main screen's keys, as the help screen lists them: (keys, what, when)
MAIN_KEYS = (
    ("n", "describe a new task in the input (Enter sends it)", ""),
    ("ctrl+o / o", "options of new tasks: project, stack, provider, model, plan approval", ""),
    ("i", "go to the input (follow up on the selected task, answer its questions)", ""),
    ("Esc", "leave the input; close the Keys panel", ""),
    ("a", "approve (or reject) the plan", "when a plan waits"),
    ("c", "cancel the selected task", "while it runs"),
    ("r", "resume the selected task from its last completed step", "when it failed or was interrupted"),
    ("e", "the selected task's whole report: error, checks and their output, notes", "when a task is selected"),
    ("s", "settings", ""),
    ("p", "providers: add, test, make default, remove", ""),
    ("h", "snapshots of the selected project; restore one to a folder", ""),
    ("x", "context entries of the selected project", ""),
    ("k / g", "skills / tool guides", ""),
    ("F5", "reload (and reconnect now, starting octrad unless autostart is off)", ""),
    ("ctrl+p", "command palette: every action by name", ""),
    ("? / F1", "this help", ""),
    ("q", "quit (tasks keep running in the daemon)", ""),
)


class HelpScreen(ModalScreen[None]):
    """What every key of the main screen does, and when it works."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for keys, what, when in MAIN_KEYS:
            table.add_row(keys, Text.assemble(what, (f"  ({when})" if when else "", "dim")))
        with Vertical(classes="dialog wide compact", id="help"):
            yield Label("[b]Octra keys[/]  (the footer shows the ones that work now)")
            yield VerticalScroll(Static(table), id="help-keys")
            yield Static(Text("Tasks run in the daemon (octrad): quitting leaves them running. "
                              "Scripts: octractl (octractl --help).", "dim"))
            with Horizontal(classes="buttons"):
                yield Button("Close (Esc)", variant="primary", id="close")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)


class ReportScreen(ModalScreen[None]):
    """A task's whole report: the full error, every check's output, the notes."""

    BINDINGS = [Binding("escape,q,e", "close", "Close")]

    def __init__(self, task: dict) -> None:
        super().__init__()
        self.task_ = task

    def compose(self) -> ComposeResult:
        from .model import summary_text

        t = self.task_
        with Vertical(classes="dialog wide compact", id="report"):
            yield Label(Text.assemble(("Task ", "bold"), (t["task_id"], "bold"), f"  {t.get('project', '')}"))
            yield VerticalScroll(Static(summary_text(t, tail_lines=None), id="report-text"), id="report-body")
            with Horizontal(classes="buttons"):
                yield Button("Close (Esc)", variant="primary", id="close")

    def on_mount(self) -> None:
        self.query_one("#report-body").focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
