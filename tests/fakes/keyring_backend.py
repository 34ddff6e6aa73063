"""A keyring backend for tests: a real ``keyring.backend.KeyringBackend`` that
keeps its entries in a JSON file named by ``OCTRA_TEST_KEYRING`` (and waits
``OCTRA_TEST_KEYRING_DELAY`` seconds per call, as a slow D-Bus keyring might).

The daemon picks it the way a user picks any backend, through keyring's own
configuration: ``PYTHON_KEYRING_BACKEND=tests.fakes.keyring_backend.FileKeyring``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1  # only ever chosen explicitly

    def _path(self) -> Path:
        return Path(os.environ["OCTRA_TEST_KEYRING"])

    def _load(self) -> dict:
        time.sleep(float(os.environ.get("OCTRA_TEST_KEYRING_DELAY") or 0))
        try:
            return json.loads(self._path().read_text())
        except FileNotFoundError:
            return {}

    def _save(self, data: dict) -> None:
        self._path().write_text(json.dumps(data))

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}|{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}|{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}|{username}", None) is None:
            raise PasswordDeleteError(username)
        self._save(data)
