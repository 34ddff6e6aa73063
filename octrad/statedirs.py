"""Where Octra keeps a project's private state: out of the project folder, so
nothing a model writes or a command runs can change it.

- ``git_dir(folder)``: the project's git directory (``<data>/git/<name>-<hash>.git``;
  the work tree is the project folder).  Octra's git obeys only this one; a
  ``.git`` in the project folder is a file like any other, never used.
- ``flake_dir(key)``: a copy of a flake Octra wrote, the only thing ``nix develop``
  is given (``<data>/flakes/<key>``).

The daemon calls :func:`configure` with its data folder at start; until then
(in-process tools, tests) the folder is the default the daemon would pick,
``OCTRA_DATA_DIR`` or the platform's user data folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_data_dir: Path | None = None


def configure(data_dir: str | Path) -> None:
    global _data_dir
    _data_dir = Path(data_dir)


def data_dir() -> Path:
    if _data_dir is not None:
        return _data_dir
    env = os.environ.get("OCTRA_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("octra"))


def git_root(data: str | Path | None = None) -> Path:
    return Path(data or data_dir()) / "git"


def git_dir(folder: str | Path, data: str | Path | None = None) -> Path:
    """The git directory of the work tree ``folder`` (in ``data``, default the data
    folder): named for the folder and its absolute path (two folders of one name
    never share one)."""
    path = os.path.abspath(folder)
    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in os.path.basename(path))[:80].strip(".") or "project"
    return git_root(data) / f"{name}-{digest}.git"


def flake_dir(key: str) -> Path:
    return data_dir() / "flakes" / key
