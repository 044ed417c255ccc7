"""The artifact store contract: local disk and S3 (through moto's S3 server) alike."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from modelyard.artifacts.base import ArtifactStore
from modelyard.artifacts.local import LocalArtifactStore
from modelyard.artifacts.locations import artifact_store
from modelyard.artifacts.s3 import PART_SIZE
from modelyard.errors import InvalidArgument, NotFound


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        return artifact_store(bucket, dict(os.environ))
    return artifact_store(str(tmp_path / "artifacts"), {})


def put(store: ArtifactStore, path: str, data: bytes, chunk: int = 65536) -> None:
    writer = store.writer(path)
    for start in range(0, len(data), chunk):
        writer.write(data[start : start + chunk])
    writer.commit()


def read(store: ArtifactStore, path: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.read(path, start, end))


def test_round_trip_with_ranges(store: ArtifactStore) -> None:
    data = os.urandom(300_000)
    put(store, "exp/run/artifacts/model.bin", data)
    assert read(store, "exp/run/artifacts/model.bin") == data
    assert read(store, "exp/run/artifacts/model.bin", 1000, 2000) == data[1000:2000]
    assert read(store, "exp/run/artifacts/model.bin", 299_990) == data[299_990:]
    info = store.stat("exp/run/artifacts/model.bin")
    assert info is not None and not info.is_dir and info.size == len(data)


def test_a_file_larger_than_a_part_is_assembled_in_order(store: ArtifactStore) -> None:
    data = os.urandom(2 * PART_SIZE + 12345)
    put(store, "big/blob", data, chunk=1024 * 1024)
    digest = hashlib.sha256()
    for chunk in store.read("big/blob"):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_nothing_is_visible_before_commit_and_abort_leaves_nothing(store: ArtifactStore) -> None:
    writer = store.writer("a/partial.txt")
    writer.write(b"x" * 100)
    assert store.stat("a/partial.txt") is None
    assert store.list("a") == []
    writer.abort()
    writer.abort()
    assert store.stat("a/partial.txt") is None
    big = store.writer("a/big.bin")
    big.write(os.urandom(PART_SIZE + 1))  # past one part: a multipart upload is under way
    big.abort()
    assert store.stat("a/big.bin") is None


def test_overwrite_replaces(store: ArtifactStore) -> None:
    put(store, "f.txt", b"first")
    put(store, "f.txt", b"second version")
    assert read(store, "f.txt") == b"second version"


def test_listing_shows_direct_children_sorted(store: ArtifactStore) -> None:
    for path in ["d/b.txt", "d/a.txt", "d/sub/deep/c.txt", "d/sub/e.txt", "other/x"]:
        put(store, path, path.encode())
    listing = store.list("d")
    assert [(i.path, i.is_dir, i.size) for i in listing] == [
        ("d/a.txt", False, 7),
        ("d/b.txt", False, 7),
        ("d/sub", True, None),
    ]
    assert [i.path for i in store.walk("d")] == sorted(
        ["d/a.txt", "d/b.txt", "d/sub/deep/c.txt", "d/sub/e.txt"]
    )
    assert store.list("missing") == []
    assert store.stat("d/sub") is not None and store.stat("d/sub").is_dir  # type: ignore[union-attr]


def test_delete_a_file_and_a_tree(store: ArtifactStore) -> None:
    for path in ["t/a", "t/s/b", "t/s/c", "keep"]:
        put(store, path, b"1")
    store.delete("t/a")
    assert store.stat("t/a") is None
    store.delete("t")
    assert store.stat("t/s/b") is None and list(store.walk("t")) == []
    assert read(store, "keep") == b"1"
    store.delete("never-existed")


def test_missing_files_and_directories_in_the_way(store: ArtifactStore) -> None:
    with pytest.raises(NotFound):
        b"".join(store.read("nope.txt"))
    put(store, "dir/file", b"1")
    with pytest.raises(InvalidArgument):
        store.writer("dir")


def test_names_with_spaces_and_unicode(store: ArtifactStore) -> None:
    path = "runs/my model/données ü/résumé 1.txt"
    put(store, path, b"ok")
    assert read(store, path) == b"ok"
    assert [i.path for i in store.list("runs/my model")] == ["runs/my model/données ü"]


def test_local_store_refuses_symlinks_leading_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    store = LocalArtifactStore(tmp_path / "root")
    (store.root / "link").symlink_to(outside)
    with pytest.raises(InvalidArgument, match="leads out"):
        b"".join(store.read("link/secret.txt"))
    with pytest.raises(InvalidArgument, match="leads out"):
        store.writer("link/planted.txt")
    assert not (outside / "planted.txt").exists()


def test_local_partial_uploads_are_hidden(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "root")
    writer = store.writer("x/file")
    writer.write(b"abc")
    assert next(p.name for p in (store.root / "x").iterdir()).startswith(".upload-")
    assert store.list("x") == []
    writer.commit()
    assert [i.path for i in store.list("x")] == ["x/file"]
