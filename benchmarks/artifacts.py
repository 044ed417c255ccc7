"""Artifact streaming benchmark: one large file through modelyard's and MLflow's artifact proxy.

A file of random bytes (1 GiB; 256 MiB with --quick) is written to a temporary directory on the
same filesystem as the servers' artifact roots, then:

- physical references: ``cp`` of the file to the same filesystem, ``cat file > /dev/null`` (read
  speed) and ``sha256sum`` of it, each the median of a few runs; also Python's
  ``hashlib.sha256`` over it in 1 MiB updates, which is what the servers hash with (OpenSSL) and
  so the real ceiling of a server that hashes while it streams (coreutils' sha256sum does not use
  the CPU's SHA extensions and is several times slower here).
- for each server, one at a time (modelyard with one worker, ``mlflow server`` with one worker),
  each on a fresh SQLite file and artifact root:
  - upload through ``PUT /api/2.0/mlflow-artifacts/artifacts/0/bench/artifacts/big.bin``, sent
    raw with httpx (``content=`` an iterator of 1 MiB reads of the file, with Content-Length, so
    the client costs little); modelyard's SHA-256 response header is checked;
  - download with a streaming GET of the same path, the body hashed as it arrives and discarded,
    so the bytes are verified (httpx ``iter_raw()``: the pieces as read from the socket, which
    costs this client half the CPU of re-chunking them to 1 MiB);
  - both repeated (3 times) and the median reported; each upload goes to a new file (the
    previous one is deleted through the API first, untimed), like ``cp``'s;
  - then once each way through the official client (``MlflowClient.log_artifact`` and
    ``mlflow.artifacts.download_artifacts``, which writes the file to disk) for an end-to-end
    figure.

For each transfer: MB/s (10^6 bytes) and MiB/s, wall time, the server's CPU seconds (utime +
stime of its whole process tree, from /proc), this process's CPU seconds (the client), the rest
of the machine's (from /proc/stat: noise, or the kernel's write-back), which of them kept a core
busy (and so set the pace), and the server's memory: VmRSS summed over its process tree,
sampled every 20 ms by a background thread (baseline before the transfer, peak during it,
growth, the value after it) and VmHWM after it.
Before each timed step the page cache's dirty pages are written back (``sync``), so one step's
write-back does not land in the next; nothing is dropped from the cache, so reads come from
memory. Ratios compare modelyard with MLflow ("x MLflow", higher is better) and with ``cp``;
the targets of the issue are >= 2x MLflow throughput each way and < 50 MB of RSS growth.

With ``--destination s3`` both servers keep artifacts in ``s3://modelyard-bench/<server>`` of a
moto S3 server this script starts on 127.0.0.1 (one fresh moto per server), and get its address
as MLFLOW_S3_ENDPOINT_URL with dummy AWS_* credentials. moto is an in-memory Python server: these
figures measure the proxy path (server -> boto3 -> moto and back), not S3's speed. The
references then include boto3 talking to moto directly, and the tables moto's own CPU time.

``--profile DIR`` adds, after the measured transfers, one more raw upload and download of each
server under ``py-spy record`` (500 Hz, idle threads left out), writes the collapsed stacks to
DIR and prints where the busy samples fall. Profiled transfers are not part of the figures.

Run from the repository root (the temporary files go to $TMPDIR, /tmp by default; about four
copies of the file must fit there):

    .venv/bin/python benchmarks/artifacts.py                       # 1 GiB: about 1.5 minutes
    .venv/bin/python benchmarks/artifacts.py --quick               # 256 MiB: under a minute
    .venv/bin/python benchmarks/artifacts.py --quick --destination s3
    .venv/bin/python benchmarks/artifacts.py --size-mib 512 --json out.json --servers modelyard
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# First: _harness sets the mlflow client's environment (CLIENT_ENV) before mlflow is imported.
from _harness import (
    BASELINE,
    HOST,
    ONE_WORKER_SERVERS,
    OneWorkerServer,
    ServerProcess,
    StartupError,
    argument_parser,
    console,
    find_py_spy,
    kilobytes,
    launch,
    launch_server,
    machine_at_start,
    new_run,
    parse_checking_servers,
    print_machine,
    print_notes,
    print_profile_table,
    process_tree,
    ratio_cell,
    record_end_of_run,
    short_frame,
    status_cell,
    write_json,
)

# isort: split
import boto3
import httpx
import mlflow
from boto3.s3.transfer import TransferConfig
from mlflow.environment_variables import MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE
from rich.markup import escape
from rich.table import Table

MIB = 1024 * 1024
GIB = 1024 * MIB
MB = 1_000_000
CHUNK = MIB
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
RAW_PATH = "0/bench/artifacts/big.bin"
FILE_NAME = "big.bin"
RSS_SAMPLE_S = 0.02
TREE_REFRESH_S = 1.0
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
COPIES = 4  # the file, the server's two stored copies, the client's download
SPACE_MARGIN = 512 * MIB
BUCKET = "modelyard-bench"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
TARGET_SPEEDUP = 2.0
TARGET_RSS_GROWTH_MB = 50.0
BUSY_SHARE = 0.9  # of a core: that process sets the pace
NOISE_SHARE = 0.25  # of a core taken by other processes: the figure is suspect
PROFILE_RATE_HZ = 500
PROFILE_ATTACH_S = 1.0
PROFILE_TOP = 12
EARLIER_MLFLOW = (
    "MLflow 3.17.2 measured on this machine before: about 300-400 MB/s up and 270-300 MB/s "
    "down (local destination); cp 3.7 GB/s."
)
BUSY_NOTE = (
    "[dim]busy: who used >= 90% of a core during the (median) transfer and so sets its pace "
    "(the server's threads can add up to more); noise: other processes took >= 25% of a core "
    "(other CPU s below: the machine's busy time minus the server's, the client's and moto's)."
)
BYPASS_NOTE = (
    "* the mlflow client moved these bytes through presigned URLs straight to the storage, in "
    "parallel ranges or parts, not through the server's proxy: the server advertises multipart "
    "transfers in /api/3.0/mlflow/server-info. End-to-end figures, but not the proxy's."
)
S3_NOTE = (
    "destination s3: moto is an in-memory Python S3 server on this machine; these figures "
    "measure each server's proxy path (HTTP in, boto3 out to moto and back), not S3's speed."
)


@dataclass(frozen=True)
class Workload:
    size_mib: int
    repeats: int  # raw HTTP transfers per direction, and runs of each reference

    @property
    def size(self) -> int:
        return self.size_mib * MIB


FULL = Workload(size_mib=1024, repeats=3)
QUICK = Workload(size_mib=256, repeats=3)


# --- results ------------------------------------------------------------------------------------


def mb_per_s(size: int, seconds: float) -> float:
    return size / MB / seconds if seconds > 0 else 0.0


@dataclass
class Reference:
    """A physical reference: a command working on the same file, median of a few runs."""

    name: str
    size: int
    seconds: list[float]

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def mb_per_s(self) -> float:
        return mb_per_s(self.size, self.median_s)


@dataclass
class Sample:
    """One transfer."""

    seconds: float
    server_cpu_s: float
    client_cpu_s: float
    backend_cpu_s: float | None  # moto's, with --destination s3
    others_cpu_s: float  # every other process and the kernel's own threads: noise
    rss_baseline_mb: float
    rss_peak_mb: float
    rss_after_mb: float
    hwm_mb: float
    verified: bool | None  # None: not checked by this step (an upload without a checksum)

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_peak_mb - self.rss_baseline_mb

    def limits(self) -> list[str]:
        """Who used (nearly) a whole core during the transfer, and whether other processes took
        a noticeable share of the machine (then rerun on a quieter one)."""
        busy = BUSY_SHARE * self.seconds
        users = {"client": self.client_cpu_s, "server": self.server_cpu_s}
        users["moto"] = self.backend_cpu_s or 0.0
        found = [name for name, cpu in users.items() if cpu >= busy]
        if self.others_cpu_s >= NOISE_SHARE * self.seconds:
            found.append("[yellow]noise")
        return found


@dataclass
class Transfer:
    server: str
    destination: str
    route: str  # "raw HTTP" or "mlflow client"
    direction: str  # "upload" or "download"
    size: int
    samples: list[Sample]
    bypassed_proxy: bool = False  # the mlflow client went straight to the storage

    @property
    def typical(self) -> Sample:
        """The median transfer by wall time (the lower middle one of an even count)."""
        ordered = sorted(self.samples, key=lambda s: s.seconds)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def mb_per_s(self) -> float:
        return mb_per_s(self.size, self.typical.seconds)

    @property
    def mib_per_s(self) -> float:
        return self.mb_per_s * MB / MIB

    @property
    def rss_growth_mb(self) -> float:
        return max(s.rss_growth_mb for s in self.samples)

    @property
    def verified(self) -> bool | None:
        checks = [s.verified for s in self.samples if s.verified is not None]
        return all(checks) if checks else None

    def key(self) -> tuple[str, str, str]:
        return self.destination, self.route, self.direction


@dataclass
class Failure:
    server: str
    destination: str
    step: str
    error: str


@dataclass
class Profile:
    server: str
    destination: str
    direction: str
    path: str
    seconds: float
    samples: int
    threads: dict[str, int]
    self_frames: list[tuple[str, int]]
    functions: list[tuple[str, int]]


@dataclass
class Results:
    references: list[Reference] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def find(self, server: str, key: tuple[str, str, str]) -> Transfer | None:
        return next((t for t in self.transfers if t.server == server and t.key() == key), None)

    def ratio(self, transfer: Transfer) -> float | None:
        """Throughput over MLflow's for the same destination, route and direction."""
        baseline = self.find(BASELINE, transfer.key())
        if baseline is None or baseline.mb_per_s <= 0:
            return None
        return transfer.mb_per_s / baseline.mb_per_s

    def reference(self, name: str) -> Reference | None:
        return next((r for r in self.references if r.name == name), None)

    def of_cp(self, transfer: Transfer) -> float | None:
        cp = self.reference(CP)
        return transfer.mb_per_s / cp.mb_per_s if cp and cp.mb_per_s > 0 else None


# --- memory -------------------------------------------------------------------------------------


def rss_kb(pids: Sequence[int]) -> int:
    """Resident set summed over ``pids``: the second figure of /proc/PID/statm, in pages."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    return total


def hwm_kb(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += kilobytes(f"/proc/{pid}/status", "VmHWM:")
    return total


class RssSampler:
    """Samples VmRSS of a process tree every 20 ms in a background thread while in use; the
    tree itself is re-read every second."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.pids = process_tree(root)
        self.baseline_kb = self.peak_kb = self.after_kb = self.hwm_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        self.peak_kb = max(self.peak_kb, rss_kb(self.pids))

    def _run(self) -> None:
        refreshed = time.monotonic()
        while not self._stop.wait(RSS_SAMPLE_S):
            if time.monotonic() - refreshed > TREE_REFRESH_S:
                self.pids, refreshed = process_tree(self.root), time.monotonic()
            self._sample()

    def __enter__(self) -> RssSampler:
        self.baseline_kb = self.peak_kb = rss_kb(self.pids)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.pids = process_tree(self.root)
        self.after_kb = rss_kb(self.pids)
        self.peak_kb = max(self.peak_kb, self.after_kb)
        self.hwm_kb = hwm_kb(self.pids)


# --- the file and the references ----------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    path: Path
    size: int
    sha256: str


def make_source(directory: Path, size: int) -> Source:
    """``size`` random bytes, written 1 MiB at a time."""
    path = directory / FILE_NAME
    digest = hashlib.sha256()
    with path.open("wb", buffering=0) as out:
        for start in range(0, size, CHUNK):
            block = os.urandom(min(CHUNK, size - start))
            digest.update(block)
            out.write(block)
    return Source(path, size, digest.hexdigest())


def read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb", buffering=0) as handle:
        while block := handle.read(CHUNK):
            yield block


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    for block in read_chunks(path):
        digest.update(block)
    return digest.hexdigest()


def check_space(directory: Path, size: int) -> None:
    free = shutil.disk_usage(directory).free
    needed = COPIES * size + SPACE_MARGIN
    if free < needed:
        raise SystemExit(
            f"{directory}: {free / MIB:,.0f} MiB free, the benchmark needs {needed / MIB:,.0f} "
            "MiB (about four copies of the file). Set TMPDIR elsewhere or use --size-mib."
        )


def print_df(directory: Path) -> None:
    done = subprocess.run(["df", "-h", str(directory)], capture_output=True, text=True)
    console.print(f"[dim]{escape(done.stdout.rstrip())}")


def timed_runs(
    action: Callable[[], object], repeats: int, cleanup: Callable[[], object] | None = None
) -> list[float]:
    """Wall seconds of each run of ``action``; dirty pages are written back before each, and
    ``cleanup`` runs after each, untimed."""
    seconds = []
    for _ in range(repeats):
        os.sync()
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
        if cleanup is not None:
            cleanup()
    return seconds


def run_command(command: list[str]) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


CP = "cp (same filesystem)"


def local_references(source: Source, w: Workload) -> list[Reference]:
    copy = source.path.with_name("copy.bin")

    def cp() -> None:
        run_command(["cp", str(source.path), str(copy)])

    return [
        Reference(CP, source.size, timed_runs(cp, w.repeats, cleanup=copy.unlink)),
        Reference(
            "cat file > /dev/null",
            source.size,
            timed_runs(lambda: run_command(["cat", str(source.path)]), w.repeats),
        ),
        Reference(
            "sha256sum (coreutils)",
            source.size,
            timed_runs(lambda: run_command(["sha256sum", str(source.path)]), w.repeats),
        ),
        Reference(
            "hashlib.sha256, 1 MiB updates",
            source.size,
            timed_runs(lambda: hash_file(source.path), w.repeats),
        ),
    ]


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_ENV["AWS_DEFAULT_REGION"],
    )


class HashingSink:
    """A write-only file object that hashes what it is given."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)


def s3_references(source: Source, workdir: Path) -> list[Reference]:
    """boto3 straight to a fresh moto: how fast moto itself takes and gives the bytes."""
    with moto_server(workdir) as moto:
        s3, config = s3_client(moto.url), TransferConfig()  # 8 MiB parts, 10 threads
        key = "direct/big.bin"
        up = timed_runs(lambda: s3.upload_file(str(source.path), BUCKET, key, Config=config), 1)
        sink = HashingSink()
        down = timed_runs(lambda: s3.download_fileobj(BUCKET, key, sink, Config=config), 1)
        if sink.digest.hexdigest() != source.sha256:
            raise RuntimeError("boto3 read back other bytes from moto than it wrote")
    return [
        Reference("boto3 -> moto (upload_file, 8 MiB parts, 10 threads)", source.size, up),
        Reference("boto3 <- moto (download_fileobj)", source.size, down),
    ]


# --- servers ------------------------------------------------------------------------------------


@contextlib.contextmanager
def moto_server(workdir: Path) -> Iterator[ServerProcess]:
    """A fresh moto S3 server with the bucket created."""
    moto = str(Path(sys.executable).parent / "moto_server")
    with launch(
        "moto S3",
        lambda port: [moto, "-H", HOST, "-p", str(port)],
        workdir / "moto.log",
        env=S3_ENV,
        health_path="/moto-api/",
    ) as server:
        s3_client(server.url).create_bucket(Bucket=BUCKET)
        yield server


@dataclass
class Setup:
    """One server under test, and moto behind it with --destination s3."""

    config: OneWorkerServer
    server: ServerProcess
    backend: ServerProcess | None
    destination: str
    workdir: Path

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.contextmanager
def server_setup(config: OneWorkerServer, destination: str, workdir: Path) -> Iterator[Setup]:
    with contextlib.ExitStack() as stack:
        backend, env = None, None
        if destination == "s3":
            backend = stack.enter_context(moto_server(workdir))
            env = {**S3_ENV, "MLFLOW_S3_ENDPOINT_URL": backend.url}
            root = f"s3://{BUCKET}/{config.key}"
        else:
            root = str(workdir / "artifacts")
        database_uri = f"sqlite:///{workdir / 'db.sqlite'}"
        server = stack.enter_context(launch_server(config, database_uri, root, workdir, env))
        yield Setup(config, server, backend, destination, workdir)


# --- transfers ----------------------------------------------------------------------------------


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (user, nice, system, irq, softirq)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def observe(setup: Setup, run: Callable[[], bool | None]) -> Sample:
    """Time ``run`` (which says whether the bytes were verified), with the CPU of the server,
    of moto, of this process and of the rest of the machine, and the server's memory."""
    os.sync()
    backend_before = setup.backend.cpu_seconds() if setup.backend else None
    server_before, client_before = setup.server.cpu_seconds(), time.process_time()
    machine_before = machine_busy_seconds()
    with RssSampler(setup.server.process.pid) as rss:
        started = time.perf_counter()
        verified = run()
        seconds = time.perf_counter() - started
    machine_cpu = machine_busy_seconds() - machine_before
    client_cpu = time.process_time() - client_before
    server_cpu = setup.server.cpu_seconds() - server_before
    backend_cpu = (
        setup.backend.cpu_seconds() - backend_before
        if setup.backend and backend_before is not None
        else None
    )
    return Sample(
        seconds=seconds,
        server_cpu_s=server_cpu,
        client_cpu_s=client_cpu,
        backend_cpu_s=backend_cpu,
        others_cpu_s=max(0.0, machine_cpu - server_cpu - client_cpu - (backend_cpu or 0.0)),
        rss_baseline_mb=rss.baseline_kb / 1024,
        rss_peak_mb=rss.peak_kb / 1024,
        rss_after_mb=rss.after_kb / 1024,
        hwm_mb=rss.hwm_kb / 1024,
        verified=verified,
    )


def raw_upload(http: httpx.Client, url: str, source: Source) -> bool | None:
    response = http.put(
        url,
        content=read_chunks(source.path),
        headers={"Content-Length": str(source.size), "Content-Type": "application/octet-stream"},
    )
    response.raise_for_status()
    checksum = response.headers.get("x-modelyard-sha256")
    return None if checksum is None else checksum == source.sha256


def raw_download(http: httpx.Client, url: str, source: Source) -> bool:
    """Hash the body as it arrives. ``iter_raw()`` hands over the pieces httpcore reads (up to
    64 KiB) as they are: re-chunking them to 1 MiB (``iter_bytes(CHUNK)``) cost this client as
    much CPU as hashing and made it the bottleneck near 600 MB/s. Raw bytes are the file's bytes
    as long as the server applies no Content-Encoding; if one did, the hash would not match."""
    digest, size = hashlib.sha256(), 0
    with http.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            digest.update(chunk)
            size += len(chunk)
    return size == source.size and digest.hexdigest() == source.sha256


def client_upload(client: mlflow.MlflowClient, run_id: str, source: Source) -> None:
    client.log_artifact(run_id, str(source.path))


def client_download(url: str, run_id: str, target: Path) -> Path:
    return Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=FILE_NAME, dst_path=str(target), tracking_uri=url
        )
    )


def verify_download(path: Path, source: Source) -> bool:
    try:
        return path.stat().st_size == source.size and hash_file(path) == source.sha256
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def delete(http: httpx.Client, url: str) -> None:
    """Remove the previous upload, so that each one writes a new file (as ``cp`` does): replacing
    a large file also frees the old one's blocks and pages, which is not the upload's work."""
    response = http.delete(url)
    if response.status_code not in (200, 204, 404):
        response.raise_for_status()


def measure_raw(
    setup: Setup, http: httpx.Client, source: Source, w: Workload
) -> Iterator[Transfer | Failure]:
    url = f"{setup.url}{ARTIFACTS_API}/{RAW_PATH}"

    def upload() -> list[Sample]:
        samples = []
        for _ in range(w.repeats):
            delete(http, url)
            samples.append(observe(setup, lambda: raw_upload(http, url, source)))
        return samples

    def download() -> list[Sample]:
        return [observe(setup, lambda: raw_download(http, url, source)) for _ in range(w.repeats)]

    yield attempt(setup, "raw HTTP", "upload", source, upload)
    yield attempt(setup, "raw HTTP", "download", source, download)


def server_info(http: httpx.Client, url: str) -> dict[str, Any]:
    """What the server advertises to MLflow 3 clients at ``/api/3.0/mlflow/server-info``."""
    response = http.get(f"{url}/api/3.0/mlflow/server-info")
    return dict(response.json()) if response.status_code == 200 else {}


def bypasses(info: dict[str, Any], direction: str, size: int) -> bool:
    """Whether the mlflow client moves the bytes through presigned URLs straight to the storage
    rather than through the proxy: when the server advertises multipart transfers (MLflow does
    for S3), for downloads always, for uploads from MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE."""
    if direction == "download":
        return bool(info.get("multipart_downloads_enabled"))
    minimum = MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE.get()
    return bool(info.get("multipart_uploads_enabled")) and size >= minimum


def measure_client(
    setup: Setup, http: httpx.Client, source: Source
) -> Iterator[Transfer | Failure]:
    client = mlflow.MlflowClient(tracking_uri=setup.url)
    try:
        run_id = new_run(client, "artifacts")
        info = server_info(http, setup.url)
    except Exception as exc:  # the raw figures are kept
        error = f"{type(exc).__name__}: {str(exc)[:400]}"
        yield Failure(setup.config.key, setup.destination, "mlflow client: new run", error)
        return
    downloaded: list[Path] = []

    def upload() -> None:
        client_upload(client, run_id, source)

    def download() -> None:
        downloaded.append(client_download(setup.url, run_id, setup.workdir / "download"))

    def download_and_verify() -> list[Sample]:
        sample = observe(setup, download)
        sample.verified = verify_download(downloaded[-1], source)  # after the clock stopped
        return [sample]

    steps: list[tuple[str, Callable[[], list[Sample]]]] = [
        ("upload", lambda: [observe(setup, upload)]),
        ("download", download_and_verify),
    ]
    for direction, run in steps:
        outcome = attempt(setup, "mlflow client", direction, source, run)
        if isinstance(outcome, Transfer):
            outcome.bypassed_proxy = bypasses(info, direction, source.size)
        yield outcome


def attempt(
    setup: Setup, route: str, direction: str, source: Source, run: Callable[[], list[Sample]]
) -> Transfer | Failure:
    try:
        samples = run()
    except Exception as exc:  # one failed step must not lose the other figures
        console.print(f"[dim]{escape(setup.server.log_tail())}")
        return Failure(
            setup.config.key,
            setup.destination,
            f"{route} {direction}",
            f"{type(exc).__name__}: {str(exc)[:400]}",
        )
    return Transfer(setup.config.key, setup.destination, route, direction, source.size, samples)


def summary(outcome: Transfer | Failure) -> str:
    if isinstance(outcome, Failure):
        return f"{outcome.step} [red]FAILED[/red] {escape(outcome.error)}"
    s = outcome.typical
    return (
        f"{outcome.route} {outcome.direction}: {outcome.mb_per_s:,.0f} MB/s "
        f"({', '.join(f'{mb_per_s(outcome.size, x.seconds):,.0f}' for x in outcome.samples)}), "
        f"server CPU {s.server_cpu_s:.2f} s, RSS +{outcome.rss_growth_mb:.0f} MB, "
        f"verified {outcome.verified}"
    )


# --- profiles -----------------------------------------------------------------------------------

_SCAFFOLDING = re.compile(
    r"^(Thread\._bootstrap|Thread\._bootstrap_inner|Thread\.run|WorkerThread\.run|_worker"
    r"|_WorkItem\.run|<module>|Runner\.run|asyncio_run|Server\.(run|serve|_serve)) \("
    r"|\((<frozen runpy>|click/|uvicorn/main\.py|mlflow/cli/|modelyard/cli/"
    r"|modelyard/server/runner\.py)"
)


def process_name(frame: str) -> str:
    """``process 12:"python -m uvicorn ..."`` -> ``uvicorn``; the script's name otherwise."""
    words = frame.split(":", 1)[-1].strip('"').split()
    if "-m" in words[:-1]:
        return words[words.index("-m") + 1].rsplit(".", 1)[-1]
    scripts = [w for w in words[1:] if not w.startswith("-")]
    return Path(scripts[0] if scripts else words[0]).name


@dataclass
class StackCounts:
    """py-spy's collapsed stacks, counted: per thread, per leaf frame (with its line: the
    Python line running, or calling into C), and per function anywhere on the stack."""

    total: int = 0
    threads: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)
    functions: Counter[str] = field(default_factory=Counter)
    per_thread: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, thread: str, frames: list[str], count: int) -> None:
        self.total += count
        self.threads[thread] += count
        if frames:
            self.leaves[short_frame(frames[-1], with_line=True)] += count
        seen = self.per_thread.setdefault(thread, Counter())
        for function in {short_frame(f, with_line=False) for f in frames}:
            self.functions[function] += count
            seen[function] += count

    def telling_functions(self) -> Counter[str]:
        """Functions without those on every stack of their thread: bootstraps, runpy, click,
        the event loop's and the thread pools' run loops."""
        return Counter({f: n for f, n in self.functions.items() if not _SCAFFOLDING.search(f)})


def summarize_profile(text: str) -> StackCounts:
    counts = StackCounts()
    processes = {
        f for line in text.splitlines() for f in line.split(";") if f.startswith("process ")
    }
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames, process, thread = [], "", "?"
        for frame in stack.split(";"):
            if frame.startswith("process "):
                process = process_name(frame)
            elif frame.startswith("thread ("):
                thread = re.sub(r"^thread \(\d+\):? ?", "", frame) or "thread"
            else:
                frames.append(frame)
        label = f"{process}/{thread}" if len(processes) > 1 else thread
        counts.add(label, frames, int(count_text))
    return counts


@contextlib.contextmanager
def profiled(server: ServerProcess, output: Path, log: Path) -> Iterator[None]:
    binary = find_py_spy()
    if binary is None:
        raise RuntimeError("py-spy not found next to this Python or on PATH")
    command = [
        binary, "record", "--pid", str(server.process.pid), "--subprocesses", "--threads",
        "--nonblocking", "--rate", str(PROFILE_RATE_HZ), "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    with log.open("ab") as log_file:
        spy = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        time.sleep(PROFILE_ATTACH_S)
        if spy.poll() is not None:
            raise RuntimeError(f"py-spy exited: {log.read_text(errors='replace')[-400:]}")
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


def measure_profiles(
    setup: Setup, http: httpx.Client, source: Source, directory: Path
) -> Iterator[Profile | Failure]:
    url = f"{setup.url}{ARTIFACTS_API}/{RAW_PATH}"
    steps: list[tuple[str, Callable[[], object]]] = [
        ("upload", lambda: raw_upload(http, url, source)),
        ("download", lambda: raw_download(http, url, source)),
    ]
    for direction, run in steps:
        output = directory / f"{setup.destination}-{setup.config.key}-{direction}.txt"
        try:
            if direction == "upload":
                delete(http, url)
            with profiled(setup.server, output, directory / "py-spy.log"):
                started = time.perf_counter()
                run()
                seconds = time.perf_counter() - started
            counts = summarize_profile(output.read_text())
        except Exception as exc:
            yield Failure(setup.config.key, setup.destination, f"profile {direction}", str(exc))
            continue
        yield Profile(
            server=setup.config.key,
            destination=setup.destination,
            direction=direction,
            path=str(output),
            seconds=seconds,
            samples=counts.total,
            threads=dict(counts.threads.most_common()),
            self_frames=counts.leaves.most_common(PROFILE_TOP),
            functions=counts.telling_functions().most_common(PROFILE_TOP),
        )


# --- orchestration ------------------------------------------------------------------------------


def benchmark_server(
    config: OneWorkerServer,
    destination: str,
    workdir: Path,
    source: Source,
    w: Workload,
    results: Results,
    profile_dir: Path | None,
) -> None:
    workdir.mkdir()
    try:
        with (
            server_setup(config, destination, workdir) as setup,
            httpx.Client(timeout=600) as http,
        ):
            outcomes = [*measure_raw(setup, http, source, w), *measure_client(setup, http, source)]
            for outcome in outcomes:
                record(results, outcome, config.label)
            if profile_dir is not None:
                for profiled_outcome in measure_profiles(setup, http, source, profile_dir):
                    record(results, profiled_outcome, config.label)
    except (StartupError, OSError, httpx.HTTPError) as exc:
        results.notes.append(f"{config.label} ({destination}): not measured, {exc}")
        console.print(f"[red]{config.label}: {escape(str(exc))}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def record(results: Results, outcome: Transfer | Failure | Profile, label: str) -> None:
    if isinstance(outcome, Transfer):
        results.transfers.append(outcome)
    elif isinstance(outcome, Profile):
        results.profiles.append(outcome)
        console.log(f"{label} profile of the {outcome.direction}: {outcome.path}")
        return
    else:
        results.failures.append(outcome)
    console.log(f"{label} {outcome.destination}: {summary(outcome)}")


def machine_info(root: Path, w: Workload, destination: str) -> dict[str, Any]:
    return machine_at_start(
        {
            "boto3": boto3.__version__,
            "temporary directory": str(root),
            "file": f"{w.size_mib:,} MiB of random bytes",
            "destination": destination,
        }
    )


# --- report -------------------------------------------------------------------------------------


def print_references(results: Results, w: Workload) -> None:
    table = Table(
        title=f"Physical references ({w.size_mib:,} MiB, median of the runs)", title_justify="left"
    )
    for header in ("operation", "runs", "seconds", "MB/s", "MiB/s"):
        table.add_column(header, justify="left" if header == "operation" else "right")
    for ref in results.references:
        table.add_row(
            ref.name,
            str(len(ref.seconds)),
            f"{ref.median_s:.3f}",
            f"{ref.mb_per_s:,.0f}",
            f"{ref.mb_per_s * MB / MIB:,.0f}",
        )
    console.print(table)


def verified_cell(verified: bool | None) -> str:
    return {True: "yes", False: "[red]NO", None: "-"}[verified]


def transfer_table(title: str, headers: list[str]) -> Table:
    """A table whose first three columns name the transfer: server, route, direction."""
    table = Table(title=title, title_justify="left")
    for header in ["server", "route", "direction", *headers]:
        table.add_column(header, no_wrap=header in ("server", "route", "direction"))
    for column in table.columns[3:]:
        column.justify = "right"
    return table


def names(t: Transfer) -> list[str]:
    return [t.server, f"{t.route} *" if t.bypassed_proxy else t.route, t.direction]


def print_throughput(results: Results, destination: str, w: Workload) -> None:
    transfers = [t for t in results.transfers if t.destination == destination]
    if not transfers:
        return
    table = transfer_table(
        f"Throughput, {destination} destination ({w.size_mib:,} MiB; raw HTTP: median of "
        f"{w.repeats}; mlflow client: one transfer)",
        ["MB/s", "MiB/s", "range MB/s", "wall s", "busy", "verified", "x MLflow", "x cp"],
    )
    for t in transfers:
        speeds = [mb_per_s(t.size, x.seconds) for x in t.samples]
        table.add_row(
            *names(t),
            f"{t.mb_per_s:,.0f}",
            f"{t.mib_per_s:,.0f}",
            f"{min(speeds):,.0f}-{max(speeds):,.0f}" if len(speeds) > 1 else "",
            f"{t.typical.seconds:.2f}",
            ", ".join(t.typical.limits()),
            verified_cell(t.verified),
            "" if t.server == BASELINE else ratio_cell(results.ratio(t)),
            ratio_cell(results.of_cp(t)),
        )
    console.print(table)
    console.print(BUSY_NOTE)
    if any(t.bypassed_proxy for t in transfers):
        console.print(BYPASS_NOTE)


def print_cpu(results: Results, destination: str) -> None:
    transfers = [t for t in results.transfers if t.destination == destination]
    if not transfers:
        return
    moto = destination == "s3"
    headers = ["wall s", "server CPU s", "client CPU s"]
    headers += ["moto CPU s"] if moto else []
    headers += ["other CPU s", "server CPU s/GiB"]
    table = transfer_table(
        f"CPU time during the transfers, {destination} destination (the median transfer)", headers
    )
    for t in transfers:
        s = t.typical
        row = [*names(t), f"{s.seconds:.2f}", f"{s.server_cpu_s:.2f}", f"{s.client_cpu_s:.2f}"]
        if moto:
            row.append(f"{s.backend_cpu_s or 0.0:.2f}")
        row += [f"{s.others_cpu_s:.2f}", f"{s.server_cpu_s * GIB / t.size:.2f}"]
        table.add_row(*row)
    console.print(table)


def print_memory(results: Results, destination: str) -> None:
    transfers = [t for t in results.transfers if t.destination == destination]
    if not transfers:
        return
    title = (
        f"Server memory during the transfers, {destination} destination (VmRSS summed over the "
        f"process tree, sampled every {RSS_SAMPLE_S * 1000:.0f} ms; growth: the largest of the "
        "repeats)"
    )
    headers = ["baseline MB", "peak MB", "growth MB", "after MB", "VmHWM MB"]
    headers.append(f"target < {TARGET_RSS_GROWTH_MB:.0f} MB")
    table = transfer_table(title, headers)
    for t in transfers:
        s = t.typical
        growth = t.rss_growth_mb
        target = status_cell(growth < TARGET_RSS_GROWTH_MB) if t.server != BASELINE else ""
        table.add_row(
            *names(t),
            f"{s.rss_baseline_mb:,.0f}",
            f"{max(x.rss_peak_mb for x in t.samples):,.0f}",
            f"{growth:,.1f}",
            f"{s.rss_after_mb:,.0f}",
            f"{s.hwm_mb:,.0f}",
            target,
        )
    console.print(table)


def gap_lines(results: Results) -> list[str]:
    lines = []
    for t in results.transfers:
        if t.server == BASELINE:
            continue
        of_cp, ratio = results.of_cp(t), results.ratio(t)
        parts = [f"{t.server} {t.direction} ({t.route}, {t.destination})"]
        parts.append(f"= {of_cp:.2f}x cp" if of_cp else "")
        parts.append(f"= {ratio:.2f}x MLflow" if ratio else "")
        lines.append(" ".join(p for p in parts if p))
    return lines


def target_rows(results: Results) -> list[dict[str, Any]]:
    rows = []
    for t in results.transfers:
        if t.server != "modelyard" or t.route != "raw HTTP":
            continue
        ratio = results.ratio(t)
        rows.append(
            {
                "measure": f"{t.direction} throughput ({t.destination})",
                "target": f">= {TARGET_SPEEDUP:.0f}x MLflow",
                "figure": ratio_cell(ratio),
                "met": None if ratio is None else ratio >= TARGET_SPEEDUP,
            }
        )
        rows.append(
            {
                "measure": f"{t.direction} RSS growth ({t.destination})",
                "target": f"< {TARGET_RSS_GROWTH_MB:.0f} MB",
                "figure": f"{t.rss_growth_mb:.1f} MB",
                "met": t.rss_growth_mb < TARGET_RSS_GROWTH_MB,
            }
        )
    return rows


def print_targets(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = Table(
        title="modelyard (1 worker) against the issue's targets (raw HTTP)", title_justify="left"
    )
    for header in ("measure", "target", "figure", "status"):
        table.add_column(header)
    for row in rows:
        table.add_row(row["measure"], row["target"], row["figure"], status_cell(row["met"]))
    console.print(table)


def print_profiles(results: Results) -> None:
    for p in results.profiles:
        print_profile_table(
            f"py-spy: {p.server} {p.direction}, {p.destination} ({p.samples:,} busy samples "
            f"at {PROFILE_RATE_HZ} Hz over {p.seconds:.2f} s; threads: "
            + ", ".join(f"{name} {count / p.samples:.0%}" for name, count in p.threads.items())
            + ")",
            p.samples,
            p.self_frames,
            p.functions,
            "function (anywhere on the stack)",
        )


def report(info: dict[str, Any], results: Results, w: Workload) -> None:
    console.rule("Results")
    print_machine(info)
    print_references(results, w)
    for destination in ("local", "s3"):
        print_throughput(results, destination, w)
        print_cpu(results, destination)
        print_memory(results, destination)
    for line in gap_lines(results):
        console.print(line)
    print_targets(target_rows(results))
    print_profiles(results)
    for failure in results.failures:
        console.print(
            f"[red]failed:[/red] {failure.server} {failure.destination} {failure.step}: "
            f"{escape(failure.error)}"
        )
    print_notes(results.notes)


def transfer_json(results: Results, t: Transfer) -> dict[str, Any]:
    return {
        **asdict(t),
        "mb_per_s": t.mb_per_s,
        "mib_per_s": t.mib_per_s,
        "rss_growth_mb": t.rss_growth_mb,
        "verified": t.verified,
        "x_mlflow": results.ratio(t),
        "x_cp": results.of_cp(t),
    }


def document(info: dict[str, Any], results: Results, w: Workload) -> dict[str, Any]:
    return {
        "machine": info,
        "workload": {**asdict(w), "chunk_bytes": CHUNK, "rss_sample_s": RSS_SAMPLE_S},
        "references": [{**asdict(r), "mb_per_s": r.mb_per_s} for r in results.references],
        "transfers": [transfer_json(results, t) for t in results.transfers],
        "targets": target_rows(results),
        "profiles": [asdict(p) for p in results.profiles],
        "failures": [asdict(f) for f in results.failures],
        "notes": results.notes,
    }


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, "artifacts.py")
    parser.add_argument("--size-mib", type=int, help="size of the file (default 1024; 256 quick)")
    parser.add_argument("--quick", action="store_true", help="a 256 MiB file")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--servers", default="modelyard,mlflow", help="comma-separated subset of modelyard,mlflow"
    )
    parser.add_argument("--destination", choices=("local", "s3"), default="local")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy one more transfer each way into DIR"
    )
    args = parse_checking_servers(parser, argv, ONE_WORKER_SERVERS)
    if args.size_mib is not None and args.size_mib < 1:
        parser.error("--size-mib must be at least 1")
    return args


def workload(args: argparse.Namespace) -> Workload:
    base = QUICK if args.quick else FULL
    return Workload(args.size_mib, base.repeats) if args.size_mib else base


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    w = workload(args)
    selected = [ONE_WORKER_SERVERS[key] for key in args.servers.split(",")]
    results = Results()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="modelyard-artifacts-bench-"))
    started = time.perf_counter()
    try:
        print_df(root)
        check_space(root, w.size)
        info = machine_info(root, w, args.destination)
        source = make_source(root, w.size)
        console.log(f"{w.size_mib:,} MiB of random bytes in {source.path}")
        results.references += local_references(source, w)
        if args.destination == "s3":
            results.notes.append(S3_NOTE)
            try:
                results.references += s3_references(source, root)
            except Exception as exc:  # a reference only: measure the servers all the same
                results.notes.append(f"boto3 to moto not measured: {type(exc).__name__}: {exc}")
        for config in selected:
            workdir = root / f"{args.destination}-{config.key}"
            benchmark_server(config, args.destination, workdir, source, w, results, args.profile)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results.notes.append(EARLIER_MLFLOW)
    record_end_of_run(info, started)
    report(info, results, w)
    if args.json:
        write_json(args.json, document(info, results, w))
    return 0


if __name__ == "__main__":
    sys.exit(main())
