"""The repository map: what every source file of a project defines (classes,
functions, methods, types, with their signatures), read by a real parser
(tree-sitter), ranked for the question at hand and cut to a token budget.

Why: work on existing code needs the model to know what is there without
sending every file.  A bare list of names says nothing of a file's interface;
whole files do not fit.  The map sits between: the definitions, with the files
that matter for the task first.

    rm = RepoMap()
    outlines = rm.outlines(root, paths)          # parsed, cached by content
    text = render(rank(outlines, query), budget_tokens=2000)

Ranking (:func:`rank`), per file: the task names its path (+20) or its stem
(or every part of it: ``_data_table`` for DataTable, +8); each definition whose name the task names (+6) or a part of whose name
it names (+1, up to 4); references to names defined in files the task is about (+1
each, up to 10); and how many other files use what it defines (log-scaled).
Files with the same score keep path order, so the map is stable.

Parsing is cached by content (a file's SHA-1 and language), so a second map of
the same commit parses nothing; :meth:`RepoMap.outlines` takes an optional
commit id and keeps the whole result for it.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable

#: file suffix -> tree-sitter-language-pack language name
LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".rs": "rust", ".go": "go", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".swift": "swift", ".dart": "dart", ".ex": "elixir", ".exs": "elixir",
    ".hs": "haskell", ".zig": "zig", ".lua": "lua", ".sh": "bash",
}

#: syntax node type -> what the map calls it (the same names recur across grammars)
DEFINITIONS: dict[str, str] = {
    "class_definition": "class", "class_declaration": "class", "abstract_class_declaration": "class",
    "class_specifier": "class", "class": "class", "object_declaration": "object", "object_definition": "object",
    "function_definition": "function", "function_declaration": "function", "function_item": "function",
    "generator_function_declaration": "function", "function_signature_item": "function",
    "method_definition": "method", "method_declaration": "method", "constructor_declaration": "method",
    "method": "method", "singleton_method": "method",
    "interface_declaration": "interface", "protocol_declaration": "interface", "trait_item": "trait",
    "trait_definition": "trait", "type_alias_declaration": "type", "type_spec": "type", "type_item": "type",
    "enum_declaration": "enum", "enum_item": "enum", "enum_specifier": "enum",
    "struct_item": "struct", "struct_specifier": "struct", "impl_item": "impl",
    "mod_item": "module", "module": "module", "macro_definition": "macro",
}
#: nodes whose text is a name another file may use
_NAME_NODES = {"identifier", "type_identifier", "field_identifier", "property_identifier", "constant",
               "simple_identifier", "package_identifier"}
#: a ``const f = () => ...`` is a function definition in all but syntax
_FUNCTION_VALUES = {"arrow_function", "function_expression", "function", "class", "generator_function"}
MAX_FILE_BYTES = 512 * 1024
MAX_SIGNATURE = 160
_CACHE_FILES = 50_000
_CACHE_COMMITS = 16


class RepoMapUnavailable(RuntimeError):
    """tree-sitter or its grammars are missing; the message says what to install."""


@dataclass(frozen=True)
class Definition:
    kind: str
    name: str
    #: the definition's head as written (up to its body), whitespace folded
    signature: str
    line: int
    #: how many definitions enclose it (a method in a class: 1)
    depth: int


@dataclass
class FileOutline:
    path: str
    language: str
    definitions: list[Definition] = field(default_factory=list)
    #: the names the file uses (identifiers), to tell which files use which
    references: frozenset[str] = frozenset()


@dataclass
class Ranked:
    outline: FileOutline
    score: float
    #: names of its definitions the query names (kept when the outline is shortened)
    focus: frozenset[str] = frozenset()


def language_of(path: str) -> str | None:
    return LANGUAGES.get(PurePosixPath(path).suffix.lower())


_grammars: dict[str, tuple[object, object]] = {}


def _grammar(language: str):
    """(parser, query) for a language: the query captures the definition nodes
    and the name nodes that grammar has, so matching runs in tree-sitter, not
    in a Python walk over every node."""
    found = _grammars.get(language)
    if found is None:
        try:
            from tree_sitter import Query
            from tree_sitter_language_pack import get_language, get_parser
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise RepoMapUnavailable(
                "the repository map needs tree-sitter and tree-sitter-language-pack (pip install octra)") from exc
        lang = get_language(language)
        has = [t for t in sorted({*DEFINITIONS, "variable_declarator"}) if lang.id_for_node_kind(t, True) is not None]
        names = [t for t in sorted(_NAME_NODES) if lang.id_for_node_kind(t, True) is not None]
        source = " ".join(f"({t}) @def" for t in has) + " " + " ".join(f"({t}) @ref" for t in names)
        found = _grammars[language] = (get_parser(language), Query(lang, source))
    return found


def outline(path: str, data: bytes, language: str | None = None) -> FileOutline | None:
    """The definitions and references of one file (None: not a language the map reads)."""
    from tree_sitter import QueryCursor

    language = language or language_of(path)
    if language is None or len(data) > MAX_FILE_BYTES:
        return None
    parser, query = _grammar(language)
    captures = QueryCursor(query).captures(parser.parse(data).root_node)
    refs = frozenset(data[n.start_byte:n.end_byte].decode("utf-8", "replace") for n in captures.get("ref", ()))
    defs: list[Definition] = []
    open_ends: list[int] = []  # end bytes of the definitions enclosing the current one
    for node in sorted(captures.get("def", ()), key=lambda n: (n.start_byte, -n.end_byte)):
        kind = DEFINITIONS.get(node.type)
        if node.type == "variable_declarator":
            value = node.child_by_field_name("value")
            kind = "function" if value is not None and value.type in _FUNCTION_VALUES else None
        if kind is None:
            continue
        while open_ends and open_ends[-1] <= node.start_byte:
            open_ends.pop()
        d = _definition(node, kind, data, len(open_ends))
        if d is not None:
            defs.append(d)
            open_ends.append(node.end_byte)
    return FileOutline(path, language, defs, refs)


def _definition(node, kind: str, data: bytes, depth: int) -> Definition | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.child_by_field_name("declarator") is not None:
            declarator = declarator.child_by_field_name("declarator")
        name_node = declarator
    if name_node is None and kind == "impl":
        name_node = node.child_by_field_name("type")
    if name_node is None:
        return None  # e.g. an anonymous struct
    name = data[name_node.start_byte:name_node.end_byte].decode("utf-8", "replace")
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None and body.start_byte > node.start_byte else node.end_byte
    head = data[node.start_byte:end].decode("utf-8", "replace")
    if body is None:
        head = head.split("\n", 1)[0]
    signature = " ".join(head.split()).rstrip(" {:=")
    if len(signature) > MAX_SIGNATURE:
        signature = signature[: MAX_SIGNATURE - 3] + "..."
    return Definition(kind, name, signature, node.start_point[0] + 1, depth)


class RepoMap:
    """Outlines of a project's files, parsed once per content (and kept per commit)."""

    def __init__(self) -> None:
        self._files: OrderedDict[tuple[str, str], FileOutline | None] = OrderedDict()
        self._commits: OrderedDict[tuple[str, str], list[FileOutline]] = OrderedDict()
        #: one map serves every task of a daemon, from worker threads
        self._lock = threading.Lock()

    def outlines(self, root: Path, paths: Iterable[str], commit: str | None = None) -> list[FileOutline]:
        """Outlines of ``paths`` (relative to ``root``) that the map can read; blocking."""
        with self._lock:
            return self._outlines(root, paths, commit)

    def _outlines(self, root: Path, paths: Iterable[str], commit: str | None) -> list[FileOutline]:
        root = Path(root).resolve()
        key = (str(root), commit) if commit else None
        if key is not None and key in self._commits:
            self._commits.move_to_end(key)
            return self._commits[key]
        out: list[FileOutline] = []
        for rel in sorted(set(paths)):
            language = language_of(rel)
            if language is None:
                continue
            pure = PurePosixPath(rel)
            if pure.is_absolute() or ".." in pure.parts:
                continue
            target = root / rel
            try:
                # a path is data: nothing outside the project is read, through a symlink or otherwise
                if target.is_symlink() or root not in target.resolve().parents:
                    continue
                if not target.is_file() or target.stat().st_size > MAX_FILE_BYTES:
                    continue
                data = target.read_bytes()
            except OSError:
                continue
            digest = (hashlib.sha1(data).hexdigest(), language)
            if digest in self._files:
                self._files.move_to_end(digest)
                cached = self._files[digest]
                found = None if cached is None else FileOutline(rel, language, cached.definitions, cached.references)
            else:
                try:
                    found = outline(rel, data, language)
                except (ValueError, LookupError):  # a grammar the pack lacks
                    found = None
                self._files[digest] = found
                if len(self._files) > _CACHE_FILES:
                    self._files.popitem(last=False)
            if found is not None:
                out.append(found)
        if key is not None:
            self._commits[key] = out
            if len(self._commits) > _CACHE_COMMITS:
                self._commits.popitem(last=False)
        return out


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_STOP = frozenset(
    "the and for with that this from into add make use new when not all any are can has have its let "
    "out should would will does def class function return file files code test tests".split())


def _parts(name: str) -> set[str]:
    return {p.lower() for chunk in name.split("_") for p in _PARTS.findall(chunk) if len(p) > 2}


def terms_of(query: str) -> set[str]:
    """The words of a task or issue that may name code (lowercased, no stop words)."""
    words = {w.lower() for w in _WORD.findall(query)}
    for w in _WORD.findall(query):
        words |= _parts(w)
    return words - _STOP


def rank(outlines: list[FileOutline], query: str) -> list[Ranked]:
    """The outlines, most relevant to ``query`` first (see the module's docstring)."""
    terms = terms_of(query)
    lowered = query.lower()
    defined: dict[str, set[str]] = {}
    for o in outlines:
        for d in o.definitions:
            defined.setdefault(d.name, set()).add(o.path)
    users: dict[str, int] = {}
    for o in outlines:
        for name in o.references:
            for path in defined.get(name, ()):
                if path != o.path:
                    users[path] = users.get(path, 0) + 1
    direct: dict[str, float] = {}
    focus: dict[str, frozenset[str]] = {}
    for o in outlines:
        p = PurePosixPath(o.path)
        score = 20.0 if o.path.lower() in lowered else 0.0
        stem = p.stem.strip("_").lower()
        if stem in terms or (_parts(p.stem) and _parts(p.stem) <= terms):
            score += 8
        partial = 0
        hits = set()
        for d in o.definitions:
            if d.name.lower() in terms:
                score += 6
                hits.add(d.name)
            elif _parts(d.name) & terms:
                partial += 1
                hits.add(d.name)
        direct[o.path] = score + min(partial, 4)
        focus[o.path] = frozenset(hits)
    hot = {name for name, paths in defined.items() if any(direct[p] > 0 for p in paths)}
    ranked = []
    for o in outlines:
        uses = min(10, len(o.references & hot))
        ranked.append(Ranked(o, direct[o.path] + uses + math.log1p(users.get(o.path, 0)), focus[o.path]))
    ranked.sort(key=lambda r: (-r.score, r.outline.path))
    return ranked


def approx_tokens(text: str) -> int:
    """A provider-neutral estimate (about four characters a token for code)."""
    return (len(text) + 3) // 4


#: tokens the closing "(+N more files not shown)" line may take
_CLOSING = 9


def render(ranked: list[Ranked], budget_tokens: int) -> str:
    """The map as text, best files first, within ``budget_tokens``.  A file gets
    its whole outline when it fits; else its top-level definitions and the ones
    the query names; else those alone; else its path.  What is left out is
    counted, so the model knows the map is partial; the count line is inside the budget."""
    lines: list[str] = []
    used = _CLOSING  # room kept for the closing count line
    shown = 0
    for r in ranked:
        o = r.outline
        block = None
        for keep in (lambda d: True, lambda d: d.depth == 0 or d.name in r.focus, lambda d: d.name in r.focus):
            defs = [d for d in o.definitions if keep(d)]
            if not defs and o.definitions:
                continue
            left = len(o.definitions) - len(defs)
            head = f"{o.path}:" if o.definitions else f"{o.path}: (no definitions)"
            if left:
                head = f"{o.path}: ({left} of {len(o.definitions)} definitions not shown)"
            candidate = [head] + [f"{'  ' * (d.depth + 1)}{d.signature}" for d in defs]
            cost = approx_tokens("\n".join(candidate)) + 1
            if used + cost <= budget_tokens:
                block = candidate
                break
        if block is None:
            block = [f"{o.path}: ({len(o.definitions)} definitions not shown)"]
            cost = approx_tokens(block[0]) + 1
            if used + cost > budget_tokens:
                break
        lines += block
        used += cost
        shown += 1
    if shown < len(ranked):
        lines.append(f"(+{len(ranked) - shown} more files not shown)")
    return "\n".join(lines)
