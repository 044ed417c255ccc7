"""Where artifact bytes live: the configured destination, by URI scheme."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from modelyard.artifacts.base import ArtifactStore
from modelyard.artifacts.local import LocalArtifactStore
from modelyard.errors import InvalidArgument

Factory = Callable[[str, Mapping[str, str]], ArtifactStore]


def _local(destination: str, _environment: Mapping[str, str]) -> ArtifactStore:
    return LocalArtifactStore(destination.removeprefix("file://"))


def _s3(destination: str, environment: Mapping[str, str]) -> ArtifactStore:
    try:
        import boto3  # noqa: F401

        from modelyard.artifacts.s3 import S3ArtifactStore
    except ImportError:
        raise InvalidArgument(
            f"--artifacts-destination {destination} needs the S3 extra: pip install 'modelyard[s3]'"
        ) from None
    # The variables MLflow reads; credentials come from boto3's usual chain (AWS_*).
    return S3ArtifactStore.from_uri(destination, environment.get("MLFLOW_S3_ENDPOINT_URL"))


SCHEMES: dict[str, Factory] = {"file": _local, "s3": _s3}


def artifact_store(destination: str, environment: Mapping[str, str]) -> ArtifactStore:
    """The store for ``--artifacts-destination``: a local directory or ``s3://bucket/prefix``.

    Raises:
        InvalidArgument: an unknown scheme, or a missing optional dependency.
    """
    scheme = destination.split("://", 1)[0] if "://" in destination else "file"
    factory = SCHEMES.get(scheme)
    if factory is None:
        raise InvalidArgument(
            f"Unsupported artifacts destination {destination!r}: use a local directory or "
            f"one of {', '.join(f'{s}://' for s in SCHEMES if s != 'file')}"
        )
    return factory(destination, environment)
