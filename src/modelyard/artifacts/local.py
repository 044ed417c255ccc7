"""Artifacts on a local filesystem (or any mounted volume)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from modelyard.artifacts.base import CHUNK_SIZE, FileInfo
from modelyard.errors import InvalidArgument, NotFound

_PARTIAL_PREFIX = ".upload-"


class LocalArtifactStore:
    """Files under one directory; uploads land in a hidden temporary file, renamed on commit."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _resolve(self, path: str) -> Path:
        """The absolute location of ``path``, refusing symlinks that lead out of the root."""
        location = self.root / path if path else self.root
        real = location.resolve()
        if real != self.root and not real.is_relative_to(self.root):
            raise InvalidArgument(f"Invalid artifact path {path!r}: it leads out of the root.")
        return location

    def writer(self, path: str) -> LocalWriter:
        location = self._resolve(path)
        if location.is_dir():
            raise InvalidArgument(f"Cannot write {path!r}: a directory of that name exists.")
        parent = location.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidArgument(
                f"Cannot write {path!r}: a file stands where a directory must be."
            ) from None
        self._resolve(str(parent.relative_to(self.root)) if parent != self.root else "")
        return LocalWriter(location)

    def read(
        self, path: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        location = self._resolve(path)
        try:
            handle = open(location, "rb", buffering=0)  # noqa: SIM115 - closed by the generator
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"No artifact at {path!r}") from None
        return _chunks(handle, start, end, chunk_size)

    def stat(self, path: str) -> FileInfo | None:
        location = self._resolve(path)
        try:
            status = location.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if location.is_dir():
            return FileInfo(path, is_dir=True)
        return FileInfo(path, is_dir=False, size=status.st_size)

    def list(self, path: str) -> list[FileInfo]:
        location = self._resolve(path)
        if not location.is_dir():
            return []
        found = []
        with os.scandir(location) as entries:
            for entry in entries:
                if entry.name.startswith(_PARTIAL_PREFIX):
                    continue
                child = f"{path}/{entry.name}" if path else entry.name
                if entry.is_dir(follow_symlinks=False):
                    found.append(FileInfo(child, is_dir=True))
                elif entry.is_file(follow_symlinks=False):
                    found.append(FileInfo(child, is_dir=False, size=entry.stat().st_size))
        return sorted(found, key=lambda info: info.path)

    def walk(self, path: str) -> Iterator[FileInfo]:
        for info in self.list(path):
            if info.is_dir:
                yield from self.walk(info.path)
            else:
                yield info

    def delete(self, path: str) -> None:
        location = self._resolve(path)
        if location.is_dir() and not location.is_symlink():
            shutil.rmtree(location)
        else:
            location.unlink(missing_ok=True)


class LocalWriter:
    def __init__(self, location: Path) -> None:
        self._location = location
        self._partial = location.with_name(f"{_PARTIAL_PREFIX}{uuid.uuid4().hex}")
        # O_EXCL|O_NOFOLLOW: never write through a link someone placed at the temporary name.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        self._file = os.fdopen(os.open(self._partial, flags, 0o644), "wb", buffering=0)

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.close()
        os.replace(self._partial, self._location)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._partial.unlink(missing_ok=True)


def _chunks(handle: object, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
    import io

    assert isinstance(handle, io.RawIOBase)
    with handle:
        handle.seek(start)
        remaining = None if end is None else max(0, end - start)
        while remaining is None or remaining > 0:
            size = chunk_size if remaining is None else min(chunk_size, remaining)
            data = handle.read(size)
            if not data:
                return
            if remaining is not None:
                remaining -= len(data)
            yield data
