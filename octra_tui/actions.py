"""The main screen's keys: what each does, when it is offered, and the same
actions as command-palette entries.

Kept apart from the layout and the event handling (app.py): an action reads
the selection, then calls the daemon, opens a screen or moves the focus.
``check_action`` hides a key (in the footer too) where it would not work: on
other screens, or for a task in a state it does not apply to.
"""

from __future__ import annotations

from typing import Any, Iterable

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Tree

from octra_protocol.methods.tasks import FINAL_STATES

# the footer shows what works now (check_action hides the rest); ? lists them all
BINDINGS = [
    Binding("question_mark,f1", "help", "Help", key_display="?"),
    Binding("n", "new_task", "New"),
    Binding("a", "approve", "Approve"),
    Binding("c", "cancel_task", "Cancel"),
    Binding("r", "resume_task", "Resume"),
    Binding("e", "report", "Report"),
    Binding("s", "settings", "Settings"),
    Binding("p", "providers", "Providers"),
    Binding("h", "snapshots", "Snapshots"),
    Binding("x", "context", "Context"),
    Binding("o", "task_options", "Options", show=False),
    # also while typing a description, where "o" is just a letter
    Binding("ctrl+o", "task_options", "Options", show=False, priority=True),
    Binding("i", "focus_input", "Input", show=False),
    Binding("f5", "refresh", "Refresh/reconnect", show=False),
    Binding("q", "quit", "Quit"),
    Binding("k", "skills", "Skills"),
    Binding("g", "guides", "Guides"),
    Binding("escape", "leave_input", "Leave input", show=False),
]
#: the keys the footer leaves out first when the terminal is too narrow for all
#: (at 80 columns; ? and the palette still list them, and they still work)
FOOTER_DROP_FIRST = ("guides", "skills", "context", "snapshots")


class MainActions:
    """The actions of :data:`BINDINGS`, mixed into the app (which holds the selection and the link)."""

    #: actions of the main screen: off (and out of the footer) on the others
    MAIN_ACTIONS = frozenset({"new_task", "approve", "settings", "providers", "snapshots", "context", "skills", "guides",
                              "task_options", "cancel_task", "resume_task", "report", "focus_input", "leave_input", "help"})

    def _selected_status(self) -> str | None:
        model = self.models.get(self.selected_task or "")
        if model is not None and model.seqs:
            return model.status
        return (self.detail or {}).get("status") or (self.tasks.get(self.selected_task or "") or {}).get("status")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in self.MAIN_ACTIONS and len(self.screen_stack) > 1:
            return False
        # keys that act on the selected task are there (in the footer too) only when they would work
        status = self._selected_status() if self.selected_task else None
        if action == "approve":
            return status == "awaiting_approval"
        if action == "cancel_task":
            return status is not None and status not in FINAL_STATES and status != "interrupted"
        if action == "resume_task":
            return status in ("failed", "interrupted")
        if action == "report":
            return self.detail is not None
        return True

    def action_new_task(self) -> None:
        self.new_mode = True
        self._update_input()
        self.query_one("#chat", Input).focus()

    def action_leave_input(self) -> None:
        from textual.widgets import HelpPanel

        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()  # the palette's "Keys" panel
        elif self.focused is self.query_one("#chat", Input):
            self.query_one("#tasks", Tree).focus()

    def action_help(self) -> None:
        from .dialogs import HelpScreen

        self.push_screen(HelpScreen())

    def action_report(self) -> None:
        from .dialogs import ReportScreen

        if self.detail is not None:
            self.push_screen(ReportScreen(self.detail))

    def action_focus_input(self) -> None:
        self.query_one("#chat", Input).focus()

    def action_refresh(self) -> None:
        self.reload_lists()
        if self.selected_task:
            self.refresh_detail(self.selected_task)
        if self.connection != "connected":
            self.link.retry_now()

    def action_reconnect(self) -> None:
        self.link.retry_now()

    def action_task_options(self) -> None:
        from .dialogs import TaskOptionsScreen

        def done(result: dict | None) -> None:
            if result is not None:
                self.task_options = result
                self._update_input()

        self.push_screen(TaskOptionsScreen(dict(self.task_options)), done)

    def action_approve(self) -> None:
        if not self.selected_task:
            self.notify("select a task first", severity="warning")
            return
        task_id = self.selected_task

        async def answer(result: tuple[bool, str] | None) -> None:
            if result is None:
                return
            approved, feedback = result
            params: dict[str, Any] = {"task_id": task_id, "approved": approved}
            if feedback:
                params["feedback"] = feedback
            if await self.rpc("task.approve", params) is not None:
                self.notify("plan approved: building" if approved else "plan rejected")

        self._open_approval(task_id, answer)

    @work(group="approve", exclusive=True)
    async def _open_approval(self, task_id: str, answer) -> None:
        from .dialogs import ApproveScreen

        task = await self.rpc("task.get", {"task_id": task_id})
        if task is None:
            return
        if task["status"] != "awaiting_approval":
            self.notify(f"task {task_id} is {task['status']}: no plan waits for approval", severity="warning")
            return
        self.push_screen(ApproveScreen(task), answer)

    def action_cancel_task(self) -> None:
        if self.selected_task:
            self._verb("task.cancel", self.selected_task, "cancelled")

    def action_resume_task(self) -> None:
        if self.selected_task:
            self._verb("task.resume", self.selected_task, "resumed")

    @work(group="verb")
    async def _verb(self, method: str, task_id: str, done: str) -> None:
        if await self.rpc(method, {"task_id": task_id}) is not None:
            self.notify(f"{task_id} {done}")

    def _project_of_selection(self) -> str | None:
        t = self.tasks.get(self.selected_task or "")
        if t:
            return t.get("project_id")
        node = self.query_one("#tasks", Tree).cursor_node
        if node is not None and node.data and node.data[0] == "project":
            return node.data[1]
        return None

    def action_settings(self) -> None:
        from .screens import SettingsScreen

        self.push_screen(SettingsScreen())

    def action_providers(self) -> None:
        from .screens import ProvidersScreen

        self.push_screen(ProvidersScreen())

    def action_snapshots(self) -> None:
        from .screens import SnapshotsScreen

        project = self._project_of_selection()
        if project is None:
            self.notify("select a task or project first", severity="warning")
            return
        self.push_screen(SnapshotsScreen(project, self.projects.get(project, {}).get("name", project)))

    def action_context(self) -> None:
        from .screens import ContextScreen

        project = self._project_of_selection()
        if project is None:
            self.notify("select a task or project first", severity="warning")
            return
        self.push_screen(ContextScreen(project, self.projects.get(project, {}).get("name", project)))

    def action_skills(self) -> None:
        from .screens import SkillsScreen

        self.push_screen(SkillsScreen())

    def action_guides(self) -> None:
        from .screens import GuidesScreen

        self.push_screen(GuidesScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New task", "Describe a new task in the input (n)", self.action_new_task)
        yield SystemCommand("Task options", "Project, stack, provider, model, plan approval for new tasks (o, or ctrl+o while typing)", self.action_task_options)
        yield SystemCommand("Approve plan", "Answer the plan-approval gate of the selected task (a)", self.action_approve)
        yield SystemCommand("Cancel task", "Stop the selected task now (c)", self.action_cancel_task)
        yield SystemCommand("Resume task", "Continue an interrupted or failed task (r)", self.action_resume_task)
        yield SystemCommand("Settings", "GitHub toggles, limits, sandbox (s)", self.action_settings)
        yield SystemCommand("Providers", "AI providers: list, add, test, remove (p)", self.action_providers)
        yield SystemCommand("Snapshots", "Snapshots of the selected project; restore to a folder (h)", self.action_snapshots)
        yield SystemCommand("Context", "Context entries of the selected project: add, forget (x)", self.action_context)
        yield SystemCommand("Skills", "Browse the skill fragments (k)", self.action_skills)
        yield SystemCommand("Guides", "Browse the tool guides (g)", self.action_guides)
        yield SystemCommand("Refresh", "Reload projects, tasks and the selected task (f5)", self.action_refresh)
        yield SystemCommand("Reconnect", "Try the daemon again now (starting it unless autostart is off)", self.action_reconnect)
