"""The artifact storage port: streamed, path-addressed bytes under one root.

Paths given to a store are already normalised by :func:`modelyard.artifacts.paths.artifact_path`
and relative to the store's root. Stores never hold a whole file in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a listing; ``path`` is relative to the store root."""

    path: str
    is_dir: bool
    size: int | None = None


class ArtifactWriter(Protocol):
    """A file being written. Nothing is visible at its path until ``commit()``."""

    def write(self, data: bytes) -> None: ...

    def commit(self) -> None:
        """Make the file visible at its path, replacing what was there."""

    def abort(self) -> None:
        """Discard everything written; safe to call after a failed write or twice."""


class ArtifactStore(Protocol):
    def writer(self, path: str) -> ArtifactWriter:
        """Start writing the file at ``path``.

        Raises:
            InvalidArgument: a directory is at ``path``, or a file is where a parent
                directory must be.
        """

    def read(
        self, path: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive; None for the end of the file) of a file.

        Raises:
            NotFound: no file at ``path``.
        """

    def stat(self, path: str) -> FileInfo | None:
        """The file or directory at ``path``, or None."""

    def list(self, path: str) -> list[FileInfo]:
        """The entries directly inside the directory ``path`` ("" for the root), by name; empty
        when there is no such directory."""

    def walk(self, path: str) -> Iterator[FileInfo]:
        """Every file below ``path``, at any depth."""

    def delete(self, path: str) -> None:
        """Remove the file or the whole directory at ``path``; nothing there is not an error."""
