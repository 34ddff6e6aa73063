"""Writing an AI's files into a project folder, and nowhere else.

An AI names paths; a path is data from an untrusted source.  A path is
accepted only when it is relative, has no ``..``, no NUL, no part git would
take for its own folder (``.git`` in any case, see :func:`is_git_name`), stays
inside the project and out of any such folder after every symlink on the way is
resolved, and its content is under the size cap.  A rejected file raises
:class:`UnsafePath` with the reason; the caller reports it and carries on.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 1024 * 1024
MAX_PATH_CHARS = 300

#: characters HFS+ ignores in names (git refuses ``.git`` spelled with them too)
_HFS_IGNORABLES = str.maketrans("", "", "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                        "\u206a\u206b\u206c\u206d\u206e\u206f\ufeff")


class UnsafePath(ValueError):
    """A file the pipeline refuses to write; the message says why."""


def is_git_name(part: str) -> bool:
    """Whether git (on some file system) takes the path part ``part`` for its own
    folder: ``.git`` in any case, with NTFS trailing dots/spaces or a stream
    suffix, its 8.3 short name ``git~1``, or with HFS+ ignorable characters.
    Such a path is never written, listed, committed or snapshotted."""
    ntfs = part.split(":", 1)[0].rstrip(" .").casefold()
    return ntfs in (".git", "git~1") or part.translate(_HFS_IGNORABLES).casefold() == ".git"


#: ``.env`` variants that are templates, not secrets
_ENV_TEMPLATES = ("example", "sample", "template", "dist", "defaults")
#: names of files that hold credentials by convention
_SECRET_NAMES = {".netrc", ".pypirc", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "credentials.json"}
_SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx")


def is_secret_name(name: str) -> bool:
    """Whether a file name is one that holds secrets by convention (``.env``,
    ``.env.local``, ``.netrc``, private keys...).  Such files stay in the project
    folder but are never committed by Octra nor snapshotted into the Nix store,
    which every local user can read; ``.env.example`` and public keys go in."""
    low = name.lower()
    if low == ".env" or (low.startswith(".env.") and low[5:] not in _ENV_TEMPLATES):
        return True
    return low in _SECRET_NAMES or low.endswith(_SECRET_SUFFIXES)


def is_secret_path(rel: str) -> bool:
    return is_secret_name(rel.rsplit("/", 1)[-1])


def has_git_part(rel: str) -> bool:
    return any(is_git_name(x) for x in rel.split("/"))


def check_path(root: Path, rel: str) -> Path:
    """The absolute target for ``rel`` inside ``root``, or :class:`UnsafePath`."""
    if not rel or not rel.strip():
        raise UnsafePath("empty path")
    if "\0" in rel or "\\" in rel:
        raise UnsafePath(f"{rel!r}: NUL or backslash in path")
    if len(rel) > MAX_PATH_CHARS:
        raise UnsafePath(f"{rel[:40]!r}...: path longer than {MAX_PATH_CHARS} characters")
    p = PurePosixPath(rel)
    if p.is_absolute() or rel.startswith("~"):
        raise UnsafePath(f"{rel!r}: absolute path")
    parts = [x for x in p.parts if x not in ("", ".")]
    if not parts:
        raise UnsafePath(f"{rel!r}: not a file path")
    if ".." in parts:
        raise UnsafePath(f"{rel!r}: '..' leaves the project")
    if any(is_git_name(x) for x in parts):
        raise UnsafePath(f"{rel!r}: nothing may be written in a .git folder (in any spelling)")
    root = root.resolve()
    target = root.joinpath(*parts)
    # every existing component must resolve inside the project, and not into a .git
    real_parent = target.parent.resolve()
    if real_parent != root and root not in real_parent.parents:
        raise UnsafePath(f"{rel!r}: a symlink on the way leads out of the project")
    if any(is_git_name(x) for x in real_parent.relative_to(root).parts):
        raise UnsafePath(f"{rel!r}: a symlink on the way leads into a .git folder")
    if target.is_symlink():
        raise UnsafePath(f"{rel!r}: is a symlink; it is not followed")
    if target.exists() and target.is_dir():
        raise UnsafePath(f"{rel!r}: is a directory")
    return target


def write_file(root: Path, rel: str, content: str) -> tuple[str, bool]:
    """Write one file safely; return (normalised relative path, changed?)."""
    data = content.encode("utf-8")
    if len(data) > MAX_FILE_BYTES:
        raise UnsafePath(f"{rel!r}: {len(data)} bytes is over the {MAX_FILE_BYTES}-byte cap")
    target = check_path(root, rel)
    norm = target.relative_to(root.resolve()).as_posix()
    try:
        if target.read_bytes() == data:
            return norm, False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    # re-check after mkdir: a component created meanwhile must not lead out either
    check_path(root, rel)
    tmp = target.with_name(f".{target.name}.octra-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    if data.startswith(b"#!"):
        target.chmod(0o755)
    return norm, True


def list_files(root: Path, limit: int = 5000) -> list[str]:
    """Project files (relative, sorted), without any .git folder."""
    out: list[str] = []
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not is_git_name(d))
        rel = Path(dirpath).relative_to(root)
        for f in sorted(filenames):
            if is_git_name(f):
                continue
            out.append((rel / f).as_posix())
            if len(out) >= limit:
                return out
    return out


def read_files(root: Path, paths: list[str], max_bytes: int = 60_000) -> list[tuple[str, str]]:
    """Text of some project files for a prompt, within a byte budget (no file is read
    past what the budget can take; binary files are skipped)."""
    out: list[tuple[str, str]] = []
    used = 0
    for rel in paths:
        left = max_bytes - used
        if left <= 0:
            break
        try:
            target = check_path(root, rel)
            with open(target, "rb") as fh:
                data = fh.read(left + 1)
            text = data[:left].decode("utf-8")
        except (UnsafePath, OSError, UnicodeDecodeError):
            continue
        if len(data) > left:
            text += "\n... (cut)"
        out.append((rel, text))
        used += len(text)
    return out


#: folders of build outputs and dependencies that are never project files
BUILD_DIRS = {"node_modules", "target", "dist", "build", "__pycache__", ".venv", "venv", ".gradle", "_build", "deps", "zig-cache", ".zig-cache"}


def project_files(root: Path, limit: int = 400) -> list[str]:
    """What a prompt should see of a project: git's tracked and untracked-not-ignored
    files, else the files outside build and dependency (and .git) folders."""
    from .gitrepo import listed

    try:
        found = listed(root)
    except Exception:  # a broken repository: the folder says it too
        found = None
    if found is not None:
        return found[:limit]
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in BUILD_DIRS and not is_git_name(d))
        rel = Path(dirpath).relative_to(root)
        for f in sorted(filenames):
            if is_git_name(f):
                continue
            out.append((rel / f).as_posix())
            if len(out) >= limit:
                return out
    return out
