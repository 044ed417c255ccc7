"""order_by clauses: ``parse_order_by`` and the parser of one ``field [ASC|DESC]`` clause."""

from __future__ import annotations

from collections.abc import Sequence

from modelyard.domain.search.fields import _Field, _Parser
from modelyard.domain.search.limits import (
    MAX_ORDER_BY_CLAUSES,
    MAX_ORDER_BY_LENGTH,
    _check_length,
)
from modelyard.domain.search.nodes import Entity, OrderBy
from modelyard.domain.search.tokens import _Kind, _show, _tokenize
from modelyard.domain.search.vocabularies import Vocabulary
from modelyard.errors import InvalidArgument


def parse_order_by(clauses: Sequence[str] | None, vocabulary: Vocabulary) -> tuple[OrderBy, ...]:
    """Parse order_by clauses such as ``["metrics.acc DESC", "start_time"]``.

    None and ``[]`` give ``()``. A clause without a direction is ascending.

    Raises:
        InvalidArgument: ``clauses`` is not a list of strings, has more than
            MAX_ORDER_BY_CLAUSES items, a clause is longer than MAX_ORDER_BY_LENGTH, is not
            ``field [ASC|DESC]``, names a field ``vocabulary`` cannot order by, or (when the
            vocabulary says so) names a field twice.
    """
    if clauses is None:
        return ()
    if isinstance(clauses, str | bytes | bytearray) or not isinstance(clauses, Sequence):
        raise InvalidArgument(
            f"Invalid order_by: expected a list of strings, got {type(clauses).__name__}"
        )
    if len(clauses) > MAX_ORDER_BY_CLAUSES:
        raise InvalidArgument(
            f"Invalid order_by: {len(clauses)} clauses given; the limit is {MAX_ORDER_BY_CLAUSES}"
        )
    parsed: list[OrderBy] = []
    seen: set[tuple[Entity, str]] = set()
    for clause in clauses:
        order = _parse_order_by_clause(clause, vocabulary)
        identity = (order.entity, order.key)
        if vocabulary.unique_order_keys and identity in seen:
            raise InvalidArgument(
                f"Invalid order_by: {order.entity} {order.key!r} appears more than once; "
                f"each field may be ordered by only once in a {vocabulary.name}"
            )
        seen.add(identity)
        parsed.append(order)
    return tuple(parsed)


def _parse_order_by_clause(clause: object, vocabulary: Vocabulary) -> OrderBy:
    if not isinstance(clause, str):
        raise InvalidArgument(
            f"Invalid order_by: expected each clause to be a string, got {type(clause).__name__}"
        )
    context = f"Invalid order_by clause {_show(clause)}"
    _check_length(clause, MAX_ORDER_BY_LENGTH, context, "order_by clause")
    tokens = _tokenize(clause, context)
    return _OrderByParser(tokens, vocabulary, context).parse()


class _OrderByParser(_Parser):
    def parse(self) -> OrderBy:
        if self._at_end():
            raise self._fail(
                "the clause is empty; write a field, optionally followed by ASC or DESC"
            )
        field = self._field()
        ascending = True
        direction = self._next()
        # MLflow folds a direction glued to a quoted key (`a b`DESC) into the key; requiring
        # the space refuses that instead of silently reading it differently.
        if direction.is_word("ASC", "DESC") and direction.after_space:
            ascending = direction.text.upper() == "ASC"
            direction = self._next()
        if direction.kind is not _Kind.END:
            raise self._fail(
                f"expected ASC, DESC or the end of the clause after {_show(field.shown)}, found "
                f"{direction.describe()}"
            )
        self._check_orderable(field)
        return OrderBy(field.entity, field.key, ascending)

    def _check_orderable(self, field: _Field) -> None:
        vocabulary = self._vocabulary
        if field.entity in vocabulary.orderable_open_entities:
            return
        if field.entity is Entity.ATTRIBUTE and field.key in vocabulary.orderable_attributes:
            return
        allowed = [f"{entity} keys" for entity in sorted(vocabulary.orderable_open_entities)]
        allowed.append(
            "attributes "
            + vocabulary.describe_keys(Entity.ATTRIBUTE, vocabulary.orderable_attributes)
        )
        raise self._fail(
            f"the {vocabulary.name} cannot order by {field.entity} {_show(field.shown)}; it "
            f"orders by {'; '.join(allowed)}"
        )
