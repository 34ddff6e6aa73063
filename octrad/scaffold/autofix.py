"""The command auto-fix loop: run a command; when it fails, hand its command
line, exit code, output tail and the project's current files to a fixer (the
pipeline plugs in the worker), write the fixed files, commit them, run the
command again; a bounded number of times.  The outcome is an event either way:
``agent.log`` with a one-line ``message`` and the structured ``autofix`` data
(each written file is a ``file.written`` event; each run the executor's
``command.started`` / ``command.finished``).

Contract::

    outcome = await run_with_autofix(executor, command, cwd, fixer, max_attempts=3, publish=..., **run_kw)
    # fixer: async (FixRequest) -> {path: content} (or [(path, content)]); empty: give up
    # outcome: AutofixOutcome(ok, status "passed"|"fixed"|"failed", attempts, results, written, commits, reason)

Files the fixer returns are written only inside the project: relative paths,
no ``..``, nothing under ``.git``, no symlink leading out, each at most
``MAX_FILE_BYTES``.  A refused path fails the attempt with the reason (it is
given to the fixer on the next attempt).  Commits use the git binary with the
scrubbed child environment (gitpython would start git with the daemon's own
environment, keys included).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence

import anyio

from .environment import child_env
from .executor import CommandResult, Executor

MAX_FILE_BYTES = 1 << 20
#: what the fixer sees of the project
MAX_SHOWN_FILE = 64 * 1024
MAX_SHOWN_TOTAL = 512 * 1024
AUTHOR = ("Octra autofix", "autofix@octra.invalid")


@dataclass
class FixRequest:
    command: str
    exit_code: int
    output_tail: str
    #: path -> text of the project's files (text files only, size-capped)
    files: dict[str, str]
    attempt: int
    timed_out: bool = False
    #: why the previous attempt's files could not be used, if so
    problem: str = ""


Fixer = Callable[[FixRequest], Awaitable[Any]]
Publish = Callable[[str, dict], Awaitable[Any]]


@dataclass
class AutofixOutcome:
    ok: bool
    #: passed (first run), fixed (after fixes), failed
    status: str
    attempts: int
    results: list[CommandResult] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def last(self) -> CommandResult:
        return self.results[-1]


class UnsafePath(ValueError):
    """A path a fixer returned that may not be written."""


def safe_target(root: Path, rel: str) -> Path:
    """Where ``rel`` lives inside ``root``, or :class:`UnsafePath` saying why not."""
    if not isinstance(rel, str) or not rel or "\0" in rel:
        raise UnsafePath(f"{rel!r} is not a file path")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or rel.startswith("~"):
        raise UnsafePath(f"{rel!r} is absolute; paths must be relative to the project")
    if ".." in pure.parts:
        raise UnsafePath(f"{rel!r} climbs out with '..'")
    if pure.parts and pure.parts[0] == ".git":
        raise UnsafePath(f"{rel!r} is inside .git")
    target = root / pure
    real_root = root.resolve()
    real = target.resolve()
    if real != real_root and real_root not in real.parents:
        raise UnsafePath(f"{rel!r} leads outside the project through a symlink")
    if real == real_root or target.is_dir():
        raise UnsafePath(f"{rel!r} is a folder, not a file")
    return target


def _pairs(answer: Any) -> list[tuple[str, str]]:
    if answer is None:
        return []
    if isinstance(answer, Mapping):
        return [(str(k), v) for k, v in answer.items()]
    out = []
    for item in answer:
        if isinstance(item, Mapping):
            out.append((item.get("path"), item.get("content")))
        else:
            path, content = item
            out.append((path, content))
    return out


def write_files(root: Path, answer: Any) -> list[str]:
    """Write the fixer's files; all are checked before any is written."""
    checked = []
    for rel, content in _pairs(answer):
        target = safe_target(root, rel)
        if not isinstance(content, str):
            raise UnsafePath(f"{rel!r}: content must be text")
        data = content.encode("utf-8")
        if len(data) > MAX_FILE_BYTES:
            raise UnsafePath(f"{rel!r} is {len(data)} bytes, over the {MAX_FILE_BYTES} byte limit")
        checked.append((rel, target, data))
    for _, target, data in checked:
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = target.stat().st_mode & 0o777 if target.exists() else None
        tmp = target.with_name(f".{target.name}.octra-tmp")
        tmp.write_bytes(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    return [rel for rel, _, _ in checked]


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"GIT_CEILING_DIRECTORIES": str(root.parent)}
    cfg = []
    base = child_env()
    if "GIT_AUTHOR_NAME" not in base:
        cfg += ["-c", f"user.name={AUTHOR[0]}", "-c", f"user.email={AUTHOR[1]}"]
    return subprocess.run(["git", *cfg, "-C", str(root), *args], capture_output=True, text=True, env=child_env(env))


def commit(root: Path, paths: Iterable[str], message: str) -> str:
    """Commit ``paths`` (creating the repository if needed); the new commit id."""
    if not (root / ".git").exists():
        _check(_git(root, "init", "-q"))
    _check(_git(root, "add", "--", *paths))
    _check(_git(root, "commit", "-q", "--no-verify", "-m", message, "--", *paths))
    return _check(_git(root, "rev-parse", "HEAD")).stdout.strip()


def _check(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if proc.returncode != 0:
        raise RuntimeError(f"git {proc.args[1:]!r} failed: {(proc.stderr or proc.stdout).strip()}")
    return proc


def project_files(root: Path) -> dict[str, str]:
    """The project's text files as the fixer sees them (git's view when a repository)."""
    if (root / ".git").exists():
        proc = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, env=child_env({"GIT_CEILING_DIRECTORIES": str(root.parent)}),
        )
        names = [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
    else:
        names = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in {".git", "node_modules", "target", ".venv", "__pycache__"}]
            rel = os.path.relpath(dirpath, root)
            names += [f if rel == "." else f"{rel}/{f}" for f in filenames]
    files: dict[str, str] = {}
    total = 0
    for name in sorted(names):
        p = root / name
        try:
            if p.is_symlink() or not p.is_file() or p.stat().st_size > MAX_SHOWN_FILE:
                continue
            data = p.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if total + len(data) > MAX_SHOWN_TOTAL:
            break
        files[name] = text
        total += len(data)
    return files


async def run_with_autofix(
    executor: Executor,
    command: str | Sequence[str],
    cwd: str | Path,
    fixer: Fixer,
    *,
    max_attempts: int = 3,
    publish: Publish | None = None,
    **run_kw: Any,
) -> AutofixOutcome:
    """Run ``command``; on failure let ``fixer`` repair the files, up to ``max_attempts`` times."""
    if max_attempts < 0:
        raise ValueError(f"max_attempts must be >= 0, not {max_attempts}")
    root = Path(cwd)
    result = await executor.run(command, root, **run_kw)
    outcome = AutofixOutcome(ok=result.ok, status="passed" if result.ok else "failed", attempts=0, results=[result])
    problem = ""
    while not outcome.ok and outcome.attempts < max_attempts:
        outcome.attempts += 1
        files = await anyio.to_thread.run_sync(project_files, root)
        request = FixRequest(
            command=result.command, exit_code=result.exit_code, output_tail=result.output_tail, files=files,
            attempt=outcome.attempts, timed_out=result.timed_out, problem=problem,
        )
        answer = await fixer(request)
        if not _pairs(answer):
            outcome.reason = "the fixer returned no files"
            break
        try:
            written = await anyio.to_thread.run_sync(write_files, root, answer)
        except UnsafePath as exc:
            problem = f"files not written: {exc}"
            outcome.reason = problem
            continue
        problem = ""
        sha = await anyio.to_thread.run_sync(
            commit, root, written, f"Fix `{result.command[:60]}` (exit {result.exit_code}), attempt {outcome.attempts}"
        )
        outcome.written += [w for w in written if w not in outcome.written]
        outcome.commits.append(sha)
        if publish is not None:
            for w in written:
                await publish("file.written", {"path": w, "reason": "autofix", "attempt": outcome.attempts})
        result = await executor.run(command, root, **run_kw)
        outcome.results.append(result)
        if result.ok:
            outcome.ok, outcome.status, outcome.reason = True, "fixed", ""
    if not outcome.ok and not outcome.reason:
        outcome.reason = f"still failing after {outcome.attempts} fix attempt(s)" if outcome.attempts else "failed, no fix attempted"
    if publish is not None:
        summary = {
            "passed": f"`{outcome.last.command}` passed",
            "fixed": f"`{outcome.last.command}` fixed after {outcome.attempts} attempt(s): {', '.join(outcome.written)}",
            "failed": f"`{outcome.last.command}` still fails (exit {outcome.last.exit_code}): {outcome.reason}",
        }[outcome.status]
        await publish(
            "agent.log",
            {
                "level": "info" if outcome.ok else "error",
                "message": summary,
                "autofix": {
                    "command": outcome.last.command, "status": outcome.status, "ok": outcome.ok,
                    "attempts": outcome.attempts, "exit_code": outcome.last.exit_code, "written": outcome.written,
                    "commits": outcome.commits, "reason": outcome.reason,
                },
            },
        )
    return outcome
