"""Tool guides: every guide parses and is complete, lookups find the right
tool, and for the tools installed here the guide's init command really
creates a project that the guide's ``detect`` files identify."""

from __future__ import annotations

import json
import os
import re
from fnmatch import fnmatch
import shutil
import subprocess
from pathlib import Path

import msgspec
import pytest

from octrad.knowledge.guides import (
    CHECK_PURPOSES,
    REQUIRED_PURPOSES,
    GuideError,
    GuideRegistry,
    UnknownGuide,
    format_for_prompt,
    module_name,
    parse_guide,
    render,
)

ROOT = Path(__file__).resolve().parent.parent
GUIDE_FILES = sorted((ROOT / "guides").glob("*/*.toml"))
REQUIRED_TOOLS = {
    "go", "cargo", "npm", "pip", "maven", "gradle", "kotlin", "composer", "artisan", "flutter", "cmake",
    "dotnet", "mix", "cabal", "zig", "swiftpm", "bundler", "gem",
}
#: a nixpkgs attribute path: names joined by dots
NIX_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$")


@pytest.fixture(scope="module")
def registry() -> GuideRegistry:
    return GuideRegistry.load()


def test_every_required_tool_has_a_guide(registry):
    assert REQUIRED_TOOLS <= {g.tool for g in registry.all()}
    assert len(registry) == len(GUIDE_FILES)


@pytest.mark.parametrize("path", GUIDE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_guide_parses_and_is_complete(path):
    g = parse_guide(path.read_text(), str(path), path.stem, path.parent.name)
    assert g.tool == path.stem and g.ecosystem == path.parent.name
    assert g.name.strip() and len(g.description) > 20
    assert g.keywords and all(k == k.lower() and k.strip() for k in g.keywords)
    assert g.stacks and g.tools and g.detect
    assert all(NIX_ATTR.match(p) for p in g.nix_packages), g.nix_packages
    purposes = [c.purpose for c in g.commands]
    assert set(REQUIRED_PURPOSES) <= set(purposes)
    assert all(c.description for c in g.commands), "every command says what it does"
    add = g.commands_for("add_dependency")
    assert add
    # structure: files with real content, and writing it yields an identified project
    assert g.structure and all(f.content.strip() for f in g.structure)
    paths = [render(f.path, "demo") for f in g.structure]
    for d in (render(d, "demo") for d in g.detect):
        assert any(p == d or p.startswith(d + "/") or fnmatch(p, d) for p in paths), f"{d} not in structure"
    # commands and paths use only the placeholders render() fills
    for text in [c.command for c in g.commands] + [f.path for f in g.structure]:
        assert set(re.findall(r"\{([a-z_]+)\}", text)) <= {"name", "module", "package"}, text


def test_lookup_by_tool_and_stack(registry):
    assert registry.get("cargo").ecosystem == "rust"
    assert registry.get(" Cargo ").tool == "cargo"
    with pytest.raises(UnknownGuide) as exc:
        registry.get("ant")
    assert "ant" in str(exc.value) and "cargo" in str(exc.value)
    assert [g.tool for g in registry.for_stack("rust")] == ["cargo"]
    # where several guides share a stack, its default comes first
    assert [g.tool for g in registry.for_stack("php")] == ["composer", "artisan"]
    assert [g.tool for g in registry.for_stack("Java")] == ["maven", "gradle"]
    assert [g.tool for g in registry.for_stack("ruby")] == ["bundler", "gem"]
    assert [g.tool for g in registry.for_stack("typescript")] == ["tsc", "npm"]
    assert [g.tool for g in registry.for_stack("c")] == ["make", "cmake"]
    assert [g.tool for g in registry.for_stack("cpp")] == ["cmake"]
    assert [g.tool for g in registry.for_stack("web")] == ["static-site"]
    assert registry.for_stack("cobol") == []
    # and it wins a tie in match()
    assert [m.guide.tool for m in registry.match("a small java program")] == ["maven", "gradle"]


def test_detected_in(registry, tmp_path):
    dotnet = registry.get("dotnet")  # detect: {name}.csproj, Program.cs
    assert not dotnet.detected_in(tmp_path, "demo")
    (tmp_path / "demo.csproj").write_text("<Project/>")
    assert not dotnet.detected_in(tmp_path, "demo"), "every detect entry must be there"
    (tmp_path / "Program.cs").write_text("")
    assert dotnet.detected_in(tmp_path, "demo") and not dotnet.detected_in(tmp_path, "other")


@pytest.mark.parametrize(
    "description,tool",
    [
        ("Build a REST API in Go with Postgres", "go"),
        ("A command line tool written in Rust", "cargo"),
        ("React dashboard in TypeScript", "npm"),
        ("a static web page", "static-site"),
        ("A landing page in HTML and CSS", "static-site"),
        ("a personal homepage in HTML/CSS/JS", "static-site"),
        ("A C program", "make"),
        ("a command line tool in C that counts words", "make"),
        ("a C program built with CMake", "cmake"),
        ("a TypeScript library", "tsc"),
        ("A TypeScript CLI", "tsc"),
        ("A Node.js library in TypeScript", "tsc"),
        ("A Node.js CLI", "npm"),
        ("A JavaScript library", "npm"),
        ("a static site generator in Rust", "cargo"),
        ("A Flask app serving HTML pages", "pip"),
        ("A FastAPI service in Python", "pip"),
        ("Spring Boot microservice", "maven"),
        ("A Laravel blog with comments", "artisan"),
        ("A Symfony console app in PHP", "composer"),
        ("Kotlin Ktor server", "kotlin"),
        ("Flutter mobile app for notes", "flutter"),
        ("A small C++ ray tracer", "cmake"),
        ("ASP.NET web API in C#", "dotnet"),
        ("A Phoenix chat server in Elixir", "mix"),
        ("A parser library in Haskell", "cabal"),
        ("An HTTP server in Zig", "zig"),
        ("A Swift command line tool", "swiftpm"),
        ("A Sinatra web app in Ruby", "bundler"),
        ("Publish a Ruby gem for parsing dates", "gem"),
    ],
)
def test_match_picks_the_stack_from_a_description(registry, description, tool):
    found = registry.match(description)
    assert found, description
    assert found[0].guide.tool == tool, [(m.guide.tool, m.score) for m in found]
    assert found[0].score > 0


def test_ties_go_to_the_default_of_the_stack_the_description_names(registry):
    # equal scores: typescript is named and tsc is its default; node is named and npm is its default
    ts = registry.match("A TypeScript CLI")
    assert [(m.guide.tool, m.score) for m in ts] == [("tsc", 2), ("npm", 2)]
    node = registry.match("A Node.js CLI")
    assert [(m.guide.tool, m.score) for m in node] == [("npm", 6), ("tsc", 6)]
    # both named: the more specialised guide (one stack) wins
    both = registry.match("A Node.js library in TypeScript")
    assert [m.guide.tool for m in both][:2] == ["tsc", "npm"] and both[0].score == both[1].score
    # "c" is a word of its own: C++ and C# do not name it
    assert "make" not in [m.guide.tool for m in registry.match("a C++ game and a C# API")]


def test_pick_by_stack_then_description(registry):
    pick = registry.pick
    assert pick("anything", "c").tool == "make"
    assert pick("anything", "C++").tool == "cmake"
    assert pick("anything", "typescript").tool == "tsc"
    assert pick("anything", "static web").tool == "static-site"
    assert pick("anything", "html/css/js").tool == "static-site"
    assert pick("anything", "python/fastapi").tool == "pip"
    assert pick("anything", "gradle").tool == "gradle"  # a tool name
    assert pick("a Rust CLI", "cobol") is None  # only the stack decides when one is given
    assert pick("a TypeScript library").tool == "tsc"
    assert pick("a static web page", "  ").tool == "static-site"
    assert pick("paint the fence") is None
    # a mixed stack: one guide per stack it names, in its order
    assert [g.tool for g in registry.for_stacks("python + typescript")] == ["pip", "tsc"]
    assert [g.tool for g in registry.for_stacks("go and C")] == ["go", "make"]
    assert [g.tool for g in registry.for_stacks("C++")] == ["cmake"]
    assert registry.for_stacks("cobol") == []


def test_checks_are_setup_build_test_smoke_in_order(registry):
    assert CHECK_PURPOSES == ("setup", "build", "test", "smoke")
    for g in registry.all():
        checks = g.checks("demo")
        order = [CHECK_PURPOSES.index(c.purpose) for c in checks]
        assert order == sorted(order), g.tool
        assert {"build", "test"} <= {c.purpose for c in checks}, g.tool
        assert all("{name}" not in c.command and "{module}" not in c.command for c in checks), g.tool
        assert all("{package}" not in c.command for c in checks), g.tool
    # the pip guide's own sequence: the build installs the dev extra, so its test finds pytest
    assert [(c.purpose, c.command) for c in registry.get("pip").checks("my-app")] == [
        ("setup", "python3 -m venv .venv"),
        ("build", ".venv/bin/pip install -e '.[dev]'"),
        ("test", ".venv/bin/python -m pytest"),
        ("smoke", ".venv/bin/python -m my_app"),
    ]
    pyproject = next(f.content for f in registry.get("pip").structure if f.path == "pyproject.toml")
    assert re.search(r"^dev = \[.*\"pytest", pyproject, re.M)
    assert [c.purpose for c in registry.get("cargo").checks("x", ["test", "build"])] == ["test", "build"]
    # the protocol's purposes are the loader's
    from octra_protocol.methods.guides import Purpose
    from typing import get_args

    assert set(CHECK_PURPOSES) | set(REQUIRED_PURPOSES) <= set(get_args(Purpose))


def test_match_ignores_substrings_and_finds_nothing_for_unrelated_text(registry):
    # "going" and "rusty" are not the words go and rust
    assert registry.match("going to fix the rusty gate and paint the fence") == []


def test_render_and_prompt_format(registry):
    assert module_name("my-app") == "my_app" and module_name("9lives") == "app_9lives"
    g = registry.get("cargo")
    assert render(g.commands_for("init")[0].command, "hello-cli") == "cargo init --name hello-cli"
    assert render("cargo add {package}", "x", "serde") == "cargo add serde"
    # braces that are not placeholders survive (Rust, Java, JSON content)
    main_rs = next(f for f in g.structure if f.path == "src/main.rs").content
    assert "format!(\"Hello, {who}!\")" in render(main_rs, "demo")
    text = format_for_prompt(g, "demo")
    assert text.startswith("TOOL cargo (rust)")
    assert "init: cargo init --name demo" in text
    assert "add_dependency: cargo add {package}" in text  # left for the worker to fill
    assert "Identified by: Cargo.toml" in text
    assert all(len(format_for_prompt(g, "demo")) < 2000 for g in registry.all())


@pytest.mark.parametrize(
    "text,problem",
    [
        ("name = 'x'\nthis is not toml", "invalid TOML"),
        ("name = 'x'", "missing required field"),
        ("name = 3", "Expected `str`, got `int` - at `$.name`"),
    ],
)
def test_malformed_guide_names_the_file(text, problem):
    with pytest.raises(GuideError) as exc:
        parse_guide(text, "/some/where/rust/cargo.toml", "cargo", "rust")
    assert str(exc.value).startswith("/some/where/rust/cargo.toml: ")
    assert problem in str(exc.value)


def test_incomplete_guide_lists_what_is_missing():
    good = (ROOT / "guides/rust/cargo.toml").read_text()
    no_lint = re.sub(r'\[\[commands\]\]\npurpose = "lint"\n[^\[]*', "", good)
    with pytest.raises(GuideError, match=r"cargo.toml: no command for lint"):
        parse_guide(no_lint, "guides/rust/cargo.toml", "cargo", "rust")
    with pytest.raises(GuideError, match="differs from its folder"):
        parse_guide(good, "guides/go/cargo.toml", "cargo", "go")
    with pytest.raises(GuideError, match="unknown field"):
        parse_guide(good + '\nhomepage = "x"\n', "guides/rust/cargo.toml", "cargo", "rust")
    escaping = good + '\n[[structure]]\npath = "../outside"\ncontent = "x"\n'
    with pytest.raises(GuideError, match="must be relative"):
        parse_guide(escaping, "guides/rust/cargo.toml", "cargo", "rust")


def test_a_malformed_file_in_the_package_fails_the_load(tmp_path, monkeypatch):
    pkg = tmp_path / "octra_guides_broken"
    (pkg / "rust").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    shutil.copy(ROOT / "guides/go/go.toml", (pkg / "go.toml"))  # not in an ecosystem folder: ignored
    (pkg / "rust" / "cargo.toml").write_text('name = "Cargo"\necosystem = "rust"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(GuideError) as exc:
        GuideRegistry.load(package="octra_guides_broken")
    assert "cargo.toml" in str(exc.value) and "missing required field" in str(exc.value)


def test_user_guides_add_and_replace(tmp_path):
    folder = tmp_path / "guides"
    (folder / "rust").mkdir(parents=True)
    (folder / "ocaml").mkdir()
    cargo = (ROOT / "guides/rust/cargo.toml").read_text().replace("cargo init --name {name}", "cargo init --vcs none --name {name}")
    (folder / "rust" / "cargo.toml").write_text(cargo)
    dune = (ROOT / "guides/go/go.toml").read_text().replace('ecosystem = "go"', 'ecosystem = "ocaml"').replace(
        'keywords = ["go", "golang", "gin", "echo", "fiber", "chi", "gorilla"]', 'keywords = ["ocaml", "dune"]'
    ).replace('stacks = ["go"]', 'stacks = ["ocaml"]')
    (folder / "ocaml" / "dune.toml").write_text(dune)
    reg = GuideRegistry.load(folder)
    assert len(reg) == len(GUIDE_FILES) + 1
    assert reg.get("cargo").source == "user" and reg.get("cargo").commands_for("init")[0].command.startswith("cargo init --vcs none")
    assert reg.get("dune").source == "user" and reg.match("an OCaml compiler")[0].guide.tool == "dune"
    assert reg.get("npm").source == "shipped"
    (folder / "ocaml" / "cargo.toml").write_text(cargo.replace('ecosystem = "rust"', 'ecosystem = "ocaml"'))
    with pytest.raises(GuideError, match=r"tool 'cargo' already has a guide in .*guides/(rust|ocaml)/cargo\.toml"):
        GuideRegistry.load(folder)


# -- the real tools -----------------------------------------------------------
def _missing_tools(guide) -> list[str]:
    return [t for t in guide.tools if shutil.which(t) is None]


def _write_structure(guide, folder: Path, name: str) -> None:
    for f in guide.structure:
        p = folder / render(f.path, name)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(render(f.content, name))


def _offline_cabal_dir(where: Path) -> Path:
    """A cabal home with no package repository: cabal then uses only what GHC ships."""
    home = where / "cabal-home"
    home.mkdir(exist_ok=True)
    (home / "config").write_text("jobs: 1\n")
    return home


def _run(command: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCTRA_", "GITHUB_"))}
    # the npm registry and PyPI are reachable here and in CI; for the others the
    # tools work from what is installed or cached (no network: a fast, clear failure)
    env.update(CARGO_NET_OFFLINE="true", GOFLAGS="-mod=mod", GOPROXY="off", NO_COLOR="1")
    env["CABAL_DIR"] = str(_offline_cabal_dir(cwd.parent))
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


#: init commands that download a template from a registry this machine cannot reach
NEEDS_REGISTRY = {
    "artisan": "composer create-project downloads laravel/laravel from Packagist (set OCTRA_TEST_NETWORK=1 where it is reachable)",
}


def _maven_offline_reason() -> str | None:
    """The quickstart archetype comes from Maven Central, which this machine may not reach."""
    repo = Path.home() / ".m2" / "repository"
    plugin = repo / "org/apache/maven/plugins/maven-archetype-plugin"
    archetype = repo / "org/apache/maven/archetypes/maven-archetype-quickstart/1.5"
    if not plugin.is_dir() or not archetype.is_dir():
        return "mvn is installed but maven-archetype-plugin and the quickstart 1.5 archetype are not in ~/.m2 (they come from Maven Central)"
    return None


@pytest.mark.parametrize("path", GUIDE_FILES, ids=lambda p: p.stem)
def test_init_command_creates_an_identified_project(path, tmp_path):
    guide = GuideRegistry([parse_guide(path.read_text(), str(path), path.stem, path.parent.name)]).get(path.stem)
    missing = _missing_tools(guide)
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed on this machine")
    if guide.tool == "maven" and (reason := _maven_offline_reason()):
        pytest.skip(reason)
    if guide.tool in NEEDS_REGISTRY and os.environ.get("OCTRA_TEST_NETWORK") != "1":
        pytest.skip(NEEDS_REGISTRY[guide.tool])
    if guide.scaffold == "structure":
        pytest.skip("a structure guide's init runs on its written structure in test_guide_checks_pass_with_the_real_toolchain")
    name = "demo"
    project = tmp_path / name
    project.mkdir()
    if guide.tool == "maven":
        # offline: use what ~/.m2 holds, never the network
        (project / ".mvn").mkdir()
        (project / ".mvn" / "maven.config").write_text("-o\n")
    for cmd in guide.commands_for("init"):
        line = render(cmd.command, name)
        done = _run(line, project)
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    for pattern in guide.detect:
        assert list(project.glob(render(pattern, name))), f"{pattern} missing after init; have {sorted(os.listdir(project))}"
    if guide.tool == "npm":
        assert json.loads((project / "package.json").read_text())["name"] == name


#: registries this machine and CI cannot reach (only npm's and PyPI are), for the
#: guides whose structure fetches its plugins or test libraries from one
UNREACHABLE_REGISTRY = {
    "maven": "Maven Central", "gradle": "Maven Central", "kotlin": "Maven Central",
    "composer": "Packagist", "artisan": "Packagist", "bundler": "RubyGems", "gem": "RubyGems",
}


#: guides whose structure has no test of its own yet (their tools are not on this machine or CI's)
NO_TEST_IN_STRUCTURE = {"artisan", "cabal", "dotnet", "gem", "swiftpm"}


def _checks_skip_reason(guide) -> str | None:
    missing = _missing_tools(guide)
    if missing:
        return f"{', '.join(missing)} not installed on this machine"
    if guide.tool in NO_TEST_IN_STRUCTURE:
        return f"the {guide.tool} guide's structure has no test yet, so its test check has nothing to run"
    registry = UNREACHABLE_REGISTRY.get(guide.tool)
    if registry and os.environ.get("OCTRA_TEST_NETWORK") != "1":
        return (f"{guide.tool} fetches its build plugins and test libraries from {registry}, which this machine "
                "cannot reach (only the npm registry and PyPI are; set OCTRA_TEST_NETWORK=1 where it can)")
    return None


def _assert_ok(done: subprocess.CompletedProcess, line: str) -> None:
    assert done.returncode == 0, f"{line} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


#: the greeting in the structure's code, not the one its tests expect
_GREETING = re.compile(r"Hello, (?!world!)")


def _static_site_failures(guide, project: Path) -> None:
    """The static page's build is a real validator and its smoke test really fetches."""
    build, smoke = (guide.checks("demo", [p])[0].command for p in ("build", "smoke"))
    page = project / "index.html"
    page.write_text(page.read_text().replace("</main>", "</div>"))
    done = _run(build, project)
    assert done.returncode != 0 and "close-order" in done.stdout, done.stdout[-2000:]
    (project / "style.css").unlink()
    done = _run(smoke, project)
    assert done.returncode != 0 and "/style.css: HTTP 404" in done.stderr, done.stderr[-2000:]
    # serve.js never hands out a file outside the site, nor the tools in node_modules
    (project.parent / "outside.txt").write_text("MARKER-OUTSIDE")
    probe = """
import { request } from "node:http";
import { createSiteServer } from "./serve.js";
const server = createSiteServer();
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
for (const path of ["/../outside.txt", "/%2e%2e/outside.txt", "/..%2foutside.txt", "/%2e%2e%2foutside.txt",
                    "/node_modules/html-validate/package.json", "/%ZZ", "/index.html"]) {
  const { status, body } = await new Promise((ok) => request({ host: "127.0.0.1", port: server.address().port, path }, (res) => {
    let body = ""; res.on("data", (d) => (body += d)); res.on("end", () => ok({ status: res.statusCode, body }));
  }).end());
  console.log(path, status, body.includes("MARKER-OUTSIDE") ? "LEAKED" : "");
}
server.close(); server.closeAllConnections();
"""
    (project / "probe.mjs").write_text(probe)
    done = _run("node probe.mjs", project)
    _assert_ok(done, "node probe.mjs")
    statuses = dict(line.split()[:2] for line in done.stdout.splitlines())
    assert "LEAKED" not in done.stdout, done.stdout
    assert statuses.pop("/index.html") == "200" and statuses.pop("/%ZZ") == "400"
    assert set(statuses.values()) == {"404"}, done.stdout


#: more ways a guide's checks must fail, after the broken greeting
MORE_FAILURES = {"static-site": _static_site_failures}


@pytest.mark.parametrize("path", GUIDE_FILES, ids=lambda p: p.stem)
def test_guide_checks_pass_with_the_real_toolchain(path, tmp_path):
    """The structure the guide gives (after its init, for a structure guide) passes
    the guide's own checks (setup, build, test, smoke: what the pipeline runs) with
    the real tools, registries included; and those checks can fail: with the
    greeting broken, build passes and test fails."""
    guide = GuideRegistry([parse_guide(path.read_text(), str(path), path.stem, path.parent.name)]).get(path.stem)
    if reason := _checks_skip_reason(guide):
        pytest.skip(reason)
    name = "demo"
    project = tmp_path / name
    project.mkdir()
    _write_structure(guide, project, name)
    # a structure guide's init prepares the written files (as the offline provider runs it)
    checks = guide.checks(name)
    setup = {c.command for c in guide.commands_for("setup")}
    first = [c for c in guide.commands_for("init") if c.command not in setup] if guide.scaffold == "structure" else []
    assert {"build", "test"} <= {c.purpose for c in checks}
    for c in [*(msgspec.structs.replace(c, command=render(c.command, name)) for c in first), *checks]:
        done = _run(c.command, project)
        _assert_ok(done, c.command)
        if c.purpose == "smoke" and guide.tool != "static-site":
            assert "Hello, world!" in done.stdout, done.stdout[-2000:]
    broken = 0
    for f in guide.structure:
        file = project / render(f.path, name)
        text, n = _GREETING.subn("Goodbye, ", file.read_text())
        file.write_text(text)
        broken += n
    assert broken, "the structure has no greeting to break"
    for c in guide.checks(name, ["build"]):
        _assert_ok(_run(c.command, project), c.command)
    tests = [_run(c.command, project) for c in guide.checks(name, ["test"])]
    assert any(t.returncode != 0 for t in tests), f"{guide.tool}: the tests pass with a wrong greeting"
    if guide.tool in MORE_FAILURES:
        MORE_FAILURES[guide.tool](guide, project)


# -- over the socket ------------------------------------------------------------
async def test_guides_methods(daemon):
    from octra_protocol.errors import RpcError

    async with daemon.connect() as c:
        listed = (await c.call("guides.list"))["guides"]
        assert REQUIRED_TOOLS <= {g["tool"] for g in listed}
        assert all(g["score"] is None for g in listed)
        php = (await c.call("guides.list", {"stack": "php"}))["guides"]
        assert {g["tool"] for g in php} == {"composer", "artisan"}
        matched = (await c.call("guides.list", {"match": "a blog in Laravel"}))["guides"]
        assert matched[0]["tool"] == "artisan" and matched[0]["score"] > 0
        both = (await c.call("guides.list", {"match": "a Laravel app", "stack": "rust"}))["guides"]
        assert both == []
        g = await c.call("guides.get", {"tool": "cargo"})
        assert g["tool"] == "cargo" and g["scaffold"] == "command"
        assert {"purpose": "init", "command": "cargo init --name {name}"}.items() <= g["commands"][0].items()
        assert any(f["path"] == "Cargo.toml" for f in g["structure"])
        # the check purposes travel over the wire
        pip = await c.call("guides.get", {"tool": "pip"})
        assert [x["purpose"] for x in pip["commands"] if x["purpose"] in CHECK_PURPOSES] == ["setup", "build", "test", "smoke"]
        web = (await c.call("guides.list", {"match": "a static web page"}))["guides"]
        assert web[0]["tool"] == "static-site"
        with pytest.raises(RpcError) as exc:
            await c.call("guides.get", {"tool": "ant"})
        assert exc.value.kind == "not_found" and "ant" in exc.value.message
        with pytest.raises(RpcError) as exc:
            await c.call("guides.get", {})
        assert exc.value.kind == "invalid_params"


def test_octractl_guides(daemon):
    out = daemon.ctl("guides", "list")
    assert out.returncode == 0, out.stderr
    assert any(line.startswith("cargo ") for line in out.stdout.splitlines())
    out = daemon.ctl("guides", "show", "cmake")
    assert out.returncode == 0, out.stderr
    assert "cmake --build build" in out.stdout and "CMakeLists.txt" in out.stdout
    out = daemon.ctl("--json", "guides", "list", "--match", "a rust cli")
    assert json.loads(out.stdout)["guides"][0]["tool"] == "cargo"
    out = daemon.ctl("guides", "show", "ant")
    assert out.returncode == 1 and "no guide for tool 'ant'" in out.stderr


def test_user_guide_is_found_by_the_daemon(octra_env):
    from tests.conftest import DaemonProcess

    folder = octra_env.config.parent / "guides" / "rust"
    folder.mkdir(parents=True)
    text = (ROOT / "guides/rust/cargo.toml").read_text().replace("cargo init --name {name}", "cargo init --vcs none --name {name}")
    (folder / "cargo.toml").write_text(text)
    d = DaemonProcess(octra_env).start()
    try:
        out = d.ctl("--json", "guides", "show", "cargo")
        g = json.loads(out.stdout)
        assert g["source"] == "user" and g["commands"][0]["command"] == "cargo init --vcs none --name {name}"
    finally:
        d.stop()
