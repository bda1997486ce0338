"""One error tree for the whole pipeline.

Every failure the pipeline can meet is one of three kinds, and the kind decides what happens next::

    IngestionError
    ├── BadInputError            permanent, one document: record it as failed with a one-line reason, never retry
    │   ├── UnsupportedFormatError   no cracker for this type (skipped, not crashed on)
    │   ├── EncryptedDocumentError   password-protected PDF / Office file
    │   ├── CorruptDocumentError     truncated or malformed file, or random bytes under a known extension
    │   ├── DocumentTooLargeError    over MAX_DOCUMENT_BYTES, or an archive that would inflate past its limit (zip bomb)
    │   ├── UndecodableTextError     text that is in no encoding we can identify
    │   ├── NoTextError              nothing to index (e.g. a scanned PDF without OCR)
    │   ├── DocumentRejectedError    a service refused this one document (e.g. Azure AI Search 400 for an item)
    │   └── DocumentTimeoutError     over DOCUMENT_TIMEOUT_SECONDS (its crack worker was killed)
    ├── TransientError           retry with backoff; after the retry budget, the document (or message) fails
    │   ├── ThrottledError           429 / quota; carries the server's retry-after when it sent one
    │   └── ServiceDownError         a service answered nothing for a while (circuit open): stop the run, not per doc
    ├── ConfigurationError       a setting is missing or invalid, or a credential is refused: stop the run, exit code 2
    ├── ConflictError            the state changed under us (a lost race): nothing was changed; look again, then retry
    │   └── AliasConflict            the alias no longer points where a compare-and-swap expected
    └── MigrationRefused         a migration run cannot start (HTTP 409 when ``conflict``, else 400); nothing started

    index_schemas.SchemaError    an invalid index name / version / vector size (``index_schemas`` depends on nothing
                                 here, so it has its own class): handled exactly like a ConfigurationError, see
                                 ``CONFIGURATION_ERRORS``

Foreign errors (SDK, HTTP, parser) are translated into this tree once, at the adapter boundary, and carry a message
that never contains a secret. ``str(error)`` is always one line.
"""

from __future__ import annotations

from index_schemas.errors import SchemaError


class IngestionError(Exception):
    """Base of every error the pipeline raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class BadInputError(IngestionError):
    """The document itself is the problem; retrying cannot help."""


class UnsupportedFormatError(BadInputError):
    pass


class EncryptedDocumentError(BadInputError):
    pass


class CorruptDocumentError(BadInputError):
    pass


class DocumentTooLargeError(BadInputError):
    pass


class UndecodableTextError(BadInputError):
    pass


class NoTextError(BadInputError):
    pass


class DocumentRejectedError(BadInputError):
    pass


class DocumentTimeoutError(BadInputError):
    """The document took longer than DOCUMENT_TIMEOUT_SECONDS; trying again would take as long."""


class TransientError(IngestionError):
    """A dependency failed in a way that may succeed if tried again later."""


class ThrottledError(TransientError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceDownError(TransientError):
    """A service has been unreachable for longer than its circuit allows: the run stops with this one error
    (a Functions message is retried later by the host) instead of every document retrying on its own."""


class ConfigurationError(IngestionError):
    """A setting is missing or invalid; nothing will work until it is fixed."""


class ConflictError(IngestionError):
    """Another actor changed what this operation was planned against; nothing was changed (the CLI exits 1)."""


class AliasConflict(ConflictError):
    """``IndexAdmin.set_alias(name, expected=...)`` found the alias pointing elsewhere (another migration or rollback
    moved it): nothing was changed. ``expected`` / ``found`` are index names, None meaning "no alias"."""

    def __init__(self, alias: str, *, expected: str | None, found: str | None, target: str) -> None:
        super().__init__(
            f"alias {alias} points at {found or 'nothing (no alias)'}, not {expected or 'nothing (no alias)'} as "
            f"expected: someone else moved it (another migration or a rollback?); not moved to {target}"
        )
        self.alias, self.expected, self.found, self.target = alias, expected, found, target


class MigrationRefused(IngestionError):
    """A migration run cannot start. ``conflict``: the index or the runs refuse it now (HTTP 409); else the request
    itself is wrong (HTTP 400)."""

    def __init__(self, message: str, *, conflict: bool) -> None:
        super().__init__(message)
        self.conflict = conflict


CONFIGURATION_ERRORS: tuple[type[Exception], ...] = (ConfigurationError, SchemaError)
"""What stops a run (exit code 2): ``except CONFIGURATION_ERRORS``."""
