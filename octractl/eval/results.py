"""``results.json``: one eval run, written whole after every task (atomically),
so an interrupted run resumes where it stopped (``octractl eval --resume DIR``)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

VERSION = 1
FILE = "results.json"


class ResultsError(ValueError):
    """A results folder that cannot be read; the message says which and why."""


def new(*, suite: str, provider: str, model: str | None, parallel: int, budget_usd: float | None) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        octra = version("octra")
    except PackageNotFoundError:
        octra = "unknown"
    now = time.time()
    return {"version": VERSION, "octra": octra, "suite": suite, "provider": provider, "model": model,
            "parallel": parallel, "budget_usd": budget_usd, "started_at": now, "updated_at": now, "tasks": {}}


def load(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path} does not exist: give the --out folder of an earlier `octractl eval`") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path} cannot be read: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("tasks"), dict):
        raise ResultsError(f"{path} is not an `octractl eval` results file (version {VERSION})")
    return data


def save(folder: str | Path, data: dict[str, Any]) -> Path:
    """Write atomically: a run killed mid-write leaves the previous file whole."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data["updated_at"] = time.time()
    path = folder / FILE
    tmp = folder / f".{FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def finished(record: dict[str, Any] | None) -> bool:
    """Whether a task's record is complete (a resumed run skips it)."""
    return bool(record) and record.get("state") in ("judged", "skipped")


def summary(data: dict[str, Any]) -> dict[str, Any]:
    """The run in figures: tasks, accepted, verified, and the sums."""
    recs = [r for r in data["tasks"].values() if r.get("state") == "judged"]
    n = len(recs)
    accepted = sum(1 for r in recs if r.get("accepted") is True)
    lines = sum(r.get("lines") or 0 for r in recs)
    tokens = sum((r.get("tokens_in") or 0) + (r.get("tokens_out") or 0) for r in recs)
    return {
        "tasks": n,
        "skipped": sum(1 for r in data["tasks"].values() if r.get("state") == "skipped"),
        "accepted": accepted,
        #: the acceptance could not judge (exit 77: a tool it needs is missing here); counted as not accepted
        "not_judged": sum(1 for r in recs if r.get("accepted") is None),
        "pass_rate": accepted / n if n else 0.0,
        "verified": sum(1 for r in recs if r.get("verified") is True),
        "done": sum(1 for r in recs if r.get("status") == "done"),
        "calls": sum(r.get("calls") or 0 for r in recs),
        "tokens_in": sum(r.get("tokens_in") or 0 for r in recs),
        "tokens_out": sum(r.get("tokens_out") or 0 for r in recs),
        "tokens_cached": sum(r.get("tokens_cached") or 0 for r in recs),
        "cost_usd": round(sum(r.get("cost_usd") or 0.0 for r in recs), 6),
        "wall_s": round(sum(r.get("wall_s") or 0.0 for r in recs), 1),
        "lines": lines,
        "tokens_per_line": round(tokens / lines, 1) if lines else None,
    }
