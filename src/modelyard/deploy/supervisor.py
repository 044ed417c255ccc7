"""Bringing deployments about: the targets' reconcilers, run by one server process per machine.

A file lock in the deployments directory elects that process among the server's workers; when
it dies, the lock is released and another takes over (and starts the local inference servers,
which died with it, again).
"""

from __future__ import annotations

import fcntl
import logging
import threading
from pathlib import Path
from typing import IO, Protocol

log = logging.getLogger("modelyard.deploy")


class Reconciler(Protocol):
    def reconcile(self) -> None: ...


class Supervisor:
    def __init__(self, targets: list[Reconciler], workdir: Path) -> None:
        self._targets = targets
        self._workdir = workdir
        self._lock: IO[bytes] | None = None

    def run_forever(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        try:
            while not stop.is_set():
                if self._hold_lock():
                    for target in self._targets:
                        try:
                            target.reconcile()
                        except Exception:
                            log.exception("deployments: %s failed, retrying", type(target).__name__)
                stop.wait(interval_s)
        finally:
            for target in self._targets:
                stop_all = getattr(target, "stop_all", None)
                if stop_all is not None:
                    stop_all()
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def _hold_lock(self) -> bool:
        if self._lock is not None:
            return True
        self._workdir.mkdir(parents=True, exist_ok=True)
        handle = (self._workdir / "supervisor.lock").open("wb")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock = handle
        return True
