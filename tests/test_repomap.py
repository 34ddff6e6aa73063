"""The repository map: real tree-sitter outlines, ranking for a task, the token budget, the cache."""

from __future__ import annotations

from pathlib import Path

from octrad.knowledge.repomap import RepoMap, approx_tokens, outline, rank, render

PY = b'''"""notes storage"""
import json


class NoteStore:
    """Keeps notes in a JSON file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def add(self, title: str, body: str = "") -> int:
        return 1

    @property
    def count(self) -> int:
        return 0


def load_notes(path: str) -> list[dict]:
    return json.loads(open(path).read())
'''


def sig(o):
    return [(d.kind, d.name, d.depth) for d in o.definitions]


def test_python_outline_has_classes_methods_and_signatures():
    o = outline("notes/store.py", PY)
    assert sig(o) == [
        ("class", "NoteStore", 0), ("function", "__init__", 1), ("function", "add", 1),
        ("function", "count", 1), ("function", "load_notes", 0),
    ]
    sigs = [d.signature for d in o.definitions]
    assert "def add(self, title: str, body: str = \"\") -> int" in sigs
    assert "def load_notes(path: str) -> list[dict]" in sigs
    assert "json" in o.references and "NoteStore" in o.references
    # bodies are not part of the map
    assert not any("return" in s for s in sigs)


def test_other_languages():
    js = outline("src/a.js", b"export function add(a, b) { return a + b }\n"
                             b"class Box { get() { return 1 } }\nconst mul = (a, b) => a * b;\nconst n = 3;\n")
    assert sig(js) == [("function", "add", 0), ("class", "Box", 0), ("method", "get", 1), ("function", "mul", 0)]
    ts = outline("src/s.ts", b"export interface Shape { area(): number }\nexport type Id = string;\n"
                             b"export class Sq implements Shape { area(): number { return 1 } }\n")
    assert [d.name for d in ts.definitions] == ["Shape", "Id", "Sq", "area"]
    rs = outline("src/main.rs", b"pub struct P { x: i32 }\nimpl P { pub fn new(x: i32) -> Self { P { x } } }\n"
                                b"fn main() {}\n")
    assert sig(rs) == [("struct", "P", 0), ("impl", "P", 0), ("function", "new", 1), ("function", "main", 0)]
    assert "pub fn new(x: i32) -> Self" in [d.signature for d in rs.definitions]
    go = outline("main.go", b"package main\ntype P struct { X int }\nfunc (p *P) Get() int { return p.X }\n")
    assert [(d.kind, d.name) for d in go.definitions] == [("type", "P"), ("method", "Get")]
    c = outline("src/add.c", b"#include <stdio.h>\nstatic int add(int a, int b) { return a + b; }\n")
    assert [(d.kind, d.name) for d in c.definitions] == [("function", "add")]
    assert outline("README.md", b"# hi") is None


def _project(tmp_path: Path) -> tuple[Path, list[str]]:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "store.py").write_bytes(PY)
    (tmp_path / "notes" / "cli.py").write_text(
        "from notes.store import NoteStore\n\ndef main(argv):\n    NoteStore('x').add(argv[0])\n")
    (tmp_path / "notes" / "colors.py").write_text("def paint(text, colour):\n    return text\n")
    (tmp_path / "notes" / "big.py").write_text(
        "".join(f"def helper_{i}(value_{i}: int) -> int:\n    return {i}\n\n" for i in range(300)))
    (tmp_path / "data.bin").write_bytes(b"\0\1")
    return tmp_path, ["notes/store.py", "notes/cli.py", "notes/colors.py", "notes/big.py", "data.bin"]


def test_ranking_puts_the_files_the_task_names_first(tmp_path):
    root, paths = _project(tmp_path)
    outlines = RepoMap().outlines(root, paths)
    assert sorted(o.path for o in outlines) == sorted(p for p in paths if p.endswith(".py"))
    order = [r.outline.path for r in rank(outlines, "add a --tag option to NoteStore.add")]
    assert order[0] == "notes/store.py"
    # the CLI uses NoteStore: related, so it comes before unrelated files
    assert order.index("notes/cli.py") < order.index("notes/colors.py")
    assert order.index("notes/cli.py") < order.index("notes/big.py")


def test_render_fits_the_budget_and_says_what_is_left_out(tmp_path):
    root, paths = _project(tmp_path)
    ranked = rank(RepoMap().outlines(root, paths), "NoteStore add")
    whole = render(ranked, 100_000)
    assert "class NoteStore" in whole and "def helper_299(value_299: int) -> int" in whole
    assert "not shown" not in whole
    for budget in (60, 150, 400):
        text = render(ranked, budget)
        assert approx_tokens(text) <= budget  # the closing count line included
        assert text.splitlines()[0].startswith("notes/store.py")
    small = render(ranked, 150)
    assert "class NoteStore" in small
    assert "not shown" in small  # big.py cannot fit: counted, not silently dropped


def test_cache_by_content_and_commit(tmp_path):
    root, paths = _project(tmp_path)
    rm = RepoMap()
    first = {o.path: o for o in rm.outlines(root, paths)}
    again = {o.path: o for o in rm.outlines(root, paths)}
    # a second map of unchanged files reuses the parsed definitions (no parse)
    assert all(again[p].definitions is first[p].definitions for p in first)
    (root / "notes" / "colors.py").write_text("def paint(text, colour):\n    return text\n\ndef fade(text):\n    pass\n")
    changed = {o.path: o for o in rm.outlines(root, paths)}
    assert [d.name for d in changed["notes/colors.py"].definitions] == ["paint", "fade"]
    assert changed["notes/store.py"].definitions is first["notes/store.py"].definitions
    by_commit = rm.outlines(root, paths, commit="abc123")
    assert rm.outlines(root, paths, commit="abc123") is by_commit


def test_hostile_files_are_skipped(tmp_path):
    root, paths = _project(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-secret.py"
    outside.write_text("def secret_function():\n    pass\n")
    (root / "notes" / "link.py").symlink_to(outside)
    (root / "notes" / "huge.py").write_bytes(b"x = 1\n" * 200_000)
    (root / "notes" / "broken.py").write_bytes(b"def (((:\n\xff\xfe")
    outlines = RepoMap().outlines(root, [*paths, "notes/link.py", "notes/huge.py", "notes/broken.py", "../x.py"])
    found = {o.path for o in outlines}
    assert "notes/link.py" not in found and "notes/huge.py" not in found
    assert "notes/broken.py" in found  # tree-sitter parses broken code; it simply defines nothing usable
    assert not any(d.name == "secret_function" for o in outlines for d in o.definitions)
