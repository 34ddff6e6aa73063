"""An eval suite is data: a folder of task folders, each with ``task.toml`` and
an ``accept/`` folder the model never sees.

``task.toml``::

    description = "what a user would type"     # required
    stack = "python"                            # optional: the Boss picks otherwise
    follows = "other-task"                      # optional: a follow-up on that task's project
    accept_timeout_s = 120                      # optional
    meta = { max_fix_attempts = 2 }             # optional task flags
    [github]                                    # optional: the task works on a GitHub issue
    repo = "repo"                               # folder (in the task folder) to push to a repository
    issue_title = "..."
    issue_body = "..."

``accept/accept.sh`` runs from the restored project's root as
``sh .octra-accept/accept.sh`` (every file of ``accept/`` is there under
``.octra-accept/``), in the sandbox with no network.  Exit 0: accepted;
77: could not judge (a tool is missing; says which); anything else: rejected.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCEPT_DIR = ".octra-accept"
ACCEPT_COMMAND = f"sh {ACCEPT_DIR}/accept.sh"
#: exit code of an acceptance script that cannot judge (automake's "skipped")
SKIP_EXIT = 77
_KEYS = {"description", "stack", "follows", "accept_timeout_s", "meta", "github"}


class SuiteError(ValueError):
    """A suite folder that cannot be run; the message names the file and the fix."""


@dataclass
class EvalTask:
    name: str
    description: str
    stack: str | None = None
    follows: str | None = None
    accept_timeout_s: float = 120.0
    meta: dict[str, Any] = field(default_factory=dict)
    github: dict[str, Any] | None = None
    #: relative path in the project -> text
    accept_files: dict[str, str] = field(default_factory=dict)


def default_suite() -> Path:
    """The suite shipped with Octra (the ``octra_eval`` data package)."""
    from importlib.resources import files

    return Path(str(files("octra_eval")))


def load_suite(folder: str | Path) -> list[EvalTask]:
    """Every task of ``folder``, each after the task it follows."""
    root = Path(folder)
    if not root.is_dir():
        raise SuiteError(f"{root} is not a folder: give a suite folder (task folders with task.toml and accept/accept.sh)")
    tasks = [load_task(d) for d in sorted(root.iterdir()) if (d / "task.toml").is_file()]
    if not tasks:
        raise SuiteError(f"{root} holds no task folder (a folder with task.toml)")
    by_name = {t.name: t for t in tasks}
    for t in tasks:
        if t.follows and t.follows not in by_name:
            raise SuiteError(f"{root / t.name / 'task.toml'}: follows = {t.follows!r}, but the suite has no such task")
    return _parents_first(tasks, by_name, root)


def load_task(folder: Path) -> EvalTask:
    where = folder / "task.toml"
    try:
        data = tomllib.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SuiteError(f"{where}: {exc}") from None
    unknown = set(data) - _KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(_KEYS))})")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise SuiteError(f"{where}: description (a non-empty string) is required")
    accept = folder / "accept"
    if not (accept / "accept.sh").is_file():
        raise SuiteError(f"{folder}: accept/accept.sh is missing (the acceptance script the model never sees)")
    files: dict[str, str] = {}
    for path in sorted(accept.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            try:
                files[f"{ACCEPT_DIR}/{path.relative_to(accept).as_posix()}"] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise SuiteError(f"{path}: acceptance files must be UTF-8 text") from None
    github = data.get("github")
    if github is not None and not isinstance(github, dict):
        raise SuiteError(f"{where}: [github] must be a table")
    return EvalTask(
        name=folder.name, description=description.strip(), stack=data.get("stack") or None,
        follows=data.get("follows") or None, accept_timeout_s=float(data.get("accept_timeout_s", 120)),
        meta=dict(data.get("meta") or {}), github=github, accept_files=files,
    )


def _parents_first(tasks: list[EvalTask], by_name: dict[str, EvalTask], root: Path) -> list[EvalTask]:
    out: list[EvalTask] = []
    done: set[str] = set()

    def visit(t: EvalTask, chain: tuple[str, ...]) -> None:
        if t.name in done:
            return
        if t.name in chain:
            raise SuiteError(f"{root}: the follows of {' -> '.join((*chain, t.name))} go round in a circle")
        if t.follows:
            visit(by_name[t.follows], (*chain, t.name))
        done.add(t.name)
        out.append(t)

    for t in tasks:
        visit(t, ())
    return out


def select(tasks: list[EvalTask], names: list[str] | None) -> list[EvalTask]:
    """Only ``names`` (and, for a follow-up, the task it follows: its project is needed)."""
    if not names:
        return tasks
    by_name = {t.name: t for t in tasks}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SuiteError(f"no task {', '.join(map(repr, unknown))} in the suite (it has: {', '.join(by_name)})")
    wanted = set(names)
    for n in names:
        t = by_name[n]
        while t.follows:
            wanted.add(t.follows)
            t = by_name[t.follows]
    return [t for t in tasks if t.name in wanted]
