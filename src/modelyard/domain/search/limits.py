"""How much one search may ask for: text lengths, comparisons, list items, 64-bit numbers."""

from __future__ import annotations

from modelyard.errors import InvalidArgument

MAX_FILTER_LENGTH = 16_384
MAX_COMPARISONS = 1_000
MAX_LIST_ITEMS = 1_000
MAX_ORDER_BY_CLAUSES = 100
MAX_ORDER_BY_LENGTH = 1_024

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def _check_length(text: str, limit: int, context: str, what: str) -> None:
    if len(text) > limit:
        raise InvalidArgument(
            f"{context}: the {what} is {len(text)} characters long; the limit is {limit}"
        )
