"""Fetching a registered version's files from the platform: resolved once to a version
number, listed, streamed to disk, and every file's SHA-256 checked against the one the
platform recorded when it was uploaded."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from modelyard.domain.registry import parse_models_uri
from modelyard.errors import InvalidArgument

CHUNK = 1024 * 1024
Progress = Callable[[str, int], None]  # (file, bytes just written)


@dataclass(frozen=True, slots=True)
class ModelVersionFiles:
    name: str
    version: int
    directory: Path
    files: dict[str, str]  # relative path -> SHA-256
    total_bytes: int


def version_reference(uri: str) -> tuple[str, str]:
    """``(name, reference)`` for the platform's version lookup: a number, ``@alias``,
    ``latest`` or a semantic version."""
    parsed = parse_models_uri(uri)
    if parsed.name is None:
        raise InvalidArgument(
            f"{uri!r} names a logged model; serve a registered version: models:/<name>/<version> "
            "or models:/<name>@<alias>."
        )
    if parsed.version is not None:
        return parsed.name, str(parsed.version)
    if parsed.alias is not None:
        return parsed.name, f"@{parsed.alias}"
    if parsed.semver is not None:
        return parsed.name, str(parsed.semver)
    if parsed.latest:
        return parsed.name, "latest"
    raise InvalidArgument(f"{uri!r}: stages are not served; use a version number or an alias.")


class PlatformFiles:
    """``tracking_uri`` as the mlflow client takes it (``http://host`` or
    ``http://host/projects/NAME``)."""

    def __init__(self, tracking_uri: str, http: httpx.Client | None = None) -> None:
        self._root = tracking_uri.rstrip("/")
        self._http = http or httpx.Client(timeout=httpx.Timeout(60, connect=10))

    def fetch(
        self, uri: str, destination: Path, progress: Progress | None = None
    ) -> ModelVersionFiles:
        name, reference = version_reference(uri)
        version = self._get(
            f"/api/v1/registered-models/{quote(name, safe='')}/versions/{quote(reference)}"
        )["model_version"]
        number = int(version["version"])
        location = self._get(
            "/api/2.0/mlflow/model-versions/get-download-uri",
            params={"name": name, "version": str(number)},
        )["artifact_uri"]
        root = _proxied_path(location)
        listing = list(self._walk(root))
        if not any(path == "MLmodel" for path, _ in listing):
            raise InvalidArgument(
                f"models:/{name}/{number} has no MLmodel file at {location}: it is not an MLflow "
                "model and cannot be served."
            )
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=_parent(destination)))
        try:
            digests = {
                path: self._download(f"{root}/{path}", staging / path, path, progress)
                for path, _size in listing
            }
            if destination.exists():
                shutil.rmtree(destination)
            staging.rename(destination)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return ModelVersionFiles(
            name, number, destination, digests, sum(size for _, size in listing)
        )

    def _walk(self, directory: str, prefix: str = "") -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        listed = self._get("/api/2.0/mlflow-artifacts/artifacts", params={"path": directory})
        for entry in listed.get("files", []):
            relative = f"{prefix}{entry['path']}"
            if entry.get("is_dir"):
                found += self._walk(f"{directory}/{entry['path']}", f"{relative}/")
            else:
                found.append((relative, int(entry.get("file_size") or 0)))
        return found

    def _download(self, remote: str, target: Path, label: str, progress: Progress | None) -> str:
        target.parent.mkdir(parents=True, exist_ok=True)
        url = f"{self._root}/api/2.0/mlflow-artifacts/artifacts/{quote(remote)}"
        digest = hashlib.sha256()
        with self._http.stream("GET", url) as response:
            _raise_for(response)
            expected = response.headers.get("X-Modelyard-Sha256")
            if not expected:
                raise InvalidArgument(
                    f"The platform recorded no SHA-256 for {label}: it cannot be checked, so it "
                    "is not served."
                )
            with target.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(label, len(chunk))
        if digest.hexdigest() != expected:
            raise InvalidArgument(
                f"{label}: SHA-256 {digest.hexdigest()} does not match the {expected} recorded "
                "at upload. The file changed in storage; it is not served."
            )
        return str(expected)

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            response = self._http.get(f"{self._root}{path}", params=params)
        except httpx.TransportError as exc:
            raise InvalidArgument(f"Cannot reach the platform at {self._root}: {exc}") from None
        _raise_for(response)
        body: dict[str, Any] = response.json()
        return body

    def close(self) -> None:
        self._http.close()


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    response.read()
    try:
        message = response.json()["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    raise InvalidArgument(f"The platform answered {response.status_code}: {message}")


def _proxied_path(location: str) -> str:
    """The artifact proxy path of ``mlflow-artifacts:/a/b`` or ``mlflow-artifacts://host/a/b``."""
    parts = urlsplit(location)
    if parts.scheme != "mlflow-artifacts":
        raise InvalidArgument(
            f"The version's files are at {location}, outside the platform's artifact store; "
            "only versions whose files the platform holds (and has checksums for) are served."
        )
    return parts.path.strip("/")


def _parent(destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    return destination.parent
