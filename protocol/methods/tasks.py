"""Tasks: create, inspect, steer (cancel, resume, approve, follow up)."""

from __future__ import annotations

from typing import Any, Literal, Union

from ._base import EmptyResult, Method, Params, Result
from .github import TaskGitHub

TaskStatus = Literal[
    "queued",
    "planning",
    "awaiting_approval",
    "awaiting_input",
    "building",
    "validating",
    "snapshotting",
    "publishing",
    "done",
    "failed",
    "cancelled",
    "interrupted",
]
#: states a task never leaves on its own
FINAL_STATES = ("done", "failed", "cancelled")
#: states in which the task waits for the user (kept across daemon restarts)
WAITING_STATES = ("awaiting_approval", "awaiting_input")
#: states with work going on
RUNNING_STATES = ("queued", "planning", "building", "validating", "snapshotting", "publishing")
#: states after which a task's events stop until someone acts (a watcher's end)
STOP_STATES = (*FINAL_STATES, "interrupted", *WAITING_STATES)


class TaskCreateParams(Params, kw_only=True):
    description: str
    #: a project id or name; a new project when absent (named after the description)
    project: Union[str, None] = None
    #: e.g. "rust", "node", "python"; the Boss (or the offline provider) picks one when absent
    stack: Union[str, None] = None
    issue_url: Union[str, None] = None
    #: a configured provider name, "offline" or "replay"; the daemon's default when absent
    provider: Union[str, None] = None
    model: Union[str, None] = None
    #: flags: approve_plan, skill_categories, max_rounds, selector, max_llm_calls,
    #: max_tokens, max_cost_usd, replay_from, publish_repositories, create_pull_requests, ...
    meta: dict[str, Any] = {}


class TaskCreateResult(Result):
    task_id: str
    project_id: str


class Usage(Result, kw_only=True):
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    #: prompt tokens served from the provider's prompt cache (counted in tokens_in too)
    tokens_cached: int = 0
    cost_usd: float = 0.0


class TaskError(Result):
    kind: str
    message: str


class CheckResult(Result, kw_only=True):
    """One of the plan's checks as Octra ran it on the whole project (never the model's word)."""

    name: str
    command: str
    #: null when the check could not run (its tool is missing, the sandbox is unavailable)
    exit_code: Union[int, None] = None
    passed: bool = False
    duration_s: float = 0.0
    output_tail: str = ""
    #: why it did not run, when it did not
    skipped_reason: Union[str, None] = None


class TaskSummary(Result, kw_only=True):
    task_id: str
    project_id: str
    project: str
    description: str
    status: TaskStatus
    provider: str
    created_at: float
    updated_at: float


class TaskListParams(Params, kw_only=True):
    status: Union[TaskStatus, None] = None
    project: Union[str, None] = None
    limit: int = 50


class TaskListResult(Result):
    tasks: list[TaskSummary]


class TaskIdParams(Params):
    task_id: str


class AgentNode(Result, kw_only=True):
    agent_id: str
    kind: Literal["boss", "manager", "worker"]
    role: str
    status: str
    usage: Usage
    children: list["AgentNode"] = []


class Task(Result, kw_only=True):
    task_id: str
    project_id: str
    project: str
    description: str
    status: TaskStatus
    provider: str
    model: Union[str, None]
    stack: Union[str, None]
    plan: Union[dict[str, Any], None]
    #: the Boss's open questions while the task is awaiting_input
    questions: list[str] = []
    agents: list[AgentNode]
    files: list[str]
    usage: Usage
    store_path: Union[str, None]
    repo_url: Union[str, None]
    pull_request_url: Union[str, None]
    #: what the task did on GitHub: repository, issue, branch, fork, pull request (null: nothing)
    github: Union[TaskGitHub, None] = None
    error: Union[TaskError, None]
    #: the plan's checks as last run by Octra (set-up, build, test, smoke)
    checks: list[CheckResult] = []
    #: true: every check passed; false: a check failed; null: no check could run (``notes`` say why)
    verified: Union[bool, None] = None
    #: "bwrap" or "none": how the task's commands ran (none is also said in ``notes``)
    sandbox: Union[str, None] = None
    #: plain remarks for the user, e.g. "no AI was used (offline provider)"
    notes: list[str] = []
    meta: dict[str, Any] = {}
    #: seq of the task's newest stored event (read before the rest, so a
    #: watcher knows which events are history and which are news)
    last_seq: int = 0
    created_at: float
    updated_at: float


class TaskApproveParams(Params, kw_only=True):
    task_id: str
    approved: bool
    feedback: Union[str, None] = None


class TaskResumeParams(Params, kw_only=True):
    task_id: str
    #: flags to change before resuming (e.g. a raised budget ``max_llm_calls`` or ``max_fix_attempts``)
    meta: Union[dict[str, Any], None] = None


class TaskMessageParams(Params):
    task_id: str
    content: str


class TaskMessageResult(Result):
    #: the task that carries the message on (the same one when it was awaiting input)
    task_id: str


METHODS = {
    "task.create": Method(TaskCreateParams, TaskCreateResult, "Start a task: plan, build, commit, snapshot, publish."),
    "task.list": Method(TaskListParams, TaskListResult, "Tasks, newest first, optionally by status or project."),
    "task.get": Method(TaskIdParams, Task, "One task in full: plan, agent tree, files, usage, results, error."),
    "task.cancel": Method(TaskIdParams, EmptyResult, "Stop a task now (its calls and commands too)."),
    "task.resume": Method(TaskResumeParams, EmptyResult, "Continue an interrupted or failed task from its last completed step (meta: flags to change first)."),
    "task.approve": Method(TaskApproveParams, EmptyResult, "Answer the plan-approval gate of a task awaiting approval."),
    "task.message": Method(
        TaskMessageParams,
        TaskMessageResult,
        "Answer a task awaiting input, or follow up on a finished one (a new run on the same project).",
    ),
}
