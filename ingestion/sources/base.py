"""Where document bytes come from.

A ``Source`` lists ``SourceItem``s and reads their bytes. Listing is streaming (an async iterator) so a container of
50,000 blobs never sits in memory as a list of contents. ``scope`` is the prefix every ``source_id`` of this source
starts with; the pipeline uses it to find index documents that came from this source but are no longer in it
(``in_scope``: a folder or blob-prefix scope covers every id starting with it, a one-file scope only that file).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from ingestion.acl import Acl
from ingestion.models import SourceItem

BLOB_SCHEME = "blob:"
"""How every blob ``source_id`` (and a blob source's scope) begins: ``blob:<account>/<container>/<name>``."""


def in_scope(source_id: str, scope: str) -> bool:
    """The one scope rule: does the document ``source_id`` belong to a source whose ``scope`` is ``scope``?

    A folder scope ends with ``/`` and holds everything under it. A blob scope (``blob:<account>/<container>/<prefix>``)
    is a listing prefix whether or not it ends with ``/``: blob-listing semantics, so prefix ``docs`` holds
    ``docs.md`` and ``docs2/a.md`` as well as ``docs/a.md``. Any other scope names one file and holds only itself
    (``/a/b.txt`` does not hold ``/a/b.txt.bak``)."""
    if scope.endswith("/") or scope.startswith(BLOB_SCHEME):
        return source_id.startswith(scope)
    return source_id == scope


class Source(Protocol):
    scope: str
    """Prefix shared by the ``source_id`` of every item this source can list (e.g. ``/data/docs/``)."""

    def list(self) -> AsyncIterator[SourceItem]:
        """Yield every item currently in the source, each once, in no promised order.

        Skips what is not a document (hidden files, links out of the root). Raises TransientError when the listing
        itself fails part-way: the caller must then not treat unlisted documents as deleted.
        """
        ...

    async def read(self, item: SourceItem, *, max_bytes: int) -> bytes:
        """Return the item's bytes.

        Raises DocumentTooLargeError (naming the limit) without reading past ``max_bytes``; BadInputError if the item
        vanished or cannot be read for a permanent reason; TransientError for I/O that may succeed later.
        """
        ...

    async def get(self, source_id: str) -> SourceItem | None:
        """The current item for ``source_id``, or None when it no longer exists."""
        ...

    async def acl(self, item: SourceItem) -> Acl | None:
        """Who may see the item, as the source says (blob metadata, an ADLS ACL, a sidecar file), or None when it says
        nothing (``ACL_DEFAULT`` then applies). Read afresh on every call: an ACL changes without the content.

        Raises BadInputError (naming the item) for an ACL that is malformed, TransientError as ``read``.
        """
        ...

    async def close(self) -> None: ...
