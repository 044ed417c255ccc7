"""``modelyard gc``: permanently remove what was deleted long enough ago, and orphaned files."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from modelyard.artifacts.base import ArtifactStore
from modelyard.services.artifacts import proxied_path
from modelyard.services.multipart import MULTIPART_ROOT, upload_started_ms
from modelyard.stores.base import UnitOfWorkFactory

_RUN_ROOT = re.compile(r"^\d+/[0-9a-f]{32}/artifacts$")
_MODEL_ROOT = re.compile(r"^\d+/models/m-[0-9a-f]{32}/artifacts$")
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
ABANDONED_UPLOAD_MS = 24 * 3600 * 1000


@dataclass
class GcReport:
    """What a collection removed (or, in a dry run, would remove)."""

    runs: int = 0
    models: int = 0
    experiments: int = 0
    files: int = 0
    bytes: int = 0
    orphaned_roots: list[str] = field(default_factory=list)
    abandoned_uploads: int = 0
    dry_run: bool = False


class GarbageCollector:
    def __init__(
        self, uow: UnitOfWorkFactory, store: ArtifactStore, clock: Callable[[], int]
    ) -> None:
        self._uow = uow
        self._store = store
        self._now = clock

    def collect(self, older_than_ms: int, *, dry_run: bool = False) -> GcReport:
        """Remove runs, models and experiments deleted at least ``older_than_ms`` ago, with
        their metrics and artifacts, then artifact directories no run or model owns, and
        multipart uploads abandoned for more than a day.

        The database rows go first, in one transaction; files after. A crash in between leaves
        files without owners, which the orphan sweep of the next collection removes.
        """
        report = GcReport(dry_run=dry_run)
        with self._uow(write=True) as tx:
            expired = tx.purge.find_expired(self._now() - older_than_ms)
            report.runs, report.models = len(expired.runs), len(expired.models)
            report.experiments = len(expired.experiments)
            roots = [
                (project, root)
                for _, project, uri in [*expired.runs, *expired.models]
                if (root := proxied_path(uri))
            ]
            if not dry_run:
                tx.purge.purge(expired)
                for project, root in roots:
                    tx.artifact_files.forget_files(tx.projects.get_project(project), root)
                tx.commit()
        for project, root in roots:
            self._remove(f"{project}/{root}", report, dry_run)
        for project, root in list(self._orphans()):
            report.orphaned_roots.append(f"{project}/{root}")
            self._remove(f"{project}/{root}", report, dry_run)
            if not dry_run:
                with self._uow(write=True) as tx:
                    tx.artifact_files.forget_files(tx.projects.get_project(project), root)
                    tx.commit()
        self._remove_abandoned_uploads(older_than_ms, report, dry_run)
        return report

    def _remove_abandoned_uploads(
        self, older_than_ms: int, report: GcReport, dry_run: bool
    ) -> None:
        """Multipart uploads never completed nor aborted, older than the cut-off and a day."""
        cutoff = self._now() - max(older_than_ms, ABANDONED_UPLOAD_MS)
        for project in self._store.list(MULTIPART_ROOT):
            for upload in self._store.list(project.path):
                upload_id = upload.path.rsplit("/", 1)[-1]
                if _UPLOAD_ID.fullmatch(upload_id) and upload_started_ms(upload_id) <= cutoff:
                    report.abandoned_uploads += 1
                    self._remove(upload.path, report, dry_run)

    def _remove(self, location: str, report: GcReport, dry_run: bool) -> None:
        for info in self._store.walk(location):
            report.files += 1
            report.bytes += info.size or 0
        if not dry_run:
            self._store.delete(location)

    def _orphans(self) -> Iterable[tuple[str, str]]:
        """Run and model artifact roots in the store that nothing in the database owns."""
        with self._uow(write=False) as tx:
            known_projects = {p.name for p in tx.projects.list_projects()}
            for top in self._store.list(""):
                if not top.is_dir or top.path not in known_projects:
                    continue
                candidates = list(self._roots_of(top.path))
                owned = tx.purge.owned_roots(top.path, candidates)
                for root in candidates:
                    if root not in owned:
                        yield top.path, root

    def _roots_of(self, project: str) -> Iterable[str]:
        prefix = f"{project}/"
        for experiment in self._store.list(project):
            for entry in self._store.list(experiment.path):
                relative = entry.path.removeprefix(prefix)
                if entry.path.endswith("/models"):
                    for model in self._store.list(entry.path):
                        root = f"{model.path.removeprefix(prefix)}/artifacts"
                        if _MODEL_ROOT.match(root):
                            yield root
                elif _RUN_ROOT.match(f"{relative}/artifacts"):
                    yield f"{relative}/artifacts"
