"""Generated test documents: hostile files every cracker must refuse cleanly, and good files it must read.

``build_bad_corpus(dest)`` writes the hostile files and returns ``{relative name: expected error class name}``;
``build_good_corpus(dest)`` writes good files (all must crack to non-empty text) and returns their relative names.
Both write the same bytes on every run (except the encrypted PDFs: AES uses random IVs) and need only the pinned
libraries. ``text_pdf`` writes a small PDF
with a real text layer by hand (pypdf cannot lay out text), and is reusable on its own.
"""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import docx
import openpyxl
import pptx
from pptx.util import Inches
from pypdf import PdfReader, PdfWriter

_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*")
_FIXED_TIME = datetime(2024, 1, 2, 3, 4, 5)
_ZIP_TIME = (2024, 1, 2, 3, 4, 6)
MB = 1024 * 1024

GOOD_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Field Guide</title>
<style>body { color: red }</style><script>var tracking = "do-not-index";</script></head>
<body>
<header><a href="/">Site home</a> | <a href="/about">About us</a></header>
<nav><ul><li><a href="/a">Navigation link A</a></li><li><a href="/b">Navigation link B</a></li></ul></nav>
<main>
<h1>Field Guide</h1>
<p>This guide    explains
   the <a href="/birds">common birds</a> of the region.</p>
<h2>Identification</h2>
<ul><li>Look at the beak.</li><li>Listen to the song.</li></ul>
<table><thead><tr><th>Bird</th><th>Colour</th></tr></thead>
<tbody><tr><td>Robin</td><td>Red | brown</td></tr><tr><td>Blackbird</td><td>Black</td></tr></tbody></table>
<h3>Counting script</h3>
<pre><code class="language-python">def count(birds):
    return len(birds)
</code></pre>
</main>
<footer>Copyright footer text</footer>
</body></html>
"""

PEOPLE_CSV = b'name,city,notes\nAda,London,"math, engines"\nGrace,Arlington,compilers\nLinus,Helsinki,kernels\n'

GOOD_MARKDOWN = """# Team Handbook

Welcome to the team. This handbook covers the basics.



## Working hours

Core hours are 10:00 to 16:00.

| Day | Office |
|---|---|
| Monday | Paris |
"""


def text_pdf(pages: Sequence[Sequence[str]], *, title: str | None = None) -> bytes:
    """A valid PDF with one Helvetica text line per string, one page per inner sequence, and a correct xref.

    Text is encoded as Latin-1 (WinAnsi); pass an empty inner sequence for a page without text.
    """
    objects: list[bytes] = []  # object n is objects[n - 1]
    page_count = len(pages)
    first_page = 5
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(page_count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {page_count} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects.append(b"<< /Title (" + _pdf_string(title or "") + b") /Producer (bad_corpus) >>")
    for index, lines in enumerate(pages):
        content = _content_stream(lines)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {first_page + 2 * index + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info 4 0 R" if title else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


def _pdf_string(text: str) -> bytes:
    return text.encode("latin-1").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _content_stream(lines: Sequence[str]) -> bytes:
    if not lines:
        return b""
    body = b"".join(b"(" + _pdf_string(line) + b") Tj T*\n" for line in lines)
    return b"BT\n/F1 12 Tf\n16 TL\n72 720 Td\n" + body + b"ET"


def build_bad_corpus(dest: Path) -> dict[str, str]:
    """Write hostile files into ``dest``; return ``{relative name: expected error class name}``.

    - ``encrypted.pdf``: a text PDF encrypted by pypdf (AES-128, user password "open-sesame") -> EncryptedDocumentError
    - ``truncated.pdf``: a real three-page text PDF cut in half (no xref, no %%EOF) -> CorruptDocumentError
    - ``empty.txt``: zero bytes -> NoTextError
    - ``zip-bomb.docx``: a well-formed docx package plus ``word/media/padding.bin``, 300 MB of zeros deflated to
      ~300 KB (declared sizes over 256 MB, ratio ~1000:1) -> DocumentTooLargeError
    - ``random.pdf``: 4 KB of seeded random bytes -> CorruptDocumentError ("not a PDF")
    - ``random.txt``: 4 KB of seeded random bytes (with NUL bytes) -> UndecodableTextError
    - ``scanned.pdf``: a valid PDF whose only page has no text layer -> NoTextError
    - ``protected.xlsx``: an OLE compound-file stub with an EncryptionInfo stream name, which is how Office stores a
      password-protected xlsx -> EncryptedDocumentError
    - ``broken.docx``: a real docx cut in half (zip without central directory) -> CorruptDocumentError
    """
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20240101)
    report = text_pdf([[f"Page {p} line {i} of the hostile corpus report." for i in range(40)] for p in (1, 2, 3)])
    files: dict[str, tuple[bytes, str]] = {
        "encrypted.pdf": (_encrypted_pdf(report, user_password="open-sesame"), "EncryptedDocumentError"),
        "truncated.pdf": (report[: len(report) // 2], "CorruptDocumentError"),
        "empty.txt": (b"", "NoTextError"),
        "random.pdf": (b"\x01" + rng.randbytes(4095), "CorruptDocumentError"),
        "random.txt": (b"\x00" + rng.randbytes(4095), "UndecodableTextError"),
        "scanned.pdf": (text_pdf([[]]), "NoTextError"),
        "protected.xlsx": (_ole_encrypted_stub(), "EncryptedDocumentError"),
        "broken.docx": (_docx_bytes()[:3000], "CorruptDocumentError"),
    }
    for name, (data, _) in files.items():
        (dest / name).write_bytes(data)
    _write_zip_bomb_docx(dest / "zip-bomb.docx", inflated_bytes=300 * MB)
    expected = {name: error for name, (_, error) in files.items()}
    expected["zip-bomb.docx"] = "DocumentTooLargeError"
    return expected


def build_good_corpus(dest: Path) -> list[str]:
    """Write good files into ``dest``; return their relative names. Every one must crack to non-empty text.

    - ``report.docx``: Title "Quarterly Report" (core title too), Heading 1/2, a bulleted list, a 3x3 table
    - ``slides.pptx``: 2 slides ("Welcome deck" title slide; "Roadmap" with bullets, a table and speaker notes)
    - ``budget.xlsx``: sheets "Revenue" and "Costs", each a header row plus data rows
    - ``guide.html``: <title>Field Guide</title>, header/nav/footer/script chrome, h1-h3, a list, a table, code
    - ``handbook.md``: markdown with headings, a pipe table and a run of blank lines
    - ``latin1.txt``: French text encoded as Latin-1 ("Le café ...")
    - ``long-line.txt``: one 5 MB line without spaces (must crack; chunking splits it by tokens)
    - ``people.csv``: a header row and three rows, one with a quoted comma
    - ``config.json``: a nested object with non-ASCII text
    - ``report.pdf``: a 3-page text PDF titled "Annual Report" ("Page N" lines on each page)
    - ``owner-locked.pdf``: an encrypted PDF whose user password is empty (opens without a password)
    - ``Résumé 2024 ä.md`` and ``notes with spaces.txt``: names with spaces and non-ASCII characters
    """
    dest.mkdir(parents=True, exist_ok=True)
    pdf_pages = [[f"Page {p}: annual report section {p}.", f"Revenue grew in part {p}."] for p in (1, 2, 3)]
    report_pdf = text_pdf(pdf_pages, title="Annual Report")
    files: dict[str, bytes] = {
        "report.docx": _docx_bytes(),
        "slides.pptx": _pptx_bytes(),
        "budget.xlsx": _xlsx_bytes(),
        "guide.html": GOOD_HTML.encode("utf-8"),
        "handbook.md": GOOD_MARKDOWN.encode("utf-8"),
        "latin1.txt": "Le café est très bon.\nÀ bientôt, garçon !\n".encode("latin-1"),
        "long-line.txt": b"x" * (5 * MB),
        "people.csv": PEOPLE_CSV,
        "config.json": json.dumps({"service": {"name": "Zürich gateway", "ports": [80, 443]}}).encode("utf-8"),
        "report.pdf": report_pdf,
        "owner-locked.pdf": _encrypted_pdf(report_pdf, user_password=""),
        "Résumé 2024 ä.md": "# Résumé\n\nExpérience: ingénieure à Zürich.\n".encode(),
        "notes with spaces.txt": b"Notes with spaces in the file name.\n",
    }
    for name, data in files.items():
        (dest / name).write_bytes(data)
    return list(files)


def _encrypted_pdf(data: bytes, *, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _ole_encrypted_stub() -> bytes:
    header = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(24) + b"\x3e\x00\x03\x00\xfe\xff\x09\x00"
    names = "EncryptionInfo".encode("utf-16-le") + bytes(50) + "EncryptedPackage".encode("utf-16-le")
    return header.ljust(512, b"\x00") + names.ljust(1024, b"\x00")


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _deterministic(package: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps so generated Office files are byte-for-byte reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                data = _MODIFIED.sub(rb"\g<1>2024-01-02T03:04:05Z", data)
            target.writestr(_member(info.filename), data)
    return out.getvalue()


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Quarterly Report"
    document.core_properties.created = document.core_properties.modified = _FIXED_TIME
    document.add_heading("Quarterly Report", level=0)
    document.add_paragraph("This report   summarises the quarter.")
    document.add_heading("Summary", level=1)
    document.add_paragraph("Sales rose in every region.")
    document.add_paragraph("North grew fastest.", style="List Bullet")
    document.add_paragraph("South was flat.", style="List Bullet")
    document.add_heading("Figures", level=2)
    table = document.add_table(rows=3, cols=3)
    values_by_row = (("Region", "Q1", "Q2"), ("North", "10", "12"), ("South", "7", "7"))
    for row, values in zip(table.rows, values_by_row, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_paragraph("End of report.")
    out = io.BytesIO()
    document.save(out)
    return _deterministic(out.getvalue())


def _pptx_bytes() -> bytes:
    deck = pptx.Presentation()
    deck.core_properties.title = "Welcome deck"
    deck.core_properties.created = deck.core_properties.modified = _FIXED_TIME
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Welcome deck"
    first.placeholders[1].text = "Introduction for new staff"
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Roadmap"
    body = second.placeholders[1].text_frame
    body.text = "Ship version 2"
    body.add_paragraph().text = "Hire two engineers"
    shape = second.shapes.add_table(2, 2, Inches(1), Inches(5), Inches(4), Inches(1))
    for (r, c), value in zip(((0, 0), (0, 1), (1, 0), (1, 1)), ("Quarter", "Goal", "Q3", "Beta"), strict=True):
        shape.table.cell(r, c).text = value
    second.notes_slide.notes_text_frame.text = "Speaker notes about the roadmap."
    out = io.BytesIO()
    deck.save(out)
    return _deterministic(out.getvalue())


def _xlsx_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    workbook.properties.title = "Budget 2024"
    workbook.properties.created = workbook.properties.modified = _FIXED_TIME
    revenue = workbook.active
    revenue.title = "Revenue"
    for row in (("Month", "Amount"), ("January", 1200), ("February", 1350.5)):
        revenue.append(row)
    costs = workbook.create_sheet("Costs")
    for row in (("Item", "Cost", "Owner"), ("Rent", 800, "Facilities"), ("Laptops", 2400, "IT")):
        costs.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return _deterministic(out.getvalue())


def _write_zip_bomb_docx(path: Path, *, inflated_bytes: int) -> None:
    """A docx whose package parts are fine but one member inflates to ``inflated_bytes`` of zeros (streamed)."""
    package = zipfile.ZipFile(io.BytesIO(_docx_bytes()))
    chunk = bytes(MB)
    with package, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for info in package.infolist():
            bomb.writestr(_member(info.filename), package.read(info))
        with bomb.open(_member("word/media/padding.bin"), "w") as member:
            for _ in range(inflated_bytes // MB):
                member.write(chunk)
