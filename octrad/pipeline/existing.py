"""Work on existing code: what the project held before this run, and the
repository map the prompts see of it.

A run on a project that already has files (a follow-up restored from its
snapshot, a GitHub issue's clone, ``--project P``) records those files once,
as the journal step ``existing``, before anything changes them: they are the
files a whole-file answer must not gut (:func:`.edits.rewrite_problems`), and
the reason the repository's own checks run before the change
(:mod:`.baseline`).

The map (:mod:`octrad.knowledge.repomap`) is built once per run, ranked for
the task and the issue, and goes to the Boss, the managers, the workers and
the debug step in the shared part of their prompts: the same bytes for every
call, so a provider's prompt cache keeps them.  What one job needs on top
(the files the map ranks for that job) is in the varying part, as content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import msgspec

from ..knowledge.repomap import RepoMap, RepoMapUnavailable, approx_tokens, language_of, rank, render
from .files import project_files

#: every task of the daemon shares one map: a file parsed once is parsed for all (cached by content)
MAP = RepoMap()
#: how many of the project's files the map looks at
MAX_FILES = 5000
#: share of the map's budget the names of the files it does not outline may take
NAMES_SHARE = 0.25


async def before(run: Any) -> list[str]:
    """The project's files as this run found them (journaled: a resume sees the same list)."""
    cached = await run.store.step(run.task_id, "existing")
    if cached is not None:
        return list(msgspec.json.decode(cached)["files"])
    files = await anyio.to_thread.run_sync(project_files, run.folder, MAX_FILES)
    await run.store.record(run.task_id, "existing", {"files": files})
    return files


def map_text(root: Path, paths: list[str], query: str, budget_tokens: int) -> str:
    """The map of ``paths`` ranked for ``query``, then the names of the files it does not
    outline (configuration, docs, data), all within ``budget_tokens``."""
    if budget_tokens <= 0 or not paths:
        return ""
    try:
        outlines = MAP.outlines(root, [p for p in paths if language_of(p)])
    except RepoMapUnavailable as exc:
        outlines, note = [], f"(no definitions: {exc})"
    else:
        note = ""
    read = {o.path for o in outlines}
    others = [p for p in paths if p not in read]
    names: list[str] = []
    room = int(budget_tokens * NAMES_SHARE)
    for p in others:
        if approx_tokens("\n".join([*names, p])) + 8 > room:
            names.append(f"(+{len(others) - len(names)} more)")
            break
        names.append(p)
    tail = ("\nOther files:\n" + "\n".join(names)) if names else ""
    head = render(rank(outlines, query), max(0, budget_tokens - approx_tokens(tail + note) - 2)) if outlines else ""
    return "\n".join(x for x in (note, head, tail.strip("\n")) if x)


def ranked_paths(root: Path, paths: list[str], query: str, k: int) -> list[str]:
    """The ``k`` source files the map ranks as most related to ``query`` (a score above zero)."""
    try:
        outlines = MAP.outlines(root, [p for p in paths if language_of(p)])
    except RepoMapUnavailable:
        return []
    return [r.outline.path for r in rank(outlines, query) if r.score > 0][:k]


async def prepare(run: Any) -> None:
    """``run.existing`` (the files found) and ``run.repo_map`` (its map, for the prompts)."""
    run.existing = await before(run)
    run.repo_map = ""
    if run.existing:
        query = f"{run.description}\n{run.issue_text}"
        run.repo_map = await anyio.to_thread.run_sync(
            map_text, run.folder, run.existing, query, run.opts.repo_map_tokens)


async def related(run: Any, text: str, k: int = 6) -> list[str]:
    """The project's files (as they are now) the map ranks for a job's text."""
    listed = await run.files_now()
    return await anyio.to_thread.run_sync(ranked_paths, run.folder, listed, text, k)
