"""Large artifacts through a real server process: streamed both ways, checksummed, and with the
server's resident memory bounded whatever the file size (local disk and S3 destinations)."""

from __future__ import annotations

import hashlib
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from tests.conftest import S3_CREDENTIALS, sqlite_url
from tests.servers import ServerProcess, free_port, start, start_modelyard

pytestmark = pytest.mark.slow

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
MIB = 1024 * 1024
GIB = 1024 * MIB
RSS_BUDGET = 50 * 1000 * 1000
SAMPLE_SECONDS = 0.02


def pseudo_random(size: int, seed: str) -> Iterator[bytes]:
    """``size`` deterministic pseudo-random bytes in 1 MiB chunks, generated as they are sent."""
    for index in range(size // MIB):
        yield hashlib.shake_128(f"{seed}:{index}".encode()).digest(MIB)


class Hashed:
    """Passes chunks through, hashing and counting them."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.sha256 = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.sha256.update(chunk)
            self.size += len(chunk)
            yield chunk


# --- memory of the server process tree, from /proc ----------------------------------------------


def status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"no {field} for process {pid}")


def process_tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            pids += process_tree(int(child))
    return pids


def tree_rss(pid: int) -> int:
    total = 0
    for member in process_tree(pid):
        with suppress(FileNotFoundError, ProcessLookupError):  # exited since it was listed
            total += status_bytes(member, "VmRSS")
    return total


def worker_pid(server: ServerProcess) -> int:
    """The process serving requests: the server itself with one worker, else its first worker."""
    pid = server.process.pid
    for child in process_tree(pid)[1:]:
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
            return child
    return pid


class PeakRss:
    """Samples the server process tree's resident set every 20 ms in a background thread."""

    def __init__(self, server: ServerProcess) -> None:
        self.pid = server.process.pid
        self.worker = worker_pid(server)
        self.baseline = tree_rss(self.pid)
        self.worker_baseline = status_bytes(self.worker, "VmRSS")
        self.peak = self.baseline
        self.worker_hwm = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, tree_rss(self.pid))

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    @property
    def worker_hwm_growth(self) -> int:
        return self.worker_hwm - self.worker_baseline

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))
        self.worker_hwm = status_bytes(self.worker, "VmHWM")


@contextmanager
def transfer(
    server: ServerProcess, label: str, size: int, capsys: pytest.CaptureFixture[str]
) -> Iterator[PeakRss]:
    """Measure one transfer: the server tree's peak RSS over its baseline, and its speed."""
    started = time.perf_counter()
    with PeakRss(server) as rss:
        yield rss
    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\n{label}: {size / MIB:.0f} MiB in {seconds:.1f} s"
            f" = {size / MIB / seconds:.0f} MiB/s;"
            f" server RSS {rss.baseline / MIB:.1f} MiB, peak growth {rss.growth / MIB:.1f} MiB;"
            f" worker VmHWM {rss.worker_hwm / MIB:.1f} MiB"
            f" (+{rss.worker_hwm_growth / MIB:.1f} MiB over its baseline)",
            file=sys.stderr,
        )


def assert_bounded(rss: PeakRss) -> None:
    assert rss.growth < RSS_BUDGET, f"server RSS grew by {rss.growth / MIB:.1f} MiB"
    assert rss.worker_hwm_growth < RSS_BUDGET, (
        f"worker VmHWM {rss.worker_hwm / MIB:.1f} MiB, baseline {rss.worker_baseline / MIB:.1f} MiB"
    )


# --- helpers over HTTP ---------------------------------------------------------------------------


def upload(
    http: httpx.Client,
    path: str,
    size: int,
    seed: str,
    *,
    declare_length: bool,
) -> tuple[httpx.Response, str]:
    source = Hashed(pseudo_random(size, seed))
    headers = {"Content-Length": str(size)} if declare_length else {}
    response = http.put(f"{ARTIFACTS}/{path}", content=iter(source), headers=headers)
    assert source.size == size
    return response, source.sha256.hexdigest()


def download(http: httpx.Client, path: str) -> tuple[httpx.Response, int, str]:
    digest = hashlib.sha256()
    received = 0
    with http.stream("GET", f"{ARTIFACTS}/{path}") as response:
        for chunk in response.iter_raw():
            digest.update(chunk)
            received += len(chunk)
    return response, received, digest.hexdigest()


def round_trip(
    server: ServerProcess,
    path: str,
    size: int,
    capsys: pytest.CaptureFixture[str],
    *,
    declare_length: bool,
) -> None:
    """Warm the server up with a small file, then stream ``size`` bytes up and back down."""
    with httpx.Client(base_url=server.url, timeout=300) as http:
        response, _ = upload(http, "warm-up.bin", 24 * MIB, "warm", declare_length=declare_length)
        assert response.status_code == 200, response.text
        assert download(http, "warm-up.bin")[1] == 24 * MIB

        with transfer(server, f"upload {path}", size, capsys) as rss:
            response, sent_sha = upload(http, path, size, path, declare_length=declare_length)
        assert response.status_code == 200, response.text
        assert response.headers["X-Modelyard-Sha256"] == sent_sha
        assert_bounded(rss)

        with transfer(server, f"download {path}", size, capsys) as rss:
            response, received, received_sha = download(http, path)
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == size
        assert (received, received_sha) == (size, sent_sha)
        assert response.headers["X-Modelyard-Sha256"] == sent_sha
        assert_bounded(rss)

        for name in (path, "warm-up.bin"):
            assert http.delete(f"{ARTIFACTS}/{name}").status_code == 200


# --- servers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    workdir = tmp_path_factory.mktemp("large")
    server = start_modelyard(workdir, sqlite_url(workdir))
    yield server, workdir / "artifacts"
    server.stop()
    shutil.rmtree(workdir / "artifacts", ignore_errors=True)


@pytest.fixture
def s3_server(s3_endpoint: str, s3_bucket: str, tmp_path: Path) -> Iterator[ServerProcess]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "modelyard",
        "server",
        "--port",
        str(port),
        "--backend-store-uri",
        sqlite_url(tmp_path),
        "--artifacts-destination",
        s3_bucket,
    ]
    environment = {**S3_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint}
    server = start(command, f"http://127.0.0.1:{port}", tmp_path / "modelyard.log", env=environment)
    yield server
    server.stop()
    empty_bucket(s3_endpoint, s3_bucket)


def empty_bucket(endpoint: str, uri: str) -> None:
    """moto keeps objects in its memory for the whole session."""
    import boto3

    bucket = boto3.resource("s3", endpoint_url=endpoint).Bucket(
        uri.removeprefix("s3://").split("/")[0]
    )
    bucket.objects.all().delete()
    for pending in bucket.multipart_uploads.all():
        pending.abort()


# --- tests ---------------------------------------------------------------------------------------


def test_a_1_gib_artifact_streams_through_a_local_destination_in_bounded_memory(
    local_server: tuple[ServerProcess, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    server, root = local_server
    round_trip(server, "big/one-gib.bin", GIB, capsys, declare_length=True)
    assert not (root / "default" / "big" / "one-gib.bin").exists()


def test_a_200_mib_artifact_streams_through_s3_in_bounded_memory(
    s3_server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    round_trip(s3_server, "big/two-hundred.bin", 200 * MIB, capsys, declare_length=False)


def partial_uploads(root: Path) -> list[Path]:
    return list(root.rglob(".upload-*"))


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_client_that_disconnects_mid_upload_leaves_no_partial_file(
    local_server: tuple[ServerProcess, Path],
) -> None:
    server, root = local_server
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(
            f"PUT {ARTIFACTS}/cut/short.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {100 * MIB}\r\n\r\n".encode()
        )
        for chunk in pseudo_random(20 * MIB, "cut"):
            connection.sendall(chunk)
        assert wait_for(lambda: bool(partial_uploads(root))), "the upload never started"
    assert wait_for(lambda: not partial_uploads(root)), partial_uploads(root)
    assert not (root / "default" / "cut" / "short.bin").exists()
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_a_corrupted_file_breaks_the_connection_before_its_end(
    local_server: tuple[ServerProcess, Path],
) -> None:
    server, root = local_server
    size = 3 * MIB + 12345
    data = b"".join(pseudo_random(4 * MIB, "corrupt"))[:size]
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.put(f"{ARTIFACTS}/corrupt.bin", content=data).status_code == 200
        on_disk = root / "default" / "corrupt.bin"
        corrupted = bytearray(data)
        corrupted[10] ^= 0xFF
        on_disk.write_bytes(bytes(corrupted))

        received = bytearray()
        with (
            pytest.raises(httpx.RemoteProtocolError),
            http.stream("GET", f"{ARTIFACTS}/corrupt.bin") as response,
        ):
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received += chunk
        assert len(received) < size
        assert bytes(received) == bytes(corrupted[: len(received)])

        response = http.get(f"{ARTIFACTS}/corrupt.bin", headers={"Range": "bytes=-100"})
        assert (response.status_code, response.content) == (206, data[-100:])
        assert http.get("/health").status_code == 200
