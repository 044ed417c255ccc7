"""The fast readers of plain numeric bodies agree with the general readers on every body: the
same matrix, bit for bit, or they step aside (None) and the general reader answers."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelyard.errors import InvalidArgument
from modelyard.serving import protocols
from modelyard.serving.numeric_bodies import NumericBodies
from modelyard.serving.schema import Column, InputSchema

NAMES = ["a", "b", "c"]
SCHEMA = InputSchema(tuple(Column(n, "double") for n in NAMES))
OPEN = InputSchema()

numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
)
# A one-number array in place of a number is the sly one: it flattens to the same count.
odd_values = st.one_of(
    numbers,
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(numbers, max_size=2),
    st.lists(numbers, min_size=1, max_size=1),
)


def _general_v2(schema: InputSchema, raw: bytes) -> Any:
    try:
        rows, request_id = protocols.v2_rows(schema, orjson.loads(raw))
        return protocols.matrix(schema, rows), request_id
    except (InvalidArgument, orjson.JSONDecodeError) as exc:
        return type(exc).__name__


def _general_invocations(schema: InputSchema, raw: bytes) -> Any:
    try:
        rows = protocols.invocation_rows(schema, orjson.loads(raw))
        return protocols.matrix(schema, rows)
    except (InvalidArgument, orjson.JSONDecodeError) as exc:
        return type(exc).__name__


def _same(fast: Any, general: Any) -> None:
    if isinstance(general, str):  # the general reader refuses: so must the pipeline
        if fast is not None:
            with pytest.raises(InvalidArgument):
                protocols.matrix(SCHEMA, fast if isinstance(fast, np.ndarray) else fast[0])
        return
    if fast is None:
        return
    if isinstance(general, tuple):
        (expected, expected_id), (got, got_id) = general, fast
        assert got_id == expected_id
    else:
        expected, got = general, fast
    got = protocols.matrix(SCHEMA, got)
    assert got.shape == expected.shape and got.tobytes() == expected.tobytes()


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(numbers, min_size=3, max_size=3), min_size=1, max_size=20),
    nested=st.booleans(),
    request_id=st.one_of(st.none(), st.text(max_size=5), st.integers()),
)
def test_v2_tensors(rows: list[list[Any]], nested: bool, request_id: Any) -> None:
    data = rows if nested else [v for row in rows for v in row]
    body: dict[str, Any] = {
        "inputs": [{"name": "x", "shape": [len(rows), 3], "datatype": "FP64", "data": data}]
    }
    if request_id is not None:
        body["id"] = request_id
    raw = json.dumps(body).encode()
    fast = NumericBodies(NAMES).v2(raw)
    _same(fast, _general_v2(SCHEMA, raw))
    plain_id = request_id is None or (isinstance(request_id, str) and "[" not in request_id)
    if not nested and plain_id:
        assert fast is not None  # the plain shape takes the fast path


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(odd_values, min_size=1, max_size=4), min_size=1, max_size=6),
    shape=st.lists(st.integers(min_value=-1, max_value=8), min_size=1, max_size=3),
)
def test_odd_v2_bodies_are_read_as_the_general_reader_reads_them(
    rows: list[list[Any]], shape: list[int]
) -> None:
    for data in (rows, [v for row in rows for v in row]):
        body = {"inputs": [{"name": "x", "shape": shape, "datatype": "FP64", "data": data}]}
        raw = json.dumps(body).encode()
        _same(NumericBodies(NAMES).v2(raw), _general_v2(SCHEMA, raw))


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(numbers, min_size=3, max_size=3), min_size=1, max_size=20),
    key=st.sampled_from(["dataframe_split", "instances", "inputs"]),
    order=st.permutations(NAMES),
    extra=st.booleans(),
    index=st.booleans(),
)
def test_invocation_rows(
    rows: list[list[Any]], key: str, order: list[str], extra: bool, index: bool
) -> None:
    if key == "dataframe_split":
        # Columns in any order, maybe one the model does not take, maybe pandas' index.
        columns = [*order, "unused"] if extra else list(order)
        moved = [[row[NAMES.index(c)] if c in NAMES else 7 for c in columns] for row in rows]
        body: dict[str, Any] = {key: {"columns": columns, "data": moved}}
        if index:
            body[key]["index"] = list(range(len(rows)))
    else:
        body = {key: rows}
    raw = json.dumps(body).encode()
    fast = NumericBodies(NAMES).invocations(raw)
    assert fast is not None
    _same(fast, _general_invocations(SCHEMA, raw))


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(odd_values, min_size=0, max_size=4), min_size=0, max_size=5),
    key=st.sampled_from(["dataframe_split", "instances", "inputs", "dataframe_records"]),
    columns=st.one_of(st.none(), st.lists(st.sampled_from([*NAMES, "z", 1]), max_size=4)),
)
def test_odd_invocation_bodies_are_read_as_the_general_reader_reads_them(
    rows: list[list[Any]], key: str, columns: list[Any] | None
) -> None:
    payload: Any = rows
    if key == "dataframe_split":
        payload = {"data": rows} if columns is None else {"columns": columns, "data": rows}
    raw = json.dumps({key: payload}).encode()
    for schema in (SCHEMA, OPEN):
        fast = NumericBodies(schema.names).invocations(raw)
        general = _general_invocations(schema, raw)
        if isinstance(general, str) or fast is None:
            _same(fast, general)
        else:
            assert fast.tobytes() == general.tobytes() and fast.shape == general.shape


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[]",
        b'{"inputs": {}}',
        b'{"inputs": [{"shape": [1, 3], "data": [1, 2, 3]}], "id": {"a": 1}}',
        b'{"inputs": [{"shape": [1, 3], "data": [1, 2, NaN]}]}',
        b'{"inputs": [{"shape": [1, 3], "data": [1e400, 2, 3]}]}',
        b'{"inputs": [{"shape": [1.0, 3], "data": [1, 2, 3]}]}',
        b'{"inputs": [{"shape": [1, 3], "data": [true, 2, 3]}]}',
        b'{"inputs": [{"shape": [1, 3], "data": [[5], 2, 3]}]}',
        b'{"inputs": [{"shape": [1, 3], "data": [1, [5], 3]}]}',
        b'{"inputs": [{"name": "[x]", "shape": [1, 3], "data": [1, 2, 3]}]}',
        b'{"instances": [[1, [5], 3]]}',
        # A key twice: simdjson would read the first, the general reader reads the last.
        b'{"dataframe_split": {"columns": ["c", "b", "a"], "columns": ["a", "b", "c"], '
        b'"data": [[1, 2, 3]]}}',
        b'{"instances": [[1, 2, 3]], "instances": null}',
        b'{"inputs": [{"shape": [1, 3], "data": [1, 2, 3], "data": null}]}',
        b'{"id": "a", "id": "b", "inputs": [{"shape": [1, 3], "data": [1, 2, 3]}]}',
        b'\xef\xbb\xbf{"instances": [[1, 2, 3]]}',
        b'{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, [3]]]}}',
        b'{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3]], "x": [[1]]}}',
        b'{"inputs": [{"shape": [1, 3], "data": [1, 2, 3]}, {"shape": [1], "data": [1]}]}',
    ],
)
def test_bodies_off_the_plain_shape_step_aside(raw: bytes) -> None:
    assert NumericBodies(NAMES).v2(raw) is None
    assert NumericBodies(NAMES).invocations(raw) is None


def test_the_reader_is_reused_across_requests_and_survives_a_held_document() -> None:
    reader = NumericBodies(NAMES)
    first = reader.v2(b'{"inputs": [{"shape": [1, 3], "data": [1, 2, 3]}]}')
    held = reader._parser.parse(b'{"inputs": [1]}')["inputs"]  # a proxy still alive
    second = reader.v2(b'{"inputs": [{"shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}]}')
    assert first is not None and second is not None and len(held) == 1
    assert first[0].tolist() == [[1, 2, 3]] and second[0].tolist() == [[1, 2, 3], [4, 5, 6]]


def test_large_bodies_are_checked_for_nested_values_too() -> None:
    # Past a few KB the brackets are counted another way: the same answers.
    rows = np.random.default_rng(1).normal(size=(300, 3))
    flat = rows.ravel().tolist()
    plain = {"inputs": [{"name": "x", "shape": [300, 3], "datatype": "FP64", "data": flat}]}
    read = NumericBodies(NAMES).v2(json.dumps(plain).encode())
    assert read is not None and read[0].tobytes() == rows.tobytes()
    sly = json.dumps(plain).encode().replace(f"{flat[-1]!r}]".encode(), f"[{flat[-1]!r}]]".encode())
    assert len(sly) > 4096 and NumericBodies(NAMES).v2(sly) is None
    nested = rows.tolist()
    nested[-1][-1] = [nested[-1][-1]]
    assert NumericBodies(NAMES).invocations(json.dumps({"instances": nested}).encode()) is None
    assert (
        NumericBodies(NAMES)
        .invocations(json.dumps({"instances": rows.tolist()}).encode())[0]
        .tolist()
        == rows[0].tolist()
    )
