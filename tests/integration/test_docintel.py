"""DocumentIntelligenceCracker through the real azure-ai-documentintelligence SDK against the fake service.

The fake (tests/fakes/docintel_server.py) derives its markdown from the uploaded PDF's own text and font sizes, so
what is asserted here is what the cracker made of a realistic answer, not an echo of a canned string.
"""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime

import pytest
from azure.ai.documentintelligence.aio import DocumentIntelligenceClient
from azure.ai.documentintelligence.models import AnalyzeDocumentRequest
from azure.core.credentials import AccessToken, AzureKeyCredential
from PIL import Image, PngImagePlugin
from pypdf import PdfReader, PdfWriter

from ingestion.cracking.docintel import BudgetRetryPolicy, DocumentIntelligenceCracker, service_content_type
from ingestion.cracking.docintel_markdown import html_table_to_markdown, markdown_to_document
from ingestion.cracking.structure import TableLimits
from ingestion.errors import (
    ConfigurationError,
    CorruptDocumentError,
    DocumentRejectedError,
    DocumentTooLargeError,
    EncryptedDocumentError,
    NoTextError,
    ThrottledError,
    TransientError,
)
from ingestion.models import CrackedDocument, PageSpan, SourceItem
from ingestion.settings import Secret, Settings
from tests.fakes.docintel_server import CANNED_MARKDOWN, FakeDocumentIntelligenceServer
from tests.support.bad_corpus import _docx_bytes

POLLS = 2
TITLE, BODY, HEADING, FOOTER = 20, 11, 14, 8

REPORT_PAGES = [
    [
        (TITLE, "Quarterly Report"),
        (BODY, "Revenue grew (strongly) in every region this quarter."),
        (HEADING, "Regional results"),
        (BODY, "Region | Revenue | Growth"),
        (BODY, "North | 120 | 5%"),
        (BODY, "South | 80 | 3%"),
        (FOOTER, "Page 1 of 3"),
    ],
    [(HEADING, "Costs"), (BODY, "Costs stayed flat at 40 million."), (FOOTER, "Page 2 of 3")],
    [(HEADING, "Outlook"), (BODY, "We expect steady growth next year."), (FOOTER, "Page 3 of 3")],
]


# -- helpers --------------------------------------------------------------------------------------------------------
def make_pdf(pages: Sequence[Sequence[tuple[int, str]]]) -> bytes:
    """A valid PDF drawn by hand: Helvetica text lines (font size, text) per page, with a correct xref table."""
    objects: list[bytes] = [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    pages_id = 2 + 2 * len(pages)
    for lines in pages:
        ops, y = ["BT"], 740
        for size, text in lines:
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"/F1 {size} Tf 1 0 0 1 72 {y} Tm ({escaped}) Tj")
            y -= size + 10
        stream = "\n".join([*ops, "ET"]).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 1 0 R >> >> "
            b"/Contents %d 0 R >>" % (pages_id, len(objects))
        )
    kids = b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(len(pages)))
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)))
    objects.append(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, len(objects), xref)
    )
    return out.getvalue()


def encrypt(data: bytes, *, user_password: str, owner_password: str = "owner-secret") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_item(name: str, data: bytes) -> SourceItem:
    path = f"/docs/{name}"
    return SourceItem(path, path, len(data), datetime(2026, 1, 1, tzinfo=UTC), "sha256:test")


def docx_like() -> bytes:
    """A real DOCX (the fake checks the package); tests that need a richer answer than the fake derives from it set
    one with ``server.respond_with``."""
    return _docx_bytes()


def png_saying(text: str, size: tuple[int, int] = (200, 100)) -> bytes:
    """A real PNG whose ``Description`` text chunk is what the fake's "OCR" reads from it."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Description", text)
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, "PNG", pnginfo=info)
    return out.getvalue()


class RecordingFallback:
    """The local cracker stand-in: records what it was given."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def crack(self, item: SourceItem, data: bytes) -> CrackedDocument:
        self.calls.append(item.path)
        return CrackedDocument(text=data.decode("utf-8"), title=item.name)


class StaticTokenCredential:
    """An AsyncTokenCredential handing out one fixed token, and counting the requests for it."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests = 0

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.requests += 1
        assert scopes == ("https://cognitiveservices.azure.com/.default",)
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass


ZERO = {"posts": 0, "gets": 0, "accepted": 0, "throttled": 0, "errors": 0}


@pytest.fixture
def server() -> Iterator[FakeDocumentIntelligenceServer]:
    with FakeDocumentIntelligenceServer(polls_before_done=POLLS) as fake:
        yield fake


@pytest.fixture
def fallback() -> RecordingFallback:
    return RecordingFallback()


def build(server: FakeDocumentIntelligenceServer, fallback: RecordingFallback, **kwargs: object):
    options: dict[str, object] = {"api_key": server.api_key, "polling_interval": 0.01, "retry_budget_seconds": 5.0}
    options.update(kwargs)
    return DocumentIntelligenceCracker(server.url, fallback=fallback, **options)  # type: ignore[arg-type]


@pytest.fixture
async def cracker(
    server: FakeDocumentIntelligenceServer, fallback: RecordingFallback
) -> AsyncIterator[DocumentIntelligenceCracker]:
    instance = build(server, fallback)
    yield instance
    await instance.close()


@pytest.fixture(scope="module")
def report_pdf() -> bytes:
    return make_pdf(REPORT_PAGES)


# -- structure: pages, markers, tables, title -----------------------------------------------------------------------
async def test_multi_page_pdf_gets_page_spans_and_loses_markers(cracker, server, report_pdf):
    document = await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)

    text = document.text
    assert document.title == "Quarterly Report"
    assert document.content_type == "application/pdf"
    assert document.pages == (
        PageSpan(0, 1),
        PageSpan(text.index("## Costs"), 2),
        PageSpan(text.index("## Outlook"), 3),
    )
    assert text.startswith("# Quarterly Report\n\nRevenue grew (strongly) in every region this quarter.")
    assert document.page_at(text.index("flat at 40 million")) == 2
    assert document.page_at(text.index("steady growth")) == 3
    assert document.page_at(text.index("| South | 80 | 3% |")) == 1
    for leftover in ("<!--", "-->", "PageBreak", "PageNumber", "Page 1 of 3", "<table", "<t"):
        assert leftover not in text
    assert server.counters() == {"posts": 1, "gets": POLLS + 1, "accepted": 1, "throttled": 0, "errors": 0}
    post = server.records[0]
    assert post.query == {"api-version": "2024-11-30", "outputContentFormat": "markdown"}
    assert (post.content_type, post.size, post.auth) == ("application/octet-stream", len(report_pdf), "key")


async def test_html_table_becomes_markdown_table_with_header_separator(cracker, report_pdf):
    document = await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)

    table = "| Region | Revenue | Growth |\n|---|---|---|\n| North | 120 | 5% |\n| South | 80 | 3% |"
    assert f"## Regional results\n\n{table}\n\n## Costs" in document.text


async def test_office_answer_with_spans_caption_figure_and_page_furniture(cracker, server):
    server.respond_with(CANNED_MARKDOWN)
    data = docx_like()
    document = await cracker.crack(make_item("safety.docx", data), data)

    text = document.text
    assert document.title == "Annual Safety Review"
    assert document.content_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert document.pages == (PageSpan(0, 1), PageSpan(text.index("## Actions"), 2))
    expected_table = (
        "Table 1: Incidents recorded in 2025\n\n"
        "| Site | Incidents |  |\n|---|---|---|\n| Site | Minor | Major |\n| Leeds | 4 | 0 |\n| Lyon | 2 | 1 |"
    )
    assert expected_table in text
    assert "Figure 1: Incidents per quarter\n\nQ1 Q2 Q3 Q4" in text
    assert "☒ Replace the fire doors in Leeds" in text
    for leftover in ("Contoso Ltd. - Internal", "Confidential", "<figure", "<figcaption", "<!--"):
        assert leftover not in text
    assert server.counters()["accepted"] == 1


async def test_image_is_analysed_by_the_service(cracker, server):
    png = png_saying("# Annual Safety Review\nNo incidents this quarter.")
    document = await cracker.crack(make_item("scan.png", png), png)
    assert document.content_type == "image/png"
    assert document.title == "Annual Safety Review"
    assert "No incidents this quarter." in document.text
    assert server.counters()["accepted"] == 1


async def test_blank_answer_is_no_text_error(cracker, server):
    server.respond_with('<!-- PageHeader="Draft" -->\n\n<!-- PageBreak -->\n\n<!-- PageNumber="2" -->\n')
    data = docx_like()
    with pytest.raises(NoTextError, match=r"^/docs/blank\.docx: .*no text"):
        await cracker.crack(make_item("blank.docx", data), data)


# -- what stays local --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["notes.txt", "readme.md", "table.csv", "data.json", "no-extension"])
async def test_plain_text_formats_go_to_the_fallback_and_never_to_the_service(cracker, server, fallback, name):
    data = b"BM plain words, nothing to analyse"
    document = await cracker.crack(make_item(name, data), data)
    assert document.text == data.decode()
    assert fallback.calls == [f"/docs/{name}"]
    assert server.counters() == ZERO


@pytest.mark.parametrize(
    ("extension", "data", "expected"),
    [
        ("pdf", b"%PDF-1.7\n...", "application/pdf"),
        ("txt", b"%PDF-1.7\n...", "application/pdf"),  # content wins over the name
        ("pdf", b"not a pdf at all", None),  # the local cracker explains what is wrong, for free
        ("jpg", b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        ("tif", b"II*\x00rest", "image/tiff"),
        ("heic", b"\x00\x00\x00\x18ftypheic", "image/heif"),
        ("bmp", b"BM\x00\x00", "image/bmp"),
        ("txt", b"BM\x00\x00", None),
        ("xlsx", b"PK\x03\x04rest", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("docx", b"\xd0\xcf\x11\xe0 encrypted OLE", None),
        ("zip", b"PK\x03\x04rest", None),
        ("html", b"<html><body>x</body></html>", "text/html"),
        ("md", b"# Title", None),
        ("html", b"", None),  # empty: the local cracker says so without a round trip
    ],
)
def test_service_content_type(extension, data, expected):
    assert service_content_type(extension, data) == expected


# -- limits checked before sending -------------------------------------------------------------------------------------
async def test_too_large_is_rejected_before_any_request(server, fallback, report_pdf):
    cracker = build(server, fallback, max_bytes=len(report_pdf) - 1)
    with pytest.raises(DocumentTooLargeError, match=r"^/docs/report\.pdf: .* over the Document Intelligence limit"):
        await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
    await cracker.close()
    assert server.counters() == ZERO


async def test_too_many_pages_is_rejected_before_any_request(server, fallback, report_pdf):
    cracker = build(server, fallback, max_pages=2)
    with pytest.raises(DocumentTooLargeError, match=r"^/docs/report\.pdf: 3 pages is over .* limit of 2 pages"):
        await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
    await cracker.close()
    assert server.counters() == ZERO


async def test_password_protected_pdf_is_rejected_before_sending(cracker, server, report_pdf):
    locked = encrypt(report_pdf, user_password="open-sesame")
    with pytest.raises(EncryptedDocumentError, match=r"^/docs/locked\.pdf: password-protected PDF"):
        await cracker.crack(make_item("locked.pdf", locked), locked)
    assert server.counters() == ZERO


async def test_pdf_with_only_an_owner_password_is_sent(cracker, server, report_pdf):
    restricted = encrypt(report_pdf, user_password="")
    document = await cracker.crack(make_item("restricted.pdf", restricted), restricted)
    assert document.title == "Quarterly Report"
    assert server.counters()["accepted"] == 1


# -- errors from the service ------------------------------------------------------------------------------------------
async def test_throttled_then_success_is_retried_after_retry_after(cracker, server, report_pdf):
    server.fail_next(2, status=429, retry_after=0.2)
    document = await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)

    assert document.title == "Quarterly Report"
    posts = [r for r in server.records if r.method == "POST"]
    assert [r.status for r in posts] == [429, 429, 202]
    assert all(later.at - earlier.at >= 0.18 for earlier, later in itertools.pairwise(posts))


async def test_retry_after_beyond_the_budget_gives_up_at_once_with_throttled_error(server, fallback, report_pdf):
    cracker = build(server, fallback, retry_budget_seconds=1.0)
    server.fail_next(1, status=429, retry_after=30)
    started = time.monotonic()
    with pytest.raises(ThrottledError, match=r"^/docs/report\.pdf: .*HTTP 429") as caught:
        await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
    await cracker.close()
    assert time.monotonic() - started < 5
    assert caught.value.retry_after == 30
    assert server.counters()["posts"] == 1


async def test_server_errors_on_upload_and_polls_are_retried_without_uploading_twice(cracker, server, report_pdf):
    server.fail_next(1, status=500)
    server.fail_next(2, status=503, method="GET")
    document = await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)

    assert document.title == "Quarterly Report"
    assert server.counters() == {"posts": 2, "gets": POLLS + 3, "accepted": 1, "throttled": 0, "errors": 3}


@pytest.mark.parametrize("status", [429, 502])
async def test_upload_is_retried_even_without_retry_after(cracker, server, report_pdf, status):
    server.fail_next(1, status=status)  # azure-core alone would not retry these for a POST
    document = await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
    assert document.title == "Quarterly Report"
    assert [r.status for r in server.records if r.method == "POST"] == [status, 202]


def test_backoff_is_jittered_exponential_and_capped():
    for jitter, share in ((0.0, 0.5), (1.0, 1.0)):
        policy = BudgetRetryPolicy(budget=60, base=0.5, cap=3.0, rng=lambda value=jitter: value)
        settings = policy.configure_retries({})
        waits = []
        for _ in range(5):
            settings["history"].append(object())
            waits.append(policy.get_backoff_time(settings))
        assert waits == [share * ceiling for ceiling in (0.5, 1.0, 2.0, 3.0, 3.0)]


async def test_persistent_server_errors_become_transient_error(server, fallback, report_pdf):
    cracker = build(server, fallback, retry_budget_seconds=1.2)  # room for one or two jittered waits
    server.fail_next(50, status=503)
    with pytest.raises(TransientError, match=r"HTTP 503") as caught:
        await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
    await cracker.close()
    assert not isinstance(caught.value, ThrottledError)
    assert 2 <= server.counters()["posts"] < 50


async def test_invalid_content_is_corrupt_document_and_not_retried(cracker, server, report_pdf):
    server.reject(report_pdf, message="The file is corrupted or format is unsupported.")
    with pytest.raises(CorruptDocumentError) as caught:
        await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
    assert str(caught.value).startswith("/docs/report.pdf: Document Intelligence at ")
    assert str(caught.value).endswith("rejected it (InvalidContent): The file is corrupted or format is unsupported.")
    assert server.counters() == {"posts": 1, "gets": 0, "accepted": 0, "throttled": 0, "errors": 1}


async def test_unreadable_pdf_is_left_to_the_service_to_judge(cracker, server):
    broken = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntruncated"
    with pytest.raises(CorruptDocumentError, match="InvalidContent"):
        await cracker.crack(make_item("broken.pdf", broken), broken)
    assert server.counters()["posts"] == 1


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("InvalidContent", CorruptDocumentError),
        ("InternalServerError", TransientError),
        ("SomethingNew", DocumentRejectedError),
    ],
)
async def test_failed_operation_is_mapped_by_its_code(cracker, server, report_pdf, code, error):
    server.fail_operations_next(1, code=code, message=f"analysis failed: {code}")
    with pytest.raises(error, match=f"analysis failed: {code}$") as caught:
        await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
    assert type(caught.value) is error
    assert server.counters()["posts"] == 1


async def test_wrong_key_is_configuration_error_without_the_key(server, fallback, report_pdf):
    wrong = "wrong-key-5f0c2a9e8d7b4c31"
    cracker = build(server, fallback, api_key=Secret(wrong))
    with pytest.raises(ConfigurationError, match=r"refused the credentials \(HTTP 401\)") as caught:
        await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
    await cracker.close()
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert server.api_key not in str(caught.value)
    assert server.counters()["posts"] == 1


async def test_forbidden_is_configuration_error(cracker, server, report_pdf):
    server.fail_next(1, status=403)
    with pytest.raises(ConfigurationError, match=r"HTTP 403"):
        await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)


async def test_unreachable_endpoint_is_transient_error(fallback, report_pdf):
    with FakeDocumentIntelligenceServer() as gone:
        url = gone.url
    cracker = DocumentIntelligenceCracker(url, fallback=fallback, api_key="k" * 32, retry_budget_seconds=0.3)
    with pytest.raises(TransientError, match=r"connection failed"):
        await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
    await cracker.close()


async def test_analysis_that_never_finishes_times_out_as_transient_error(fallback, report_pdf):
    with FakeDocumentIntelligenceServer(polls_before_done=10_000) as server:
        cracker = build(server, fallback, polling_interval=0.02, operation_timeout_seconds=0.3)
        with pytest.raises(TransientError, match=r"did not finish within 0.3 s"):
            await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
        await cracker.close()


async def test_polling_interval_is_honoured(fallback, report_pdf):
    with FakeDocumentIntelligenceServer(polls_before_done=3) as server:
        cracker = build(server, fallback, polling_interval=0.15)
        await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
        await cracker.close()
    gets = [r.at for r in server.records if r.method == "GET"]
    assert len(gets) == 4
    assert all(later - earlier >= 0.14 for earlier, later in itertools.pairwise(gets))


# -- auth and settings -----------------------------------------------------------------------------------------------
async def test_entra_id_token_is_sent_to_a_loopback_http_endpoint(fallback, report_pdf):
    credential = StaticTokenCredential("token-abc")
    with FakeDocumentIntelligenceServer(bearer_tokens=("token-abc",)) as server:
        cracker = DocumentIntelligenceCracker(
            server.url, fallback=fallback, credential=credential, polling_interval=0.01
        )
        document = await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
        await cracker.close()
    assert document.title == "Quarterly Report"
    assert {r.auth for r in server.records} == {"bearer:token-abc"}
    assert credential.requests >= 1


def test_entra_id_token_is_never_configured_for_remote_plain_http(fallback):
    with pytest.raises(ConfigurationError, match="never sent over plain http"):
        DocumentIntelligenceCracker(
            "http://docintel.example.com", fallback=fallback, credential=StaticTokenCredential("t")
        )


async def test_from_settings(server, fallback, report_pdf):
    settings = Settings(
        documentintelligence_endpoint=server.url,
        documentintelligence_api_key=Secret(server.api_key),
        documentintelligence_polling_seconds=0.01,
    )
    cracker = DocumentIntelligenceCracker.from_settings(settings, fallback=fallback)
    assert cracker.polling_interval == 0.01
    document = await cracker.crack(make_item("report.pdf", report_pdf), report_pdf)
    await cracker.close()
    assert document.pages[-1].number == 3
    with pytest.raises(ConfigurationError, match="DOCUMENTINTELLIGENCE_ENDPOINT"):
        DocumentIntelligenceCracker.from_settings(Settings(), fallback=fallback)


# -- the markdown conversion on its own ------------------------------------------------------------------------------
def test_rowspan_repeats_down_and_colspan_fills_the_first_column():
    html = (
        "<table><tr><th>A</th><th colspan='2'>B</th></tr>"
        "<tr><td rowspan='3'>x</td><td>1</td><td>2</td></tr>"
        "<tr><td>3</td><td>a | b</td></tr>"
        "<tr><td colspan='2'>wide</td></tr></table>"
    )
    assert html_table_to_markdown(html, TableLimits()) == (
        "| A | B |  |\n|---|---|---|\n| x | 1 | 2 |\n| x | 3 | a \\| b |\n| x | wide |  |"
    )


def test_long_tables_are_truncated_with_a_note():
    rows = "".join(f"<tr><td>{i}</td></tr>" for i in range(10))
    markdown = html_table_to_markdown(f"<table>{rows}</table>", TableLimits(max_rows=3))
    assert markdown == "| 0 |\n|---|\n| 1 |\n| 2 |\n\n(table truncated: at most 3 rows are kept)"


def test_page_numbers_from_the_service_label_pages_when_they_match():
    content = "# T\n\none\n\n<!-- PageBreak -->\n\ntwo\n<!-- PageBreak -->\n\n\n<!-- PageBreak -->\nfour"
    labelled = markdown_to_document(content, page_numbers=[5, 6, 7, 8], fallback_title="f", content_type="x")
    assert labelled.text == "# T\n\none\n\ntwo\n\nfour"
    assert labelled.pages == (PageSpan(0, 5), PageSpan(10, 6), PageSpan(15, 8))
    counted = markdown_to_document(content, page_numbers=[1], fallback_title="f", content_type="x")
    assert [span.number for span in counted.pages] == [1, 2, 4]


def test_title_is_the_first_level_one_heading_or_the_file_name():
    assert markdown_to_document("## Sub\n\n# Main", fallback_title="f.pdf", content_type="x").title == "Main"
    assert markdown_to_document("## Sub only", fallback_title="f.pdf", content_type="x").title == "f.pdf"


def test_a_table_cut_by_a_page_break_stays_two_whole_tables():
    content = "<table><tr><th>A</th></tr><tr><td>1</td></tr>\n<!-- PageBreak -->\n<tr><td>2</td></tr></table>\nafter"
    document = markdown_to_document(content, fallback_title="f", content_type="x")
    assert document.text == "| A |\n|---|\n| 1 |\n\n| 2 |\n|---|\n\nafter"
    assert document.pages == (PageSpan(0, 1), PageSpan(document.text.index("| 2 |"), 2))


# -- the fake itself, through the SDK's other request shape -----------------------------------------------------------
async def test_fake_reads_base64_json_and_answers_plain_text_with_true_page_spans(server, report_pdf):
    credential = AzureKeyCredential(server.api_key)
    async with DocumentIntelligenceClient(server.url, credential, polling_interval=0.01) as client:
        poller = await client.begin_analyze_document("prebuilt-layout", AnalyzeDocumentRequest(bytes_source=report_pdf))
        result = await poller.result()

    assert server.records[0].content_type == "application/json"
    assert (result.model_id, result.content_format) == ("prebuilt-layout", "text")
    pages = [result.content[s.offset : s.offset + s.length] for page in result.pages for s in page.spans]
    assert [page.page_number for page in result.pages] == [1, 2, 3]
    assert pages[1] == "Costs\nCosts stayed flat at 40 million.\nPage 2 of 3"
    roles = [p.role for p in result.paragraphs if p.role]
    assert roles == [
        "title",
        "sectionHeading",
        "pageNumber",
        "sectionHeading",
        "pageNumber",
        "sectionHeading",
        "pageNumber",
    ]
    table = result.tables[0]
    assert (table.row_count, table.column_count, table.cells[4].content) == (3, 3, "120")
