"""Work on existing code, through a real daemon: follow-ups and GitHub issues
change what is there without destroying it.

A small Python package (a few modules and their tests) and a Node.js package
are built by a first task, then changed by a follow-up; the scripted fake
provider (a real loopback server speaking OpenAI's wire format) answers, and
every assertion on what the model saw reads the requests it received.  The
repository's own tests run for real (pytest, ``node --test``), in the sandbox.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from octrad.knowledge.repomap import approx_tokens
from octrad.pipeline.prompts import MAP_TITLE
from tests.fakes.ai_script import Script, files, plan, staff
from tests.fakes.github import FakeGitHub
from tests.fakes.providers import FakeProvider
from tests.tasks import events_of, use_fake, wait_status

CORRECTION = "Your previous answer fits the schema but cannot be used"


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


def section(prompt: str, title: str) -> str:
    head = f"## {title}\n"
    return prompt.split(head, 1)[1].split("\n## ", 1)[0] if head in prompt else ""


def project_file(daemon, task: dict, path: str) -> str:
    """A file of the task's project as the task left it (its snapshot, else the working folder)."""
    if task["store_path"]:
        return (Path(task["store_path"]) / path).read_text()
    (root,) = [p for p in (Path(daemon.oenv.data_dir) / "projects").iterdir()
               if p.name == task["project"] or p.name.startswith(task["project"] + "-")]
    return (root / path).read_text()


# -- a Python package ------------------------------------------------------------

TEXT_PY = '''"""Text helpers."""

import re

GREETING = "hello"


def shout(text: str) -> str:
    """Upper case, with one exclamation mark."""
    return text.upper() + "!"


def slugify(text: str) -> str:
    """Lower case words joined by dashes."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)


class Banner:
    """A framed line of text."""

    def __init__(self, text: str, width: int = 20) -> None:
        self.text = text
        self.width = width

    def render(self) -> str:
        line = "*" * self.width
        return f"{line}\\n{self.text.center(self.width)}\\n{line}"
'''
NUMBERS_PY = '''"""Number helpers."""


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def mean(values: list[float]) -> float:
    return sum(values) / len(values)
'''
#: modules that have nothing to do with the follow-up: the map must rank them after text.py
FILLER = {
    f"textkit/extra_{i}.py": "".join(f"def helper_{i}_{j}(a, b, c):\n    return a + b + c + {j}\n\n\n"
                                     for j in range(12))
    for i in range(6)
}
TEST_TEXT = '''from textkit.text import Banner, shout, slugify


def test_shout():
    assert shout("hi").startswith("HI!")


def test_slugify():
    assert slugify("Hello, World") == "hello-world"


def test_banner():
    assert "hi" in Banner("hi").render()
'''
TEST_NUMBERS = '''from textkit.numbers import clamp, mean


def test_clamp():
    assert clamp(5, 0, 3) == 3


def test_mean():
    assert mean([1, 2, 3]) == 2
'''
PYPROJECT = '''[project]
name = "textkit"
version = "0.1.0"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
'''
PACKAGE = {"pyproject.toml": PYPROJECT, "textkit/__init__.py": '"""textkit."""\n', "textkit/text.py": TEXT_PY,
           "textkit/numbers.py": NUMBERS_PY, "tests/test_text.py": TEST_TEXT,
           "tests/test_numbers.py": TEST_NUMBERS, **FILLER}
PYTEST = "python3 -B -m pytest -q -p no:cacheprovider"
OLD_SHOUT = '    return text.upper() + "!"\n'
NEW_SHOUT = '    return text.upper() + "!!!"\n'


def build_script(package: dict[str, str], checks: list[dict], follow_up) -> Script:
    """A first task that writes ``package`` whole; the follow-up (its prompt names "FOLLOW-UP") answered
    by ``follow_up[question](ask, n)``."""

    def pick(question, first):
        def answer(ask, n):
            if "FOLLOW-UP" in ask.prompt:
                return follow_up[question](ask, n)
            return first(ask, n)
        return answer

    return Script(
        plan=pick("plan", lambda a, n: plan(("core", "the package"), checks=checks,
                                            files=[{"path": p, "owner": "core"} for p in package])),
        staff=pick("staff", lambda a, n: staff(("writer", "the whole package", list(package)))),
        work=pick("work", lambda a, n: files(*package.items())),
        review=lambda a, n: {"approved": True},
        validate=lambda a, n: {"approved": True},
    )


async def test_python_follow_up_edits_one_function_and_keeps_the_rest_byte_identical(daemon, fake):
    def follow_work(ask, n):
        if n == 1:  # aimed at text that is not in the file: sent back with the file's content
            return {"edits": [{"path": "textkit/text.py", "search": "return text.upper() + '!'",
                               "replace": "return text.upper() + '!!!'"}], "done": True}
        return {"edits": [{"path": "textkit/text.py", "search": OLD_SHOUT, "replace": NEW_SHOUT}], "done": True}

    follow = {
        "plan": lambda a, n: plan(("core", "change shout"), checks=[],
                                  files=[{"path": "textkit/text.py", "owner": "core", "purpose": "shout"}]),
        "staff": lambda a, n: staff(("editor", "make shout end with three exclamation marks", ["textkit/text.py"])),
        "work": follow_work,
    }
    script = build_script(PACKAGE, [{"name": "test", "command": PYTEST}], follow)
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        first = (await c.call("task.create", {"description": "a text helpers package", "provider": "fake",
                                              "project": "textkit", "meta": {"repo_map_tokens": 300}}))["task_id"]
        t1 = await wait_status(c, first, timeout=120)
        assert t1["status"] == "done" and t1["verified"] is True, (t1["error"], t1["checks"])
        before = project_file(daemon, t1, "textkit/text.py")
        assert before == TEXT_PY
        fake.requests.clear()
        second = (await c.call("task.message", {"task_id": first, "content":
                                                "FOLLOW-UP: make shout() end with three exclamation marks"}))["task_id"]
        t2 = await wait_status(c, second, timeout=120)
        assert t2["status"] == "done", t2["error"]
    # the one function changed; every other byte of the file is as it was
    after = project_file(daemon, t2, "textkit/text.py")
    assert after == TEXT_PY.replace(OLD_SHOUT, NEW_SHOUT) and after != TEXT_PY
    for path, content in PACKAGE.items():
        if path != "textkit/text.py":
            assert project_file(daemon, t2, path) == content, path

    reqs = list(fake.requests)
    work = [r for r in reqs if "Write the files of one job" in r.messages[0]["content"]]
    assert len(work) == 2
    # the missed edit went back with the reason and the file's current content, and was answered again
    retry = work[1].messages
    assert retry[-1]["content"].startswith(CORRECTION) and "its search text does not occur" in retry[-1]["content"]
    assert "The file's current content:\n" + TEXT_PY in retry[-1]["content"]
    assert retry[-2]["role"] == "assistant" and "text.upper() + '!'" in retry[-2]["content"]

    # the repository map replaced the bare file list: the Boss and the worker see the same one,
    # holding text.py's definitions with signatures, ranked first, within its budget
    (boss,) = [r for r in reqs if "Decide how to build the task" in r.messages[0]["content"]]
    boss_map = section(boss.prompt, MAP_TITLE)
    assert boss_map.startswith("textkit/text.py:\n")
    for sig in ("def shout(text: str) -> str", "def slugify(text: str) -> str", "class Banner",
                "def render(self) -> str"):
        assert sig in boss_map, sig
    assert approx_tokens(boss_map) <= 300
    assert "more files not shown" in boss_map or "definitions not shown" in boss_map  # the filler was cut
    assert "pyproject.toml" in boss_map  # files the map does not outline are named
    assert "Files already in the project" not in boss.prompt
    assert section(work[0].prompt, MAP_TITLE) == boss_map
    # the map is in the cached shared part of the prompt, the job in the varying part
    shared = work[0].messages[1]["content"]
    assert MAP_TITLE in shared and "## Your job" not in shared
    # the worker saw the current content of the file it changes
    assert "### textkit/text.py\n" + TEXT_PY.rstrip() in section(work[0].prompt, "Your files (current content: change them with edits)")

    # the repository's tests ran before the change and after it (the plan had none: they were added)
    assert [(c["name"], c["command"], c["passed"]) for c in t2["checks"]] == [("test", PYTEST, True)]
    assert f"before the change: test (`{PYTEST}`) passed" in t2["notes"]
    assert f"after the change: test (`{PYTEST}`) passed" in t2["notes"]


async def test_a_check_that_passed_before_and_fails_after_goes_to_debug_as_a_regression(daemon, fake):
    broken = TEXT_PY.replace('    return "-".join(words)\n', '    return "_".join(words)\n')

    def follow_work(ask, n):
        return {"edits": [{"path": "textkit/text.py", "search": '    return "-".join(words)\n',
                           "replace": '    return "_".join(words)\n'}], "done": True}

    def debug(ask, n):
        return {"edits": [{"path": "textkit/text.py", "search": '    return "_".join(words)\n',
                           "replace": '    return "-".join(words)\n'}], "explanation": "slugify must use dashes"}

    follow = {"plan": lambda a, n: plan(("core", "change slugify"), checks=[]),
              "staff": lambda a, n: staff(("editor", "slugify", ["textkit/text.py"])), "work": follow_work}
    script = build_script(PACKAGE, [{"name": "test", "command": PYTEST}], follow)
    script.handlers["debug"] = debug
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        first = (await c.call("task.create", {"description": "a text helpers package", "provider": "fake"}))["task_id"]
        t1 = await wait_status(c, first, timeout=120)
        assert t1["status"] == "done", t1["error"]
        fake.requests.clear()
        second = (await c.call("task.message", {"task_id": first, "content": "FOLLOW-UP: underscores"}))["task_id"]
        t2 = await wait_status(c, second, timeout=120)
    assert t2["status"] == "done", t2["error"]
    (dbg,) = [r for r in fake.requests if "A check failed on the whole project" in r.messages[0]["content"]]
    assert "It passed before this task's change: the change broke it (a regression)" in dbg.prompt
    assert "### textkit/text.py\n" + broken.rstrip() in dbg.prompt
    assert project_file(daemon, t2, "textkit/text.py") == TEXT_PY


# -- a Node.js package: a whole-file answer that drops code is refused -------------

INDEX_JS = '''"use strict";

const DEFAULT_WIDTH = 20;

function greet(name) {
  return `Hello, ${name}!`;
}

function pad(text, width = DEFAULT_WIDTH) {
  return text.padEnd(width, ".");
}

function countWords(text) {
  return text.split(/\\s+/).filter(Boolean).length;
}

class Counter {
  constructor() {
    this.n = 0;
  }

  add(k = 1) {
    this.n += k;
    return this.n;
  }
}

module.exports = { greet, pad, countWords, Counter };
'''
TEST_JS = '''"use strict";
const test = require("node:test");
const assert = require("node:assert");
const { greet, pad, countWords, Counter } = require("../index.js");

test("greet", () => assert.ok(greet("Ann").startsWith("Hello, Ann")));
test("pad", () => assert.strictEqual(pad("a", 3), "a.."));
test("countWords", () => assert.strictEqual(countWords("a b  c"), 3));
test("Counter", () => assert.strictEqual(new Counter().add(2), 2));
'''
PACKAGE_JSON = '{\n  "name": "greeter",\n  "version": "1.0.0",\n  "scripts": {\n    "test": "node --test test/"\n  }\n}\n'
NODE = {"package.json": PACKAGE_JSON, "index.js": INDEX_JS, "test/index.test.js": TEST_JS}


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None, reason="node/npm is not installed")
async def test_node_whole_file_answer_that_drops_code_is_refused_and_retried(daemon, fake):
    old_greet = "  return `Hello, ${name}!`;\n"
    new_greet = "  return `Hello, ${name}! Welcome.`;\n"
    gutted = '"use strict";\n\nfunction greet(name) {\n' + new_greet + "}\n\nmodule.exports = { greet };\n"

    def follow_work(ask, n):
        if n == 1:  # the whole file, rewritten from nothing: pad, countWords and Counter are gone
            return files(("index.js", gutted))
        return {"edits": [{"path": "index.js", "search": old_greet, "replace": new_greet}], "done": True}

    follow = {"plan": lambda a, n: plan(("core", "greet"), stack="node", checks=[]),
              "staff": lambda a, n: staff(("editor", "make greet() say 'Welcome.' too", ["index.js"])),
              "work": follow_work}
    fake.responder = build_script(NODE, [{"name": "test", "command": "npm test"}], follow)
    async with daemon.connect() as c:
        await use_fake(c, fake)
        first = (await c.call("task.create", {"description": "a greeter package", "provider": "fake",
                                              "stack": "node"}))["task_id"]
        t1 = await wait_status(c, first, timeout=120)
        assert t1["status"] == "done" and t1["verified"] is True, (t1["error"], t1["checks"])
        fake.requests.clear()
        second = (await c.call("task.message", {"task_id": first, "content": "FOLLOW-UP: greet warmly"}))["task_id"]
        t2 = await wait_status(c, second, timeout=120)
        assert t2["status"] == "done", t2["error"]
        evs = await events_of(c, second)
    assert project_file(daemon, t2, "index.js") == INDEX_JS.replace(old_greet, new_greet)
    work = [r for r in fake.requests if "Write the files of one job" in r.messages[0]["content"]]
    assert len(work) == 2
    refusal = work[1].messages[-1]["content"]
    assert refusal.startswith(CORRECTION)
    assert "'index.js' existed before this task and your whole-file answer drops Counter, add, constructor, countWords, pad" in refusal
    assert "Change an existing file with edits" in refusal and "Its current content:\n" + INDEX_JS in refusal
    warned = [e.data["text"] for e in evs if e.kind == "agent.log" and e.data.get("correction")]
    assert warned and "whole-file answer drops" in warned[0]
    # the repository's own test script ran before and after
    assert "before the change: test (`npm test`) passed" in t2["notes"]
    assert [(c["command"], c["passed"]) for c in t2["checks"]] == [("npm test", True)]


# -- a GitHub issue ---------------------------------------------------------------

ISSUE = "https://github.com/acme/textkit/issues/7"


async def test_github_issue_reaches_the_workers_and_the_pull_request_reports_the_checks(daemon, fake, tmp_path):
    with FakeGitHub(tmp_path / "gh") as gh:
        gh.add_repo("acme/textkit", PACKAGE, push_users={"octra-bot"}, pull_users={"octra-bot"})
        gh.add_issue("acme/textkit", 7, "shout is too quiet",
                     "BODY-MARKER: shout() should end with three exclamation marks, not one.")
        gh.add_comment("acme/textkit", 7, "bob", "COMMENT-MARKER: keep the upper case.")

        def work(ask, n):
            return {"edits": [{"path": "textkit/text.py", "search": OLD_SHOUT, "replace": NEW_SHOUT}], "done": True}

        script = Script(plan=lambda a, n: plan(("core", "shout"), checks=[]),
                        staff=lambda a, n: staff(("editor", "shout louder", ["textkit/text.py"])),
                        work=work, review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
        fake.responder = script
        async with daemon.connect() as c:
            await c.call("settings.set", {"github_api_url": gh.url})
            await c.call("github.set_token", {"token": gh.token})
            await use_fake(c, fake)
            tid = (await c.call("task.create", {"description": f"Fix {ISSUE}", "provider": "fake",
                                                "meta": {"create_pull_requests": True}}))["task_id"]
            task = await wait_status(c, tid, timeout=120)
            assert task["status"] == "done", task["error"]
            evs = await events_of(c, tid)
        assert gh.read_file("acme/textkit", "octra/issue-7", "textkit/text.py") == TEXT_PY.replace(OLD_SHOUT, NEW_SHOUT)
        (pr,) = gh.pulls["acme/textkit"]
    # every agent that works on it read the issue: its body and its comments
    for question in ("plan", "staff", "work"):
        asked = [a for a in script.asked if a.question == question]
        assert asked and all("BODY-MARKER" in a.prompt and "COMMENT-MARKER" in a.prompt for a in asked), question
    # the repository's tests ran before any worker wrote, and after
    kinds = [(e.kind, (e.data or {}).get("command")) for e in evs if e.kind in ("command.started", "file.written")]
    assert kinds[0] == ("command.started", PYTEST)
    assert kinds.index(("file.written", None)) < max(i for i, k in enumerate(kinds) if k == ("command.started", PYTEST))
    # the pull request says what changed and how the checks went, before and after
    body = pr["body"]
    assert ISSUE in body and "Closes #7" in body
    assert "- changed: `textkit/text.py`" in body and "editor" in body
    assert f"| `{PYTEST}` | passed | passed |" in body
    assert "verified: every check passed" in body


# -- the offline provider on existing code ------------------------------------------

async def test_offline_follow_up_says_nothing_can_change_without_an_ai(daemon):
    async with daemon.connect() as c:
        first = (await c.call("task.create", {"description": "a tiny zig program", "stack": "zig",
                                              "project": "ziggy"}))["task_id"]
        t1 = await wait_status(c, first, timeout=120)
        assert t1["status"] == "done", t1["error"]
    before = {p: project_file(daemon, t1, p) for p in t1["files"] if p.endswith((".zig", ".md"))}
    out = daemon.ctl("reply", first, "add a --loud flag")
    assert out.returncode == 0, out.stderr
    follow_id = re.search(r"follow-up task (t[0-9a-f]{10}) started", out.stdout).group(1)
    async with daemon.connect() as c:
        t2 = await wait_status(c, follow_id, timeout=120)
        (folder,) = [p["path"] for p in (await c.call("project.list"))["projects"] if p["name"] == "ziggy"]
    assert t2["status"] == "failed" and t2["error"]["kind"] == "unavailable"
    msg = t2["error"]["message"]
    assert msg.startswith("nothing was changed: project ziggy already has code")
    assert "the offline provider has no AI, so it cannot change existing code" in msg
    assert "--project ziggy --provider NAME" in msg
    # the follow-up worked on the latest snapshot (restored), and left it as it was
    assert t2["store_path"] is None and {p: (Path(folder) / p).read_text() for p in before} == before
    # `run --project P` on the existing project: the same plain answer, never "could not tell the stack"
    ran = daemon.ctl("run", "make it louder", "--project", "ziggy")
    assert ran.returncode == 1
    assert "could not tell the stack" not in ran.stdout and "nothing was changed" in ran.stdout


@pytest.mark.skipif(shutil.which("bwrap") is None or shutil.which("npm") is None, reason="needs bwrap and npm")
async def test_attack_a_cloned_repositorys_test_script_runs_sandboxed_before_the_change(daemon, fake, tmp_path):
    """The baseline runs the repository's own ``npm test`` before any AI has looked at it: a
    hostile script must not reach outside the project (a marker file never appears)."""
    outside = tmp_path / "outside-marker"
    data_marker = Path(daemon.oenv.data_dir) / "pwned"
    hostile = (f"touch {outside} {data_marker} 2>/dev/null; test -e {daemon.oenv.data_dir}/octra.db "
               "&& echo SAW-DATA; echo BASELINE-RAN")
    pkg = '{"name": "evil", "version": "1.0.0", "scripts": {"test": %s}}\n' % __import__("json").dumps(hostile)
    with FakeGitHub(tmp_path / "gh") as gh:
        gh.add_repo("acme/evil", {"package.json": pkg, "index.js": INDEX_JS}, push_users={"octra-bot"},
                    pull_users={"octra-bot"})
        gh.add_issue("acme/evil", 1, "a note", "Add NOTES.md.")
        fake.responder = Script(plan=lambda a, n: plan(("docs", "notes"), stack="node", checks=[]),
                                staff=lambda a, n: staff(("writer", "NOTES.md", ["NOTES.md"])),
                                work=lambda a, n: files(("NOTES.md", "notes\n")),
                                review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
        async with daemon.connect() as c:
            await c.call("settings.set", {"github_api_url": gh.url})
            await c.call("github.set_token", {"token": gh.token})
            await use_fake(c, fake)
            tid = (await c.call("task.create", {"description": "https://github.com/acme/evil/issues/1",
                                                "provider": "fake"}))["task_id"]
            task = await wait_status(c, tid, timeout=120)
            evs = await events_of(c, tid)
    assert task["status"] == "done", task["error"]
    ran = [e.data for e in evs if e.kind == "command.finished" and e.data["command"] == "npm test"]
    # npm echoes the script's line first: what it printed is on lines of its own
    printed = [r["output_tail"].splitlines() for r in ran]
    assert len(ran) == 2 and all("BASELINE-RAN" in lines for lines in printed)  # before and after
    assert all(r["sandbox"] == "bwrap" for r in ran) and not any("SAW-DATA" in lines for lines in printed)
    assert not outside.exists() and not data_marker.exists()


def test_the_repositorys_own_checks_are_read_from_its_files(tmp_path):
    from octrad.pipeline.baseline import PYTEST, detect

    node = tmp_path / "node"
    node.mkdir()
    (node / "package.json").write_text('{"scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}')
    assert detect(node) == []  # npm init's placeholder is no test
    (node / "package.json").write_text('{"dependencies": {"x": "1"}, "scripts": {"build": "tsc", "test": "jest"}}')
    assert [(c.name, c.command) for c in detect(node)] == [("install", "npm install"), ("build", "npm run build"),
                                                            ("test", "npm test")]
    py = tmp_path / "py"
    (py / "tests").mkdir(parents=True)
    (py / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    assert [(c.name, c.command) for c in detect(py)] == [("test", PYTEST)]
    make = tmp_path / "make"
    make.mkdir()
    (make / "Makefile").write_text("all:\n\tcc x.c\n\ntest: all\n\t./x --test\n")
    assert [c.command for c in detect(make)] == ["make test"]
    # a package.json that is a symlink out of the repository is not read
    secret = tmp_path / "secret.json"
    secret.write_text('{"scripts": {"test": "steal"}}')
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "package.json").symlink_to(secret)
    assert detect(evil) == []
