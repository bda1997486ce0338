"""Parser choice by content over extension, and every hostile input mapped to its BadInputError with the path."""

from __future__ import annotations

import io
import zipfile

import pytest

from ingestion import errors
from ingestion.cracking.registry import LocalCracker, supported_extensions
from ingestion.errors import (
    BadInputError,
    CorruptDocumentError,
    DocumentTooLargeError,
    EncryptedDocumentError,
    NoTextError,
    UndecodableTextError,
    UnsupportedFormatError,
)
from tests.support.bad_corpus import GOOD_HTML, build_good_corpus, text_pdf
from tests.unit.cracking.conftest import source_item

PDF = text_pdf([["Hello from a PDF."]])


def _docx_bytes(good_corpus) -> bytes:
    root, _ = good_corpus
    return (root / "report.docx").read_bytes()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_supported_extensions_cover_every_format():
    assert {"pdf", "docx", "pptx", "xlsx", "html", "htm", "md", "markdown", "txt", "csv", "json"} <= (
        supported_extensions()
    )
    assert LocalCracker.supported_extensions() == supported_extensions()
    assert "exe" not in supported_extensions()


def test_pdf_named_txt_is_read_as_pdf(crack):
    document = crack("misnamed.txt", PDF)

    assert document.content_type == "application/pdf"
    assert document.text == "Hello from a PDF."


def test_docx_named_pdf_is_read_as_docx(crack, good_corpus):
    document = crack("misnamed.pdf", _docx_bytes(good_corpus))

    assert document.content_type.endswith("wordprocessingml.document")
    assert document.text.startswith("# Quarterly Report")


def test_html_named_txt_is_read_as_html(crack):
    document = crack("page.txt", GOOD_HTML.encode())

    assert document.content_type == "text/html"
    assert document.text.startswith("# Field Guide")


def test_html_sniffing_accepts_xml_declaration_and_comments(crack):
    page = b'<?xml version="1.0"?>\n<!-- generated -->\n<html><body><p>Hi there</p></body></html>'

    assert crack("page.dat", page).text == "Hi there"


def test_random_bytes_named_pdf_is_corrupt_not_a_pdf(crack):
    with pytest.raises(CorruptDocumentError, match=r"^/docs/x\.pdf: not a PDF"):
        crack("x.pdf", b"\x01\x02 this is not a pdf")


def test_text_named_docx_is_corrupt(crack):
    with pytest.raises(CorruptDocumentError, match=r"^/docs/x\.docx: not a DOCX file"):
        crack("x.docx", b"plain words")


def test_zip_without_office_content_named_xlsx_is_corrupt(crack):
    with pytest.raises(CorruptDocumentError, match=r"not a XLSX file \(zip without Office content\)"):
        crack("x.xlsx", _zip({"readme.txt": b"hello"}))


def test_plain_zip_and_images_are_unsupported_whatever_their_name(crack):
    with pytest.raises(UnsupportedFormatError, match=r"^/docs/a\.zip: unsupported format: zip archive \(named \.zip\)"):
        crack("a.zip", _zip({"readme.txt": b"hello"}))
    with pytest.raises(UnsupportedFormatError, match=r"PNG image \(named \.txt\)"):
        crack("a.txt", b"\x89PNG\r\n\x1a\n" + bytes(64))


def test_unknown_extension_is_unsupported_and_names_it(crack):
    with pytest.raises(UnsupportedFormatError, match=r"^/docs/tool\.exe: unsupported format \(named \.exe\)$"):
        crack("tool.exe", b"MZ not really")
    with pytest.raises(UnsupportedFormatError, match=r"no file extension"):
        crack("README", b"read me")


def test_unknown_office_package_type_is_unsupported(crack):
    macro = (
        b'<Types><Override PartName="/word/document.xml" '
        b'ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>'
    )
    package = _zip({"[Content_Types].xml": macro, "word/document.xml": b"<w/>"})

    with pytest.raises(UnsupportedFormatError, match=r"macroEnabled\.main\+xml"):
        crack("macro.docm", package)


def test_legacy_ole_file_is_unsupported_but_ole_named_docx_is_encrypted(crack):
    ole = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(1000)

    with pytest.raises(UnsupportedFormatError, match=r"legacy Office binary file \(named \.doc\)"):
        crack("old.doc", ole)
    with pytest.raises(EncryptedDocumentError, match=r"^/docs/locked\.docx: password-protected Office file$"):
        crack("locked.docx", ole)


def test_ole_file_with_an_encryption_stream_is_encrypted_whatever_its_name(crack):
    ole = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(600) + "EncryptionInfo".encode("utf-16-le") + bytes(100)

    with pytest.raises(EncryptedDocumentError, match="password-protected Office file"):
        crack("locked.doc", ole)


def test_parser_exception_is_wrapped_as_corrupt_with_its_type(crack):
    content_types = (
        b'<Types><Override PartName="/word/document.xml" '
        b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    package = _zip({"[Content_Types].xml": content_types, "word/document.xml": b"<not-closed"})

    with pytest.raises(CorruptDocumentError, match=r"^/docs/bad\.docx: unreadable DOCX \(\w+"):
        crack("bad.docx", package)


def test_zip_bomb_limits_are_constructor_parameters(good_corpus):
    data = _docx_bytes(good_corpus)
    item = source_item("/docs/report.docx", data)

    with pytest.raises(DocumentTooLargeError, match=r"^/docs/report\.docx: zip archive would inflate to"):
        LocalCracker(max_inflated_bytes=1000).crack(item, data)
    assert LocalCracker().crack(item, data).text


def test_zip_bomb_by_ratio_alone_is_refused(crack):
    content_types = (
        b'<Types><Override PartName="/xl/workbook.xml" '
        b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>'
    )
    package = _zip({"[Content_Types].xml": content_types, "xl/workbook.xml": bytes(20 * 1024 * 1024)})

    with pytest.raises(DocumentTooLargeError, match=r"zip bomb: member 'xl/workbook\.xml' inflates \d+:1"):
        crack("ratio.xlsx", package)


def test_every_bad_corpus_file_raises_its_error_naming_the_file(bad_corpus, cracker):
    root, expected = bad_corpus
    assert set(expected) >= {"encrypted.pdf", "truncated.pdf", "empty.txt", "zip-bomb.docx", "random.pdf", "random.txt"}

    for name, error_name in expected.items():
        path = root / name
        data = path.read_bytes()
        with pytest.raises(BadInputError) as caught:
            cracker.crack(source_item(path.as_posix(), data), data)
        assert type(caught.value) is getattr(errors, error_name), name
        message = str(caught.value)
        assert message.startswith(f"{path.as_posix()}: "), message
        assert "\n" not in message


def test_bad_corpus_messages_give_the_reason(bad_corpus, cracker):
    root, _ = bad_corpus
    reasons = {
        "empty.txt": (NoTextError, "empty file"),
        "encrypted.pdf": (EncryptedDocumentError, "password-protected PDF"),
        "random.pdf": (CorruptDocumentError, "not a PDF"),
        "random.txt": (UndecodableTextError, "NUL bytes"),
        "scanned.pdf": (NoTextError, "no extractable text (scanned PDF without OCR?)"),
        "zip-bomb.docx": (DocumentTooLargeError, "zip"),
    }
    for name, (error_type, reason) in reasons.items():
        data = (root / name).read_bytes()
        with pytest.raises(error_type) as caught:
            cracker.crack(source_item(f"/in/{name}", data), data)
        assert reason in str(caught.value), name


def test_bad_corpus_zip_bomb_is_small_on_disk(bad_corpus):
    root, _ = bad_corpus
    bomb = root / "zip-bomb.docx"

    assert bomb.stat().st_size < 2 * 1024 * 1024
    with zipfile.ZipFile(bomb) as archive:
        assert sum(info.file_size for info in archive.infolist()) > 256 * 1024 * 1024
        assert "[Content_Types].xml" in archive.namelist()


def test_corpus_builders_are_deterministic(tmp_path, good_corpus):
    root, names = good_corpus

    again = build_good_corpus(tmp_path)

    assert again == names
    for name in names:
        if name != "owner-locked.pdf":  # AES encryption uses random IVs
            assert (tmp_path / name).read_bytes() == (root / name).read_bytes(), name
