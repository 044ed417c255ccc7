"""The server as a process: several workers on both databases, and TCP_NODELAY on every socket."""

from __future__ import annotations

import ctypes
import os
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, private_postgres_schema, sqlite_url
from tests.servers import ServerProcess, start_modelyard

API = "/api/2.0/mlflow"
_PIDFD_OPEN, _PIDFD_GETFD = 434, 438  # the same numbers on every Linux architecture


@pytest.fixture(params=BACKENDS)
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    if request.param == "postgres":
        with private_postgres_schema() as database:
            server = start_modelyard(tmp_path, database, workers=2)
            yield server
            server.stop()
    else:
        server = start_modelyard(tmp_path, sqlite_url(tmp_path), workers=2)
        yield server
        server.stop()


def test_several_workers_share_the_load_without_losing_writes(two_workers: ServerProcess) -> None:
    def client_session(index: int) -> str:
        with httpx.Client(base_url=two_workers.url + API, timeout=30) as http:
            run = http.post("/runs/create", json={"experiment_id": "0", "run_name": f"w{index}"})
            run_id = run.json()["run"]["info"]["run_id"]
            for step in range(40):
                response = http.post(
                    "/runs/log-metric",
                    json={
                        "run_id": run_id,
                        "key": "m",
                        "value": step,
                        "timestamp": 1,
                        "step": step,
                    },
                )
                assert response.status_code == 200, response.text
            metrics = [{"key": "b", "value": i, "timestamp": 2, "step": i} for i in range(500)]
            http.post("/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
            return str(run_id)

    with ThreadPoolExecutor(max_workers=6) as pool:
        run_ids = list(pool.map(client_session, range(12)))
    with httpx.Client(base_url=two_workers.url + API) as http:
        for run_id in run_ids:
            for key, count in (("m", 40), ("b", 500)):
                history = http.get(
                    "/metrics/get-history", params={"run_id": run_id, "metric_key": key}
                )
                assert len(history.json()["metrics"]) == count
        found = http.post("/runs/search", json={"experiment_ids": ["0"], "max_results": 100})
        assert len(found.json()["runs"]) == 12
    assert len(_worker_pids(two_workers.process.pid)) == 2


def _worker_pids(parent: int) -> list[int]:
    """Worker processes of a server (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def _foreign_socket(pid: int, fd: int) -> socket.socket | None:
    """A duplicate of another process's descriptor (Linux pidfd_getfd), if it is a socket."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = libc.syscall(_PIDFD_OPEN, pid, 0)
    if pidfd < 0:
        raise OSError(ctypes.get_errno(), "pidfd_open")
    try:
        local = libc.syscall(_PIDFD_GETFD, pidfd, fd, 0)
    finally:
        os.close(pidfd)
    if local < 0:
        return None
    try:
        return socket.socket(fileno=local)
    except OSError:
        os.close(local)
        return None


def _server_side_of(client: socket.socket, processes: list[int]) -> socket.socket:
    wanted = (client.getpeername(), client.getsockname())
    for pid in processes:
        for entry in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if not os.readlink(entry).startswith("socket:"):
                    continue
            except FileNotFoundError:  # closed while we looked
                continue
            candidate = _foreign_socket(pid, int(entry.name))
            if candidate is None:
                continue
            try:
                if (candidate.getsockname(), candidate.getpeername()) == wanted:
                    return candidate
            except OSError:
                pass
            candidate.close()
    raise AssertionError("no server process holds the accepted socket")


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("workers", [1, 3])
def test_accepted_sockets_have_tcp_nodelay(tmp_path: Path, workers: int, loop: str) -> None:
    """uvicorn with workers > 1 drops TCP_NODELAY (uvicorn issue 3149): 40 ms per request."""
    server = start_modelyard(
        tmp_path, sqlite_url(tmp_path), workers=workers, extra=["--event-loop", loop]
    )
    try:
        processes = [server.process.pid, *_worker_pids(server.process.pid)]
        port = int(server.url.rsplit(":", 1)[1])
        for _ in range(workers * 3):  # connections land on different workers
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                assert client.recv(4096).startswith(b"HTTP/1.1 200")
                accepted = _server_side_of(client, processes)
                with accepted:
                    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        server.stop()
