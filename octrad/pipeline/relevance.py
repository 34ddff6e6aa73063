"""Which project files a prompt shows, within a budget.

Files the question is about come first (the ones a failing check's output
names, the files a team depends on), then the other sources; lock files,
generated and vendored files are only summarised (kind and size), so a
100 KB ``package-lock.json`` never pushes ``src/`` out of a prompt.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Iterable

from .files import UnsafePath, check_path, read_files

LOCK_FILES = {
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "Cargo.lock",
    "poetry.lock", "Pipfile.lock", "uv.lock", "pdm.lock", "composer.lock", "Gemfile.lock", "go.sum", "flake.lock",
    "mix.lock", "pubspec.lock", "gradle.lockfile", "packages.lock.json", "Package.resolved", "cabal.project.freeze",
}
VENDORED_DIRS = {"node_modules", "vendor", "third_party", "third-party", ".venv", "venv", "site-packages", "deps"}
GENERATED_DIRS = {"dist", "build", "target", "out", "_build", "__pycache__", ".next", "coverage", "zig-out", ".zig-cache"}
GENERATED_SUFFIXES = (".min.js", ".min.css", ".map", ".pyc", ".class", ".o", ".so", ".a", ".wasm", ".lock", "_pb2.py", ".pb.go")
#: one file never takes more than this share of a budget
MAX_SHARE = 0.5


def kind_of(path: str) -> str:
    """``source``, ``lock``, ``generated`` or ``vendored``."""
    p = PurePosixPath(path)
    if p.name in LOCK_FILES:
        return "lock"
    parts = set(p.parts[:-1])
    if parts & VENDORED_DIRS:
        return "vendored"
    if parts & GENERATED_DIRS or p.name.endswith(GENERATED_SUFFIXES):
        return "generated"
    return "source"


_NAMED = re.compile(r"[\w./-]+\.[A-Za-z0-9]{1,8}")


def named_in(text: str, paths: Iterable[str]) -> list[str]:
    """The project paths a command's output mentions (full paths or, when unique, a bare file name)."""
    known = list(paths)
    by_name: dict[str, list[str]] = {}
    for p in known:
        by_name.setdefault(PurePosixPath(p).name, []).append(p)
    found: list[str] = []
    for token in _NAMED.findall(text):
        token = token.strip("./") if token.startswith("./") else token
        for p in known:
            if token == p or token.endswith("/" + p):
                found.append(p)
                break
        else:
            cands = by_name.get(PurePosixPath(token).name, [])
            if len(cands) == 1:
                found.append(cands[0])
    return list(dict.fromkeys(found))


def pick(root: Path, paths: Iterable[str], budget: int, first: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(path, text) of files for a prompt, best first, within ``budget`` characters.

    ``first`` are read before anything else; then sources; lock, generated and
    vendored files come last as a one-line summary each."""
    listed = list(dict.fromkeys(paths))
    wanted = [p for p in dict.fromkeys(first) if p in listed or (root / p).is_file()]
    rest = [p for p in listed if p not in wanted]
    sources = [p for p in wanted if kind_of(p) == "source"] + [p for p in rest if kind_of(p) == "source"]
    other = [p for p in [*wanted, *rest] if kind_of(p) != "source"]
    out: list[tuple[str, str]] = []
    used = 0
    cap = max(1, int(budget * MAX_SHARE))
    for rel in sources:
        left = min(budget - used, cap)
        if left < 200:
            break
        got = read_files(root, [rel], max_bytes=left)
        if got:
            out.append(got[0])
            used += len(got[0][1]) + len(rel) + 8
    for rel in other:
        line = _summary(root, rel)
        if line is None or used + len(line) > budget:
            continue
        out.append((rel, line))
        used += len(line) + len(rel) + 8
    return out


def _summary(root: Path, rel: str) -> str | None:
    try:
        size = os.path.getsize(check_path(root, rel))
    except (UnsafePath, OSError):
        return None
    return f"({kind_of(rel)} file, {size} bytes: summarised, content not shown)"


def render(files: list[tuple[str, str]], who: dict[str, str] | None = None) -> str:
    """Files as prompt text: a ``### path`` heading (with its author, when known) and the content."""
    who = who or {}
    return "\n".join(f"### {p}" + (f" (by {who[p]})" if p in who else "") + f"\n{c}" for p, c in files)
