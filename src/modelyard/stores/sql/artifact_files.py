"""Checksums of the artifact files written through the server."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, or_, select

from modelyard.domain.artifacts import StoredFile
from modelyard.domain.experiments import Project
from modelyard.stores.sql.dialect import upsert
from modelyard.stores.sql.tables import artifact_files

_GET = select(artifact_files.c.size, artifact_files.c.sha256).where(
    artifact_files.c.project_id == bindparam("project_id"),
    artifact_files.c.path == bindparam("path"),
)


class SqlArtifactFileStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def record_file(self, project: Project, stored: StoredFile, now_ms: int) -> None:
        self._db.execute(
            upsert(
                self._db, artifact_files, ["project_id", "path"], ["size", "sha256", "created_at"]
            ),
            {
                "project_id": project.id,
                "path": stored.path,
                "size": stored.size,
                "sha256": stored.sha256,
                "created_at": now_ms,
            },
        )

    def get_file(self, project: Project, path: str) -> StoredFile | None:
        row = self._db.execute(_GET, {"project_id": project.id, "path": path}).one_or_none()
        return None if row is None else StoredFile(path, row.size, row.sha256)

    def forget_files(self, project: Project, path: str) -> None:
        """Drop the record of ``path`` and of everything below it."""
        escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        self._db.execute(
            delete(artifact_files).where(
                artifact_files.c.project_id == project.id,
                or_(
                    artifact_files.c.path == path,
                    artifact_files.c.path.like(f"{escaped}/%", escape="\\"),
                ),
            )
        )
