"""Where served predictions go, off the request path: queued, then written in batches by a
background thread. A local JSON-lines file now; the platform's monitoring endpoint later."""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson

from modelyard.errors import InvalidArgument

log = logging.getLogger("modelyard.serving")


class PredictionSink(Protocol):
    def write(self, records: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class JsonLinesSink:
    """One JSON object per prediction request, appended to ``path``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")

    def write(self, records: list[dict[str, Any]]) -> None:
        self._file.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class ParquetSink:
    """One Parquet file per batch, ``<stem>-<time>-<n>.parquet`` next to ``path``: a file is
    complete once written, so a crash loses at most the batch in flight."""

    def __init__(self, path: Path) -> None:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InvalidArgument(
                "Parquet prediction logs need pyarrow: pip install pyarrow, or log to .jsonl."
            ) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        self._directory = path.parent
        self._stem = path.stem
        self._written = 0

    def write(self, records: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(
            [{**r, "outputs": orjson.dumps(r["outputs"]).decode()} for r in records]
        )
        self._written += 1
        name = f"{self._stem}-{int(time.time() * 1000)}-{self._written:06d}.parquet"
        temporary = self._directory / f".{name}"
        pq.write_table(table, temporary)
        temporary.rename(self._directory / name)

    def close(self) -> None:
        return None


def sink_for(path: Path) -> PredictionSink:
    """Parquet for a ``.parquet`` path, JSON lines otherwise."""
    return ParquetSink(path) if path.suffix == ".parquet" else JsonLinesSink(path)


class PredictionLog:
    """``record()`` costs a queue put on the request path; a thread ships batches of up to
    ``batch_size`` records at least every ``interval_s``. When the queue is full (the sink is
    too slow), records are dropped and counted rather than slowing down inference."""

    def __init__(
        self,
        sink: PredictionSink,
        *,
        batch_size: int = 1000,
        interval_s: float = 1.0,
        capacity: int = 100_000,
    ) -> None:
        self._sink = sink
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(capacity)
        self._batch_size = batch_size
        self._interval_s = interval_s
        self.dropped = 0
        self._thread = threading.Thread(target=self._ship, name="prediction-log", daemon=True)
        self._thread.start()

    def record(self, record: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
        self._sink.close()

    def _ship(self) -> None:
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + self._interval_s
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = {}
            if item is None:
                stopping = True
            elif item:
                batch.append(item)
            if stopping or len(batch) >= self._batch_size or time.monotonic() >= deadline:
                self._flush(batch)
                batch = []
                deadline = time.monotonic() + self._interval_s

    def _flush(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        try:
            self._sink.write([_plain(r) for r in batch])
        except Exception:
            log.exception("prediction log: %d records lost", len(batch))


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """Inputs arrive as the request's matrix when it was one: made lists here, on the shipping
    thread, not on the request path."""
    inputs = record["inputs"]
    return {**record, "inputs": inputs.tolist()} if isinstance(inputs, np.ndarray) else record
