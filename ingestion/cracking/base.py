"""Bytes to structured text.

A ``Cracker`` turns one document's bytes into a ``CrackedDocument`` (markdown-flavoured text, page spans, title).
It is pure CPU work on bytes already read; the pipeline runs it in a worker thread. Errors are BadInputError
subclasses with a one-line reason (encrypted, corrupt, too large when inflated, undecodable, no text).
"""

from __future__ import annotations

from typing import Protocol

from ingestion.models import CrackedDocument, SourceItem


class Cracker(Protocol):
    def crack(self, item: SourceItem, data: bytes) -> CrackedDocument:
        """Return the document's text with structure.

        Raises UnsupportedFormatError when no parser fits (by extension and by sniffed content), EncryptedDocumentError,
        CorruptDocumentError, DocumentTooLargeError (zip bomb), UndecodableTextError, NoTextError.
        """
        ...


class AsyncCracker(Protocol):
    """A cracker that calls a service (Document Intelligence): same contract, awaited, may raise TransientError."""

    async def crack(self, item: SourceItem, data: bytes) -> CrackedDocument: ...


AnyCracker = Cracker | AsyncCracker
"""What the pipeline accepts: a ``Cracker`` runs in a worker thread, an ``AsyncCracker`` is awaited."""
