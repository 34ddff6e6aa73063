"""Tool guides: what a worker needs to drive a build tool without inventing commands.

One TOML file per tool, ``guides/<ecosystem>/<tool>.toml`` (package
``octra_guides``, read with importlib.resources so a wheel works too)::

    name = "Cargo"                   # display name
    ecosystem = "rust"               # the folder it lives in
    description = "..."
    keywords = ["rust", "cargo"]     # words that name this stack in a task description
    stacks = ["rust"]                # stack names (as the flake builder knows them)
    tools = ["cargo"]                # executables the commands need
    nix_packages = ["cargo", "rustc"]  # nixpkgs attribute names
    scaffold = "command"             # or "structure" (see below)
    detect = ["Cargo.toml"]          # files (globs allowed) that identify such a project
    notes = ["..."]                  # optional extra guidance lines
    default_for = ["rust"]           # optional: stacks for which this is the first choice

    [[commands]]                     # purposes: see "Purposes" below
    purpose = "init"
    command = "cargo init --name {name}"
    description = "create Cargo.toml and src/main.rs here"

    [[structure]]                    # the minimal project, real content that builds
    path = "Cargo.toml"
    content = '''...'''

Purposes (the vocabulary the pipeline and the offline provider read; a
purpose may have several commands, run in file order):

- ``init``: create the project in an empty folder (``scaffold = "command"``)
  or prepare the written structure (``scaffold = "structure"``).  Never a
  check: it makes files.
- ``setup``: make a checkout of the project ready to build: the virtual
  environment, the dependencies, the configured build folder (``npm install``,
  ``python3 -m venv .venv``, ``cmake -S . -B build``).  Optional; idempotent,
  so it can run before every verification.
- ``build``: compile or install the project (may fetch declared dependencies,
  e.g. ``cargo build``, ``pip install -e '.[dev]'``).  Required.
- ``test``: run the project's tests; exit 0 means they pass.  Required.
- ``smoke``: run the guide's program once; it exits by itself, 0 meaning it
  works (``cargo run``, ``./build/{name}``).  Optional: a long-running
  service is smoke tested by its tests, not by this.
- ``run``: how a user runs it (may serve forever: never a check).  Required.
- ``add_dependency`` (with ``{package}``), ``lint``, ``format``: for workers.

The project's checks are :meth:`Guide.checks`: the ``setup``, ``build``,
``test`` and ``smoke`` commands, in that order (:data:`CHECK_PURPOSES`), with
the placeholders filled.

Placeholders, replaced with plain text substitution (never ``str.format``, so
braces in file content are safe) by :func:`render`: ``{name}`` the project
name, ``{module}`` the same as an identifier (``-`` becomes ``_``),
``{package}`` the dependency to add (add_dependency commands only).

``scaffold``: ``"command"`` means the init commands create the project in an
empty folder; ``"structure"`` means the tool has no generator, so the
structure is written first and the init commands then prepare it (e.g.
``cmake -S . -B build``).  When the tool is missing, the offline pipeline
writes ``structure`` either way.

A user adds or replaces guides with files in ``<folder of config.toml>/guides/<ecosystem>/<tool>.toml``
(a user guide for a shipped tool replaces it).

Contract (``daemon.guides``, a :class:`GuideRegistry`): ``get(tool)``,
``for_stack(stack)``, ``match(description, k=3) -> list[GuideMatch]`` (best
first, by keywords), ``pick(description, stack=None) -> Guide | None`` (the
stack named, else the best match), ``for_stacks(stack) -> list[Guide]`` (one
per stack of a mixed stack), ``all()``; ``format_for_prompt(guide)``
(compact text), ``guide.checks(name)``.
A malformed guide fails the load naming its file (:class:`GuideError`).
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Iterable, Literal, NamedTuple

import msgspec

from octra_protocol.methods.guides import Purpose

from ..config import ConfigError
from .skills import Words, appears, normalize

#: every guide has a command for each of these
REQUIRED_PURPOSES = ("init", "add_dependency", "build", "test", "run", "lint")
#: the purposes whose commands are the project's checks, in the order they run
CHECK_PURPOSES = ("setup", "build", "test", "smoke")
_TOOL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class GuideError(ConfigError):
    """A guide file is malformed; the message starts with its path."""


class UnknownGuide(KeyError):
    def __init__(self, tool: str, known: Iterable[str]):
        super().__init__(tool)
        self.tool = tool
        self.known = sorted(known)

    def __str__(self) -> str:
        return f"no guide for tool {self.tool!r}; guides: {', '.join(self.known)}"


class Command(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    purpose: Purpose
    command: str
    description: str = ""


class File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    path: str
    content: str = ""


class Guide(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    name: str
    ecosystem: str
    description: str
    keywords: list[str]
    stacks: list[str]
    tools: list[str]
    nix_packages: list[str]
    scaffold: Literal["command", "structure"]
    commands: list[Command]
    structure: list[File]
    detect: list[str]
    notes: list[str] = []
    #: stacks for which this guide is the first choice when several share them
    #: (maven for java, composer for php, bundler for ruby)
    default_for: list[str] = []
    #: the file stem; set by the loader, not written in the file
    tool: str = ""
    #: "shipped" or "user"; set by the loader
    source: str = "shipped"

    def commands_for(self, purpose: str) -> list[Command]:
        return [c for c in self.commands if c.purpose == purpose]

    def checks(self, name: str, purposes: Iterable[str] = CHECK_PURPOSES) -> list[Command]:
        """The project's checks: the commands of ``purposes`` (default setup, build,
        test, smoke), in that order, placeholders filled for the project ``name``."""
        return [
            msgspec.structs.replace(c, command=render(c.command, name))
            for p in purposes
            for c in self.commands_for(p)
        ]

    def detected_in(self, folder: str | Path, name: str) -> bool:
        """Whether ``folder`` already holds such a project (every detect entry, placeholders filled, globs allowed)."""
        root = Path(folder)
        return all(any(root.glob(render(d, name))) for d in self.detect)

    def to_dict(self) -> dict:
        return msgspec.to_builtins(self)


class GuideMatch(NamedTuple):
    guide: Guide
    score: int


def module_name(name: str) -> str:
    """The project name as an identifier (for Python packages, Elixir apps, ...)."""
    ident = re.sub(r"[^0-9a-zA-Z_]", "_", name).strip("_").lower() or "app"
    return ident if not ident[0].isdigit() else f"app_{ident}"


def render(text: str, name: str, package: str | None = None) -> str:
    """Fill the placeholders of a command, path or file content ({package} only when given)."""
    out = text.replace("{name}", name).replace("{module}", module_name(name))
    return out if package is None else out.replace("{package}", package)


def parse_guide(text: str, origin: str, tool: str, ecosystem_dir: str) -> Guide:
    """One guide from its TOML text; :class:`GuideError` names ``origin`` and the problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GuideError(f"{origin}: invalid TOML: {exc}") from None
    for derived in ("tool", "source"):
        if derived in raw:
            raise GuideError(f"{origin}: {derived!r} is set by the loader; do not write it")
    try:
        guide = msgspec.convert(raw, Guide)
    except msgspec.ValidationError as exc:
        raise GuideError(f"{origin}: {exc}") from None
    problems = []
    if not _TOOL_RE.match(tool):
        problems.append(f"file name {tool!r} is not a tool name (lower case, digits, - and _)")
    if guide.ecosystem != ecosystem_dir:
        problems.append(f"ecosystem {guide.ecosystem!r} differs from its folder {ecosystem_dir!r}")
    for fld in ("name", "description"):
        if not getattr(guide, fld).strip():
            problems.append(f"{fld} is empty")
    for fld in ("keywords", "stacks", "tools", "nix_packages", "structure", "detect"):
        if not getattr(guide, fld):
            problems.append(f"{fld} is empty")
    for s in guide.default_for:
        if s.lower() not in [x.lower() for x in guide.stacks]:
            problems.append(f"default_for names {s!r}, which is not in stacks")
    have = {c.purpose for c in guide.commands}
    missing = [p for p in REQUIRED_PURPOSES if p not in have]
    if missing:
        problems.append(f"no command for {', '.join(missing)}")
    for c in guide.commands:
        if not c.command.strip():
            problems.append(f"a {c.purpose} command is empty")
    for f in guide.structure:
        if f.path.startswith("/") or ".." in f.path.split("/"):
            problems.append(f"structure path {f.path!r} must be relative and stay inside the project")
    if problems:
        raise GuideError(f"{origin}: " + "; ".join(problems))
    return msgspec.structs.replace(
        guide,
        tool=tool,
        keywords=[k.lower() for k in guide.keywords],
        stacks=[s.lower() for s in guide.stacks],
        default_for=[s.lower() for s in guide.default_for],
    )


def _walk(root: Traversable) -> list[tuple[Traversable, str]]:
    """(file, ecosystem folder) for every ``<ecosystem>/<tool>.toml`` under root."""
    out = []
    for eco in root.iterdir():
        if eco.is_dir() and not eco.name.startswith(("_", ".")):
            out += [(f, eco.name) for f in eco.iterdir() if f.is_file() and f.name.endswith(".toml")]
    return sorted(out, key=lambda x: (x[1], x[0].name))


def _read_all(root: Traversable | Path, source: str) -> list[Guide]:
    found: dict[str, str] = {}
    guides = []
    for entry, eco in _walk(root):
        origin = str(entry)
        try:
            text = entry.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise GuideError(f"{origin}: cannot read: {exc}") from None
        g = parse_guide(text, origin, entry.name[: -len(".toml")], eco)
        if g.tool in found:
            raise GuideError(f"{origin}: tool {g.tool!r} already has a guide in {found[g.tool]}")
        found[g.tool] = origin
        guides.append(msgspec.structs.replace(g, source=source))
    return guides


def user_guides_dir(config_file: str | Path) -> Path:
    """Where a user drops their own guides: beside config.toml, one folder per ecosystem."""
    return Path(config_file).expanduser().parent / "guides"


class GuideRegistry:
    """Every guide, loaded once; lookups are in memory."""

    def __init__(self, guides: Iterable[Guide]):
        self._by_tool: dict[str, Guide] = {}
        for g in guides:
            if g.tool in self._by_tool:
                raise GuideError(f"two guides for tool {g.tool!r}")
            self._by_tool[g.tool] = g
        self._kw = {g.tool: [normalize(k).strip() for k in g.keywords] for g in self._by_tool.values()}

    @classmethod
    def load(cls, user_dir: str | Path | None = None, package: str = "octra_guides") -> "GuideRegistry":
        """The shipped guides, then the user's ``<user_dir>/<ecosystem>/<tool>.toml`` (same tool: the user's wins)."""
        guides = {g.tool: g for g in _read_all(resources.files(package), "shipped")}
        if user_dir is not None and Path(user_dir).is_dir():
            guides.update((g.tool, g) for g in _read_all(Path(user_dir), "user"))
        return cls(guides.values())

    def __len__(self) -> int:
        return len(self._by_tool)

    def all(self) -> list[Guide]:
        return sorted(self._by_tool.values(), key=lambda g: (g.ecosystem, g.tool))

    def get(self, tool: str) -> Guide:
        g = self._by_tool.get(tool.strip().lower())
        if g is None:
            raise UnknownGuide(tool, self._by_tool)
        return g

    def for_stack(self, stack: str) -> list[Guide]:
        """The guides for a stack name ("rust", "python", "php"...) or ecosystem."""
        s = stack.strip().lower()
        found = [g for g in self.all() if s in g.stacks or s == g.ecosystem]
        return sorted(found, key=lambda g: s not in g.default_for)

    def match(self, description: str, k: int = 3) -> list[GuideMatch]:
        """The guides whose keywords the description names, best first.

        Each keyword found scores its length in words times 2 (a specific
        phrase such as "spring boot" beats a generic word); the tool's own
        name found adds 3.  On a tie, first the default of a stack the
        description names ("a TypeScript CLI": tsc, default for typescript,
        before npm), the one with fewer stacks when several are; then any
        stack's default; then the registry order (ecosystem, tool).
        """
        text = Words(description)
        found = []
        for g in self.all():
            score = sum(2 * len(k.split()) for k in self._kw[g.tool] if appears(k, text))
            if score and appears(normalize(g.tool).strip(), text):
                score += 3
            if score:
                found.append(GuideMatch(g, score))

        def tie_break(m: GuideMatch) -> tuple:
            named = any(text.has(s) for s in m.guide.default_for)
            # among defaults of named stacks the more specialised guide wins: "a Node.js
            # library in TypeScript" names node (npm) and typescript (tsc, one stack)
            return (not named, len(m.guide.stacks) if named else 0, not m.guide.default_for)

        found.sort(key=lambda m: (-m.score, *tie_break(m)))
        return found[:k]

    def pick(self, description: str, stack: str | None = None) -> Guide | None:
        """The one guide for a task.  With ``stack`` only the stack decides: the
        whole text, else the first of its words ("python/fastapi", "static web")
        that is a stack, ecosystem or tool, its default guide first; None when
        none is.  Without, the description's best :meth:`match` (None when it
        names no stack)."""
        if stack and stack.strip():
            found = self.for_stacks(stack)
            return found[0] if found else None
        best = self.match(description, k=1)
        return best[0].guide if best else None

    def for_stacks(self, stack: str) -> list[Guide]:
        """One guide per stack a (possibly mixed) stack text names, in its order:
        "python + typescript" gives pip and tsc; the whole text is tried first."""
        out: list[Guide] = []
        for token in [stack, *re.split(r"[\s/,;]+", stack)]:
            t = token.strip().lower()
            if not t or t == "+":
                continue
            found = self.for_stack(t) or ([self._by_tool[t]] if t in self._by_tool else [])
            if found and found[0] not in out:
                out.append(found[0])
            if found and token is stack:
                break
        return out


def format_for_prompt(guide: Guide, name: str | None = None) -> str:
    """The guide as compact text for a worker's prompt (placeholders filled when ``name`` is given)."""

    def fill(s: str) -> str:
        return render(s, name) if name else s

    lines = [f"TOOL {guide.tool} ({guide.ecosystem}): {guide.description}", "Commands (use exactly these):"]
    for c in guide.commands:
        lines.append(f"  {c.purpose}: {fill(c.command)}" + (f"  # {c.description}" if c.description else ""))
    lines.append("Structure: " + ", ".join(fill(f.path) for f in guide.structure))
    lines.append("Identified by: " + ", ".join(fill(d) for d in guide.detect))
    lines += [f"Note: {n}" for n in guide.notes]
    return "\n".join(lines)
