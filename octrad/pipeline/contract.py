"""The plan as a contract: what a schema cannot say about an answer, and the
checks the tool guides give a stack.

Each ``problems_*`` function returns the reasons an answer that fits its type
is still useless (empty, duplicated, contradictory); the run sends them back
to the model as a correction and journals only an answer with none.
"""

from __future__ import annotations

from typing import Any, Iterable

from .answers import Check, Plan, Staffing

#: guide command purposes that are checks, in the order they run ("setup"/"install"/"smoke" when a guide has them)
CHECK_PURPOSES = ("setup", "install", "build", "test", "smoke")


def problems_plan(plan: Plan, known_categories: Iterable[str] | None = None) -> list[str]:
    out: list[str] = []
    if not plan.managers:
        if not plan.questions:
            out.append("the plan names no managers and asks no questions: name 1 to 6 managers, or ask questions")
        return out
    roles = [m.role for m in plan.managers]
    dup = sorted({r for r in roles if roles.count(r) > 1})
    if dup:
        out.append(f"manager roles must be unique; repeated: {', '.join(dup)}")
    for m in plan.managers:
        bad = [d for d in m.depends_on if d not in roles or d == m.role]
        if bad:
            out.append(f"manager {m.role!r} depends_on {', '.join(map(repr, bad))}, which is not another manager of the plan")
    if not out and _cycle(plan):
        out.append(f"depends_on has a cycle ({' -> '.join(_cycle(plan))}); a team can only wait for teams that finish first")
    owners: dict[str, set[str]] = {}
    for f in plan.files:
        owners.setdefault(f.path, set()).add(f.owner)
    for path, who in sorted(owners.items()):
        if len(who) > 1:
            out.append(f"file {path!r} has two owners ({', '.join(sorted(who))}); every file has exactly one")
        stray = sorted(w for w in who if w not in roles)
        if stray:
            out.append(f"file {path!r} is owned by {', '.join(map(repr, stray))}, which is no manager of the plan")
    names = [c.name for c in plan.checks]
    if len(set(names)) != len(names):
        out.append("check names must be unique")
    if known_categories is not None and plan.skill_categories:
        known = {k.lower() for k in known_categories}
        bad = [c for c in plan.skill_categories if c.lower() not in known]
        if bad:
            out.append(f"unknown skill_categories {', '.join(map(repr, bad))}; choose from: {', '.join(sorted(known))}")
    return out


def _cycle(plan: Plan) -> list[str]:
    deps = {m.role: list(m.depends_on) for m in plan.managers}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str]:
        if state.get(node) == 1:
            return path[path.index(node):] + [node]
        if state.get(node) == 2:
            return []
        state[node] = 1
        for d in deps.get(node, []):
            found = visit(d, path + [node])
            if found:
                return found
        state[node] = 2
        return []

    for role in deps:
        found = visit(role, [])
        if found:
            return found
    return []


def problems_staffing(staffing: Staffing, manager: str, plan: Plan) -> list[str]:
    out: list[str] = []
    roles = [w.role for w in staffing.workers]
    dup = sorted({r for r in roles if roles.count(r) > 1})
    if dup:
        out.append(f"worker roles must be unique within manager {manager!r}; repeated: {', '.join(dup)}")
    theirs = {f.path: f.owner for f in plan.files if f.owner != manager}
    taken = sorted({p for w in staffing.workers for p in w.files_hint if p in theirs})
    if taken:
        out.append("files_hint names files the plan gives to other managers: "
                   + ", ".join(f"{p} ({theirs[p]})" for p in taken))
    return out


def waves_of(plan: Plan) -> dict[str, list[str]]:
    """Each manager role -> the roles it waits for (from ``depends_on``)."""
    return {m.role: list(dict.fromkeys(m.depends_on)) for m in plan.managers}


def checks_from_guide(guide: Any, name: str) -> list[Check]:
    """The guide's own checks for a project ``name``: set-up, build, test, smoke.

    A guide without a ``setup`` command whose tool has no generator
    (``scaffold = "structure"``) prepares the project with its init commands
    (``cmake -S . -B build``, ``python3 -m venv .venv``): those are its set-up."""
    from ..knowledge.guides import render

    setup = guide.commands_for("setup") or (guide.commands_for("init") if guide.scaffold == "structure" else [])
    out = [("set-up", c.command) for c in setup]
    out += [(p, c.command) for p in CHECK_PURPOSES if p != "setup" for c in guide.commands_for(p)]
    named: list[Check] = []
    for label, command in out:
        command = render(command, name)
        if any(c.command == command for c in named):
            continue
        taken = {c.name for c in named}
        named.append(Check(name=label if label not in taken else f"{label}-{len(named) + 1}", command=command))
    return named
