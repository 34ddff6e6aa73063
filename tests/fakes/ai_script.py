"""Whole scripted AI runs for pipeline tests, on top of :class:`FakeProvider`.

The pipeline asks several questions at once (managers and workers run in
parallel), so answers are chosen by what is asked, not by arrival order: each
request is classified from its system message (plan, staff, work, debug,
review, validate) and the names in its user message (manager, worker), and the
script's handler for that question answers.  Per-question fault queues let a
test make exactly one answer malformed.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Callable

from tests.fakes.providers import FakeRequest, Reply

# the system message is shared by every call of a kind (prompt caches); the names are in the user message
_WORK = re.compile(r"## Your job\nrole '([^']+)', manager '([^']+)'")
_STAFF = re.compile(r"## Your part\n([^:\n]+):")
_REVIEW = re.compile(r"## Part\n([^:\n]+):")


@dataclass(frozen=True)
class Ask:
    """What a request asks: the question and whom it concerns."""

    question: str  # plan | staff | work | debug | review | validate | other
    manager: str = ""
    worker: str = ""
    refine: bool = False
    prompt: str = ""

    def has(self, text: str) -> bool:
        return text in self.prompt


def classify(req: FakeRequest) -> Ask:
    msgs = req.messages
    system = msgs[0]["content"] if msgs else ""
    prompt = req.prompt
    if "Decide how to build the task" in system:
        return Ask("plan", prompt=prompt)
    if "Split one manager's part" in system and (m := _STAFF.search(prompt)):
        return Ask("staff", manager=m.group(1), prompt=prompt)
    if "Write the files of one job" in system and (m := _WORK.search(prompt)):
        return Ask("work", worker=m.group(1), manager=m.group(2), refine="refinement round" in system, prompt=prompt)
    if "A check failed on the whole project" in system:
        return Ask("debug", prompt=prompt)
    if "Check the work of one manager's team" in system and (m := _REVIEW.search(prompt)):
        return Ask("review", manager=m.group(1), prompt=prompt)
    if "Check whether the project as a whole" in system:
        return Ask("validate", prompt=prompt)
    return Ask("other", prompt=prompt)


class Script:
    """Answers by question.  ``handlers[question](ask, n)`` returns the answer
    object (``n`` counts that question for that manager/worker, from 1)."""

    def __init__(self, **handlers: Callable[[Ask, int], Any]):
        self.handlers = handlers
        self.counts: Counter = Counter()
        self.asked: list[Ask] = []
        self.faults: dict[tuple, list[Reply]] = defaultdict(list)
        self.delay = 0.0
        self._lock = threading.Lock()

    def fault(self, question: str, who: str = "", *replies: Reply) -> "Script":
        """Answer the next ``question`` (for manager/worker ``who``) with these replies first."""
        self.faults[(question, who)].extend(replies)
        return self

    def __call__(self, req: FakeRequest) -> Reply:
        ask = classify(req)
        key = (ask.question, ask.worker or ask.manager)
        with self._lock:
            self.asked.append(ask)
            for k in (key, (ask.question, "")):
                if self.faults.get(k):
                    return self.faults[k].pop(0)
            self.counts[key] += 1
            n = self.counts[key]
        handler = self.handlers.get(ask.question)
        if handler is None:
            return Reply.error(500, f"the script has no answer for a {ask.question} question")
        return Reply(text=json.dumps(handler(ask, n)), delay=self.delay)

    def count(self, question: str, who: str = "") -> int:
        return sum(1 for a in self.asked if a.question == question and (not who or who in (a.manager, a.worker)))


def plan(*managers: tuple[str, str], stack: str = "python", **extra: Any) -> dict:
    return {
        "task_type": "cli", "tech_stack": stack, "architecture_notes": "small and plain",
        "managers": [{"role": r, "description": d, "priority": i + 1} for i, (r, d) in enumerate(managers)],
        **extra,
    }


def staff(*workers: tuple[str, str, list[str]]) -> dict:
    return {"workers": [{"role": r, "description": d, "files_hint": f, "skills": []} for r, d, f in workers]}


def files(*pairs: tuple[str, str], commands: list[str] | None = None, done: bool = True, **extra: Any) -> dict:
    return {"files": [{"path": p, "content": c} for p, c in pairs], "commands": commands or [], "done": done, **extra}
