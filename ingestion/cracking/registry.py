"""The local cracker: picks a parser by sniffed content first, then by extension, and maps every failure.

Choosing a parser::

    empty                                   -> NoTextError("empty file")
    %PDF header                             -> PDF (whatever the name says)
    zip with [Content_Types].xml            -> docx / pptx / xlsx by its main content type (zip-bomb guard first)
    OLE compound file (D0 CF 11 E0)         -> EncryptedDocumentError when named .docx/.pptx/.xlsx or carrying an
                                               EncryptionInfo stream, else UnsupportedFormatError (legacy .doc/.xls)
    leading HTML markup                     -> HTML
    a known binary signature (PNG, gzip...) -> UnsupportedFormatError naming the content
    otherwise by extension                  -> text / markdown / csv / json / html; a .pdf or Office extension on
                                               content that is not one -> CorruptDocumentError

Every error is a BadInputError whose one-line message starts with the item's path. A parser exception that is not
ours becomes CorruptDocumentError carrying its type and first line (pypdf's decompression limit and MemoryError
become DocumentTooLargeError); no foreign exception escapes ``crack``.
"""

from __future__ import annotations

from collections.abc import Callable

from pypdf.errors import LimitReachedError

from ingestion.cracking import docx, html, ooxml, pdf, pptx, sniff, text, xlsx
from ingestion.cracking.ooxml import ZipLimits
from ingestion.cracking.structure import TableLimits, first_line
from ingestion.errors import (
    BadInputError,
    CorruptDocumentError,
    DocumentTooLargeError,
    EncryptedDocumentError,
    IngestionError,
    NoTextError,
    UnsupportedFormatError,
)
from ingestion.models import CrackedDocument, SourceItem

Parser = Callable[..., CrackedDocument]

_PARSERS: dict[str, tuple[str, Parser]] = {
    "pdf": ("PDF", pdf.crack),
    "docx": ("DOCX", docx.crack),
    "pptx": ("PPTX", pptx.crack),
    "xlsx": ("XLSX", xlsx.crack),
    "html": ("HTML", html.crack),
    "markdown": ("Markdown", text.crack_markdown),
    "text": ("text", text.crack_plain),
    "csv": ("CSV", text.crack_csv),
    "json": ("JSON", text.crack_json),
}
_EXTENSIONS = {
    "pdf": "pdf",
    "docx": "docx",
    "pptx": "pptx",
    "xlsx": "xlsx",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "md": "markdown",
    "markdown": "markdown",
    "txt": "text",
    "csv": "csv",
    "tsv": "csv",
    "json": "json",
}
_OOXML = frozenset({"docx", "pptx", "xlsx"})
MB = 1024 * 1024


def supported_extensions() -> frozenset[str]:
    """File extensions (lowercase, no dot) that have a parser; content sniffing may still pick another one."""
    return frozenset(_EXTENSIONS)


class LocalCracker:
    """Cracks documents with local libraries only (pypdf, python-docx, python-pptx, openpyxl, bs4); thread-safe."""

    def __init__(
        self,
        *,
        max_inflated_bytes: int = 256 * MB,
        max_compression_ratio: float = 100.0,
        table_limits: TableLimits | None = None,
    ) -> None:
        self._zip_limits = ZipLimits(max_total_bytes=max_inflated_bytes, max_ratio=max_compression_ratio)
        self._table_limits = table_limits or TableLimits()

    @staticmethod
    def supported_extensions() -> frozenset[str]:
        return supported_extensions()

    def crack(self, item: SourceItem, data: bytes) -> CrackedDocument:
        """See ``Cracker.crack``; errors name ``item.path``."""
        try:
            kind = self._sniff(item.extension, data)
            return self._parse(kind, item, data)
        except BadInputError as error:
            raise type(error)(f"{item.path}: {error}") from error

    def _sniff(self, extension: str, data: bytes) -> str:
        try:
            return self._choose(extension, data)
        except IngestionError:
            raise
        except Exception as error:  # a library's own exception while sniffing (zip directory, OLE header...)
            detail = first_line(str(error))
            raise CorruptDocumentError(
                f"unreadable file ({type(error).__name__}{': ' + detail if detail else ''})"
            ) from error

    def _parse(self, kind: str, item: SourceItem, data: bytes) -> CrackedDocument:
        label, parser = _PARSERS[kind]
        try:
            return parser(data, name=item.name, limits=self._table_limits)
        except IngestionError:
            raise
        except (LimitReachedError, MemoryError) as error:
            raise DocumentTooLargeError(f"{label} too large to parse ({type(error).__name__})") from error
        except Exception as error:  # a parser's own exception: the document is malformed in a way it did not expect
            detail = first_line(str(error))
            raise CorruptDocumentError(
                f"unreadable {label} ({type(error).__name__}{': ' + detail if detail else ''})"
            ) from error

    def _choose(self, extension: str, data: bytes) -> str:
        if not data:
            raise NoTextError("empty file")
        if pdf.has_header(data, anywhere_in_window=extension == "pdf"):
            return "pdf"
        if ooxml.is_zip(data):
            return self._package_kind(extension, data)
        if ooxml.is_ole(data):
            if extension in _OOXML or ooxml.ole_is_encrypted(data):
                raise EncryptedDocumentError("password-protected Office file")
            raise UnsupportedFormatError(f"unsupported format: legacy Office binary file ({_named(extension)})")
        if sniff.looks_like_html(data):
            return "html"
        signature = sniff.binary_signature(data)
        if signature:
            raise UnsupportedFormatError(f"unsupported format: {signature} ({_named(extension)})")
        kind = _EXTENSIONS.get(extension)
        if kind is None:
            raise UnsupportedFormatError(f"unsupported format ({_named(extension)})")
        if kind == "pdf":
            raise CorruptDocumentError("not a PDF (no %PDF header)")
        if kind in _OOXML:
            raise CorruptDocumentError(f"not a {_PARSERS[kind][0]} file (not a zip package)")
        return kind

    def _package_kind(self, extension: str, data: bytes) -> str:
        try:
            package = ooxml.inspect_package(data, self._zip_limits)
        except CorruptDocumentError:
            if extension in _OOXML:
                raise
            raise UnsupportedFormatError(f"unsupported format: zip archive ({_named(extension)})") from None
        if package.kind is not None:
            return package.kind
        if package.main_content_type:
            raise UnsupportedFormatError(f"unsupported Office package type {package.main_content_type}")
        if extension in _OOXML:
            raise CorruptDocumentError(f"not a {_PARSERS[extension][0]} file (zip without Office content)")
        raise UnsupportedFormatError(f"unsupported format: zip archive ({_named(extension)})")


def _named(extension: str) -> str:
    return f"named .{extension}" if extension else "no file extension"
