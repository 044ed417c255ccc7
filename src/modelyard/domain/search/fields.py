"""Reading a field (``metrics.acc``, ``params.`my param```, ``start_time``) from the tokens."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.domain.search.nodes import Entity
from modelyard.domain.search.tokens import _QUOTED_KINDS, _Kind, _show, _Token
from modelyard.domain.search.vocabularies import Vocabulary
from modelyard.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class _Field:
    """A field as written: its entity, canonical key, and the text to show in messages."""

    entity: Entity
    key: str
    shown: str


class _Parser:
    """Reads fields, shared by the filter and the order_by parsers."""

    def __init__(self, tokens: list[_Token], vocabulary: Vocabulary, context: str) -> None:
        self._tokens = tokens
        self._position = 0
        self._vocabulary = vocabulary
        self._context = context

    def _peek(self) -> _Token:
        return self._tokens[self._position]

    def _next(self) -> _Token:
        token = self._tokens[self._position]
        if token.kind is not _Kind.END:
            self._position += 1
        return token

    def _fail(self, detail: str) -> InvalidArgument:
        return InvalidArgument(f"{self._context}: {detail}")

    def _at_end(self) -> bool:
        return self._peek().kind is _Kind.END

    def _field(self) -> _Field:
        first = self._next()
        if first.kind is _Kind.OPEN:
            raise self._fail(
                f"'(' at offset {first.offset}: parentheses are only allowed around an IN list; "
                "combine comparisons with AND"
            )
        if self._is_prefix_dot(self._peek()):
            prefix = self._prefix(first)
            self._next()
            key, shown_key = self._key_after_prefix(first)
            return self._resolve(prefix, key, f"{first.text}.{shown_key}")
        return self._resolve(None, self._bare_attribute(first), first.text)

    @staticmethod
    def _is_prefix_dot(token: _Token) -> bool:
        return token.kind is _Kind.DOT and not token.after_space

    def _prefix(self, token: _Token) -> str:
        if token.kind is _Kind.NAME:
            return token.text
        if token.kind is _Kind.BACKTICKED:
            return token.inner
        raise self._fail(
            f"{token.describe()} cannot be an entity type; use one of "
            f"({self._vocabulary.describe_prefixes()})"
        )

    def _key_after_prefix(self, prefix: _Token) -> tuple[str, str]:
        """Read the key after ``prefix.``; return it unquoted and as written."""
        first = self._next()
        if first.after_space:
            raise self._fail(f"no whitespace is allowed after {prefix.text + '.'!r}")
        if first.kind in _QUOTED_KINDS:
            self._refuse_dotted_continuation(first)
            return first.inner, first.text
        if first.kind is not _Kind.NAME:
            raise self._fail(
                f"expected a key after {prefix.text + '.'!r}, found {first.describe()}; "
                "quote keys with spaces or symbols in backticks, e.g. metrics.`my metric`"
            )
        parts = [first]
        while self._is_prefix_dot(self._peek()):
            self._next()
            part = self._next()
            if part.kind is not _Kind.NAME or part.after_space:
                written = ".".join(p.text for p in parts) + "."
                raise self._fail(
                    f"expected a name after {written!r}, found {part.describe()}; "
                    "quote the whole key in backticks, e.g. tags.`a.b c`"
                )
            parts.append(part)
        self._refuse_dotted_continuation(parts[-1])
        key = ".".join(part.text for part in parts)
        return key, key

    def _refuse_dotted_continuation(self, previous: _Token) -> None:
        follower = self._peek()
        if follower.after_space:
            return
        if follower.kind is _Kind.DOT or (
            follower.kind is _Kind.NUMBER and follower.text.startswith(".")
        ):
            raise self._fail(
                f"the key continues after {previous.text!r} with {follower.describe()}; a key "
                "with a part made of digits, or mixing quoted and unquoted parts, must be quoted "
                "whole in backticks, e.g. params.`layer.0.size`"
            )

    def _bare_attribute(self, token: _Token) -> str:
        if token.kind in (_Kind.NAME, _Kind.BACKTICKED, _Kind.DOUBLE_QUOTED):
            self._refuse_dotted_continuation(token)
            return token.text if token.kind is _Kind.NAME else token.inner
        if token.kind is _Kind.SINGLE_QUOTED:
            raise self._fail(
                f"expected a field, found the string {token.describe()}; a comparison starts "
                "with the field, e.g. params.model = 'cnn'"
            )
        raise self._fail(
            f"expected a field such as metrics.acc or params.`my param` at offset "
            f"{token.offset}, found {token.describe()}"
        )

    def _resolve(self, prefix: str | None, key: str, shown: str) -> _Field:
        vocabulary = self._vocabulary
        if prefix is None:
            entity = Entity.ATTRIBUTE
        elif prefix in vocabulary.prefixes:
            entity = vocabulary.prefixes[prefix]
        else:
            raise self._fail(
                f"unknown entity type {prefix!r} in {_show(shown)}; the {vocabulary.name} "
                f"accepts ({vocabulary.describe_prefixes()})"
            )
        if key == "":
            raise self._fail(f"the key of {_show(shown)} is empty")
        return _Field(entity, vocabulary.canonical_key(entity, key), shown)
