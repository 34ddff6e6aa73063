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
        self.query_one("#prompt", Input).focus()

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
