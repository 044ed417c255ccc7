"""Webhook secrets at rest: encrypted with a server key (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from MODELYARD_SECRET_KEY; without it, the embedded default keeps one in a file
next to its database, created on first use. Several servers sharing a database must share the
key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from modelyard.errors import InvalidArgument


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise InvalidArgument(
                "MODELYARD_SECRET_KEY is not a valid key: generate one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`."
            ) from None

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def resolve(
        self, sealed: str | None, variable: str | None, environment: Mapping[str, str]
    ) -> str | None:
        """A webhook's secret: the stored one opened, else the named environment variable's
        value (None when it is not set), else None."""
        if sealed is not None:
            return self.open(sealed)
        if variable is not None:
            return environment.get(variable)
        return None

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise InvalidArgument(
                "A stored webhook secret cannot be decrypted: the server's secret key changed. "
                "Set the webhook's secret again."
            ) from None


def key_from(configured: str | None, key_file: Path) -> bytes:
    """The configured key, else the one in ``key_file`` (written, readable by its owner only,
    when missing)."""
    if configured:
        return configured.encode()
    try:
        return key_file.read_bytes().strip()
    except FileNotFoundError:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        try:
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another server process wrote it first
            return key_file.read_bytes().strip()
        with os.fdopen(descriptor, "wb") as out:
            out.write(key)
        return key
