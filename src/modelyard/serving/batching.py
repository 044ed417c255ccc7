"""Adaptive micro-batching: requests that arrive together are scored in one model call.

The first request of a batch schedules its flush: after ``max_wait_s``, or with a wait of 0 at
the end of the event loop's current pass, which gathers exactly the requests whose bodies are
already in, so an idle server adds no latency and a busy one batches more. A batch that
reaches ``max_rows`` is flushed at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np


class MicroBatcher:
    def __init__(
        self,
        predict: Callable[[np.ndarray], Any],
        max_rows: int,
        max_wait_s: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._predict = predict
        self._max_rows = max_rows
        self._max_wait_s = max_wait_s
        self._on_batch = on_batch
        self._pending: list[tuple[np.ndarray, asyncio.Future[Any]]] = []
        self._rows = 0
        self._scheduled: asyncio.Handle | asyncio.TimerHandle | None = None

    async def predict(self, matrix: np.ndarray) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((matrix, future))
        self._rows += matrix.shape[0]
        if self._rows >= self._max_rows:
            self._flush()
        elif self._scheduled is None:
            self._scheduled = (
                loop.call_later(self._max_wait_s, self._flush)
                if self._max_wait_s > 0
                else loop.call_soon(self._flush)
            )
        return await future

    def _flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        batch, self._pending, self._rows = self._pending, [], 0
        if not batch:
            return
        if self._on_batch is not None:
            self._on_batch(sum(m.shape[0] for m, _ in batch))
        try:
            joined = batch[0][0] if len(batch) == 1 else np.vstack([m for m, _ in batch])
            outputs = np.asarray(self._predict(joined))
        except Exception:
            # One bad request must not fail the others: score them one by one.
            for matrix, future in batch:
                if not future.done():
                    try:
                        future.set_result(self._predict(matrix))
                    except Exception as single:
                        future.set_exception(single)
            return
        start = 0
        for matrix, future in batch:
            end = start + matrix.shape[0]
            if not future.cancelled():
                future.set_result(outputs[start:end])
            start = end
