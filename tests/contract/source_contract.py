"""The ``Source`` contract (ingestion/sources/base.py) as a reusable test mixin.

A test class inherits ``SourceContract`` and supplies one async fixture, ``harness``, yielding a ``SourceHarness``: an
implementation over an empty place (a folder, a container) and the means to put and remove documents in that place
behind its back, as users do. Every test below then runs against it; the file name does not start with ``test_``
so pytest only collects the subclasses.
"""

from __future__ import annotations

from typing import Protocol

import pytest

from ingestion.errors import BadInputError, DocumentTooLargeError, TransientError
from ingestion.models import SourceItem
from ingestion.sources.base import Source

DOCUMENTS = {
    "a.txt": b"alpha",
    "nested/dir/b c.md": b"# beta with spaces",
    "\u00fcber/r\u00e9sum\u00e9 \u65e5\u672c.txt": "h\u00e9llo w\u00f6rld".encode(),
    "empty.txt": b"",
}
HIDDEN = {".hidden.txt": b"secret", "nested/.git/config": b"[core]", ".cache/x.txt": b"x"}


class SourceHarness(Protocol):
    source: Source

    async def put(self, name: str, data: bytes) -> None:
        """Create or overwrite document ``name`` (a ``/``-separated relative name) with ``data``."""
        ...

    async def remove(self, name: str) -> None:
        """Delete document ``name``."""
        ...

    def path(self, name: str) -> str:
        """The ``SourceItem.path`` this implementation gives document ``name``."""
        ...


async def listed(source: Source) -> dict[str, SourceItem]:
    """The listing by path; fails if an item is listed twice."""
    items = [item async for item in source.list()]
    by_path = {item.path: item for item in items}
    assert len(by_path) == len(items), "an item was listed twice"
    return by_path


async def fill(harness: SourceHarness, documents: dict[str, bytes]) -> None:
    for name, data in documents.items():
        await harness.put(name, data)


class SourceContract:
    """Mixin: every promise of the ``Source`` docstrings, for the implementation the ``harness`` fixture gives."""

    async def test_an_empty_source_lists_nothing(self, harness: SourceHarness) -> None:
        assert await listed(harness.source) == {}

    async def test_every_document_is_listed_once_under_the_scope(self, harness: SourceHarness) -> None:
        await fill(harness, DOCUMENTS)
        items = await listed(harness.source)
        assert sorted(items) == sorted(harness.path(name) for name in DOCUMENTS)
        for name, data in DOCUMENTS.items():
            item = items[harness.path(name)]
            assert item.source_id.startswith(harness.source.scope), item.source_id
            assert (item.name, item.size) == (name.rsplit("/", 1)[-1], len(data))
            assert item.content_version and item.last_modified.tzinfo is not None
        assert len({item.source_id for item in items.values()}) == len(DOCUMENTS)

    async def test_hidden_entries_are_not_listed(self, harness: SourceHarness) -> None:
        await fill(harness, {**HIDDEN, "visible.txt": b"shown"})
        assert list(await listed(harness.source)) == [harness.path("visible.txt")]

    async def test_read_returns_the_exact_bytes(self, harness: SourceHarness) -> None:
        await fill(harness, DOCUMENTS)
        for name, data in DOCUMENTS.items():
            item = (await listed(harness.source))[harness.path(name)]
            assert await harness.source.read(item, max_bytes=1_000) == data

    async def test_read_refuses_more_than_max_bytes_naming_the_limit(self, harness: SourceHarness) -> None:
        await harness.put("a.txt", b"alpha")
        item = (await listed(harness.source))[harness.path("a.txt")]
        assert await harness.source.read(item, max_bytes=5) == b"alpha"
        with pytest.raises(DocumentTooLargeError, match="4") as caught:
            await harness.source.read(item, max_bytes=4)
        assert str(caught.value).startswith(item.path) and "\n" not in str(caught.value)

    async def test_the_version_follows_the_content(self, harness: SourceHarness) -> None:
        await harness.put("a.txt", b"alpha")
        first = (await listed(harness.source))[harness.path("a.txt")].content_version
        await harness.put("a.txt", b"alpha")
        assert (await listed(harness.source))[harness.path("a.txt")].content_version == first
        await harness.put("a.txt", b"alpha, changed")
        changed = (await listed(harness.source))[harness.path("a.txt")]
        assert changed.content_version != first and changed.size == len(b"alpha, changed")

    async def test_get_returns_the_current_item_or_none(self, harness: SourceHarness) -> None:
        await fill(harness, DOCUMENTS)
        for item in (await listed(harness.source)).values():
            got = await harness.source.get(item.source_id)
            assert got is not None
            assert (got.source_id, got.path, got.size, got.content_version) == (
                item.source_id, item.path, item.size, item.content_version,
            )  # fmt: skip
        gone = (await listed(harness.source))[harness.path("a.txt")]
        await harness.remove("a.txt")
        assert await harness.source.get(gone.source_id) is None
        assert await harness.source.get(harness.source.scope + "never-there.txt") is None

    async def test_an_id_outside_the_scope_or_hidden_is_not_found(self, harness: SourceHarness) -> None:
        await fill(harness, {**HIDDEN, "a.txt": b"alpha"})
        item = (await listed(harness.source))[harness.path("a.txt")]
        outside = item.source_id.replace(harness.source.scope, "/elsewhere/", 1)
        hidden = harness.source.scope + ".hidden.txt"
        assert await harness.source.get(outside) is None
        assert await harness.source.get(hidden) is None

    async def test_a_vanished_item_is_bad_input_not_transient(self, harness: SourceHarness) -> None:
        await harness.put("a.txt", b"alpha")
        item = (await listed(harness.source))[harness.path("a.txt")]
        await harness.remove("a.txt")
        with pytest.raises(BadInputError) as caught:
            await harness.source.read(item, max_bytes=1_000)
        assert not isinstance(caught.value, TransientError)
        assert str(caught.value).startswith(item.path) and "\n" not in str(caught.value)
        assert await listed(harness.source) == {}

    async def test_listing_reflects_additions_and_removals(self, harness: SourceHarness) -> None:
        await fill(harness, {"a.txt": b"alpha", "b.txt": b"beta"})
        assert sorted(await listed(harness.source)) == sorted(map(harness.path, ["a.txt", "b.txt"]))
        await harness.remove("a.txt")
        await harness.put("c/d.txt", b"delta")
        assert sorted(await listed(harness.source)) == sorted(map(harness.path, ["b.txt", "c/d.txt"]))
