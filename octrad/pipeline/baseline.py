"""Tests before and after: on an existing repository, its own checks run
before the change (the baseline) and again after it with the plan's checks,
so a check that passed before and fails after is caught as a regression.

The checks are read from the repository where that is simple and safe
(:func:`detect`): ``package.json`` scripts, a Python project's pytest set-up
(``pyproject.toml``, ``setup.cfg``, ``tox.ini``, ``pytest.ini``, test files),
``Cargo.toml``, ``go.mod``, a ``Makefile`` with a ``test`` target; else the
checks of the tool guide whose ``detect`` files the repository has.  CI
workflows are not read (their steps assume a CI machine).

Journal step ``baseline``: ``{checks, results}``, so a resume does not run
them again.  The plan's checks get the baseline's appended when the Boss did
not keep them (:func:`merged`): the repository's own tests decide too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec

from .answers import Check, Plan
from .files import UnsafePath, check_path

PYTEST = "python3 -B -m pytest -q -p no:cacheprovider"


def _read(root: Path, name: str) -> str:
    """A file of the repository, never one a symlink points to outside it ("" when absent)."""
    try:
        return check_path(root, name).read_text(encoding="utf-8", errors="replace")[:200_000]
    except (UnsafePath, OSError):
        return ""


def _python_tests(root: Path) -> bool:
    text = _read(root, "pyproject.toml") + _read(root, "setup.cfg") + _read(root, "tox.ini")
    if "pytest" in text or (root / "pytest.ini").is_file() or (root / "conftest.py").is_file():
        return True
    for folder in (root / "tests", root / "test", root):
        if folder.is_dir() and any(folder.glob("test_*.py")):
            return True
    return False


def detect(root: Path, guides: Any = None, name: str = "") -> list[Check]:
    """The repository's own checks, in the order they run (set-up before tests)."""
    found: list[tuple[str, str]] = []
    pkg = _read(root, "package.json")
    if pkg:
        try:
            data = json.loads(pkg)
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        scripts = data.get("scripts") if isinstance(data.get("scripts"), dict) else {}
        if (data.get("dependencies") or data.get("devDependencies")) and not (root / "node_modules").is_dir():
            found.append(("install", "npm install"))
        if isinstance(scripts.get("build"), str):
            found.append(("build", "npm run build"))
        test = scripts.get("test")
        if isinstance(test, str) and test.strip() and "no test specified" not in test:
            found.append(("test", "npm test"))
    if (root / "Cargo.toml").is_file():
        found.append(("test", "cargo test"))
    if (root / "go.mod").is_file():
        found.append(("test", "go test ./..."))
    if _python_tests(root):
        found.append(("test", PYTEST))
    if not found and re.search(r"(?m)^test\s*:", _read(root, "Makefile")):
        found.append(("test", "make test"))
    if not found and guides is not None:
        from .contract import checks_from_guide

        for g in guides.all():
            if g.detect and g.detected_in(root, name):
                return checks_from_guide(g, name)
    out: list[Check] = []
    for label, command in found:
        taken = {c.name for c in out}
        out.append(Check(name=label if label not in taken else f"{label}-{len(out) + 1}", command=command))
    return out


def merged(plan: Plan, checks: list[Check]) -> Plan:
    """The plan with the baseline's checks it lacks appended (same command = same check)."""
    have = {c.command for c in plan.checks}
    extra = [c for c in checks if c.command not in have]
    if not extra:
        return plan
    names = {c.name for c in plan.checks}
    added = [Check(name=c.name if c.name not in names else f"repo-{c.name}", command=c.command) for c in extra]
    return msgspec.structs.replace(plan, checks=[*plan.checks, *added][:10])


async def run(run: Any) -> None:
    """Record ``run.baseline`` (results of the repository's checks before the change)."""
    from . import verify

    run.baseline = []
    run.baseline_checks = []
    if not run.existing:
        return
    cached = await run.store.step(run.task_id, "baseline")
    if cached is not None:
        got = msgspec.json.decode(cached)
        run.baseline_checks = [msgspec.convert(c, Check) for c in got["checks"]]
        run.baseline = got["results"]
        return
    checks = detect(run.folder, getattr(run.d, "guides", None), run.project_name)
    results = await verify.run_checks(run, run.boss_id, checks) if checks else []
    run.baseline_checks, run.baseline = checks, results
    await run.store.record(run.task_id, "baseline", {"checks": checks, "results": results})
    if not checks:
        await run.note("before the change: no check of the repository's own was found "
                       "(package.json scripts, pytest, Cargo.toml, go.mod, a Makefile test target)")
    else:
        await run.note("before the change: " + summary(results))


def summary(results: list[dict]) -> str:
    return ", ".join(f"{r['name']} (`{r['command']}`) " + _word(r) for r in results) or "no checks"


def _word(r: dict | None) -> str:
    if r is None:
        return "not run"
    if r["exit_code"] is None:
        return f"did not run ({r.get('skipped_reason') or 'skipped'})"
    return "passed" if r["passed"] else f"failed (exit {r['exit_code']})"


def regressions(before: list[dict], after: list[dict]) -> list[dict]:
    """The checks after the change that fail where the same command passed before it."""
    passed = {r["command"] for r in before if r["passed"]}
    return [r for r in after if r["command"] in passed and r["exit_code"] is not None and not r["passed"]]


def table(before: list[dict], after: list[dict]) -> str:
    """Before/after as a Markdown table (for the pull request's body)."""
    by_cmd = {r["command"]: r for r in before}
    rows = ["| check | before the change | after |", "|---|---|---|"]
    seen = set()
    for r in after:
        seen.add(r["command"])
        rows.append(f"| `{r['command']}` | {_word(by_cmd.get(r['command']))} | {_word(r)} |")
    for r in before:
        if r["command"] not in seen:
            rows.append(f"| `{r['command']}` | {_word(r)} | not run |")
    return "\n".join(rows) if len(rows) > 2 else "no checks ran"
