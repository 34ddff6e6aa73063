"""Search/replace edits from an answer, turned into whole files before anything is written.

An edit applies only where its search text occurs exactly once in the file
(as it is on disk, after the answer's earlier edits and files).  One that
does not apply makes the whole answer go back to the model, with the file's
current content, so it can aim again; nothing of that answer is written.
An edit whose search text is gone and whose replacement is there once was
applied before (a resumed run replaying its journal): it is skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .answers import Edit, FileOut
from .files import UnsafePath, check_path

#: how much of a file a correction quotes
QUOTE_CHARS = 12_000


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
            quoted = current if len(current) <= QUOTE_CHARS else current[:QUOTE_CHARS] + "\n... (cut)"
            problems.append(f"edit {n} on {e.path!r}: its search text {where}; it must occur exactly once. "
                            f"The file's current content:\n{quoted}")
            continue
        if e.path not in content:
            order.append(e.path)
        content[e.path] = current
    return [FileOut(p, content[p]) for p in order], problems
