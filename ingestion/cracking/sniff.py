"""Content sniffing from the first bytes: HTML by its leading markup, and common binary formats we do not read.

PDF, zip (OOXML) and OLE signatures live with their formats (pdf.py, ooxml.py); the registry combines them.
"""

from __future__ import annotations

import codecs
import re

_HTML_START = re.compile(
    rb"^(?:<\?xml[^>]{0,200}>\s*)?(?:<!--.{0,1000}?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]",
    re.IGNORECASE | re.DOTALL,
)
_SNIFF_BYTES = 4096

# Signature -> description, for content we recognise but have no cracker for (it wins over a misleading extension).
_BINARY_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\x7fELF", "ELF executable"),
    (b"{\\rtf", "RTF document"),
    (b"OggS", "Ogg media"),
    (b"fLaC", "FLAC audio"),
    (b"\x1aE\xdf\xa3", "Matroska/WebM video"),
    (b"SQLite format 3\x00", "SQLite database"),
)


def looks_like_html(data: bytes) -> bool:
    """True when the document starts (after a BOM, whitespace, an XML declaration, comments) with HTML markup."""
    head = data[:_SNIFF_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    elif head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    return _HTML_START.match(head.lstrip()) is not None


def binary_signature(data: bytes) -> str | None:
    """A description of a recognised binary format we do not crack, or None."""
    for signature, description in _BINARY_SIGNATURES:
        if data.startswith(signature):
            return description
    if data.startswith(b"BZh") and data[4:10] == b"1AY&SY":
        return "bzip2 archive"
    if data[4:12] in (b"ftypisom", b"ftypmp42", b"ftypM4A ", b"ftypqt  ", b"ftypheic"):
        return "MP4/QuickTime media"
    return None
