"""Prompts: rules and data for one narrow question each.

No personas and no growing conversation: every call gets a system message with
the rules of its one question and a user message with exactly the data it
needs (the task, the plan, the stack's guide, the chosen skills, the context
block, the files).  The answer's JSON Schema travels separately, the way each
provider takes it.
"""

from __future__ import annotations

from typing import Any

import msgspec

JSON_ONLY = "Answer with one JSON object that follows the given schema, and nothing else."
FILE_RULES = (
    "Paths are relative to the project root, use '/', never start with '/', never contain '..', "
    "and never point into .git. Give each file's complete content, not a diff."
)


def _section(title: str, body: str) -> str:
    body = body.strip()
    return f"## {title}\n{body}\n" if body else ""


def _msgs(rules: list[str], data: str) -> list[dict[str, str]]:
    system = "\n".join(f"- {r}" for r in [*rules, JSON_ONLY])
    return [{"role": "system", "content": system}, {"role": "user", "content": data.strip()}]


def plan(description: str, *, stack: str | None, catalog: str, guides: str, context: str,
         feedback: list[str], answers: list[tuple[str, str]], existing_files: list[str], issue: str = "") -> list[dict]:
    rules = [
        "Decide how to build the task below: its type, the tech stack, architecture notes, and the managers "
        "(one per area of work such as backend, frontend, devops, docs) that will split the work.",
        "Use 1 to 4 managers; give each a role (one or two words), a description of its part, and a priority (1 first).",
        "skill_categories: the skill areas (from the catalogue) the work needs.",
        "If the task is too vague to build anything sensible, leave managers empty and put your questions "
        "(at most 3, short) in questions instead.",
        "If the user named a stack, use it.",
    ]
    data = _section("Task", description)
    if stack:
        data += _section("Stack requested", stack)
    if issue:
        data += _section("Issue", issue)
    if existing_files:
        data += _section("Files already in the project", "\n".join(existing_files[:200]))
    data += _section("Skill catalogue", catalog)
    data += _section("Tool guides available", guides)
    data += _section("Context", context)
    if answers:
        data += _section("Answers from the user", "\n".join(f"Q: {q}\nA: {a}" for q, a in answers))
    if feedback:
        data += _section("Feedback on the previous plan (address it)", "\n".join(feedback))
    return _msgs(rules, data)


def staff(description: str, plan_json: str, manager: dict, skills: str, guide: str, context: str) -> list[dict]:
    rules = [
        f"Split the part of the manager '{manager['role']}' into 1 to 4 narrow jobs, one worker each.",
        "Each worker gets a role (unique within this manager), a description of exactly what to produce, "
        "files_hint (the files it should write), and skills (slugs chosen only from the candidate skills listed).",
        "Jobs must not overlap: two workers never write the same file.",
    ]
    data = _section("Task", description) + _section("Plan", plan_json)
    data += _section("Your part", f"{manager['role']}: {manager['description']}")
    data += _section("Candidate skills", skills) + _section("Tool guide of the stack", guide)
    data += _section("Context", context)
    return _msgs(rules, data)


def work(description: str, plan_json: str, manager: dict, worker: dict, *, guide: str, skills: str, context: str,
         own_files: list[tuple[str, str]], peer_files: list[tuple[str, str, str]], round_no: int,
         feedback: str = "", peers: list[str] | None = None) -> list[dict]:
    rules = [
        f"Write the files of the job below (role '{worker['role']}', manager '{manager['role']}').",
        FILE_RULES,
        "commands: shell commands that build or test what you wrote, using only the commands of the tool guide "
        "(they run in the project root); empty when nothing needs running.",
        "done: true when your part is complete; false if you want another round to refine it.",
        "context (optional): one short fact other agents must know (scope team for your peers, global for everyone).",
    ]
    if round_no > 1:
        rules.append(
            "This is a refinement round: read your peers' files, make yours consistent with them "
            "(names, interfaces, imports), and return only files you change; return no files if nothing needs changing."
        )
    if peers:
        rules.append(f"next (optional): the role of the peer who should speak after you, one of: {', '.join(peers)}.")
    data = _section("Task", description) + _section("Plan", plan_json)
    data += _section("Your job", f"{worker['role']}: {worker['description']}\nfiles: {', '.join(worker.get('files_hint') or [])}")
    data += _section("Tool guide", guide) + _section("Skills", skills) + _section("Context", context)
    if feedback:
        data += _section("Feedback to address", feedback)
    if own_files:
        data += _section("Your files so far", "\n".join(f"### {p}\n{c}" for p, c in own_files))
    if peer_files:
        data += _section("Files of your peers", "\n".join(f"### {p} (by {who})\n{c}" for who, p, c in peer_files))
    return _msgs(rules, data)


def fix(worker: dict, command: str, exit_code: int, output: str, files: list[tuple[str, str]], guide: str) -> list[dict]:
    rules = [
        "A command failed in the project. Return the files that make it pass (complete contents).",
        FILE_RULES,
        "explanation: one sentence on what was wrong.",
    ]
    data = _section("Command", command) + _section("Exit code", str(exit_code))
    data += _section("Output (tail)", output[-6000:]) + _section("Tool guide", guide)
    data += _section("Files", "\n".join(f"### {p}\n{c}" for p, c in files))
    data += _section("Your job", f"{worker['role']}: {worker['description']}")
    return _msgs(rules, data)


def review(description: str, manager: dict, workers: list[dict], files: list[tuple[str, str]],
           commands: list[dict], context: str) -> list[dict]:
    rules = [
        f"Check the work of the manager '{manager['role']}' against its part of the task.",
        "approved: true when the files do the job and the commands passed.",
        "If not, feedback says exactly what is wrong, and rework lists the roles of the workers who must redo their part.",
    ]
    data = _section("Task", description) + _section("Part", f"{manager['role']}: {manager['description']}")
    data += _section("Workers", "\n".join(f"- {w['role']}: {w['description']}" for w in workers))
    data += _section("Commands run", "\n".join(f"- `{c['command']}` -> exit {c['exit_code']}" for c in commands) or "none")
    data += _section("Files", "\n".join(f"### {p}\n{c}" for p, c in files)) + _section("Context", context)
    return _msgs(rules, data)


def validate(description: str, plan_json: str, files: list[tuple[str, str]], teams: list[dict], context: str) -> list[dict]:
    rules = [
        "Check whether the project as a whole does what the task asks.",
        "approved: true when it does. If not, feedback says what is missing or wrong, and failing_managers "
        "lists the roles of the managers whose part must change.",
    ]
    data = _section("Task", description) + _section("Plan", plan_json)
    data += _section("Teams", "\n".join(f"- {t['role']}: approved={t['approved']} {t.get('feedback', '')}" for t in teams))
    data += _section("Files", "\n".join(f"### {p}\n{c}" for p, c in files)) + _section("Context", context)
    return _msgs(rules, data)


def as_json(value: Any) -> str:
    return msgspec.json.encode(value).decode()
