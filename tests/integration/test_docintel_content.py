"""The Document Intelligence fake is as strict as the service about content, and answers from the content itself:
what the cracker gets for Office, HTML and image uploads is derived from those files, and garbage under a supported
name is refused with the service's 400 (``InvalidContent``, ``UnsupportedContent``, ``InvalidContentDimensions``)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from PIL import Image

from ingestion.cracking.docintel import DocumentIntelligenceCracker
from ingestion.errors import CorruptDocumentError, DocumentRejectedError, NoTextError
from ingestion.models import PageSpan
from tests.fakes.docintel_server import API_VERSION, FakeDocumentIntelligenceServer
from tests.integration.test_docintel import RecordingFallback, build, make_item, png_saying
from tests.support.bad_corpus import GOOD_HTML, _docx_bytes, _pptx_bytes, _xlsx_bytes


@pytest.fixture
def server() -> Iterator[FakeDocumentIntelligenceServer]:
    with FakeDocumentIntelligenceServer(polls_before_done=0) as fake:
        yield fake


@pytest.fixture
async def cracker(server: FakeDocumentIntelligenceServer) -> AsyncIterator[DocumentIntelligenceCracker]:
    instance = build(server, RecordingFallback())
    yield instance
    await instance.close()


def zipped(members: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return out.getvalue()


def image(kind: str, size: tuple[int, int] = (120, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, kind)
    return out.getvalue()


# -- answers derived from the content -------------------------------------------------------------------------------


async def test_a_docx_is_answered_from_its_own_paragraphs_headings_and_table(cracker) -> None:
    data = _docx_bytes()
    document = await cracker.crack(make_item("report.docx", data), data)
    assert document.title == "Quarterly Report"
    assert document.text.startswith("# Quarterly Report\n\nThis report summarises the quarter.\n\n## Summary")
    assert "## Figures\n\n| Region | Q1 | Q2 |\n|---|---|---|\n| North | 10 | 12 |\n| South | 7 | 7 |" in document.text
    assert document.text.endswith("End of report.")


async def test_each_slide_of_a_pptx_is_a_page(cracker) -> None:
    data = _pptx_bytes()
    document = await cracker.crack(make_item("slides.pptx", data), data)
    assert document.title == "Welcome deck"
    assert document.pages == (PageSpan(0, 1), PageSpan(document.text.index("## Roadmap"), 2))
    assert "Hire two engineers\n\n| Quarter | Goal |\n|---|---|\n| Q3 | Beta |" in document.text


async def test_each_sheet_of_an_xlsx_is_a_page_with_its_cells(cracker) -> None:
    data = _xlsx_bytes()
    document = await cracker.crack(make_item("budget.xlsx", data), data)
    assert document.pages == (PageSpan(0, 1), PageSpan(document.text.index("| Item | Cost | Owner |"), 2))
    assert "| January | 1200 |\n| February | 1350.5 |" in document.text
    assert "| Laptops | 2400 | IT |" in document.text


async def test_html_is_answered_from_its_headings_and_table(cracker) -> None:
    data = GOOD_HTML.encode()
    document = await cracker.crack(make_item("guide.html", data), data)
    assert document.title == "Field Guide"
    assert "# Field Guide\n\nThis guide explains the common birds of the region.\n\n## Identification" in document.text
    assert "| Robin | Red \\| brown |" in document.text


async def test_an_image_is_read_from_its_text_and_two_images_differ(cracker, server) -> None:
    first, second = png_saying("# Fire drill\nMeet in the car park."), png_saying("Lunch menu: soup")
    one = await cracker.crack(make_item("a.png", first), first)
    two = await cracker.crack(make_item("b.png", second), second)
    assert (one.title, one.text) == ("Fire drill", "# Fire drill\n\nMeet in the car park.")
    assert two.text == "Lunch menu: soup"
    assert server.counters()["accepted"] == 2


@pytest.mark.parametrize("kind", ["JPEG", "BMP", "TIFF"])
async def test_real_images_of_every_kind_are_accepted(cracker, server, kind: str) -> None:
    data = image(kind)
    extension = {"JPEG": "jpg", "BMP": "bmp", "TIFF": "tif"}[kind]
    with pytest.raises(NoTextError, match="no text"):  # a blank scan: accepted, analysed, and no text in it
        await cracker.crack(make_item(f"scan.{extension}", data), data)
    assert server.counters()["accepted"] == 1


# -- garbage is refused as the service refuses it ---------------------------------------------------------------------

GARBAGE = {
    "magic-only.png": b"\x89PNG\r\n\x1a\n" + bytes(64),
    "magic-only.jpg": b"\xff\xd8\xff\xe0" + b"JFIF but nothing else",
    "magic-only.bmp": b"BM" + bytes(100),
    "magic-only.tif": b"II*\x00" + bytes(40),
    "truncated.png": image("PNG")[:60],
    "empty-parts.docx": zipped({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"}),
    "wrong-root.docx": zipped({"[Content_Types].xml": "<Types/>", "word/document.xml": "<html/>"}),
    "torn.xlsx": _xlsx_bytes()[:200],
    "plain.docx": zipped({"readme.txt": "just an archive"}),
    "opendocument.pptx": zipped({"mimetype": "application/vnd.oasis.opendocument.presentation", "content.xml": "<x/>"}),
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
async def test_garbage_under_a_supported_name_is_corrupt(cracker, server, name: str) -> None:
    data = GARBAGE[name]
    with pytest.raises(CorruptDocumentError, match=rf"^/docs/{name}: .*(InvalidContent|UnsupportedContent)"):
        await cracker.crack(make_item(name, data), data)
    assert server.counters()["accepted"] == 0 and server.counters()["errors"] == 1


@pytest.mark.parametrize("size", [(10, 400), (49, 49), (10_001, 60)])
async def test_images_outside_the_documented_dimensions_are_refused(cracker, server, size) -> None:
    data = image("PNG", size)
    with pytest.raises(DocumentRejectedError, match="InvalidContentDimensions"):
        await cracker.crack(make_item("tiny.png", data), data)
    assert server.counters()["accepted"] == 0


@pytest.mark.parametrize(
    ("body", "inner"),
    [
        (b"\x00\x00\x00\x18ftypmp42" + bytes(16), "UnsupportedContent"),  # ISO-BMFF, but a video
        (b"\x00\x00\x00\x18ftypheic" + bytes(16), None),  # HEIF: accepted
        (b"hello, plain text", "InvalidContent"),
        (b"", "EmptyRequest"),
    ],
)
async def test_the_fake_answers_raw_uploads_like_the_service(server, body: bytes, inner: str | None) -> None:
    url = f"{server.url}/documentintelligence/documentModels/prebuilt-layout:analyze?api-version={API_VERSION}"
    headers = {"Ocp-Apim-Subscription-Key": server.api_key, "Content-Type": "application/octet-stream"}
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as response:
        payload = await response.json() if response.status != 202 else None
    if inner is None:
        assert response.status == 202
    else:
        assert response.status == 400
        assert payload["error"]["code"] == "InvalidRequest" and payload["error"]["innererror"]["code"] == inner
