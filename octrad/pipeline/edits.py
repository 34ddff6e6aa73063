"""Search/replace edits from an answer, turned into whole files before anything is written.

An edit applies only where its search text occurs exactly once in the file
(as it is on disk, after the answer's earlier edits and files).  One that
does not apply makes the whole answer go back to the model, with the file's
current content, so it can aim again; nothing of that answer is written.
An edit whose search text is gone and whose replacement is there once was
applied before (a resumed run replaying its journal): it is skipped.

Whole files for a file that existed before the task (:func:`rewrite_problems`)
are accepted only when they keep what the job was not asked to change.  The
rule, judged against the file as it is now: a file of fewer than
:data:`MIN_LINES` non-blank lines may be rewritten freely; a bigger one must
keep every definition the repository map reads in it (classes, functions,
methods) unless the job's text names it, and at least :data:`KEEP_SHARE` of
its non-blank lines word for word.  An answer that fails goes back with the
reason and the file's content, asking for edits instead.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from .answers import Edit, FileOut
from .files import UnsafePath, check_path

#: how much of a file a correction quotes
QUOTE_CHARS = 12_000
#: existing files this small may be rewritten whole
MIN_LINES = 12
#: the share of an existing file's non-blank lines a whole-file answer must keep
KEEP_SHARE = 0.6


def _quote(current: str) -> str:
    return current if len(current) <= QUOTE_CHARS else current[:QUOTE_CHARS] + "\n... (cut)"


def resolve(root: Path, files: Sequence[FileOut], edits: Sequence[Edit]) -> tuple[list[FileOut], list[str]]:
    """The answer's files with its edits applied, and the problems of the edits that do not apply."""
    content: dict[str, str] = {f.path: f.content for f in files}
    order = list(content)
    problems: list[str] = []
    for n, e in enumerate(edits, 1):
        current = content.get(e.path)
        if current is None:
            try:
                current = check_path(root, e.path).read_text(encoding="utf-8")
            except UnsafePath as exc:
                problems.append(f"edit {n}: {exc}")
                continue
            except (OSError, UnicodeDecodeError):
                problems.append(f"edit {n}: {e.path!r} does not exist (give its whole content in files instead)")
                continue
        hits = current.count(e.search)
        if hits == 1:
            current = current.replace(e.search, e.replace, 1)
        elif hits == 0 and e.replace and current.count(e.replace) == 1:
            pass  # applied before
        else:
            where = "does not occur" if hits == 0 else f"occurs {hits} times"
            problems.append(f"edit {n} on {e.path!r}: its search text {where}; it must occur exactly once. "
                            f"The file's current content:\n{_quote(current)}")
            continue
        if e.path not in content:
            order.append(e.path)
        content[e.path] = current
    return [FileOut(p, content[p]) for p in order], problems


def _definitions(path: str, text: str) -> set[str]:
    from ..knowledge.repomap import RepoMapUnavailable, outline

    try:
        found = outline(path, text.encode())
    except (RepoMapUnavailable, ValueError, LookupError):
        return set()
    return {d.name for d in found.definitions} if found else set()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def rewrite_problems(root: Path, files: Sequence[FileOut], existing: Iterable[str], job: str) -> list[str]:
    """Why the answer's whole files for files of ``existing`` drop what ``job`` did not ask to change."""
    keep = set(existing)
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", job))
    problems: list[str] = []
    for n, f in enumerate(files, 1):
        if f.path not in keep:
            continue
        try:
            current = check_path(root, f.path).read_text(encoding="utf-8")
        except (UnsafePath, OSError, UnicodeDecodeError):
            continue
        old = _lines(current)
        if len(old) < MIN_LINES or f.content == current:
            continue
        new = Counter(_lines(f.content))
        kept = sum(min(c, new[line]) for line, c in Counter(old).items())
        gone = sorted(_definitions(f.path, current) - _definitions(f.path, f.content) - named)
        share = kept / len(old)
        why = []
        if gone:
            why.append(f"drops {', '.join(gone[:12])}{' ...' if len(gone) > 12 else ''}, which your job does not name")
        if share < KEEP_SHARE:
            why.append(f"keeps only {share:.0%} of its {len(old)} lines (at least {KEEP_SHARE:.0%} must stay)")
        if why:
            problems.append(
                f"files {n}: {f.path!r} existed before this task and your whole-file answer {' and '.join(why)}. "
                "Change an existing file with edits ({path, search, replace} around only what your job changes), "
                f"or give it whole with everything you were not asked to change. Its current content:\n{_quote(current)}")
    return problems
