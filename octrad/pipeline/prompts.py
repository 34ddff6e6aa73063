"""Prompts: rules and data for one narrow question each.

No personas and no growing conversation: every call gets a system message with
the rules of its one question and a user message with exactly the data it
needs.  The parts every call of a kind shares come first (rules, task,
contract, guide, skills) and the parts that vary last (the job, files,
feedback), so a provider's prompt cache keeps the prefix: the system message
holds no names of a team or worker.  The shared prefix ends where
:func:`_msgs` joins ``shared`` and ``varying`` (the place for a cache marker).
The answer's JSON Schema travels separately, the way each provider takes it.
"""

from __future__ import annotations

from typing import Any, Sequence

import msgspec

JSON_ONLY = "Answer with one JSON object that follows the given schema, and nothing else."
FILE_RULES = (
    "Paths are relative to the project root, use '/', never start with '/', never contain '..', "
    "and never point into .git. files: complete contents, for new files; edits: {path, search, replace} where "
    "search is copied exactly from the file's current content and occurs there exactly once. Change a file that "
    "already exists with edits that touch only what the job changes; a whole file for it must keep everything else."
)
MAP_TITLE = "Repository map (the definitions in the project's files at the start of this task, most related first)"


def _section(title: str, body: str) -> str:
    body = body.strip()
    return f"## {title}\n{body}\n" if body else ""


def _msgs(rules: list[str], shared: str, varying: str = "") -> list[dict[str, Any]]:
    """System rules, then what every call of this kind in the task shares, then what
    varies.  The shared part is its own user message marked ``cache``: Anthropic gets a
    cache breakpoint at its end (the clients join consecutive user turns), and the
    OpenAI-style automatic prefix caches see the same leading bytes call after call."""
    system = "\n".join(f"- {r}" for r in [*rules, JSON_ONLY])
    if not varying.strip():
        return [{"role": "system", "content": system}, {"role": "user", "content": shared.strip(), "cache": True}]
    return [{"role": "system", "content": system}, {"role": "user", "content": shared.strip(), "cache": True},
            {"role": "user", "content": varying.strip()}]


def contract(plan: Any) -> str:
    """The plan as every agent sees it: stack, notes, teams, the file map and the checks."""
    lines = [f"type: {plan.task_type}; stack: {plan.tech_stack}"]
    if plan.architecture_notes:
        lines.append(f"architecture: {plan.architecture_notes}")
    lines.append("teams:")
    for m in plan.managers:
        dep = f" (after {', '.join(m.depends_on)})" if m.depends_on else ""
        lines.append(f"- {m.role}{dep}: {m.description}")
    if plan.files:
        lines.append("file map (path [owner]: purpose | interface):")
        for f in plan.files:
            lines.append(f"- {f.path} [{f.owner}]: {f.purpose}" + (f" | {f.interface}" if f.interface else ""))
    if plan.checks:
        lines.append("checks Octra runs on the whole project after the teams, in order (the work must pass them):")
        lines += [f"- {c.name}: {c.command}" for c in plan.checks]
    return "\n".join(lines)


def checks_text(results: Sequence[dict], tail: int = 1500) -> str:
    if not results:
        return "none ran yet"
    out = []
    for r in results:
        if r.get("skipped_reason"):
            out.append(f"- {r['name']}: `{r['command']}` did not run: {r['skipped_reason']}")
            continue
        verdict = "passed" if r["passed"] else "FAILED"
        out.append(f"- {r['name']}: `{r['command']}` -> exit {r['exit_code']} ({verdict})")
        if not r["passed"] and r.get("output_tail"):
            out.append("  output (tail):\n" + r["output_tail"][-tail:])
    return "\n".join(out)


def _files(title: str, text: str) -> str:
    return _section(title, text)


def _existing(issue: str, repo_map: str) -> str:
    """The issue and the repository map: the same for every call of a task, so in the shared part."""
    return _section("Issue", issue) + _section(MAP_TITLE, repo_map)


def plan(description: str, *, stack: str | None, catalog: str, guides: str, guide_checks: str, context: str,
         feedback: list[str], answers: list[tuple[str, str]], repo_map: str = "", issue: str = "",
         baseline: str = "") -> list[dict]:
    rules = [
        "Decide how to build the task below: its type, the tech stack, architecture notes, the managers "
        "(one per area of work such as backend, frontend, tests, docs) that will split the work, the file map and the checks.",
        "Use 1 to 6 managers with unique roles (one or two words each), a description of its part, a priority (1 first) "
        "and depends_on: the roles of the managers whose files its files use (a tests team depends on the code it tests; "
        "teams without dependencies work in parallel).",
        "files: every file the project needs: path, owner (the role of the one manager whose team writes it), purpose, "
        "and interface (the public names other files use from it: functions, classes, routes, commands).",
        "checks: the ordered commands Octra runs on the whole project after the teams (set-up, build, test, and a smoke "
        "run where possible), taken from the tool guides' commands below; the task is done only when they pass.",
        "skill_categories: the skill areas (from the catalogue) the work needs.",
        "If the task is too vague to build anything sensible, leave managers empty and put your questions "
        "(at most 3, short) in questions instead.",
        "If the user named a stack, use it.",
    ]
    if repo_map:
        rules.append("The project already has code (see the repository map): plan the change to it, keeping its "
                     "paths; the file map lists the files to change or add, and the checks keep the repository's own.")
    shared = _section("Task", description)
    if stack:
        shared += _section("Stack requested", stack)
    shared += _existing(issue, repo_map)
    shared += _section("Skill catalogue", catalog) + _section("Tool guides available", guides)
    shared += _section("Commands of the guides that fit the task (use them for checks)", guide_checks)
    varying = _section("The repository's own checks before the change (run by Octra)", baseline)
    varying += _section("Context", context)
    if answers:
        varying += _section("Answers from the user", "\n".join(f"Q: {q}\nA: {a}" for q, a in answers))
    if feedback:
        varying += _section("Feedback on the previous plan (address it)", "\n".join(feedback))
    return _msgs(rules, shared, varying)


def staff(description: str, contract_text: str, manager: dict, skills: str, guide: str, context: str,
          own_files: list[str], issue: str = "", repo_map: str = "") -> list[dict]:
    rules = [
        "Split one manager's part of the plan (named under 'Your part') into 1 to 6 narrow jobs, one worker each.",
        "Each worker gets a role (unique within the team), a description of exactly what to produce, "
        "files_hint (the files of the file map it writes), and skills (slugs chosen only from the candidate skills listed).",
        "Jobs must not overlap: two workers never write the same file; together they write every file the file map gives the team.",
    ]
    shared = _section("Task", description) + _existing(issue, repo_map) + _section("Contract", contract_text)
    shared += _section("Tool guide", guide)
    varying = _section("Your part", f"{manager['role']}: {manager['description']}")
    varying += _section("Files of the file map your team owns", "\n".join(own_files))
    varying += _section("Candidate skills", skills) + _section("Context", context)
    return _msgs(rules, shared, varying)


def work(description: str, contract_text: str, manager: dict, worker: dict, *, guide: str, skills: str, context: str,
         depends: str, own_files: str, peer_files: str, round_no: int, feedback: str = "",
         peers: list[str] | None = None, earlier: list[str] | None = None, issue: str = "",
         repo_map: str = "") -> list[dict]:
    rules = [
        "Write the files of one job of the plan (named under 'Your job'), consistent with the contract: "
        "its file map (paths, owners, interfaces) and its checks.",
        FILE_RULES,
        "commands: shell commands (only the tool guide's) that prepare or check what you wrote; they run in the "
        "project root after your team's chat; empty when nothing needs running.",
        "done: true when your part is complete; false if you want another round to refine it.",
        "context (optional): one short fact other agents must know (scope team for your peers, global for everyone).",
    ]
    if round_no > 1:
        rules.append(
            "This is a refinement round: read your peers' files, make yours consistent with them "
            "(names, interfaces, imports), and return only files you change; return no files if nothing needs changing."
        )
    if peers:
        rules.append("next (optional): the role of the peer who should speak after you, one of those listed under 'Your job'.")
    shared = _section("Task", description) + _existing(issue, repo_map) + _section("Contract", contract_text)
    shared += _section("Tool guide", guide) + _section("Skills", skills)
    job = (f"role '{worker['role']}', manager '{manager['role']}' ({manager['description']})\n"
           f"{worker['description']}\nfiles: {', '.join(worker.get('files_hint') or [])}")
    if peers:
        job += f"\npeers you may name as next: {', '.join(peers)}"
    varying = _section("Your job", job) + _section("Context", context)
    if earlier:
        varying += _section("Said earlier this round", "\n".join(earlier))
    varying += _files("Files you depend on or that relate to your job (current content)", depends)
    varying += _files("Your files (current content: change them with edits)", own_files)
    varying += _files("Files of your peers", peer_files)
    if feedback:
        varying += _section("Feedback to address", feedback)
    return _msgs(rules, shared, varying)


def debug(description: str, contract_text: str, guide: str, check: dict, files: str,
          attempts: list[str], issue: str = "", repo_map: str = "") -> list[dict]:
    rules = [
        "A check failed on the whole project. Answer with what makes it pass: files and/or edits, and commands "
        "(e.g. create the virtualenv, install a dependency with the tool guide's command) that run in the project "
        "root, sandboxed, before the checks run again.",
        FILE_RULES,
        "Fix the cause, never the check: do not delete or weaken tests.",
        "explanation: one sentence on what was wrong.",
    ]
    shared = _section("Task", description) + _existing(issue, repo_map) + _section("Contract", contract_text)
    shared += _section("Tool guide", guide)
    regression = ("\nIt passed before this task's change: the change broke it (a regression); fix the change, "
                  "keep what the check tests.") if check.get("regression") else ""
    varying = _section("Failing check", f"{check['name']}: `{check['command']}` -> exit {check['exit_code']}{regression}")
    varying += _section("Output (tail)", check["output_tail"][-6000:])
    varying += _section("Earlier attempts (they did not make it pass)", "\n".join(attempts))
    varying += _files("Related files (current content)", files)
    return _msgs(rules, shared, varying)


def review(description: str, contract_text: str, manager: dict, workers: list[dict], files: str,
           checks: str, commands: list[dict], context: str, boss_feedback: str = "", issue: str = "") -> list[dict]:
    rules = [
        "Check the work of one manager's team (named under 'Part') against its part of the contract.",
        "approved: true when its files do the job and the checks pass.",
        "If not, feedback says exactly what is wrong, and rework lists the roles of the workers who must redo their part.",
    ]
    shared = _section("Task", description) + _section("Issue", issue) + _section("Contract", contract_text)
    varying = _section("Part", f"{manager['role']}: {manager['description']}")
    varying += _section("Workers", "\n".join(f"- {w['role']}: {w['description']}" for w in workers))
    varying += _section("Checks (run by Octra on the whole project)", checks)
    varying += _section("Team commands run", "\n".join(f"- `{c['command']}` -> exit {c['exit_code']}" for c in commands) or "none")
    if boss_feedback:
        varying += _section("The Boss's feedback on the whole project (the reason for this rework)", boss_feedback)
    varying += _section("Context", context) + _files("Files", files)
    return _msgs(rules, shared, varying)


def validate(description: str, contract_text: str, files: str, teams: list[dict], checks: str, context: str,
             issue: str = "") -> list[dict]:
    rules = [
        "Check whether the project as a whole does what the task asks, and keeps the contract.",
        "approved: true when it does and the checks pass. If not, feedback says what is missing or wrong, and "
        "failing_managers lists the roles of the managers whose part must change.",
    ]
    shared = _section("Task", description) + _section("Issue", issue) + _section("Contract", contract_text)
    varying = _section("Teams", "\n".join(f"- {t['role']}: approved={t['approved']} {t.get('feedback', '')}" for t in teams))
    varying += _section("Checks (run by Octra on the whole project)", checks)
    varying += _section("Context", context) + _files("Files", files)
    return _msgs(rules, shared, varying)


def correction(problems: list[str]) -> str:
    """The message that sends a valid but unusable answer back."""
    return ("Your previous answer fits the schema but cannot be used:\n" + "\n".join(f"- {p}" for p in problems)
            + "\nAnswer again with one corrected JSON object.")


def as_json(value: Any) -> str:
    return msgspec.json.encode(value).decode()
