"""What the benchmarks share: server processes, /proc accounting, machine information, tables.

Imported by the scripts of this directory (``tracking.py``, ``artifacts.py``), which Python runs
with this directory on ``sys.path``. Importing this module sets the mlflow client's environment
(``CLIENT_ENV``) before mlflow is imported, so import it before mlflow.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# mlflow reads these when it is imported (telemetry) or on each call (retries, timeout).
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "600",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}
os.environ.update(CLIENT_ENV)

import httpx  # noqa: E402
import mlflow  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import modelyard  # noqa: E402

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 180.0
SETTLE_TIMEOUT_S = 60.0
SETTLE_WINDOW_S = 0.5
IDLE_CORES = 0.1
STOP_GRACE_S = 5.0
BASELINE = "mlflow"

console = Console(width=None if sys.stdout.isatty() else 150, log_path=False)


# --- /proc --------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name: index 0 is field 3 (state)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int(_stat_fields(int(entry.name))[1])
                children.setdefault(parent, []).append(int(entry.name))
    tree, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        tree.append(pid)
        frontier.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> float:
    ticks = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def kilobytes(path: str, label: str) -> int:
    """The figure of the line starting with ``label`` in a /proc file such as status, in kB."""
    for line in Path(path).read_text().splitlines():
        if line.startswith(label):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- servers ------------------------------------------------------------------------------------


class StartupError(RuntimeError):
    pass


@dataclass
class ServerProcess:
    """A server started by :func:`launch`: its own process group, its output in ``log_path``."""

    label: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 15) -> str:
        return log_tail(self.log_path, lines)


def log_tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_healthy(server: ServerProcess, health_path: str = "/health") -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise StartupError(f"{server.label} exited on start:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}{health_path}", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise StartupError(f"{server.label} not healthy after {STARTUP_TIMEOUT_S:.0f} s")


def wait_idle(server: ServerProcess) -> None:
    """Wait until the server's start-up work is over: two half-seconds in a row nearly idle."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    quiet, previous = 0, server.cpu_seconds()
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(SETTLE_WINDOW_S)
        current = server.cpu_seconds()
        quiet = quiet + 1 if current - previous < IDLE_CORES * SETTLE_WINDOW_S else 0
        previous = current


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, then SIGKILL to whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def launch(
    label: str,
    command: Callable[[int], list[str]],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    health_path: str = "/health",
) -> Iterator[ServerProcess]:
    """Start ``command(port)`` on a free port of 127.0.0.1 in a new process group (with ``env``
    added to this process's environment), wait until it answers ``health_path`` and is idle,
    and stop the whole group on the way out."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command(port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=None if env is None else {**os.environ, **env},
        )
    server = ServerProcess(label, f"http://{HOST}:{port}", process, log_path)
    try:
        started = time.perf_counter()
        wait_healthy(server, health_path)
        healthy = time.perf_counter() - started
        wait_idle(server)
        console.log(
            f"{label}: healthy after {healthy:.1f} s, idle after "
            f"{time.perf_counter() - started:.1f} s, at {server.url}"
        )
        yield server
    finally:
        stopping = time.perf_counter()
        stop(process)
        console.log(f"{label}: stopped in {time.perf_counter() - stopping:.1f} s")


class HasCpu(Protocol):
    def cpu_seconds(self) -> float: ...


@dataclass
class CpuSpent:
    server: float = 0.0
    client: float = 0.0


@contextlib.contextmanager
def cpu_spent(server: HasCpu) -> Iterator[CpuSpent]:
    """CPU seconds of the server's process tree and of this process inside the block."""
    spent = CpuSpent()
    server_before, client_before = server.cpu_seconds(), time.process_time()
    yield spent
    spent.server = server.cpu_seconds() - server_before
    spent.client = time.process_time() - client_before


# --- machine ------------------------------------------------------------------------------------


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_basics() -> dict[str, Any]:
    """Date, CPU, memory and versions; each script adds its own entries after these."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory GB": round(kilobytes("/proc/meminfo", "MemTotal:") / 1024**2, 1),
        "python": platform.python_version(),
        "mlflow": mlflow.__version__,
        "modelyard": modelyard.__version__,
    }


# --- report -------------------------------------------------------------------------------------


def print_machine(info: dict[str, Any]) -> None:
    table = Table(title="Machine", title_justify="left", show_header=False)
    for key, value in info.items():
        table.add_row(key, str(value))
    console.print(table)


def status_cell(met: bool | None) -> str:
    return {True: "[green]met", False: "[red]NOT met", None: "n/a"}[met]


def ratio_cell(ratio: float | None) -> str:
    return f"{ratio:.2f}x" if ratio else "n/a"
