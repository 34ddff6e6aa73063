"""The tool executor: runs a worker's scaffolding, build and test commands in
the project folder.

Contract (the pipeline codes against it)::

    ex = Executor(settings, projects_dir=..., hide=[...], publish=...)
    result = await ex.run(command, cwd, *, timeout=None, network=None, env=None, use_nix=None)
    # CommandResult(command, exit_code, output_tail, timed_out, duration_s, sandbox,
    #               nix_used, new_files, notes, missing_tool, output_bytes)

- A failing command never raises: its exit code (negative: killed by that
  signal) is in the result.  Bad input raises :class:`BadCommand` (a
  ``ValueError``); ``sandbox = bwrap`` where bubblewrap cannot run raises
  :class:`~octrad.scaffold.sandbox.SandboxUnavailable`.
- ``cwd`` must be a folder inside ``projects_dir``.  A string command runs with
  ``/bin/sh -c``; a list is executed as is.
- Inside ``nix develop`` when the project's flake is usable offline
  (:mod:`.devshell`), else directly; ``notes`` say why.  ``use_nix=False``
  never tries, ``True`` insists on trying (still falling back, with a note).
- Timeout (default: the ``command_timeout_s`` setting) kills the whole process
  group (under bubblewrap, the whole PID namespace).
- Output (stdout and stderr merged) keeps only its last ``output_cap`` bytes;
  registered secrets are masked in it.
- The child's environment is an allow-list (:mod:`.environment`) plus ``env``;
  never the daemon's environment wholesale.
- Sandbox per the ``sandbox`` setting (:mod:`.sandbox`): an allow-list root
  with only the project folder writable; no network, except for a command that
  needs a registry (``network=True``, or by default when :func:`needs_registry`
  says so) when the ``sandbox_network`` setting allows it: then a fenced
  user-mode network (pasta or slirp4netns, :mod:`.netfence`) with no route to the host's
  loopback or local addresses, never the host's own network.  ``network`` in
  the result says which ("pasta", "slirp4netns", "none"; "host" unsandboxed).
- ``new_files``: paths (relative to the project folder) that ``git status
  --porcelain`` shows after the command and not before; without a repository in
  the project folder, a walk of it (``.git`` aside).
- ``executor_for(daemon, publish=...)`` builds one with the daemon's settings
  and what no sandbox bind may reach (data, config, logs, socket).
- ``missing_tool``: the program that was not found (exit 127), so the worker
  can fall back to writing the files itself and say so; ``missing_program(command)``
  answers the same before running anything.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Sequence

import anyio

from ..redact import redact
from . import devshell, netfence, sandbox
from .environment import child_env

DEFAULT_OUTPUT_CAP = 64 * 1024
#: after a timeout: SIGTERM, this long to exit, then SIGKILL
KILL_GRACE_S = 2.0
#: tools whose sub-commands (listed) fetch from a package registry
_REGISTRY_USE: dict[str, set[str] | None] = {
    "npm": {"install", "i", "ci", "add", "update", "create", "exec", "x", "view", "info", "show", "outdated", "search", "pack"},
    "npx": None, "yarn": None, "pnpm": None, "bun": {"install", "add", "create", "x"},
    "pip": {"install", "download", "wheel", "index"}, "pip3": {"install", "download", "wheel", "index"},
    "pipx": {"install", "run"}, "build": None,
    "poetry": {"install", "add", "update", "lock"}, "uv": {"add", "sync", "pip", "lock", "run"},
    "cargo": {"build", "fetch", "add", "install", "update", "run", "test", "check", "generate-lockfile", "clippy", "doc"},
    "go": {"get", "mod", "build", "run", "test", "install"},
    "composer": None, "bundle": None, "gem": {"install", "update"},
    "mix": {"deps.get", "local.hex", "archive.install", "phx.new", "compile", "test"},
    "dotnet": {"restore", "add", "new", "build", "run", "test", "publish", "tool"},
    "flutter": {"pub", "create", "build", "run", "test"}, "dart": {"pub", "create", "run", "test"},
    "cabal": {"update", "install", "build", "run", "test"}, "stack": None,
    "swift": {"package", "build", "run", "test"}, "mvn": None, "gradle": None, "./gradlew": None,
    "sbt": None, "zig": {"fetch", "build"}, "deno": {"install", "add", "cache", "run", "test"},
}

_PYTHON = re.compile(r"python(\d+(\.\d+)?)?")

Publish = Callable[[str, dict], Awaitable[Any]]


class BadCommand(ValueError):
    """The command or its folder is not acceptable; the message says which and why."""


@dataclass
class CommandResult:
    command: str
    exit_code: int
    output_tail: str
    timed_out: bool
    duration_s: float
    #: "bwrap" or "none"
    sandbox: str
    nix_used: bool
    new_files: list[str] = field(default_factory=list)
    #: why nix or the sandbox were not used, and other facts worth telling the user
    notes: list[str] = field(default_factory=list)
    missing_tool: str | None = None
    #: the whole output's size (the tail is at most the cap)
    output_bytes: int = 0
    #: the command's network: "pasta" / "slirp4netns" (fenced), "none", or "host" (unsandboxed)
    network: str = "none"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def needs_registry(command: str | Sequence[str]) -> bool:
    """Whether the command fetches packages (so the sandbox should let it reach the network)."""
    text = command if isinstance(command, str) else shlex.join(command)
    for part in _split_commands(text):
        words = [w for w in part if "=" not in w or w.startswith("-")]
        if not words:
            continue
        tool = os.path.basename(words[0]) if not words[0].startswith("./") else words[0]
        if _PYTHON.fullmatch(tool) and "-m" in words[1:-1]:
            # python -m pip install ..., python3 -m build: the module is the tool
            at = words.index("-m", 1)
            tool, words = words[at + 1], words[at + 1:]
        if tool not in _REGISTRY_USE:
            continue
        subs = _REGISTRY_USE[tool]
        rest = [w for w in words[1:] if not w.startswith("-")]
        if subs is None or (rest and rest[0] in subs):
            return True
    return False


def _split_commands(text: str) -> list[list[str]]:
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return [text.split()]
    parts, cur = [], []
    for tok in tokens:
        if tok and set(tok) <= set(";&|"):
            parts.append(cur)
            cur = []
        else:
            cur.append(tok)
    parts.append(cur)
    return parts


class Executor:
    def __init__(
        self,
        settings: Any,
        *,
        projects_dir: str | Path,
        hide: Sequence[str | Path] | None = None,
        publish: Publish | None = None,
        output_cap: int = DEFAULT_OUTPUT_CAP,
    ):
        """``settings``: the daemon's settings (``sandbox``, ``sandbox_network``,
        ``command_timeout_s``); ``hide``: folders and files no sandbox bind may
        be, hold or lie in, even for a toolchain on ``PATH`` (Octra's data,
        config, logs and socket; by default the folder holding the projects
        folder, i.e. Octra's data); the sandbox is an allow-list, so they and
        the user's home are not there in the first place;
        ``publish(kind, data)``: where ``command.started`` /
        ``command.finished`` events go."""
        self.settings = settings
        self.projects_dir = Path(projects_dir).resolve()
        if hide is None:
            hide = [self.projects_dir.parent, Path.home()]
        self.hide = [Path(h) for h in hide]
        self.publish = publish
        self.output_cap = output_cap

    # -- input checks --------------------------------------------------------
    def _check(self, command: str | Sequence[str], cwd: str | Path) -> tuple[list[str], str, Path]:
        if isinstance(command, str):
            if not command.strip():
                raise BadCommand("the command is empty")
            if "\0" in command:
                raise BadCommand("the command contains a NUL byte")
            argv, text = ["/bin/sh", "-c", command], command
        else:
            argv = [str(a) for a in command]
            if not argv or not argv[0]:
                raise BadCommand("the command is empty")
            text = shlex.join(argv)
        folder = Path(cwd)
        real = folder.resolve()
        if not real.is_dir():
            raise BadCommand(f"cannot run {text!r}: {cwd} is not a folder")
        if real != self.projects_dir and self.projects_dir not in real.parents:
            raise BadCommand(f"cannot run {text!r} in {cwd}: commands run only inside the projects folder {self.projects_dir}")
        if real == self.projects_dir:
            raise BadCommand(f"cannot run {text!r} in the projects folder itself; give a project's folder")
        return argv, text, real

    def _project_of(self, cwd: Path) -> Path:
        return self.projects_dir / cwd.relative_to(self.projects_dir).parts[0]

    # -- running -------------------------------------------------------------
    async def run(
        self,
        command: str | Sequence[str],
        cwd: str | Path,
        *,
        timeout: float | None = None,
        network: bool | None = None,
        env: Mapping[str, str] | None = None,
        use_nix: bool | None = None,
    ) -> CommandResult:
        argv, text, folder = self._check(command, cwd)
        project = self._project_of(folder)
        timeout = float(timeout if timeout is not None else self.settings.command_timeout_s)
        if timeout <= 0:
            raise BadCommand(f"timeout must be positive, not {timeout}")
        notes: list[str] = []
        dropped = [k for k, v in (env or {}).items() if redact(f"{k}={v}") != f"{k}={v}"]
        if dropped:
            notes.append(f"left out of the environment because they hold secrets: {', '.join(sorted(dropped))}")
        child = child_env(env)

        use_bwrap, why = sandbox.decide(self.settings.sandbox)
        if why:
            notes.append(why)
        wanted_net = needs_registry(command) if network is None else bool(network)
        net = wanted_net and bool(self.settings.sandbox_network)
        if use_bwrap and wanted_net and not net:
            notes.append("the network is off for this command (setting sandbox_network = false)")

        nix_prefix: list[str] = []
        if use_nix is not False:
            shell = await devshell.probe(project)
            if shell.usable:
                nix_prefix = shell.prefix()
            elif use_nix or (project / "flake.nix").exists():
                notes.append(f"running directly, not in nix develop: {shell.reason}")

        before = await anyio.to_thread.run_sync(_listing, project)
        fence = None
        net_kind = "host"
        if use_bwrap:
            # other projects are out of reach too: a command sees and writes only its own
            wrapped = sandbox.wrap(argv, project=project, cwd=folder, network=net, deny=[self.projects_dir, *self.hide], env=child)
            argv, child, fence, net_kind = wrapped.argv, wrapped.env, wrapped.fence, wrapped.network
            notes += wrapped.notes
        argv, nix_used = [*nix_prefix, *argv], bool(nix_prefix)
        try:
            if self.publish is not None:
                await self.publish(
                    "command.started",
                    {"command": text, "cwd": str(folder), "sandbox": "bwrap" if use_bwrap else "none", "nix": nix_used,
                     "network": net_kind},
                )
            started = time.monotonic()
            try:
                exit_code, timed_out, tail, total, net_failed = await self._spawn(argv, folder, child, timeout, fence)
            except FileNotFoundError as exc:
                exit_code, timed_out, tail, total, net_failed = 127, False, f"{exc.strerror}: {exc.filename}\n".encode(), 0, None
        finally:  # the network helper and its pipes live only as long as the command
            if fence is not None:
                fence.close()
        if net_failed:
            net_kind = "none"
            notes.append(f"this command needs a package registry but ran with no network: {net_failed}")
        duration = round(time.monotonic() - started, 3)
        after = await anyio.to_thread.run_sync(_listing, project)
        new_files = sorted(set(after) - set(before))

        output = tail.decode("utf-8", errors="replace")
        if total > len(tail):
            output = f"[... {total - len(tail)} earlier bytes cut ...]\n" + output
        output = redact(output)
        missing = None
        if exit_code == 127:
            missing = _program(command)
            notes.append(f"{missing} is not installed here (exit code 127)")
        if timed_out:
            notes.append(f"killed after the {timeout:g} s timeout")
        result = CommandResult(
            command=text, exit_code=exit_code, output_tail=output, timed_out=timed_out, duration_s=duration,
            sandbox="bwrap" if use_bwrap else "none", nix_used=nix_used, new_files=new_files, notes=notes,
            missing_tool=missing, output_bytes=total, network=net_kind,
        )
        if self.publish is not None:
            await self.publish(
                "command.finished",
                {
                    "command": text, "exit_code": exit_code, "timed_out": timed_out, "duration_s": duration,
                    "new_files": new_files[:200], "notes": notes, "output_tail": output[-4000:], "network": net_kind,
                },
            )
        return result

    async def _spawn(
        self, argv: list[str], cwd: Path, env: dict, timeout: float, fence: "netfence.NetFence | None" = None
    ) -> tuple[int, bool, bytes, int, str | None]:
        """Run to completion or timeout; (exit code, timed out, output tail,
        output size, why the fenced network could not be attached).

        With a ``fence``, bubblewrap waits after making its namespaces until the
        user-mode network is attached (or has failed: then it runs without).
        When the command itself has exited, what it left running in the
        background gets a second to finish writing, then its group is killed."""
        cap = self.output_cap
        buf = bytearray()
        total = 0
        timed_out = False
        proc = await anyio.open_process(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, pass_fds=fence.pass_fds if fence else (),
        )
        net_failed = None
        if fence is not None:
            fence.started()
            net_failed = await anyio.to_thread.run_sync(fence.attach)

        reader_done = anyio.Event()

        async def read() -> None:
            nonlocal total
            try:
                async for chunk in proc.stdout:
                    total += len(chunk)
                    buf.extend(chunk)
                    if len(buf) > cap:
                        del buf[: len(buf) - cap]
            finally:
                reader_done.set()

        try:
            with anyio.move_on_after(timeout) as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(read)
                    await proc.wait()
                    with anyio.move_on_after(1.0):
                        await reader_done.wait()
                    if not reader_done.is_set():
                        await _kill_group(proc)
                        tg.cancel_scope.cancel()
            if scope.cancelled_caught:
                timed_out = True
                await _kill_group(proc)
                with anyio.move_on_after(1):  # what the killed command wrote last is worth keeping
                    await read()
        finally:
            with anyio.CancelScope(shield=True):
                if proc.returncode is None:
                    await _kill_group(proc)
                await proc.aclose()
        code = proc.returncode if proc.returncode is not None else -signal.SIGKILL
        return code, timed_out, bytes(buf), total, net_failed


async def _kill_group(proc) -> None:
    """SIGTERM the command's process group, then SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        with anyio.move_on_after(wait):
            await proc.wait()
            # the leader is gone; make sure nothing else of its group survives
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return


_BUILTINS = frozenset("cd export set unset echo printf test [ true false exit source . alias pushd popd read wait eval exec command type umask ulimit trap shift :".split())


def missing_program(command: str | Sequence[str], env: Mapping[str, str] | None = None) -> str | None:
    """The first program ``command`` starts that is not installed (shell
    builtins aside), or None; lets a worker fall back before running it."""
    import shutil

    path = child_env(env).get("PATH")
    parts = [list(command)] if not isinstance(command, str) else _split_commands(command)
    for part in parts:
        words = [w for w in part if not ("=" in w and not w.startswith("-"))]
        if not words or words[0] in _BUILTINS:
            continue
        prog = words[0]
        found = os.access(prog, os.X_OK) if "/" in prog else shutil.which(prog, path=path) is not None
        if not found:
            return prog
    return None


def _program(command: str | Sequence[str]) -> str:
    if not isinstance(command, str):
        return str(command[0])
    for part in _split_commands(command):
        words = [w for w in part if not ("=" in w and not w.startswith("-"))]
        if words:
            return words[0]
    return command.split()[0]


def _listing(folder: Path) -> list[str]:
    """Paths relative to the project ``folder``: what ``git status --porcelain``
    shows (changed and untracked-not-ignored files) for the project's repository
    in Octra's data folder (before it has one: for an empty throwaway one, so the
    tree's ignore rules still apply), never for a ``.git`` in the tree; else every
    file outside ``.git`` folders."""
    import tempfile

    from ..pipeline.files import has_git_part, is_git_name
    from ..pipeline.gitrepo import GitError, empty_git_dir, git, has_repo

    if not folder.is_dir():
        return []
    proc = None
    with tempfile.TemporaryDirectory(prefix="octra-listing-") as tmp:
        try:
            gd = None if has_repo(folder) else empty_git_dir(Path(tmp))
            proc = git(folder, "--no-optional-locks", "status", "--porcelain", "-z", "--untracked-files=all",
                       gd=gd, timeout=120)
        except GitError:
            proc = None  # a walk of the folder says it too
    if proc is not None:
        out, items = [], proc.stdout.decode("utf-8", "surrogateescape").split("\0")
        i = 0
        while i < len(items):
            item = items[i]
            i += 1
            if len(item) < 4:
                continue
            status, path = item[:2], item[3:]
            if "R" in status or "C" in status:
                i += 1  # the source path of a rename follows
            if "D" not in status and not has_git_part(path):
                out.append(path)
        return out
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not is_git_name(d)]
        rel = os.path.relpath(dirpath, folder)
        files += [name if rel == "." else f"{rel}/{name}" for name in filenames if not is_git_name(name)]
    return files


async def executor_for(daemon: Any, *, publish: Publish | None = None, output_cap: int = DEFAULT_OUTPUT_CAP) -> Executor:
    """An executor with the daemon's current settings, its projects folder, and
    what a sandboxed command must never reach, even through a toolchain folder
    that lies near it: Octra's data (the database holds provider keys), config
    file, logs and socket, and the runtime folder."""
    cfg = daemon.config
    hide = [Path(cfg.data_dir), Path(cfg.config_file), Path(cfg.log_dir), Path(cfg.socket), Path.home()]
    if os.environ.get("XDG_RUNTIME_DIR"):
        hide.append(Path(os.environ["XDG_RUNTIME_DIR"]))
    return Executor(await daemon.settings.get(), projects_dir=cfg.projects_dir, hide=hide, publish=publish, output_cap=output_cap)
