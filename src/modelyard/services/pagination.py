"""Page tokens: opaque to clients, an offset inside."""

from __future__ import annotations

import base64
import binascii
import json

from modelyard.errors import InvalidArgument


def encode_token(offset: int | None) -> str | None:
    if offset is None:
        return None
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    """Raises InvalidArgument for a token this server did not issue."""
    if not token:
        return 0
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = payload["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeError):
        raise InvalidArgument(f"Invalid page token, could not base64-decode: {token!r}") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidArgument("Invalid page token: offset must be a non-negative integer")
    return offset


def check_max_results(max_results: int, limit: int, what: str = "max_results") -> None:
    if max_results <= 0:
        raise InvalidArgument(
            f"Invalid value for {what}. It must be a positive integer, got {max_results}"
        )
    if max_results > limit:
        raise InvalidArgument(
            f"Invalid value for {what}. It must be at most {limit}, but got value {max_results}"
        )
