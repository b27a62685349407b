"""Errors the library raises and the CLI turns into one-line messages.

Every error says what is wrong and, where there is one, how to fix it (`hint`).
The CLI prints `error: <message>` (plus `hint: ...`) on stderr and exits with
`exit_code`: 2 for usage errors (bad options or arguments), 1 for everything else.
"""

from __future__ import annotations


class CharRNNError(Exception):
    """Base class: a failure the user can understand and act on."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(CharRNNError):
    """A bad option value or argument: exit code 2."""

    exit_code = 2


class CorpusError(CharRNNError):
    """The text cannot be read or used (missing, empty, invalid UTF-8, binary...)."""


class VocabError(CharRNNError):
    """A character is not in the model's vocabulary, or two vocabularies do not match."""


class CheckpointError(CharRNNError):
    """A checkpoint is missing, corrupt, not ours, too new, or does not fit the run."""


class CheckpointPathError(CheckpointError):
    """The path given for a checkpoint names no file (missing, or a directory): a usage error."""

    exit_code = 2


class CheckpointKindError(CheckpointError):
    """The checkpoint holds the other kind of model (seq2seq for a language model): a usage error."""

    exit_code = 2


class TrainingDiverged(CharRNNError):
    """The loss or gradient became NaN or infinite."""
