"""File and blob names that are not valid Unicode text, and how they are shown.

On POSIX a file name is bytes. Python decodes names that are not UTF-8 with ``surrogateescape`` (``os.fsdecode``): the
byte ``\\xff`` becomes the lone surrogate ``\\udcff``. Such a string cannot be encoded as UTF-8, so it cannot be stored
in the SQLite index, sent as JSON to Azure AI Search or printed on a strict UTF-8 stream. The local source therefore
gives such a file the display path ``shown_name(path)`` (the undecodable bytes as ``\\xNN``) and refuses to read it
with a one-line reason naming it (rename the file). Its document key stays faithful to the raw bytes
(ingestion/keys.py), so a refused file never shares a key with another file.
"""

from __future__ import annotations


def is_text(name: str) -> bool:
    """True when ``name`` is valid Unicode text (no lone surrogates): encodable as UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(name: str) -> str:
    """``name`` with every byte that was not UTF-8 shown as ``\\xNN`` (other lone surrogates as ``\\udNNN``)."""
    if is_text(name):
        return name
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")
