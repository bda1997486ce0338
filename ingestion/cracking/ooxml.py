"""Office Open XML packages (docx, pptx, xlsx): zip-bomb guard, kind detection, and encrypted-Office detection.

Everything here reads only the zip central directory and ``[Content_Types].xml`` (itself size-checked first), so it
is safe to run before any parser inflates a member. The parsers (python-docx, python-pptx, openpyxl) read members
through ``zipfile``, which never returns more than a member's declared size, so checking the declared sizes bounds
what parsing can inflate.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass

from ingestion.errors import CorruptDocumentError, DocumentTooLargeError

MB = 1024 * 1024
CONTENT_TYPES_PART = "[Content_Types].xml"
OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
# An encrypted OOXML file is an OLE compound file holding these streams; names are UTF-16LE in the directory.
_OLE_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")

# Main-part content type -> format; only the ones python-docx / python-pptx / openpyxl open as such.
_MAIN_CONTENT_TYPES = {
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
}
_CONVENTIONAL_PARTS = (("word/document.xml", "docx"), ("ppt/presentation.xml", "pptx"), ("xl/workbook.xml", "xlsx"))
_CONTENT_TYPE_ATTR = re.compile(rb'ContentType="([^"]{1,200})"')
_MAX_CONTENT_TYPES_BYTES = 1 * MB


@dataclass(frozen=True)
class ZipLimits:
    """What an OOXML package may declare before we refuse to open it."""

    max_total_bytes: int = 256 * MB
    max_ratio: float = 100.0
    ratio_min_bytes: int = 10 * MB
    max_members: int = 20_000

    def __post_init__(self) -> None:
        if self.max_total_bytes < 1 or self.max_ratio <= 1 or self.max_members < 1:
            raise ValueError("zip limits must be positive (max_ratio above 1)")


@dataclass(frozen=True)
class Package:
    """What the central directory says about a zip: its Office kind (or None) and the main content type seen."""

    kind: str | None
    main_content_type: str | None


def is_zip(data: bytes) -> bool:
    return data.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def is_ole(data: bytes) -> bool:
    return data.startswith(OLE_MAGIC)


def ole_is_encrypted(data: bytes) -> bool:
    """True when an OLE compound file carries an ``EncryptionInfo`` stream (a password-protected OOXML file)."""
    return _OLE_ENCRYPTION_STREAM in data


def inspect_package(data: bytes, limits: ZipLimits) -> Package:
    """Check a zip's declared sizes against ``limits`` and tell which Office format it is, without inflating much.

    Raises CorruptDocumentError for an unreadable zip and DocumentTooLargeError for a zip bomb. A zip without
    ``[Content_Types].xml`` is not an Office package: ``Package(kind=None, ...)``.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise CorruptDocumentError(f"not a valid zip archive ({error})") from None
    with archive:
        members = archive.infolist()
        names = {member.filename for member in members}
        if CONTENT_TYPES_PART not in names:  # some other zip (odt, epub, plain archive): we will not open it
            return Package(kind=None, main_content_type=None)
        check_inflation(members, limits)
        return _package_kind(archive, names)


def check_inflation(members: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Refuse a package whose declared sizes add up past the limit or whose members compress absurdly well."""
    if len(members) > limits.max_members:
        raise DocumentTooLargeError(f"zip archive has {len(members)} members (limit {limits.max_members})")
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > limits.ratio_min_bytes and ratio > limits.max_ratio:
            raise DocumentTooLargeError(
                f"zip bomb: member {member.filename!r} inflates {ratio:.0f}:1 to {member.file_size // MB} MB"
            )
    if total > limits.max_total_bytes:
        raise DocumentTooLargeError(
            f"zip archive would inflate to {total // MB} MB (limit {limits.max_total_bytes // MB} MB)"
        )


def _package_kind(archive: zipfile.ZipFile, names: set[str]) -> Package:
    info = archive.getinfo(CONTENT_TYPES_PART)
    if info.file_size > _MAX_CONTENT_TYPES_BYTES:
        raise DocumentTooLargeError(f"{CONTENT_TYPES_PART} declares {info.file_size // MB} MB")
    try:
        content_types = archive.read(info)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError, ValueError, zlib.error) as error:
        raise CorruptDocumentError(f"unreadable {CONTENT_TYPES_PART} ({error})") from None
    declared = _CONTENT_TYPE_ATTR.findall(content_types)
    for content_type in declared:
        kind = _MAIN_CONTENT_TYPES.get(content_type)
        if kind:
            return Package(kind=kind, main_content_type=content_type.decode("ascii", "replace"))
    main = next((ct for ct in declared if ct.endswith(b".main+xml")), None)
    if main is None:  # no usable Override: fall back to the conventional part names
        for part, kind in _CONVENTIONAL_PARTS:
            if part in names:
                return Package(kind=kind, main_content_type=None)
    return Package(kind=None, main_content_type=main.decode("ascii", "replace") if main else None)
