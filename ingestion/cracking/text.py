"""Plain-text formats: decoding bytes to text, and .txt / .md / .csv / .json crackers.

Decoding order: a byte-order mark (UTF-8, UTF-16, UTF-32) decides; otherwise NUL bytes mean binary; otherwise strict
UTF-8; else charset-normalizer's guess, except that Windows-1252 wins when charset-normalizer rates it as clean as
the best guess (charset-normalizer cannot tell Western single-byte code pages apart on short text and would read a
Latin-1 "café" as Farsi or UTF-16). Text that still looks like binary is refused rather than indexed as mojibake.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re

import charset_normalizer

from ingestion.cracking.structure import DocumentBuilder, TableLimits, first_line, normalize_inline
from ingestion.errors import CorruptDocumentError, DocumentTooLargeError, NoTextError, UndecodableTextError
from ingestion.models import CrackedDocument

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WESTERN = "cp1252"
_MAX_CONTROL_RATIO = 0.01
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd]")
_CSV_DELIMITERS = (",", ";", "\t", "|")
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+)$", re.MULTILINE)


def has_bom(data: bytes) -> bool:
    return any(data.startswith(bom) for bom, _ in _BOMS)


def looks_binary(data: bytes) -> bool:
    """NUL bytes without a UTF-16/32 byte-order mark: not text in any encoding we accept."""
    return not has_bom(data) and b"\x00" in data


def decode_text(data: bytes) -> str:
    """Bytes to str, or UndecodableTextError when the bytes are not text in an encoding we can identify."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise UndecodableTextError(f"invalid {encoding} text after its byte-order mark") from None
    if b"\x00" in data:
        raise UndecodableTextError("binary content (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = _guess(data)
    if text is None or _control_ratio(text) > _MAX_CONTROL_RATIO:
        raise UndecodableTextError("binary content or unknown text encoding")
    return text


def _guess(data: bytes) -> str | None:
    matches = [m for m in charset_normalizer.from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
    best = matches[0] if matches else None
    western = charset_normalizer.from_bytes(data, cp_isolation=[_WESTERN]).best()
    if western is not None and (best is None or western.chaos <= best.chaos + 0.01):
        return str(western)
    return str(best) if best is not None else None


def _sample(text: str, window: int = 32_768) -> str:
    """Start, middle and end of a long text: enough to judge it, bounded in cost."""
    if len(text) <= 3 * window:
        return text
    middle = len(text) // 2
    return "\n".join((text[:window], text[middle : middle + window], text[-window:]))


def _control_ratio(text: str) -> float:
    sample = _sample(text)
    return len(_CONTROLS.findall(sample)) / max(len(sample), 1)


def crack_plain(data: bytes, *, name: str, limits: TableLimits) -> CrackedDocument:
    builder = DocumentBuilder(content_type="text/plain", limits=limits)
    builder.add(decode_text(data))
    return _finish(builder, title=name)


def crack_markdown(data: bytes, *, name: str, limits: TableLimits) -> CrackedDocument:
    text = decode_text(data)
    builder = DocumentBuilder(content_type="text/markdown", limits=limits)
    builder.add(text)
    return _finish(builder, title=_markdown_title(text) or name)


def _markdown_title(text: str) -> str:
    """``title:`` from YAML front matter, else a leading ``# `` heading."""
    head = text.lstrip("\ufeff")[:4000]
    if head.startswith("---\n"):
        end = head.find("\n---", 4)
        match = _FRONT_MATTER_TITLE.search(head, 4, end if end > 0 else len(head))
        if match:
            return normalize_inline(match.group(1).strip("\"'"))
    for line in head.splitlines():
        if line.strip():
            return normalize_inline(line[2:]) if line.startswith("# ") else ""
    return ""


def crack_csv(data: bytes, *, name: str, limits: TableLimits) -> CrackedDocument:
    text = decode_text(data)
    header = text[: text.find("\n")] if "\n" in text[:65536] else text[:65536]
    delimiter = max(_CSV_DELIMITERS, key=header.count) if any(d in header for d in _CSV_DELIMITERS) else ","
    builder = DocumentBuilder(content_type="text/csv", limits=limits)
    try:
        builder.table(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise CorruptDocumentError(f"malformed CSV ({first_line(str(error))})") from None
    return _finish(builder, title=name)


def crack_json(data: bytes, *, name: str, limits: TableLimits) -> CrackedDocument:
    text = decode_text(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CorruptDocumentError(f"invalid JSON ({error.msg} at line {error.lineno})") from None
    builder = DocumentBuilder(content_type="application/json", limits=limits)
    builder.add(_reprinted(value, limits.max_json_text_bytes))
    return _finish(builder, title=name)


def _reprinted(value: object, cap: int) -> str:
    """``value`` as indented JSON, or DocumentTooLargeError as soon as it passes ``cap`` UTF-8 bytes."""
    pieces: list[str] = []
    size = 0
    for piece in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(value):
        size += len(piece.encode("utf-8"))
        if size > cap:
            raise DocumentTooLargeError(f"JSON re-printed is over {cap:,} bytes (MAX_JSON_TEXT_BYTES)")
        pieces.append(piece)
    return "".join(pieces)


def _finish(builder: DocumentBuilder, *, title: str) -> CrackedDocument:
    if not builder.has_text:
        raise NoTextError("no text (only whitespace)")
    return builder.build(title=title)
