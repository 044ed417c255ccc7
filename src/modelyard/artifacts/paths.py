"""The one function that turns a client's artifact path into a safe relative path.

Every artifact operation passes its path through :func:`artifact_path` before anything touches
storage, so a client can never name a location outside the artifact root.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from modelyard.errors import InvalidArgument

MAX_PATH_LENGTH = 1024
MAX_SEGMENT_BYTES = 255

_DRIVE = re.compile(r"^[A-Za-z]:")
# A percent sign followed by two hex digits: what is left of an encoding the server decoded once.
_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")


def artifact_path(raw: str, *, allow_root: bool = False) -> str:
    """Decode and normalise ``raw`` to ``a/b/c`` (no leading slash, no empty or ``.`` segments).

    The path is percent-decoded until it stops changing, as MLflow's server does: its client
    sends names unquoted and decodes the names it lists, so ``x%2520y`` must be stored as
    ``x y`` to be found again.

    Refused with InvalidArgument: ``..`` segments, absolute paths, drive letters, backslashes,
    NUL and other control characters, ``#`` (MLflow's client refuses listings containing it),
    segments over 255 bytes and paths over 1024 characters, at any level of encoding
    (``%2e%2e``, ``%252e``).

    Args:
        raw: the path as the client sent it, after the HTTP layer's own percent-decoding.
        allow_root: accept an empty path (the root), as listing does.
    """
    _refuse_unsafe(raw)
    decoded = raw
    for _ in range(10):
        if not _ENCODED.search(decoded):
            break
        decoded = unquote(decoded)
        _refuse_unsafe(decoded, shown=raw)
    segments = [s for s in decoded.split("/") if s not in ("", ".")]
    if not segments and not allow_root:
        raise InvalidArgument("Artifact path is empty: name a file, e.g. 'model/MLmodel'.")
    for segment in segments:
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise InvalidArgument(
                f"Artifact path segment {segment[:40]!r}... is longer than "
                f"{MAX_SEGMENT_BYTES} bytes."
            )
    return "/".join(segments)


def _refuse_unsafe(path: str, shown: str | None = None) -> None:
    shown = path if shown is None else shown
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidArgument(
            f"Artifact path is longer than {MAX_PATH_LENGTH} characters ({len(path)})."
        )
    if path.startswith("/") or _DRIVE.match(path):
        raise InvalidArgument(
            f"Invalid artifact path {shown!r}: it must be relative (no leading '/' or drive)."
        )
    if "#" in path:
        raise InvalidArgument(f"Invalid artifact path {shown!r}: '#' is not allowed in names.")
    if "\\" in path:
        raise InvalidArgument(f"Invalid artifact path {shown!r}: backslashes are not allowed.")
    if any(unicodedata.category(c) == "Cc" for c in path):
        raise InvalidArgument(
            f"Invalid artifact path {shown!r}: control characters (such as NUL) are not allowed."
        )
    if ".." in path.split("/"):
        raise InvalidArgument(
            f"Invalid artifact path {shown!r}: '..' would leave the artifact root."
        )


def join(*parts: str) -> str:
    """Join already-safe relative paths."""
    return "/".join(p.strip("/") for p in parts if p.strip("/"))
