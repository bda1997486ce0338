"""Every cracker, fed arbitrary and mutated bytes under every extension and sniffed type.

Invariants for each input: ``crack`` returns a document whose text is valid Unicode (storable as UTF-8), or raises a
BadInputError whose message is one line starting with the document's path. Nothing else escapes, and the Python
memory peak of one input stays bounded (tracemalloc). Seeds: the repository's samples/, small documents built by
tests/support/bad_corpus.py, and, when present, small files of the shared corpora (.cache/corpora).
"""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingestion.cracking.docintel_markdown import markdown_to_document
from ingestion.cracking.registry import LocalCracker, supported_extensions
from ingestion.errors import BadInputError
from ingestion.models import CrackedDocument, SourceItem
from tests.support.bad_corpus import _docx_bytes, _pptx_bytes, _xlsx_bytes, text_pdf

ROOT = Path(__file__).resolve().parents[2]
CORPORA = Path(os.environ.get("CORPORA_DIR", ROOT / ".cache" / "corpora"))
EXTENSIONS = [*sorted(supported_extensions()), "", "bin", "PDF", "Docx", "exe", "tar.gz"]
SIGNATURES = [
    b"%PDF-1.7\n",
    b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"<!DOCTYPE html><html><body>",
    b"<html>",
    b"\x89PNG\r\n\x1a\n",
    b"\x1f\x8b\x08",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"{",
    b"# ",
    b"|a|b|\n|---|---|\n",
]
MAX_SEED_BYTES = 300_000
MEMORY_FLOOR = 96 * 1024 * 1024
CRACKER = LocalCracker()


def item_for(name: str, size: int) -> SourceItem:
    path = f"/fuzz/{name}"
    return SourceItem(path, path, size, datetime(2026, 1, 1, tzinfo=UTC), "sha256:fuzz")


def check_crack(name: str, data: bytes) -> CrackedDocument | None:
    """Crack ``data`` as ``name`` and assert the invariants; the document, or None for a reasoned refusal."""
    item = item_for(name, len(data))
    tracemalloc.start()
    try:
        document = CRACKER.crack(item, data)
    except BadInputError as error:
        message = str(error)
        assert message.startswith(f"{item.path}: ") and "\n" not in message, message
        assert len(message) < 1000
        return None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_FLOOR + 200 * len(data), f"{peak} bytes traced for a {len(data)}-byte input"
    assert isinstance(document, CrackedDocument)
    document.text.encode("utf-8")  # storable: no lone surrogates
    document.title.encode("utf-8")
    assert all(0 <= span.start <= len(document.text) for span in document.pages)
    return document


@cache
def seeds() -> tuple[tuple[str, bytes], ...]:
    found: list[tuple[str, bytes]] = [
        ("built.pdf", text_pdf([["Title", "Some text on page one."], ["Page two."]], title="Fuzz")),
        ("built.docx", _docx_bytes()),
        ("built.pptx", _pptx_bytes()),
        ("built.xlsx", _xlsx_bytes()),
    ]
    folders = [ROOT / "samples", CORPORA / "hostile", CORPORA / "office", CORPORA / "pdf", CORPORA / "html"]
    for folder in folders:
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.stat().st_size <= MAX_SEED_BYTES)
        found.extend((p.name, p.read_bytes()) for p in files[:40])
    return tuple(found)


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Apply ``(position, delete, insert)`` edits; positions wrap around the data."""
    out = bytearray(data)
    for position, delete, insert in edits:
        at = position % (len(out) + 1)
        out[at : at + delete] = insert
    return bytes(out)


def mutate_zip_member(data: bytes, pick: int, edits: list[tuple[int, int, bytes]]) -> bytes | None:
    """Rewrite one member of a zip package with valid CRCs, so the mutation reaches the XML parsers."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            members = [(info, package.read(info)) for info in package.infolist()]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return None
    if not members:
        return None
    target = pick % len(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for index, (info, body) in enumerate(members):
            package.writestr(info.filename, mutate(body, edits) if index == target else body)
    return out.getvalue()


edits = st.lists(
    st.tuples(st.integers(0, 2**31), st.integers(0, 64), st.binary(max_size=16)), min_size=1, max_size=8
)


@given(extension=st.sampled_from(EXTENSIONS), data=st.binary(max_size=4096))
@example(extension="txt", data=b"\xff\xfe\x00\xd8")  # UTF-16 with a lone surrogate
@example(extension="md", data=b"\xed\xa0\x80 surrogate in UTF-8 form")
@example(extension="json", data=b"[" * 100_000)
@example(extension="csv", data=b'"' + b"a" * 10_000)
def test_arbitrary_bytes_under_any_extension(extension: str, data: bytes) -> None:
    check_crack(f"doc.{extension}" if extension else "doc", data)


@given(
    extension=st.sampled_from(EXTENSIONS),
    signature=st.sampled_from(SIGNATURES),
    tail=st.binary(max_size=2048),
)
def test_bytes_behind_every_sniffed_signature(extension: str, signature: bytes, tail: bytes) -> None:
    check_crack(f"doc.{extension}", signature + tail)


@given(pick=st.integers(0, 10_000), rename=st.booleans(), extension=st.sampled_from(EXTENSIONS), edits=edits)
@example(pick=1, rename=False, extension="txt", edits=[(4, 1, b"")])  # found: zipfile's ValueError escaped crack
def test_mutated_real_documents(pick: int, rename: bool, extension: str, edits: list[tuple[int, int, bytes]]) -> None:
    name, data = seeds()[pick % len(seeds())]
    check_crack(f"mutant.{extension}" if rename else name, mutate(data, edits))


@given(pick=st.integers(0, 10_000), member=st.integers(0, 1000), edits=edits)
def test_mutated_members_of_real_office_packages(pick: int, member: int, edits: list[tuple[int, int, bytes]]) -> None:
    packages = [(name, data) for name, data in seeds() if data[:4] == b"PK\x03\x04"]
    name, data = packages[pick % len(packages)]
    mutated = mutate_zip_member(data, member, edits)
    if mutated is not None:
        check_crack(name, mutated)


def test_every_seed_cracks_or_is_refused_with_a_reason() -> None:
    """All seeds under ``make fuzz``; the small ones otherwise (the large ones are cracked by the corpus tests)."""
    assert len(seeds()) >= 4
    limit = MAX_SEED_BYTES if settings().max_examples >= 1000 else 30_000
    for name, data in seeds():
        if len(data) <= limit:
            check_crack(name, data)


DI_PIECES = [
    "<!-- PageBreak -->", '<!-- PageNumber="3" -->', '<!-- PageHeader="x" -->', "<table>", "</table>", "<tr>", "</tr>",
    "<th>", "<td>", "</td>", '<td colspan="3">', '<td rowspan="9999999999">', '<td colspan="²">', "<caption>",
    "<figure>", "<figcaption>", "</figure>", "# ", "## ", "\n", "\n\n", "|", "|---|", ":selected:", "&amp;", "<",
]  # fmt: skip
di_content = st.lists(st.one_of(st.sampled_from(DI_PIECES), st.text(max_size=20)), max_size=80).map("".join)


@given(content=di_content, numbers=st.lists(st.integers(-3, 10**6), max_size=6))
@example(content="<table>" * 300 + "<tr><td>x", numbers=[])
def test_document_intelligence_markdown_always_becomes_a_document(content: str, numbers: list[int]) -> None:
    """The service's markdown is input too: any content gives a document with true page offsets."""
    document = markdown_to_document(content, page_numbers=numbers, fallback_title="scan.pdf", content_type="pdf")
    document.text.encode("utf-8", "surrogatepass")
    starts = [span.start for span in document.pages]
    assert starts == sorted(starts) and all(0 <= start <= len(document.text) for start in starts)
    assert document.title


_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)
_XXE = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def _with_dtd(package: bytes, member: str, dtd: str, reference: str) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(package)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == member:
                text = body.decode("utf-8")
                at = text.index("?>") + 2 if text.startswith("<?xml") else 0
                text = text[:at] + dtd + text[at:]
                text = text.replace("<w:t>", "<w:t>" + reference, 1)
                body = text.encode("utf-8")
            target.writestr(info.filename, body)
    return out.getvalue()


def test_xml_entities_are_never_expanded_or_resolved() -> None:
    """docs/security.md's claim: billion laughs is refused, an external entity (XXE) is never read."""
    assert check_crack("laughs.docx", _with_dtd(_docx_bytes(), "word/document.xml", _LAUGHS, "&lol9;")) is None
    xxe = check_crack("xxe.docx", _with_dtd(_docx_bytes(), "word/document.xml", _XXE, "&xxe;"))
    assert xxe is None or "root:" not in xxe.text
    page = f"<!DOCTYPE html [{_XXE[11:-1]}]><html><body><p>&xxe; hi</p></body></html>".encode()
    html = check_crack("xxe.html", page)
    assert html is None or "root:" not in html.text
