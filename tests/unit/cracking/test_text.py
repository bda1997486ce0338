"""Text decoding and the plain-text formats (.txt, .md, .csv, .json)."""

from __future__ import annotations

import codecs
import random

import pytest

from ingestion.cracking.text import decode_text
from ingestion.errors import CorruptDocumentError, NoTextError, UndecodableTextError


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("naïve café".encode(), "naïve café"),
        (codecs.BOM_UTF8 + "naïve café".encode(), "naïve café"),
        ("naïve café".encode("utf-16"), "naïve café"),  # with BOM
        (codecs.BOM_UTF16_BE + "naïve café".encode("utf-16-be"), "naïve café"),
        ("café".encode("latin-1"), "café"),
        ("Le café est très bon, à bientôt.".encode("latin-1"), "Le café est très bon, à bientôt."),
        ("Größe: 5 m² für 10 €".encode("cp1252"), "Größe: 5 m² für 10 €"),
        (("x" * 100_000 + " café").encode("latin-1"), "x" * 100_000 + " café"),
    ],
)
def test_decode_text(data, expected):
    assert decode_text(data) == expected


def test_decode_text_reads_cyrillic_in_its_own_code_page():
    text = "Привет, как дела? Всё хорошо, спасибо большое." * 3

    assert decode_text(text.encode("cp1251")) == text


def test_binary_with_nul_bytes_is_undecodable():
    with pytest.raises(UndecodableTextError, match="NUL bytes"):
        decode_text(b"abc\x00def")


def test_binary_without_nul_bytes_is_undecodable_not_mojibake():
    noise = bytes(b for b in random.Random(5).randbytes(8192) if b)  # no NULs: the guessers must refuse it

    with pytest.raises(UndecodableTextError):
        decode_text(noise)


def test_latin1_txt_file_comes_out_right(crack_good):
    document = crack_good("latin1.txt")

    assert document.text == "Le café est très bon.\nÀ bientôt, garçon !"
    assert document.content_type == "text/plain"
    assert document.title == "latin1.txt"


def test_five_megabyte_line_without_spaces_cracks_whole(crack_good):
    document = crack_good("long-line.txt")

    assert len(document.text) == 5 * 1024 * 1024
    assert set(document.text) == {"x"}


def test_plain_text_normalizes_newlines_and_blank_runs(crack):
    document = crack("notes.txt", b"one  two\r\n\r\n\r\n\r\nthree   \rfour\x07\n\n")

    assert document.text == "one  two\n\nthree\nfour"


def test_whitespace_only_text_is_no_text(crack):
    with pytest.raises(NoTextError, match=r"^/docs/blank\.txt: "):
        crack("blank.txt", b" \n\t\n ")


def test_markdown_title_from_front_matter(crack):
    document = crack("post.md", b'---\ntitle: "Release notes"\ndate: 2024-01-01\n---\n\nBody.\n')

    assert document.title == "Release notes"


def test_markdown_without_leading_heading_uses_file_name(crack):
    assert crack("notes.md", b"Intro line.\n\n# Later heading\n").title == "notes.md"


def test_csv_with_semicolons_and_pipes_in_cells(crack):
    document = crack("prices.csv", b"item;price\nbread;1,20\na|b;3\n")

    assert document.text == "| item | price |\n|---|---|\n| bread | 1,20 |\n| a\\|b | 3 |"


def test_tsv_is_a_table(crack):
    assert crack("data.tsv", b"a\tb\n1\t2\n").text == "| a | b |\n|---|---|\n| 1 | 2 |"


def test_csv_with_an_oversized_field_is_corrupt(crack):
    with pytest.raises(CorruptDocumentError, match=r"^/docs/huge\.csv: malformed CSV"):
        crack("huge.csv", b'a,b\n"' + b"x" * 200_000 + b'",1\n')


def test_invalid_json_is_corrupt(crack):
    with pytest.raises(CorruptDocumentError, match=r"^/docs/bad\.json: invalid JSON \(Expecting"):
        crack("bad.json", b'{"a": }')


def test_latin1_json_is_decoded(crack):
    assert crack("latin.json", '{"ville": "Besançon"}'.encode("latin-1")).text == '{\n  "ville": "Besançon"\n}'
