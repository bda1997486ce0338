"""The ``Cracker`` contract (ingestion/cracking/base.py, ``CrackedDocument`` in ingestion/models.py) as a test mixin.

A test class inherits ``CrackerContract`` and supplies one fixture, ``cracker``: an object whose ``crack(item,
data)`` returns a ``CrackedDocument``, directly (the local registry) or awaited (a cracker that calls a service);
``crack`` below accepts both. Every test then runs against it; the file name does not start with ``test_`` so
pytest only collects the subclasses.

What every cracker promises: markdown-flavoured text (``#`` headings, pipe tables with a ``|---|`` separator), a
title (the document's own, else the file name), page spans sorted by start and numbered from 1 for paged formats,
the same answer for the same bytes, and for bad input a ``BadInputError`` of the documented kind whose message is one
line starting with the document's path.
"""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from ingestion.errors import (
    BadInputError,
    CorruptDocumentError,
    EncryptedDocumentError,
    NoTextError,
    TransientError,
    UnsupportedFormatError,
)
from ingestion.models import CrackedDocument, SourceItem
from tests.support.bad_corpus import GOOD_HTML, _docx_bytes, _encrypted_pdf, _xlsx_bytes, text_pdf

THREE_PAGES = text_pdf([["Page one words."], ["Page two words."], ["Page three words."]], title="Three Pages")


def item(name: str, data: bytes) -> SourceItem:
    path = f"/contract/{name}"
    return SourceItem(path, path, len(data), datetime(2026, 1, 1, tzinfo=UTC), "sha256:contract")


async def crack(cracker: Any, name: str, data: bytes) -> CrackedDocument:
    outcome = cracker.crack(item(name, data), data)
    return await outcome if inspect.isawaitable(outcome) else outcome


def assert_well_formed(document: CrackedDocument) -> None:
    assert document.text.strip() and document.title.strip()
    starts = [span.start for span in document.pages]
    assert starts == sorted(starts) and all(0 <= start <= len(document.text) for start in starts)
    assert [span.number for span in document.pages] == list(range(1, len(document.pages) + 1))
    assert not starts or starts[0] == 0


BAD_INPUT = {
    "locked.pdf": (_encrypted_pdf(text_pdf([["secret words"]]), user_password="pw"), EncryptedDocumentError),
    "torn.pdf": (b"%PDF-1.7\n garbage that ends early", CorruptDocumentError),
    "scan.pdf": (text_pdf([[]]), NoTextError),
    "blob.bin": (bytes(range(256)) * 4, UnsupportedFormatError),
    "empty.txt": (b"", NoTextError),
}


class CrackerContract:
    """Mixin: every promise of the ``Cracker`` docstrings, for the implementation the ``cracker`` fixture gives."""

    async def test_plain_text_comes_back_as_it_is(self, cracker: Any) -> None:
        document = await crack(cracker, "notes.txt", b"Hello world.\nSecond line.")
        assert_well_formed(document)
        assert "Hello world." in document.text and "Second line." in document.text
        assert document.title == "notes.txt"  # no title of its own: the file name

    async def test_a_pdf_keeps_its_pages(self, cracker: Any) -> None:
        document = await crack(cracker, "three.pdf", THREE_PAGES)
        assert_well_formed(document)
        assert document.content_type == "application/pdf"
        assert len(document.pages) == 3
        for number, words in enumerate(("Page one words.", "Page two words.", "Page three words."), start=1):
            assert document.page_at(document.text.index(words)) == number

    async def test_a_docx_keeps_its_title_headings_and_table(self, cracker: Any) -> None:
        document = await crack(cracker, "report.docx", _docx_bytes())
        assert_well_formed(document)
        assert document.title == "Quarterly Report"
        assert re.search(r"^#+ Summary$", document.text, re.MULTILINE)
        assert "| Region | Q1 | Q2 |\n|---|---|---|\n| North | 10 | 12 |" in document.text
        assert document.text.index("Summary") < document.text.index("| Region") < document.text.index("End of report")

    async def test_an_xlsx_becomes_tables(self, cracker: Any) -> None:
        document = await crack(cracker, "budget.xlsx", _xlsx_bytes())
        assert_well_formed(document)
        assert "| Month | Amount |\n|---|---|" in document.text
        assert "| Laptops | 2400 | IT |" in document.text

    async def test_html_keeps_its_title_and_drops_markup(self, cracker: Any) -> None:
        document = await crack(cracker, "guide.html", GOOD_HTML.encode())
        assert_well_formed(document)
        assert document.title == "Field Guide"
        assert "This guide explains the common birds of the region." in document.text
        assert "<p>" not in document.text and "<table" not in document.text

    async def test_the_same_bytes_give_the_same_document(self, cracker: Any) -> None:
        for name, data in (("three.pdf", THREE_PAGES), ("report.docx", _docx_bytes())):
            assert await crack(cracker, name, data) == await crack(cracker, name, data)

    @pytest.mark.parametrize("name", sorted(BAD_INPUT))
    async def test_bad_input_is_a_one_line_reason_naming_the_document(self, cracker: Any, name: str) -> None:
        data, kind = BAD_INPUT[name]
        with pytest.raises(kind) as caught:
            await crack(cracker, name, data)
        assert isinstance(caught.value, BadInputError) and not isinstance(caught.value, TransientError)
        message = str(caught.value)
        assert message.startswith(f"/contract/{name}: ") and "\n" not in message
