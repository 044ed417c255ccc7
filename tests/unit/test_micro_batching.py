"""Micro-batching: requests that arrive together are scored in one call, and each gets its own
rows back."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from modelyard.serving.batching import MicroBatcher


class Model:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        if np.isnan(matrix).any():
            raise ValueError("NaN in the input")
        self.calls.append(matrix.shape[0])
        return matrix[:, 0] * 10


def _rows(*firsts: float) -> np.ndarray:
    return np.array([[v, 0.0] for v in firsts])


def test_requests_ready_together_share_one_call_and_get_their_own_rows() -> None:
    model = Model()
    batches: list[int] = []

    async def scenario() -> list[np.ndarray]:
        batcher = MicroBatcher(model.predict, 1000, 0.0, on_batch=batches.append)
        return await asyncio.gather(
            batcher.predict(_rows(1)), batcher.predict(_rows(2, 3)), batcher.predict(_rows(4))
        )

    answers = asyncio.run(scenario())
    assert [a.tolist() for a in answers] == [[10.0], [20.0, 30.0], [40.0]]
    assert model.calls == [4] and batches == [4]


def test_a_full_batch_goes_at_once_and_the_rest_waits_for_the_next() -> None:
    model = Model()

    async def scenario() -> list[np.ndarray]:
        batcher = MicroBatcher(model.predict, 3, 10.0)  # the wait would fail the test
        first = asyncio.ensure_future(batcher.predict(_rows(1, 2)))
        second = asyncio.ensure_future(batcher.predict(_rows(3)))
        return await asyncio.wait_for(asyncio.gather(first, second), 2)

    answers = asyncio.run(scenario())
    assert [a.tolist() for a in answers] == [[10.0, 20.0], [30.0]]
    assert model.calls == [3]


def test_a_wait_gathers_requests_arriving_within_it() -> None:
    model = Model()

    async def scenario() -> None:
        batcher = MicroBatcher(model.predict, 1000, 0.05)
        first = asyncio.ensure_future(batcher.predict(_rows(1)))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(batcher.predict(_rows(2)))
        await asyncio.gather(first, second)

    asyncio.run(scenario())
    assert model.calls == [2]


def test_one_bad_request_fails_alone() -> None:
    model = Model()

    async def scenario() -> tuple[np.ndarray, BaseException | np.ndarray]:
        batcher = MicroBatcher(model.predict, 1000, 0.0)
        good, bad = await asyncio.gather(
            batcher.predict(_rows(1)), batcher.predict(_rows(float("nan"))), return_exceptions=True
        )
        return good, bad

    good, bad = asyncio.run(scenario())
    assert isinstance(good, np.ndarray) and good.tolist() == [10.0]
    assert isinstance(bad, ValueError)
    with pytest.raises(ValueError):
        raise bad
