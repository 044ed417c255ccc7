r"""MLflow's search languages: filter strings and order_by clauses, parsed into a small AST.

The reference is MLflow 3.17.2 (``mlflow/utils/search_utils.py`` together with the checks its
SQLAlchemy stores add). This module never builds SQL: it returns :class:`Comparison` and
:class:`OrderBy` values whose keys and values the SQL layer binds as parameters. Anything outside
the language raises :class:`~modelyard.errors.InvalidArgument` naming what was wrong and what is
allowed.

Filter grammar (keywords are case-insensitive, entity prefixes are lower case)::

    filter      = { "AND" } [ comparison { "AND" { "AND" } comparison } { "AND" } ]
    comparison  = field ( "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE" ) value
                | field [ "NOT" ] "IN" "(" string { "," string } [ "," ] ")"
                | field "IS" [ "NOT" ] "NULL"
    field       = prefix "." key | attribute
    prefix      = name | `name`                      e.g. metrics, params, `tags`
    key         = name { "." name } | `...` | "..." | '...'
    attribute   = name | `...` | "..."               an attribute key without prefix
    value       = string | number
    string      = '...' | "..."                      kept verbatim: '' and \' are not unescaped
    number      = [ "-" ] ( digits [ "." digits ] ( "e" | "E" ) [ "-" ] digits
                          | digits "." [ digits ] | "." digits | digits )

A name is a run of word characters (letters of any script, digits, underscore) that is not a
number. No whitespace is allowed around the dots of a field. Which prefixes, keys, comparators
and value types are valid is not in the grammar but in a :class:`Vocabulary`, one per search
endpoint: :data:`RUNS`, :data:`EXPERIMENTS`, :data:`REGISTERED_MODELS`, :data:`MODEL_VERSIONS`
and :data:`LOGGED_MODELS`.

Order-by grammar, one clause per list item: ``field [ "ASC" | "DESC" ]`` (ascending by default).

Limits (MLflow has none; these bound the work and the SQL one request can cause):
:data:`MAX_FILTER_LENGTH` characters of filter text, :data:`MAX_COMPARISONS` comparisons,
:data:`MAX_LIST_ITEMS` values in one IN list, :data:`MAX_ORDER_BY_CLAUSES` order_by clauses of at
most :data:`MAX_ORDER_BY_LENGTH` characters each. Whole numbers must fit in 64 bits and metric
values must be finite.

Deliberate differences from MLflow 3.17.2, all where MLflow accepts something broken or
accidental, or refuses something only by accident:

* Refused here, accepted by MLflow: two comparisons without ``AND`` between them
  (``a = 'x' b = 'y'``); an empty key (``params.`` alone, or empty quotes after the dot);
  whitespace after a field's dot (MLflow keeps it in the key); a key mixing quoted and unquoted
  parts (``metrics.`a`.b``, whose backticks MLflow keeps in the key); a list after ``=`` or
  ``LIKE`` (MLflow fails inside the database); in IN lists, nested parentheses, adjacent strings
  (``('a' 'b')``), backslashes and doubled quotes, because MLflow evaluates IN lists as Python
  literals where these mean something other than in the rest of the filter; NUL characters and
  lone surrogates; non-finite metric values (``1e400``); whole numbers outside 64 bits (MLflow
  fails in the database); a fractional runs timestamp (``start_time > 1.5``: timestamps are
  whole milliseconds; ``1e3`` is accepted as 1000); an ``experiment_id`` written with
  underscores (``'1_000'``), which Python's ``int`` reads.
* Accepted here, refused by MLflow: keywords in any case on every endpoint (MLflow's experiments
  search refuses lower-case ``like`` and ``in``); any whitespace inside ``IS NOT NULL``; a
  backticked prefix or a quoted attribute name on every endpoint (MLflow allows them on some);
  the run attribute aliases (``created``, a backticked ``Run name``) in order_by as well as in
  filters; a prefixed ``attribute.name`` in registered-model order_by; whitespace around an
  order_by clause; unquoted key parts that MLflow's SQL tokenizer happens to treat as keywords
  (``params.in``, ``as``, ``from``, ``case``, ``values``, ``using``).
* Refused here, read differently by MLflow: an order_by direction glued to a quoted key
  (``metrics.`a b`DESC``, which MLflow reads as an ascending key ending in ``DESC``).
* Kept from MLflow on purpose: stray ``AND`` at either end or doubled (``a = 'x' AND AND``);
  string values taken verbatim between their quotes, so ``'it''s'`` is the five characters
  ``it''s`` and ``'a\'b'`` keeps its backslash (MLflow compares exactly those); ``run_id``,
  ``status`` and dataset values are not validated; duplicate order_by keys are refused except
  for experiments.

The model-versions search also takes ``version_number`` quoted (``version_number = '3'``), as
MLflow does. Not supported: the special ``experiment_id = '...'`` filter of the prompt search
(the mlflow client rewrites it into a tag filter before sending it).
"""

from __future__ import annotations

from modelyard.domain.search.filters import parse_filter
from modelyard.domain.search.limits import (
    MAX_COMPARISONS,
    MAX_FILTER_LENGTH,
    MAX_LIST_ITEMS,
    MAX_ORDER_BY_CLAUSES,
    MAX_ORDER_BY_LENGTH,
)
from modelyard.domain.search.nodes import Comparison, Entity, OrderBy, ValueKind
from modelyard.domain.search.ordering import parse_order_by
from modelyard.domain.search.vocabularies import (
    EXPERIMENTS,
    LOGGED_MODELS,
    MODEL_VERSIONS,
    REGISTERED_MODELS,
    RUNS,
    FieldRule,
    Vocabulary,
)

__all__ = [
    "EXPERIMENTS",
    "LOGGED_MODELS",
    "MAX_COMPARISONS",
    "MAX_FILTER_LENGTH",
    "MAX_LIST_ITEMS",
    "MAX_ORDER_BY_CLAUSES",
    "MAX_ORDER_BY_LENGTH",
    "MODEL_VERSIONS",
    "REGISTERED_MODELS",
    "RUNS",
    "Comparison",
    "Entity",
    "FieldRule",
    "OrderBy",
    "ValueKind",
    "Vocabulary",
    "parse_filter",
    "parse_order_by",
]
