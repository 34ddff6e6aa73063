"""Secrets at rest: provider keys and the GitHub token, never in the database.

Where the platform has a keyring (the ``keyring`` package: Secret Service on
Linux, the Keychain on macOS, the Windows Credential Manager, or whatever
backend the user chose with ``PYTHON_KEYRING_BACKEND`` or ``keyringrc.cfg``),
the secrets live there.  Without one they live in ``secrets.json`` in the data
folder, created 0600 (never wider, not even for a moment).  Every read and
write runs in a worker thread: a keyring talks D-Bus and may wait for an
unlock prompt, which must never stall the daemon's event loop.

At start, :func:`move_plaintext_out` moves the keys that older versions kept
in the ``providers`` and ``credentials`` tables into the store and rewrites
the database so no copy of them is left in its pages or its WAL.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import anyio

log = logging.getLogger(__name__)

FILE_NAME = "secrets.json"
#: how long the keyring may take to answer the first probe before the file is used instead
PROBE_TIMEOUT_S = 10.0


#: the names secrets are kept under
GITHUB_TOKEN = "github_token"


def provider_key(name: str) -> str:
    return f"provider:{name}"


class SecretError(Exception):
    """The secret store cannot be read or written; the message says where and why."""


class KeyringBackend:
    """Secrets in the platform keyring, one entry per name under a service named for the data folder."""

    def __init__(self, kr: Any, service: str):
        self.kr = kr
        self.service = service
        self.where = f"keyring ({_label(kr)})"

    def get(self, name: str) -> str | None:
        try:
            return self.kr.get_password(self.service, name)
        except Exception as exc:  # keyring errors, D-Bus errors: said plainly, never a traceback to the client
            raise SecretError(f"the {self.where} cannot be read: {type(exc).__name__}: {exc}") from None

    def set(self, name: str, value: str | None) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            if value is not None:
                self.kr.set_password(self.service, name, value)
            else:
                self.kr.delete_password(self.service, name)
        except PasswordDeleteError:
            pass  # nothing stored under that name
        except Exception as exc:
            raise SecretError(f"the {self.where} cannot be written: {type(exc).__name__}: {exc}") from None


class FileBackend:
    """Secrets in one JSON file, 0600, replaced atomically on every change."""

    def __init__(self, path: Path):
        self.path = path
        self.where = f"0600 file {path}"

    def _read(self) -> dict[str, str]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SecretError(f"cannot read the secrets file {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as fh:
            if stat.S_IMODE(os.fstat(fh.fileno()).st_mode) & 0o077:
                os.fchmod(fh.fileno(), 0o600)
                log.warning("%s was readable by others; it is 0600 again", self.path)
            raw = fh.read()
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise SecretError(f"the secrets file {self.path} is not valid JSON ({exc}); "
                              "fix or remove it, then set the keys again") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise SecretError(f"the secrets file {self.path} is not an object of strings; fix or remove it")
        return data

    def get(self, name: str) -> str | None:
        return self._read().get(name)

    def set(self, name: str, value: str | None) -> None:
        data = self._read()
        if value is None:
            if data.pop(name, None) is None:
                return
        else:
            data[name] = value
        tmp = self.path.with_name(f".{FILE_NAME}.tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(json.dumps(data, indent=1, sort_keys=True).encode())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _label(kr: Any) -> str:
    """A backend's short name: SecretService, macOS, Windows, PlaintextKeyring, ..."""
    inner = getattr(kr, "backends", None)
    if inner:  # keyring's chainer: say what it chains
        return ", ".join(_label(b) for b in inner)
    cls = type(kr)
    return cls.__module__.rsplit(".", 1)[-1] if cls.__name__ == "Keyring" else cls.__name__


def _platform_keyring() -> tuple[Any | None, str]:
    """The keyring backend the library would use, or None and why not."""
    try:
        import keyring
        from keyring.backends import fail, null
    except ImportError as exc:
        return None, f"the keyring package is not installed ({exc})"
    try:
        kr = keyring.get_keyring()
    except Exception as exc:  # a broken keyringrc or backend name
        return None, f"the keyring backend cannot be loaded: {exc}"
    if isinstance(kr, (fail.Keyring, null.Keyring)):
        return None, "no keyring backend is available (no Secret Service on this session bus)"
    return kr, ""


class SecretStore:
    """The daemon's one place for secrets; ``where`` says which backend holds them."""

    def __init__(self, backend: "KeyringBackend | FileBackend"):
        self.backend = backend
        self._lock = anyio.Lock()

    @property
    def where(self) -> str:
        return self.backend.where

    @classmethod
    async def open(cls, data_dir: str | Path) -> "SecretStore":
        """The keyring when one is usable (it answers a probe in time), else the 0600 file.
        Raises :class:`SecretError` for a secrets file that cannot be read."""
        data_dir = Path(data_dir)
        kr, why = _platform_keyring()
        if kr is not None:
            backend = KeyringBackend(kr, f"octra {data_dir}")
            try:
                with anyio.fail_after(PROBE_TIMEOUT_S):
                    await anyio.to_thread.run_sync(backend.get, "probe", abandon_on_cancel=True)
                store = cls(backend)
                log.info("secrets: %s", store.where)
                return store
            except TimeoutError:
                why = f"the keyring ({_label(kr)}) did not answer within {PROBE_TIMEOUT_S:.0f} s"
            except Exception as exc:
                why = f"the keyring ({_label(kr)}) failed: {type(exc).__name__}: {exc}"
        backend = FileBackend(data_dir / FILE_NAME)
        await anyio.to_thread.run_sync(backend._read)  # a damaged file stops the start, saying so
        store = cls(backend)
        log.info("secrets: %s (%s)", store.where, why)
        return store

    async def get(self, name: str) -> str | None:
        async with self._lock:
            return await anyio.to_thread.run_sync(self.backend.get, name)

    async def set(self, name: str, value: str | None) -> None:
        """Store ``value`` under ``name``; None removes it."""
        async with self._lock:
            await anyio.to_thread.run_sync(self.backend.set, name, value)


async def move_plaintext_out(db: Any, store: SecretStore) -> int:
    """Move keys that older versions stored in the database into ``store``, then
    rewrite the database (VACUUM, WAL truncated) so no stale copy stays in its
    free pages or in the WAL.  The number of secrets moved."""
    from .redact import register

    rows = await db.fetchall("SELECT name, api_key FROM providers WHERE api_key IS NOT NULL AND api_key != ''")
    creds = await db.fetchall("SELECT name, secret FROM credentials")
    if not rows and not creds:
        return 0
    for name, secret in [(provider_key(r["name"]), r["api_key"]) for r in rows] + [(r["name"], r["secret"]) for r in creds]:
        register(secret)
        await store.set(name, secret)
    async with db.transaction() as w:
        await w.execute("UPDATE providers SET api_key = NULL WHERE api_key IS NOT NULL")
        await w.execute("DELETE FROM credentials")
    await db.scrub()
    moved = len(rows) + len(creds)
    log.info("moved %d secret(s) out of the database into the %s", moved, store.where)
    return moved
