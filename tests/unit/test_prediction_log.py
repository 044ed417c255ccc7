"""The prediction log: records queued on the request path, written in batches by a thread, as
JSON lines or Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelyard.serving.sink import JsonLinesSink, PredictionLog, sink_for


def _record(i: int) -> dict[str, object]:
    return {
        "request_id": f"r{i}",
        "at": 1.5 + i,
        "model": "m",
        "version": "1",
        "protocol": "v2",
        "inputs": [[float(i), 2.0]],
        "outputs": [i % 2],
    }


def test_records_arrive_in_batches_and_none_is_lost_on_close(tmp_path: Path) -> None:
    log = PredictionLog(JsonLinesSink(tmp_path / "p.jsonl"), batch_size=10, interval_s=60)
    for i in range(25):
        log.record(_record(i))
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [r["request_id"] for r in lines] == [f"r{i}" for i in range(25)]
    assert lines[3]["inputs"] == [[3.0, 2.0]]


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    class Stuck:
        def write(self, records: list[dict[str, object]]) -> None:
            raise OSError("disk full")

        def close(self) -> None:
            pass

    log = PredictionLog(Stuck(), batch_size=1000, interval_s=60, capacity=5)
    for i in range(20):
        log.record(_record(i))
    assert log.dropped >= 14
    log.close()  # a failing sink loses the batch and logs it; close still returns


def test_parquet_batches_are_complete_files(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    log = PredictionLog(sink_for(tmp_path / "preds.parquet"), batch_size=4, interval_s=60)
    for i in range(10):
        log.record(_record(i))
    log.close()
    files = sorted(tmp_path.glob("preds-*.parquet"))
    assert len(files) == 3 and not list(tmp_path.glob(".preds-*"))
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    assert [r["request_id"] for r in rows] == [f"r{i}" for i in range(10)]
    assert rows[1]["inputs"] == [[1.0, 2.0]] and json.loads(rows[1]["outputs"]) == [1]


@pytest.mark.parametrize("filename", ["p.jsonl", "p.parquet"])
def test_a_request_matrix_is_logged_as_rows(tmp_path: Path, filename: str) -> None:
    # A flat v2 tensor reaches the log as the numpy matrix the model scored.
    if filename.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    log = PredictionLog(sink_for(tmp_path / filename), batch_size=10, interval_s=60)
    log.record({**_record(0), "inputs": np.array([[0.5, 2.0], [1.5, -3.0]])})
    log.record(_record(1))
    log.close()
    if filename.endswith(".jsonl"):
        rows = [json.loads(line) for line in (tmp_path / filename).read_text().splitlines()]
    else:
        import pyarrow.parquet as pq

        rows = [r for f in tmp_path.glob("p-*.parquet") for r in pq.read_table(f).to_pylist()]
    assert [r["inputs"] for r in rows] == [[[0.5, 2.0], [1.5, -3.0]], [[1.0, 2.0]]]
