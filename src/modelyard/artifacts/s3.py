"""Artifacts in any S3-compatible object store (AWS S3, MinIO, Ceph, moto...)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from modelyard.artifacts.base import CHUNK_SIZE, FileInfo
from modelyard.errors import InvalidArgument, NotFound

# S3 requires parts of at least 5 MiB (but the last); with two 6 MiB parts in flight a large
# upload holds about 20 MiB, well within the 50 MB budget of a transfer.
PART_SIZE = 6 * 1024 * 1024
PARTS_IN_FLIGHT = 2
_PART_UPLOADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="modelyard-s3-part")
_DELETE_BATCH = 1000


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix").

    Raises:
        InvalidArgument: not an s3:// URI with a bucket.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidArgument(f"Not an S3 location: {uri!r}; expected s3://bucket/prefix")
    return parsed.netloc, parsed.path.strip("/")


class S3ArtifactStore:
    """Objects under ``s3://bucket/prefix``; uploads above one part go up as multipart uploads,
    so nothing appears at the key until the upload completes."""

    def __init__(self, uri: str, client: Any) -> None:
        self.bucket, self.prefix = parse_s3_uri(uri)
        self._s3 = client

    @classmethod
    def from_uri(cls, uri: str, endpoint_url: str | None = None) -> S3ArtifactStore:
        """A store using boto3, which reads credentials the usual way (AWS_* variables, files)."""
        import boto3  # the s3 extra; imported only when S3 is configured
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )
        return cls(uri, client)

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def writer(self, path: str) -> S3Writer:
        if self._is_directory(path):
            raise InvalidArgument(f"Cannot write {path!r}: a directory of that name exists.")
        return S3Writer(self._s3, self.bucket, self._key(path))

    def read(
        self, path: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(path)}
        if start or end is not None:
            arguments["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            body = self._s3.get_object(**arguments)["Body"]
        except self._s3.exceptions.NoSuchKey:
            raise NotFound(f"No artifact at {path!r}") from None
        return _stream(body, chunk_size)

    def stat(self, path: str) -> FileInfo | None:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self._key(path))
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        else:
            return FileInfo(path, is_dir=False, size=int(head["ContentLength"]))
        return FileInfo(path, is_dir=True) if self._is_directory(path) else None

    def _is_directory(self, path: str) -> bool:
        listing = self._s3.list_objects_v2(
            Bucket=self.bucket, Prefix=self._key(path).rstrip("/") + "/", MaxKeys=1
        )
        return bool(listing.get("KeyCount"))

    def list(self, path: str) -> list[FileInfo]:
        prefix = self._key(path).rstrip("/") + "/" if path or self.prefix else ""
        found: list[FileInfo] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        ):
            for common in page.get("CommonPrefixes", []):
                found.append(FileInfo(self._relative(common["Prefix"].rstrip("/")), is_dir=True))
            for item in page.get("Contents", []):
                if item["Key"] != prefix:
                    found.append(FileInfo(self._relative(item["Key"]), False, int(item["Size"])))
        return sorted(found, key=lambda info: info.path)

    def walk(self, path: str) -> Iterator[FileInfo]:
        prefix = self._key(path).rstrip("/") + "/" if path or self.prefix else ""
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                yield FileInfo(self._relative(item["Key"]), is_dir=False, size=int(item["Size"]))

    def delete(self, path: str) -> None:
        keys = [self._key(info.path) for info in self.walk(path)]
        keys.append(self._key(path))
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            self._s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )


class S3Writer:
    """Buffers up to one part; a file smaller than a part is a single PUT. Larger files go up
    as a multipart upload with a few parts in flight at once, so the network round trips of
    one part overlap the receiving of the next."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._s3 = client
        self._bucket = bucket
        self._key = key
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(PARTS_IN_FLIGHT)

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= PART_SIZE:
            self._send_part()

    def _send_part(self) -> None:
        data = b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(Bucket=self._bucket, Key=self._key)
            self._upload_id = created["UploadId"]
        self._slots.acquire()  # at most PARTS_IN_FLIGHT parts held in memory
        number = len(self._parts) + 1
        self._parts.append(_PART_UPLOADS.submit(self._upload_part, self._upload_id, number, data))

    def _upload_part(self, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        try:
            uploaded = self._s3.upload_part(
                Bucket=self._bucket, Key=self._key, UploadId=upload_id, PartNumber=number, Body=data
            )
            return {"PartNumber": number, "ETag": uploaded["ETag"]}
        finally:
            self._slots.release()

    def commit(self) -> None:
        if self._upload_id is None:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=b"".join(self._pending))
            self._pending = []
            return
        if self._pending:
            self._send_part()
        parts = [part.result() for part in self._parts]
        self._s3.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": parts},
        )
        self._upload_id = None

    def abort(self) -> None:
        self._pending = []
        for part in self._parts:
            part.exception()  # wait, so no part lands after the abort
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=upload_id)


def _stream(body: Any, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()
