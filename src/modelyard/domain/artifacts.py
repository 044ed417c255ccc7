"""Artifact files as the platform records them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file written through the server: its path (relative to its project's artifact root),
    size in bytes and SHA-256 (hex), computed while it streamed in."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` up to ``end`` (exclusive) of a file."""

    start: int
    end: int
