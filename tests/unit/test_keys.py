from __future__ import annotations

import pytest

from ingestion.keys import MAX_KEY_LENGTH, chunk_key, document_key, is_valid_key, text_hash

IDS = [
    "/data/docs/a.pdf",
    "/data/other/a.pdf",
    "/data/docs/Résumé 2024 ä.docx",
    "blob:acct/documents/folder/file name.pdf",
    "blob:acct/documents/" + "deep/" * 400 + "x.txt",
    "\u2603?&=#%/",
]


@pytest.mark.parametrize("source_id", IDS)
def test_document_keys_use_the_azure_charset(source_id: str) -> None:
    key = document_key(source_id)
    assert is_valid_key(key) and not key.startswith("_")
    assert len(chunk_key(key, 10**6)) <= MAX_KEY_LENGTH
    assert document_key(source_id) == key


def test_keys_differ_for_same_basename_in_different_folders() -> None:
    keys = {document_key(i) for i in IDS}
    assert len(keys) == len(IDS)


def test_long_identities_fall_back_to_a_hash() -> None:
    key = document_key(IDS[4])
    assert key.startswith("h") and len(key) == 65


def test_chunk_keys_are_unique_across_documents() -> None:
    a, b = document_key("x"), document_key("x_1")
    keys = {chunk_key(p, n) for p in (a, b) for n in range(30)}
    assert len(keys) == 60
    with pytest.raises(ValueError, match="ordinal"):
        chunk_key(a, -1)


def test_text_hash_is_stable_sha256() -> None:
    assert text_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_chunk_key_names_its_parent_and_ordinal_unambiguously() -> None:
    parent = document_key("/data/docs/a.pdf")
    assert chunk_key(parent, 12) == f"{parent}_12"
    assert chunk_key(parent, 12).rsplit("_", 1) == [parent, "12"]
    # A parent key that ends in digits and a longer ordinal must not meet: "dA1" + 0 versus "dA" + 10.
    assert chunk_key("dA1", 0) != chunk_key("dA", 10)
    assert len({chunk_key(p, n) for p in ("dA", "dA1", "dA11") for n in range(120)}) == 360
