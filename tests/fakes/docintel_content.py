"""What the fake Document Intelligence service accepts, and its analysis of every format but PDF.

``identify`` checks an upload the way the service does before it analyses anything, and names its format:

- PDF: parsed with pypdf (docintel_layout.check_pdf): corrupt, page-less or password-protected is 400.
- Office (DOCX, XLSX, PPTX): a real OOXML package: a readable zip with ``[Content_Types].xml`` and the main part of
  its kind (``word/document.xml``, ``xl/workbook.xml``, ``ppt/presentation.xml``) as well-formed XML of the right
  root element. A zip that is none of these (a plain archive, ODF, EPUB) is ``UnsupportedContent``; a broken one
  ``InvalidContent``.
- Images (PNG, JPEG, BMP, TIFF): the header must be real, not just the magic bytes: Pillow opens and verifies the
  file, and its size must be 50 x 50 to 10,000 x 10,000 pixels (``InvalidContentDimensions`` otherwise, as the
  service documents). HEIF: an ``ftyp`` box with a HEIF brand (another ISO-BMFF brand is ``UnsupportedContent``).
- HTML: a document that starts like one.
- Anything else: ``InvalidContent`` ("The file is corrupted or format is unsupported").

``analyze`` then answers from the upload's own content, never canned text:

- DOCX: each body paragraph in order (style ``Title`` -> ``# ``, ``Heading1``..``Heading9`` -> ``## ``), tables as
  HTML ``<table>``, explicit page breaks as ``<!-- PageBreak -->``.
- XLSX: one page per sheet (workbook order), its cells as a ``<table>`` (shared and inline strings, numbers).
- PPTX: one page per slide (presentation order): the title placeholder as a heading (``# `` on the first slide,
  ``## `` after), every other paragraph of text, tables as ``<table>``.
- HTML: headings (the first ``h1`` is the title), paragraphs, list items, preformatted text and tables, one page.
- Images: the fake cannot read pixels, so its "OCR" reads the text an image carries in its description metadata
  (PNG ``Description`` text chunk, JPEG comment, TIFF ``ImageDescription``); each line is a paragraph (a line
  starting with ``#`` a heading). An image without one has a page and no text, as a blank scan does.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

from bs4 import BeautifulSoup
from PIL import Image, UnidentifiedImageError

from tests.fakes.docintel_layout import CORRUPT, Refused, Result, check_pdf

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE = {  # kind: (main part, its root element)
    "docx": ("word/document.xml", f"{_W}document"),
    "xlsx": ("xl/workbook.xml", f"{_S}workbook"),
    "pptx": ("ppt/presentation.xml", f"{_P}presentation"),
}
_IMAGES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"BM": "bmp", b"II*\x00": "tiff", b"MM\x00*": "tiff"}
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
MIN_SIDE, MAX_SIDE = 50, 10_000
UNSUPPORTED = "The content type is not supported. Refer to documentation for the list of supported formats."


def identify(data: bytes) -> str:
    """The upload's format (``pdf``, ``docx``, ``xlsx``, ``pptx``, ``png``, ``jpeg``, ``bmp``, ``tiff``, ``heif`` or
    ``html``) after the service's checks; ``Refused`` for anything it would answer 400."""
    if data.startswith(b"%PDF-"):
        check_pdf(data)
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _office_kind(data)
    for signature, kind in _IMAGES.items():
        if data.startswith(signature):
            _check_image(data)
            return kind
    if data[4:8] == b"ftyp":
        if data[8:12] not in _HEIF_BRANDS:
            raise Refused("UnsupportedContent", UNSUPPORTED)
        return "heif"
    if _is_html(data):
        return "html"
    raise Refused("InvalidContent", CORRUPT)


def analyze(data: bytes, kind: str, *, markdown: bool, max_pages: int | None) -> dict[str, Any]:
    """The analysis of a non-PDF upload ``identify`` accepted as ``kind``."""
    result = Result(markdown=markdown)
    pages = {"docx": _docx_pages, "xlsx": _xlsx_pages, "pptx": _pptx_pages, "html": _html_pages}.get(kind, _image_pages)
    blocks = list(pages(data))[:max_pages] or [[]]
    for number, page in enumerate(blocks, start=1):
        for block in page:
            if isinstance(block, list):
                result.table(block)
            else:
                text, role = block
                result.paragraph(text, role)
        result.end_page(last=number == len(blocks))
    return result.as_dict()


Block = tuple[str, str | None] | list[list[str]]
"""A paragraph ``(text, role)`` or a table (rows of cell texts)."""


# -- checks ------------------------------------------------------------------------------------------------------------
def _office_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = set(package.namelist())
            kind = next((k for k, (part, _) in _OFFICE.items() if part in names), None)
            if kind is None or "[Content_Types].xml" not in names:
                raise Refused("UnsupportedContent", UNSUPPORTED)
            part, root = _OFFICE[kind]
            if ElementTree.fromstring(package.read(part)).tag != root:
                raise Refused("InvalidContent", CORRUPT)
    except (zipfile.BadZipFile, ElementTree.ParseError, EOFError, ValueError, KeyError):
        raise Refused("InvalidContent", CORRUPT) from None
    return kind


def _check_image(data: bytes) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise Refused("InvalidContent", CORRUPT) from None
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise Refused(
            "InvalidContentDimensions",
            f"The input image dimensions are out of range: {width}x{height}; each side must be between "
            f"{MIN_SIDE} and {MAX_SIDE} pixels.",
        )


def _is_html(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


# -- Office ------------------------------------------------------------------------------------------------------------
def _xml(package: zipfile.ZipFile, name: str) -> ElementTree.Element:
    return ElementTree.fromstring(package.read(name))


def _text(element: ElementTree.Element, tag: str) -> str:
    return " ".join("".join(t.text or "" for t in element.iter(tag)).split())


def _docx_pages(data: bytes) -> Iterator[list[Block]]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        body = _xml(package, "word/document.xml").find(f"{_W}body")
    page: list[Block] = []
    for element in list(body) if body is not None else []:
        if element.tag == f"{_W}tbl":
            page.append([[_text(cell, f"{_W}t") for cell in row.iter(f"{_W}tc")] for row in element.iter(f"{_W}tr")])
            continue
        if element.tag != f"{_W}p":
            continue
        text = _text(element, f"{_W}t")
        style = element.find(f"{_W}pPr/{_W}pStyle")
        name = style.get(f"{_W}val", "") if style is not None else ""
        role = "title" if name == "Title" else "sectionHeading" if re.fullmatch(r"Heading[1-9]", name) else None
        if text:
            page.append((text, role))
        if any(br.get(f"{_W}type") == "page" for br in element.iter(f"{_W}br")):
            yield page
            page = []
    yield page


def _targets(package: zipfile.ZipFile, rels: str, folder: str) -> dict[str, str]:
    return {
        str(rel.get("Id")): f"{folder}/{str(rel.get('Target')).lstrip('/').removeprefix(folder + '/')}"
        for rel in _xml(package, rels).iter(f"{_REL}Relationship")
    }


def _xlsx_pages(data: bytes) -> Iterator[list[Block]]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        targets = _targets(package, "xl/_rels/workbook.xml.rels", "xl")
        shared = []
        if "xl/sharedStrings.xml" in package.namelist():
            shared = [_text(item, f"{_S}t") for item in _xml(package, "xl/sharedStrings.xml").iter(f"{_S}si")]
        for sheet in _xml(package, "xl/workbook.xml").iter(f"{_S}sheet"):
            rows = [
                _xlsx_row(row, shared) for row in _xml(package, targets[str(sheet.get(f"{_R}id"))]).iter(f"{_S}row")
            ]
            rows = [row for row in rows if any(row)]
            yield [rows] if rows else []


def _xlsx_row(row: ElementTree.Element, shared: list[str]) -> list[str]:
    cells: dict[int, str] = {}
    for position, cell in enumerate(row.iter(f"{_S}c")):
        letters = re.match(r"[A-Z]+", str(cell.get("r") or ""))
        column = _column(letters.group()) if letters else position
        value = cell.find(f"{_S}v")
        kind = cell.get("t")
        if kind == "s" and value is not None:
            cells[column] = shared[int(value.text or 0)]
        elif kind == "inlineStr":
            cells[column] = _text(cell, f"{_S}t")
        elif value is not None:
            cells[column] = value.text or ""
    return [cells.get(c, "") for c in range(max(cells) + 1)] if cells else []


def _column(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number - 1


def _pptx_pages(data: bytes) -> Iterator[list[Block]]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        targets = _targets(package, "ppt/_rels/presentation.xml.rels", "ppt")
        for number, slide in enumerate(_xml(package, "ppt/presentation.xml").iter(f"{_P}sldId")):
            yield list(_slide_blocks(_xml(package, targets[str(slide.get(f"{_R}id"))]), first=number == 0))


def _slide_blocks(slide: ElementTree.Element, *, first: bool) -> Iterator[Block]:
    for shape in slide.iter():
        if shape.tag == f"{_A}tbl":
            yield [[_text(cell, f"{_A}t") for cell in row.iter(f"{_A}tc")] for row in shape.iter(f"{_A}tr")]
        if shape.tag != f"{_P}sp":
            continue
        placeholder = shape.find(f"{_P}nvSpPr/{_P}nvPr/{_P}ph")
        is_title = placeholder is not None and placeholder.get("type") in ("title", "ctrTitle")
        for paragraph in shape.iter(f"{_A}p"):
            text = _text(paragraph, f"{_A}t")
            if text:
                yield text, ("title" if first else "sectionHeading") if is_title else None


# -- HTML and images ---------------------------------------------------------------------------------------------------
_HTML_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "table")


def _html_pages(data: bytes) -> Iterator[list[Block]]:
    soup = BeautifulSoup(data, "html.parser")
    page: list[Block] = []
    titled = False
    for element in soup.find_all(_HTML_BLOCKS):
        if element.find_parent(_HTML_BLOCKS) is not None:
            continue  # a paragraph inside a list item or a table: part of that block
        if element.name == "table":
            rows = [
                [" ".join(c.get_text(" ").split()) for c in tr.find_all(["td", "th"])] for tr in element.find_all("tr")
            ]
            page.append([row for row in rows if row])
            continue
        text = " ".join(element.get_text(" ").split())
        if not text:
            continue
        role = None
        if element.name[0] == "h":
            role = "sectionHeading" if titled or element.name != "h1" else "title"
            titled = titled or role == "title"
        page.append((text, role))
    yield page


def _image_pages(data: bytes) -> Iterator[list[Block]]:
    yield [_ocr_line(line) for line in _image_text(data).splitlines() if line.strip()]


def _image_text(data: bytes) -> str:
    if data[4:8] == b"ftyp":
        return ""
    with Image.open(io.BytesIO(data)) as image:
        text: Any = image.info.get("Description") or image.info.get("comment") or ""
        tags = getattr(image, "tag_v2", None)
        if not text and tags is not None:
            text = tags.get(270, "")
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _ocr_line(line: str) -> Block:
    heading = re.match(r"^(#+)\s+(.*)", line.strip())
    if heading:
        return heading.group(2), "title" if len(heading.group(1)) == 1 else "sectionHeading"
    return " ".join(line.split()), None
