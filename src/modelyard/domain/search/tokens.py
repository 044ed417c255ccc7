"""The tokenizer shared by filters and order_by clauses, and how user text is quoted in messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from modelyard.errors import InvalidArgument

_SHOWN_TEXT_LENGTH = 60


def _show(text: str) -> str:
    """Quote user text for an error message, shortened so messages stay readable."""
    if len(text) > _SHOWN_TEXT_LENGTH:
        text = text[: _SHOWN_TEXT_LENGTH - 3] + "..."
    return repr(text)


class _Kind(Enum):
    NAME = "name"
    BACKTICKED = "backticked name"
    SINGLE_QUOTED = "single-quoted string"
    DOUBLE_QUOTED = "double-quoted string"
    NUMBER = "number"
    OPERATOR = "operator"
    DOT = "'.'"
    COMMA = "','"
    OPEN = "'('"
    CLOSE = "')'"
    END = "end of text"


_QUOTED_KINDS = frozenset({_Kind.BACKTICKED, _Kind.SINGLE_QUOTED, _Kind.DOUBLE_QUOTED})
_STRING_KINDS = frozenset({_Kind.SINGLE_QUOTED, _Kind.DOUBLE_QUOTED})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    offset: int
    after_space: bool

    @property
    def inner(self) -> str:
        """The text between the quotes of a quoted token, verbatim."""
        return self.text[1:-1]

    def is_word(self, *words: str) -> bool:
        return self.kind is _Kind.NAME and self.text.upper() in words

    def describe(self) -> str:
        if self.kind is _Kind.END:
            return "the end of the text"
        return _show(self.text)


# Quoted forms match what MLflow's tokenizer (sqlparse) takes as one token: a doubled quote or a
# backslash-quote does not end the string, and both stay in the value verbatim.
_TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<backticked>`(?:``|[^`])*`)
  | (?P<single_quoted>'(?:''|\\'|[^'])*')
  | (?P<double_quoted>"(?:""|\\"|[^"])*")
  | (?P<number>-?(?:[0-9]+(?:\.[0-9]+)?[eE]-?[0-9]+|[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?!\w))
  | (?P<name>\w+)
  | (?P<operator>[<>=!~]+)
  | (?P<dot>\.)
  | (?P<comma>,)
  | (?P<open>\()
  | (?P<close>\))
    """,
    re.VERBOSE,
)
_KIND_OF_GROUP = {
    "backticked": _Kind.BACKTICKED,
    "single_quoted": _Kind.SINGLE_QUOTED,
    "double_quoted": _Kind.DOUBLE_QUOTED,
    "number": _Kind.NUMBER,
    "name": _Kind.NAME,
    "operator": _Kind.OPERATOR,
    "dot": _Kind.DOT,
    "comma": _Kind.COMMA,
    "open": _Kind.OPEN,
    "close": _Kind.CLOSE,
}
_FORBIDDEN_CHARACTER = re.compile(r"[\x00\ud800-\udfff]")


def _tokenize(text: str, context: str) -> list[_Token]:
    forbidden = _FORBIDDEN_CHARACTER.search(text)
    if forbidden is not None:
        what = "a NUL character" if forbidden.group() == "\x00" else "a lone surrogate"
        raise InvalidArgument(
            f"{context}: {what} at offset {forbidden.start()} is not allowed in search text"
        )
    tokens: list[_Token] = []
    offset = 0
    after_space = False
    while offset < len(text):
        match = _TOKEN_PATTERN.match(text, offset)
        if match is None:
            raise InvalidArgument(f"{context}: {_unexpected_character(text, offset)}")
        group = match.lastgroup
        if group == "space":
            after_space = True
        else:
            assert group is not None
            tokens.append(_Token(_KIND_OF_GROUP[group], match.group(), offset, after_space))
            after_space = False
        offset = match.end()
    tokens.append(_Token(_Kind.END, "", len(text), after_space))
    return tokens


def _unexpected_character(text: str, offset: int) -> str:
    char = text[offset]
    if char in "'\"`":
        return f"unterminated {char}-quoted text starting at offset {offset}"
    if text.startswith(("--", "/*"), offset):
        return f"comments are not allowed (offset {offset})"
    if char == ";":
        return f"';' at offset {offset}: a filter is a single expression, not statements"
    if char == "-":
        return (
            f"unexpected '-' at offset {offset}; a negative number is written with the minus "
            "directly before its digits, e.g. -1.5"
        )
    return (
        f"unexpected character {char!r} at offset {offset}; outside quotes only names, "
        "numbers, comparators, '.', ',', '(' and ')' are allowed"
    )
