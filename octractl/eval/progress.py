"""Live progress of an eval: on a terminal, one status line redrawn every second
(running tasks, their status, elapsed time, the running cost) under the lines
of finished tasks; elsewhere plain lines, one per change."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def verdict(rec: dict[str, Any]) -> str:
    """A record in a few words: accepted / REJECTED / not judged / skipped."""
    state = rec.get("state")
    if state == "skipped":
        return f"skipped: {rec.get('skipped')}"
    if state == "error":
        return f"error: {rec.get('error')}"
    acc = rec.get("accepted")
    word = "accepted" if acc else "not judged" if acc is None else "REJECTED"
    note = rec.get("accept_note")
    return f"{word}{f' ({note})' if note and acc is not True else ''}"


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.total = total
        self.finished_n = 0
        self.running: dict[str, dict[str, Any]] = {}
        self._costs: dict[str, float] = {}
        self.settled_cost = 0.0
        self._drawn = False

    # -- what the runner reports ---------------------------------------------
    def started(self, name: str, task_id: str) -> None:
        self.running[name] = {"task_id": task_id, "status": "queued", "since": time.monotonic()}
        self.line(name, f"started as {task_id}")

    def status(self, name: str, status: str) -> None:
        r = self.running.get(name)
        if r is None or r["status"] == status:
            return
        r["status"] = status
        if not self.live:
            self.line(name, f"{status} ({self._elapsed(name)}, ${self.running_cost():.4f} running)")
        else:
            self.draw()

    def cost(self, name: str, usd: float) -> None:
        self._costs[name] = self._costs.get(name, 0.0) + usd

    def finished(self, name: str, rec: dict[str, Any]) -> None:
        self.running.pop(name, None)
        self.settled_cost += self._costs.pop(name, 0.0)
        self.finished_n += 1
        status = rec.get("status")
        extra = f"{status}, verified={rec.get('verified')}, {rec.get('wall_s', 0):.0f}s, ${rec.get('cost_usd') or 0:.4f}: " if status else ""
        self.line(name, f"[{self.finished_n}/{self.total}] {extra}{verdict(rec)}")

    def running_cost(self) -> float:
        """The cost of the AI calls of the tasks still running (finished ones are in their records)."""
        return sum(self._costs.get(n, 0.0) for n in self.running)

    # -- output ----------------------------------------------------------------
    def _elapsed(self, name: str) -> str:
        return f"{time.monotonic() - self.running[name]['since']:.0f}s"

    def line(self, name: str, text: str) -> None:
        self._clear()
        self.stream.write(f"{time.strftime('%H:%M:%S')} {name}: {text}\n")
        self.stream.flush()
        self.draw()

    def _clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write("\r\x1b[K")
            self._drawn = False

    def draw(self) -> None:
        if not self.live or not self.running:
            return
        parts = [f"{n} {r['status']} {self._elapsed(n)}" for n, r in self.running.items()]
        text = f"[{self.finished_n}/{self.total}] " + " | ".join(parts) + f" | ${self.settled_cost + self.running_cost():.4f}"
        self._clear()
        self.stream.write(text[:200])
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        self._clear()
        self.stream.flush()
