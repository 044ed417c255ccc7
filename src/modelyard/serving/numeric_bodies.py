"""The common request bodies read straight into a float64 matrix.

A JSON parser that builds Python objects makes a float object per value and numpy then copies
them out again: for 100 rows of 20 features that is most of the cost of a request. simdjson
parses the numbers of an array into one buffer instead. Only the plain shapes take this path (a
v2 request of one flat 2-D tensor, ``dataframe_split`` / ``instances`` / ``inputs`` as rows of
numbers); for anything else, or anything odd, these readers return None and the general readers
in ``protocols`` read the body and word the errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import simdjson

from modelyard.serving.protocols import INVOCATION_FORMATS

# simdjson refuses what it cannot read (a number beyond 64 bits, bad JSON) with ValueError or
# RuntimeError: the general reader then reads the body or words the error.
_NOT_PLAIN = (AttributeError, KeyError, IndexError, TypeError, ValueError, RuntimeError)


class NumericBodies:
    """One per server process, used from its event loop only (the parser is reused)."""

    def __init__(self, names: Sequence[str]) -> None:
        self._parser = simdjson.Parser()
        self._names = list(names)

    def v2(self, raw: bytes) -> tuple[np.ndarray, str | None] | None:
        """The matrix and ``id`` of a v2 request holding one 2-D tensor of flat data."""
        try:
            document = self._parse(raw)
            inputs = document["inputs"]
            if not isinstance(inputs, simdjson.Array) or len(inputs) != 1:
                return None
            tensor: Any = inputs[0]
            if _repeats_a_key(document) or _repeats_a_key(tensor):
                return None
            shape = tensor["shape"].as_list()
            request_id = document.get("id")
            if len(shape) != 2 or not isinstance(request_id, str | None):
                return None
            rows, width = shape
            data = tensor["data"]
            if not (isinstance(rows, int) and isinstance(width, int) and rows > 0 and width > 0):
                return None
            # Three arrays (inputs, shape, data) and no more: no value in the data is an array.
            if len(data) != rows * width or _arrays(raw) != 3:
                return None
            values = np.frombuffer(data.as_buffer(of_type="d"), dtype=np.float64)
        except _NOT_PLAIN:
            return None
        return values.reshape(rows, width), request_id

    def invocations(self, raw: bytes) -> np.ndarray | None:
        """The matrix of ``dataframe_split``, ``instances`` or ``inputs`` given as rows of
        numbers, its columns put in the signature's order."""
        try:
            document = self._parse(raw)
            if not isinstance(document, simdjson.Object) or _repeats_a_key(document):
                return None
            given = [key for key in INVOCATION_FORMATS if key in document]
            if len(given) != 1 or given[0] == "dataframe_records":
                return None
            payload = document[given[0]]
            columns = None
            arrays = 0  # other than the data and its rows: the columns, a DataFrame's index
            if given[0] == "dataframe_split":
                if not isinstance(payload, simdjson.Object) or _repeats_a_key(payload):
                    return None
                raw_columns: Any = payload.get("columns")
                columns = None if raw_columns is None else raw_columns.as_list()
                data = payload["data"]
                arrays = sum(isinstance(payload[key], simdjson.Array) for key in payload) - 1
            else:
                data = payload
            if not isinstance(data, simdjson.Array) or _arrays(raw) != 1 + len(data) + arrays:
                return None  # a value in a row (or elsewhere) is an array
            return self._rows(data, columns)
        except _NOT_PLAIN:
            return None

    def _rows(self, data: Any, columns: list[Any] | None) -> np.ndarray | None:
        if not isinstance(data, simdjson.Array) or len(data) == 0:
            return None
        first: Any = data[0]
        if not isinstance(first, simdjson.Array):
            return None
        width = len(first)
        rows: list[Any] = list(data)
        if width == 0 or any(len(row) != width for row in rows):
            return None
        values = np.frombuffer(data.as_buffer(of_type="d"), dtype=np.float64)
        matrix = values.reshape(len(data), width)
        if columns is None or not self._names or columns == self._names:
            return matrix
        if len(columns) != width or len(set(columns)) != width:
            return None
        if not set(self._names) <= set(columns):
            return None
        return matrix[:, [columns.index(name) for name in self._names]]

    def _parse(self, raw: bytes) -> Any:
        if raw.startswith(_BOM):
            raise ValueError("a byte order mark, which JSON does not allow")  # orjson refuses it
        try:
            return self._parser.parse(raw)
        except RuntimeError:
            # The parser is still referenced from an earlier request (an exception's
            # traceback), or the body is unreadable: a fresh parser tells the two apart.
            self._parser = simdjson.Parser()
            return self._parser.parse(raw)


_BOM = b"\xef\xbb\xbf"


def _repeats_a_key(document: Any) -> bool:
    """A key given twice: simdjson reads the first and the general reader the last, so only the
    general reader may read such a body."""
    return len(document) != len(set(document.keys()))


def _arrays(raw: bytes) -> int:
    """How many arrays the body opens (a bracket inside a string counts too, which only sends
    the body to the general reader)."""
    if len(raw) < 4096:  # numpy's call costs more than counting a small body
        return raw.count(b"[")
    return int(np.count_nonzero(np.frombuffer(raw, dtype=np.uint8) == ord("[")))
