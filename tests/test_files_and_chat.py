"""Safe file writes (hostile paths from an AI) and group chat speaker order."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from octrad.pipeline.files import MAX_FILE_BYTES, UnsafePath, check_path, write_file
from octrad.pipeline.groupchat import layer_of, speakers


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link-out")
    os.symlink(root / "inside.txt", root / "link-in")
    return root


@pytest.mark.parametrize(
    "path,reason",
    [
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("/etc/passwd", "absolute"),
        ("~/x", "absolute"),
        (".git/config", ".git"),
        ("./.git/hooks/pre-commit", ".git"),
        ("link-out/x.txt", "symlink"),
        ("link-in", "symlink"),
        ("", "empty"),
        ("a\\..\\b", "backslash"),
        ("a\0b", "NUL"),
        (".", "not a file"),
        ("x" * 400, "longer"),
    ],
)
def test_hostile_paths_are_refused(project, path, reason):
    with pytest.raises(UnsafePath, match=reason):
        write_file(project, path, "pwned")
    assert not (project.parent / "x").exists() and not list((project.parent / "outside").iterdir())


def test_good_paths_are_written_and_normalised(project):
    assert write_file(project, "./src//main.rs", "fn main() {}\n") == ("src/main.rs", True)
    assert write_file(project, "src/main.rs", "fn main() {}\n") == ("src/main.rs", False)
    assert (project / "src" / "main.rs").read_text() == "fn main() {}\n"
    path, changed = write_file(project, "run.sh", "#!/bin/sh\necho hi\n")
    assert changed and os.access(project / path, os.X_OK)
    with pytest.raises(UnsafePath, match="cap"):
        write_file(project, "big.txt", "x" * (MAX_FILE_BYTES + 1))
    (project / "dir").mkdir()
    with pytest.raises(UnsafePath, match="directory"):
        check_path(project, "dir")


@dataclass
class W:
    index: int
    role: str
    next: str | None = None


def test_selectors():
    ws = [W(1, "tests"), W(2, "api"), W(3, "database models"), W(4, "web ui")]
    # every round is sequential now (round 1 too): each round starts one speaker later
    assert [w.index for w in speakers("round_robin", ws, 1)] == [1, 2, 3, 4]
    assert [w.index for w in speakers("round_robin", ws, 2)] == [2, 3, 4, 1]
    assert [w.role for w in speakers("role_based", ws, 2)] == ["database models", "api", "web ui", "tests"]
    assert layer_of("Docs") > layer_of("tests") > layer_of("frontend")
    # agent based: each speaker names the next; unknown names fall to the first not yet heard
    ws[0].next, ws[2].next, ws[3].next = "web ui", "nobody", None
    order = []
    for w in speakers("agent_based", ws, 2):
        order.append(w.index)
    assert order == [1, 4, 2, 3]
    with pytest.raises(ValueError):
        list(speakers("all_at_once", ws, 2))


async def test_octras_commits_run_no_hooks(tmp_path, monkeypatch):
    """A command may leave a repository with hooks in the project; Octra's own git
    neither uses it nor runs its hooks (its repository lives in the data folder)."""
    import subprocess

    from octrad import statedirs
    from octrad.pipeline.gitrepo import ProjectRepo, git

    monkeypatch.setattr(statedirs, "_data_dir", tmp_path / "data")
    project = tmp_path / "p"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    ran = tmp_path / "hook-ran"
    hooks = project / "myhooks"
    hooks.mkdir()
    for name in ("pre-commit", "commit-msg", "post-commit"):
        (hooks / name).write_text(f"#!/bin/sh\necho {name} >> '{ran}'\n")
        (hooks / name).chmod(0o755)
    subprocess.run(["git", "-C", str(project), "config", "core.hooksPath", str(hooks)], check=True)
    (project / "a.txt").write_text("a")
    (project / "b.txt").write_text("b")
    repo = ProjectRepo(project)
    try:
        repo.record({"a.txt": b"a"}, "first", "writer")
        repo.record({"b.txt": b"b"}, "second", "writer")
        (project / "c.txt").write_text("c")
        assert await repo.commit_all("all", "writer")
    finally:
        repo.close()
    log = git(project, "log", "--format=%s").stdout.decode().split()
    assert log == ["all", "second", "first"]
    assert subprocess.run(["git", "-C", str(project), "log"], capture_output=True).returncode != 0, \
        "the command's own .git got no commit"
    assert not ran.exists(), ran.read_text()


@pytest.mark.parametrize("description, name", [
    ("утилита командной строки на Rust", "utilita-komandnoy-stroki-na-rust"),
    ("计算器 in Go", "jisuanqi-in-go"),
    ("Un petit outil élégant pour compter", "un-petit-outil-elegant-pour-compter"),
    ("A tiny greeter", "tiny-greeter"),
    ("!!!", "project"),
])
def test_project_names_keep_the_words_of_any_script(description, name):
    """Non-Latin descriptions gave 'rust', 'rust-2': two projects that look the same."""
    from octrad.projects import slugify

    assert slugify(description) == name
