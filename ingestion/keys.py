"""Document and chunk keys, derived from the full source identity — never from a basename or a position guess.

Azure AI Search keys allow ``A-Z a-z 0-9 - _ =``, at most 1,024 characters, and must not start with ``_``. A document
key is ``d`` + URL-safe base64 of the UTF-8 source identity (reversible, readable in a pinch); identities too long for
that become ``h`` + the SHA-256 hex digest. The leading letter keeps the two forms apart and the key off ``_``.
A chunk key is ``<document key>_<ordinal>``: ordinals are digits only, so two documents can never share a chunk key.
"""

from __future__ import annotations

import base64
import hashlib
import re

MAX_KEY_LENGTH = 1024
# Room for "_" and an ordinal of up to 23 digits.
MAX_DOCUMENT_KEY_LENGTH = MAX_KEY_LENGTH - 24
_KEY_RE = re.compile(r"^[A-Za-z0-9\-=][A-Za-z0-9_\-=]{0,1023}$")


def document_key(source_id: str) -> str:
    raw = identity_bytes(source_id)
    encoded = base64.urlsafe_b64encode(raw).decode("ascii")
    if 1 + len(encoded) <= MAX_DOCUMENT_KEY_LENGTH:
        return "d" + encoded
    return "h" + hashlib.sha256(raw).hexdigest()


def identity_bytes(source_id: str) -> bytes:
    """The bytes a key encodes: UTF-8, or for a file name that is not UTF-8 (``os.fsdecode``'s lone surrogates) the
    name's own bytes, so that such a file still has a faithful key (ingestion/sources/names.py)."""
    try:
        return source_id.encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:
        return source_id.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return source_id.encode("utf-8", "surrogatepass")


def chunk_key(parent_key: str, ordinal: int) -> str:
    if ordinal < 0:
        raise ValueError("chunk ordinal must be >= 0")
    return f"{parent_key}_{ordinal}"


def is_valid_key(key: str) -> bool:
    return bool(_KEY_RE.match(key))


def text_hash(text: str) -> str:
    """SHA-256 hex of a chunk's embedded text: equal hashes may share a vector (same model and dimensions)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
