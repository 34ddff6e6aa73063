"""Where the GitHub token comes from: stored with ``github.set_token`` (in the
secret store: the keyring, else a 0600 file; never the database), else
``GITHUB_TOKEN``.  Every token is registered with the redactor the moment it
is loaded."""

from __future__ import annotations

from octra_protocol.errors import RpcError

from .. import secretenv
from ..redact import register
from ..secretstore import GITHUB_TOKEN, SecretError, SecretStore

_UNREAD = object()


class TokenStore:
    def __init__(self, secrets: SecretStore, environ: dict[str, str] | None = None):
        self.secrets = secrets
        self._env = secretenv.get("GITHUB_TOKEN") if environ is None else ((environ.get("GITHUB_TOKEN") or "").strip() or None)
        register(self._env)
        #: the stored token once read (a keyring read is a D-Bus round trip: once is enough)
        self._stored: object = _UNREAD

    async def get(self) -> tuple[str | None, str | None]:
        """(token, source) where source is "stored", "env" or None."""
        if self._stored is _UNREAD:
            try:
                self._stored = await self.secrets.get(GITHUB_TOKEN)
            except SecretError as exc:
                raise RpcError.of("unavailable", f"the GitHub token cannot be read: {exc}") from None
        stored = self._stored
        if stored:
            register(stored)
            return stored, "stored"
        if self._env:
            return self._env, "env"
        return None, None

    async def set(self, token: str | None) -> None:
        register(token)
        try:
            await self.secrets.set(GITHUB_TOKEN, token)
        except (SecretError, OSError) as exc:
            raise RpcError.of("unavailable", f"the GitHub token cannot be stored: {exc}") from None
        self._stored = token
