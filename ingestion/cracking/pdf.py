"""PDF with pypdf: one page span per page, text lines kept, the metadata title when there is one.

An encrypted PDF is opened with the empty user password first (many PDFs only restrict permissions); anything else
that needs a password is refused. A PDF whose pages carry no text layer (a scan without OCR) is NoTextError.
"""

from __future__ import annotations

import io

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PdfReadError, PdfStreamError

from ingestion.cracking.structure import DocumentBuilder, TableLimits, first_line, normalize_inline
from ingestion.errors import CorruptDocumentError, EncryptedDocumentError, NoTextError
from ingestion.models import CrackedDocument

CONTENT_TYPE = "application/pdf"
MAGIC = b"%PDF-"
_HEADER_WINDOW = 1024  # readers accept the header anywhere in the first KB


def has_header(data: bytes, *, anywhere_in_window: bool) -> bool:
    """``%PDF-`` at the start (after whitespace), or anywhere in the first KB when ``anywhere_in_window``."""
    if data.lstrip(b"\x00\t\n\r\x0c \xef\xbb\xbf")[: len(MAGIC)] == MAGIC:
        return True
    return anywhere_in_window and MAGIC in data[:_HEADER_WINDOW]


def crack(data: bytes, *, name: str, limits: TableLimits) -> CrackedDocument:
    if not has_header(data, anywhere_in_window=True):
        raise CorruptDocumentError("not a PDF (no %PDF header)")
    reader = _open(data)
    builder = DocumentBuilder(content_type=CONTENT_TYPE, limits=limits)
    for number, page in enumerate(reader.pages, start=1):
        builder.start_page(number)
        builder.lines((page.extract_text() or "").split("\n"))
    if not builder.has_text:
        raise NoTextError("no extractable text (scanned PDF without OCR?)")
    return builder.build(title=_title(reader) or name)


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
    except (PdfReadError, PdfStreamError, ValueError, EOFError) as error:
        raise CorruptDocumentError(f"corrupt PDF ({first_line(str(error)) or type(error).__name__})") from None
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except (DependencyError, NotImplementedError, PdfReadError) as error:
            raise EncryptedDocumentError(f"encrypted PDF that cannot be opened ({first_line(str(error))})") from None
        if opened == PasswordType.NOT_DECRYPTED:
            raise EncryptedDocumentError("password-protected PDF")
    return reader


def _title(reader: PdfReader) -> str:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except (PdfReadError, PdfStreamError, ValueError, TypeError, KeyError):
        return ""
    return normalize_inline(str(title)) if title else ""
