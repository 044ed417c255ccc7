"""What can stop an evaluation before it reaches a verdict.

These are problems the user fixes (a gate, a column, a model URI, a missing extra), as opposed
to a gate that fails, which is a verdict. The command line prints the message and exits 2.
"""

from __future__ import annotations


class EvaluationError(Exception):
    """The evaluation cannot run as asked; ``message`` says what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GateError(EvaluationError):
    """A gate expression does not parse, or names a metric or baseline that is not there."""


class DataError(EvaluationError):
    """The data file cannot be read, or lacks the target or a column the model needs."""


class ModelError(EvaluationError):
    """The model URI is malformed, names nothing, or the model cannot score the data."""


class RecordingError(EvaluationError):
    """The server refused to record the evaluation."""
