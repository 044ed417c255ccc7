"""Multipart uploads through the artifact proxy.

MLflow's client uploads the parts of a large file to URLs the server hands out, in parallel,
then asks the server to complete the upload. Here those URLs point back at this server: each
part is stored as its own object under ``.multipart/<project>/<upload id>/`` in the artifact
store (so any worker can receive any part), and completing streams the parts in order into
the final file, computing its checksum as a normal upload does.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence

from modelyard.artifacts.base import ArtifactStore
from modelyard.artifacts.paths import artifact_path
from modelyard.errors import InvalidArgument, NotFound
from modelyard.services.artifacts import Artifacts, Upload
from modelyard.services.context import Caller

MAX_PARTS = 10_000
MULTIPART_ROOT = ".multipart"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def new_upload_id(now_ms: int) -> str:
    """32 hex digits: the start time in milliseconds (12), then randomness (20), so that
    ``modelyard gc`` can tell abandoned uploads by their age without a database row."""
    return f"{now_ms:012x}{uuid.uuid4().hex[:20]}"


def upload_started_ms(upload_id: str) -> int:
    return int(upload_id[:12], 16)


class MultipartUploads:
    def __init__(
        self, artifacts: Artifacts, store: ArtifactStore, clock: Callable[[], int]
    ) -> None:
        self._artifacts = artifacts
        self._store = store
        self._now = clock

    def create(self, caller: Caller, directory: str, local_path: str, parts: int) -> str:
        """Start an upload of ``local_path``'s file into ``directory``; return its id.

        Raises:
            InvalidArgument: a bad path or part count.
        """
        self._target(directory, local_path)
        if not 1 <= parts <= MAX_PARTS:
            raise InvalidArgument(f"num_parts must be between 1 and {MAX_PARTS}, got {parts}.")
        self._artifacts.project_of(caller)
        return new_upload_id(self._now())

    def begin_part(self, caller: Caller, upload_id: str, part_number: int) -> Upload:
        """Start receiving one part; it is kept apart until the upload completes."""
        if not 1 <= part_number <= MAX_PARTS:
            raise InvalidArgument(f"part_number must be between 1 and {MAX_PARTS}.")
        location = f"{self._parts_dir(caller, upload_id)}/{part_number:05d}"
        return Upload(lambda _stored: None, self._store.writer(location), location)

    def complete(
        self,
        caller: Caller,
        directory: str,
        local_path: str,
        upload_id: str,
        part_numbers: Sequence[int],
    ) -> None:
        """Assemble the parts, in order, into the file and record its checksum.

        Raises:
            InvalidArgument: parts missing or listed twice, or a bad path.
            NotFound: no parts were uploaded under this id.
        """
        target = self._target(directory, local_path)
        parts_dir = self._parts_dir(caller, upload_id)
        stored = {info.path.rsplit("/", 1)[-1] for info in self._store.list(parts_dir)}
        if not stored:
            raise NotFound(f"No parts were uploaded for multipart upload {upload_id}.")
        wanted = sorted(part_numbers)
        if wanted != sorted(set(wanted)) or not wanted:
            raise InvalidArgument("parts must list each part number once.")
        missing = [n for n in wanted if f"{n:05d}" not in stored]
        if missing:
            raise InvalidArgument(f"Parts {missing[:10]} of upload {upload_id} were not uploaded.")
        upload = self._artifacts.begin_upload(caller, target)
        try:
            for number in wanted:
                for chunk in self._store.read(f"{parts_dir}/{number:05d}"):
                    upload.write(chunk)
            upload.finish()
        except BaseException:
            upload.abort()
            raise
        self._store.delete(parts_dir)

    def abort(self, caller: Caller, upload_id: str) -> None:
        self._store.delete(self._parts_dir(caller, upload_id))

    def _parts_dir(self, caller: Caller, upload_id: str) -> str:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise InvalidArgument(f"Invalid upload_id {upload_id!r}.")
        project = self._artifacts.project_of(caller)
        return f"{MULTIPART_ROOT}/{project.name}/{upload_id}"

    @staticmethod
    def _target(directory: str, local_path: str) -> str:
        """MLflow's client puts the destination directory in the URL and its own local file
        path in the body; the file keeps its name."""
        name = local_path.replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            raise InvalidArgument(f"path {local_path!r} names no file.")
        return artifact_path(f"{artifact_path(directory, allow_root=True)}/{name}")
