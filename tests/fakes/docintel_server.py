"""An in-process Azure AI Document Intelligence endpoint on 127.0.0.1, faithful enough for the real SDK.

Speaks the REST subset ``azure-ai-documentintelligence`` 1.0.x uses (api-version 2024-11-30)::

    POST {endpoint}/documentintelligence/documentModels/{model}:analyze?api-version=...&outputContentFormat=markdown
         body: the raw document (application/octet-stream or its own type) or JSON {"base64Source": ...}
         -> 202, empty body, Operation-Location: .../documentModels/{model}/analyzeResults/{id}?api-version=...
    GET  {endpoint}/documentintelligence/documentModels/{model}/analyzeResults/{id}?api-version=...
         -> {"status": "running"} ``polls_before_done`` times, then "succeeded" with ``analyzeResult`` (or "failed")

Auth is an ``Ocp-Apim-Subscription-Key`` header or ``Authorization: Bearer <token>`` (401 otherwise). Like the
service, it answers 400 (``InvalidRequest`` with innererror ``InvalidContent``) for an empty body, content in no
supported format, a PDF it cannot parse or one that needs a password, and ``InvalidContentLength`` past
``max_bytes``; ``max_pages`` analyses only the first pages as the F0 tier does.

The result is generated from the upload when it is a PDF: a small "layout model" reads each page's lines and font
sizes with pypdf. The largest text on page 1 is the title (``# ``), text larger than the body a section heading
(``## ``), lines of cells separated by `` | `` an HTML ``<table>``, a "Page N of M" line a ``<!-- PageNumber -->``
marker, and pages are joined by ``<!-- PageBreak -->``; ``pages``, ``paragraphs`` and ``tables`` carry true
spans into ``content``. Any other upload gets ``CANNED_MARKDOWN`` (or what ``respond_with`` set): a realistic
two-page answer with page headers/footers, a captioned table with colspan/rowspan, a figure and selection marks.

Faults are programmable (``fail_next`` for POST or GET with an optional Retry-After, ``reject`` a payload,
``fail_operations_next``) and every request is recorded (``records``, ``counters()``). Retry-After may be
fractional here to keep tests fast; the service sends whole seconds. It runs in a background thread::

    with FakeDocumentIntelligenceServer() as server:
        client = DocumentIntelligenceClient(server.url, AzureKeyCredential(server.api_key))
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import io
import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pypdf import PasswordType, PdfReader

from tests.fakes.loopback import LoopbackServer

API_VERSION = "2024-11-30"
MODELS = frozenset({"prebuilt-layout", "prebuilt-read"})
_PREFIX = "/documentintelligence/documentModels"
_PAGE_LABEL = re.compile(r"^(?:page\s+)?\d+(?:\s+(?:of|/)\s+\d+)?$", re.IGNORECASE)
_SIGNATURES = (b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"PK\x03\x04")
_CORRUPT = "The file is corrupted or format is unsupported. Refer to documentation for the list of supported formats."
_MESSAGES = {
    401: ("401", "Access denied due to invalid subscription key or wrong API endpoint."),
    403: ("403", "The principal does not have access to this resource."),
    429: ("429", "Requests to the Analyze Document Operation have exceeded the rate limit of your pricing tier."),
    500: ("InternalServerError", "An unexpected error occurred."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
}

CANNED_MARKDOWN = """<!-- PageHeader="Contoso Ltd. - Internal" -->

# Annual Safety Review

Prepared by the Facilities team for the board.


## Incidents by site

<table>
<caption>Table 1: Incidents recorded in 2025</caption>
<tr><th rowspan="2">Site</th><th colspan="2">Incidents</th></tr>
<tr><th>Minor</th><th>Major</th></tr>
<tr><td>Leeds</td><td>4</td><td>0</td></tr>
<tr><td>Lyon</td><td>2</td><td>1</td></tr>
</table>


<figure>
<figcaption>Figure 1: Incidents per quarter</figcaption>

Q1 Q2 Q3 Q4

</figure>


<!-- PageFooter="Confidential" -->
<!-- PageNumber="1" -->
<!-- PageBreak -->

<!-- PageHeader="Contoso Ltd. - Internal" -->

## Actions

☒ Replace the fire doors in Leeds

☐ Audit the Lyon warehouse racking

<!-- PageNumber="2" -->
"""


@dataclass(frozen=True)
class RequestRecord:
    at: float
    method: str
    path: str
    status: int
    auth: str
    """``key``, ``bearer:<token>``, ``invalid`` or ``none``."""
    content_type: str = ""
    size: int = 0
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class _Operation:
    model: str
    created: str
    polls_left: int
    result: dict[str, Any] | None
    error: dict[str, Any] | None = None


class _Reply(Exception):
    def __init__(self, status: int, code: str, message: str, *, inner: str = "", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})
        error: dict[str, Any] = {"code": code, "message": message}
        if inner:
            error = {"code": code, "message": "Invalid request.", "innererror": {"code": inner, "message": message}}
        self.payload = {"error": error}


class FakeDocumentIntelligenceServer(LoopbackServer):
    def __init__(
        self,
        *,
        api_key: str = "fake-docintel-key-0123456789",
        bearer_tokens: tuple[str, ...] = (),
        polls_before_done: int = 1,
        max_bytes: int = 500 * 1024 * 1024,
        max_pages: int | None = None,
        poll_retry_after: float | None = None,
    ) -> None:
        self.api_key = api_key
        self.bearer_tokens = set(bearer_tokens)
        self.polls_before_done = polls_before_done
        self.max_bytes = max_bytes
        self.max_pages = max_pages
        self.poll_retry_after = poll_retry_after
        self.canned_markdown = CANNED_MARKDOWN
        self.records: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._faults: dict[str, deque[tuple[int, float | None]]] = {"POST": deque(), "GET": deque()}
        self._rejected: dict[str, tuple[str, str]] = {}
        self._failing_operations: deque[tuple[str, str]] = deque()
        self._operations: dict[str, _Operation] = {}

    # -- lifecycle ----------------------------------------------------------------------------------------------------
    thread_name = "fake-docintel"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=2 * self.max_bytes + 1024 * 1024)
        app.router.add_post(_PREFIX + "/{model:[^/:]+}:analyze", self._analyze)
        app.router.add_get(_PREFIX + "/{model}/analyzeResults/{operation}", self._result)
        return app

    # -- programmable faults and counters -----------------------------------------------------------------------------
    def fail_next(
        self, count: int, *, status: int = 500, retry_after: float | None = None, method: str = "POST"
    ) -> None:
        """The next ``count`` authorised ``method`` requests answer ``status`` (429, 500, 503, 403...)."""
        with self._lock:
            self._faults[method.upper()].extend([(status, retry_after)] * count)

    def reject(self, data: bytes, *, code: str = "InvalidContent", message: str = _CORRUPT) -> None:
        """Every analyze request carrying exactly ``data`` answers 400 InvalidRequest with innererror ``code``."""
        with self._lock:
            self._rejected[hashlib.sha256(data).hexdigest()] = (code, message)

    def fail_operations_next(
        self, count: int, *, code: str = "InternalServerError", message: str = "An unexpected error occurred."
    ) -> None:
        """The next ``count`` accepted analyses end with status "failed" and this error."""
        with self._lock:
            self._failing_operations.extend([(code, message)] * count)

    def respond_with(self, markdown: str) -> None:
        """Uploads that are not PDFs get ``markdown`` (with its page breaks) as their analysis."""
        self.canned_markdown = markdown

    def counters(self) -> dict[str, int]:
        with self._lock:
            records = list(self.records)
        return {
            "posts": sum(r.method == "POST" for r in records),
            "gets": sum(r.method == "GET" for r in records),
            "accepted": sum(r.method == "POST" and r.status == 202 for r in records),
            "throttled": sum(r.status == 429 for r in records),
            "errors": sum(r.status >= 400 and r.status != 429 for r in records),
        }

    # -- the endpoints ------------------------------------------------------------------------------------------------
    async def _analyze(self, request: web.Request) -> web.Response:
        try:
            self._check_call(request, "POST")
            data = await _document_bytes(request, self.max_bytes)
            self._check_document(data)
            operation_id = self._start_operation(request, data)
        except _Reply as reply:
            return self._answer(request, reply.status, reply.payload, reply.headers)
        location = f"{self.url}{_PREFIX}/{request.match_info['model']}/analyzeResults/{operation_id}"
        headers = {"Operation-Location": f"{location}?api-version={API_VERSION}", "apim-request-id": operation_id}
        return self._answer(request, 202, None, headers, size=len(data))

    async def _result(self, request: web.Request) -> web.Response:
        try:
            self._check_call(request, "GET")
            with self._lock:
                operation = self._operations.get(request.match_info["operation"])
                if operation is None:
                    raise _Reply(404, "NotFound", "Resource not found.")
                payload: dict[str, Any] = {"status": "running", "createdDateTime": operation.created}
                payload["lastUpdatedDateTime"] = _now()
                if operation.polls_left > 0:
                    operation.polls_left -= 1
                elif operation.error is not None:
                    payload.update(status="failed", error=operation.error)
                else:
                    payload.update(status="succeeded", analyzeResult=operation.result)
        except _Reply as reply:
            return self._answer(request, reply.status, reply.payload, reply.headers)
        headers = {}
        if payload["status"] == "running" and self.poll_retry_after is not None:
            headers["Retry-After"] = _seconds(self.poll_retry_after)
        return self._answer(request, 200, payload, headers)

    def _check_call(self, request: web.Request, method: str) -> None:
        auth = self._auth(request)
        if auth in ("none", "invalid"):
            raise _Reply(401, *_MESSAGES[401])
        if request.query.get("api-version") != API_VERSION:
            raise _Reply(404, "404", "Resource not found")
        if request.match_info["model"] not in MODELS:
            raise _Reply(404, "ModelNotFound", f"Resource not found: model {request.match_info['model']}.")
        with self._lock:
            fault = self._faults[method].popleft() if self._faults[method] else None
        if fault is not None:
            status, retry_after = fault
            headers = {"Retry-After": _seconds(retry_after)} if retry_after is not None else {}
            raise _Reply(status, *_MESSAGES.get(status, (str(status), "Error.")), headers=headers)

    def _check_document(self, data: bytes) -> None:
        if not data:
            raise _Reply(400, "InvalidRequest", "Request body should not be empty.", inner="EmptyRequest")
        with self._lock:
            rejected = self._rejected.get(hashlib.sha256(data).hexdigest())
        if rejected is not None:
            raise _Reply(400, "InvalidRequest", rejected[1], inner=rejected[0])
        if not (_is_html(data) or data[4:8] == b"ftyp" or any(data.startswith(s) for s in _SIGNATURES)):
            raise _Reply(400, "InvalidRequest", _CORRUPT, inner="InvalidContent")
        if data.startswith(b"%PDF-"):
            _check_pdf(data)

    def _start_operation(self, request: web.Request, data: bytes) -> str:
        markdown = request.query.get("outputContentFormat", "text") == "markdown"
        if data.startswith(b"%PDF-"):
            result = analyze_pdf(data, markdown=markdown, max_pages=self.max_pages)
        else:
            result = analyze_markdown(self.canned_markdown, markdown=markdown, max_pages=self.max_pages)
        result.update(apiVersion=API_VERSION, modelId=request.match_info["model"], stringIndexType="textElements")
        operation_id = str(uuid.uuid4())
        with self._lock:
            error = None
            if self._failing_operations:
                code, message = self._failing_operations.popleft()
                error = {"code": code, "message": message}
            self._operations[operation_id] = _Operation(
                request.match_info["model"], _now(), self.polls_before_done, result, error
            )
        return operation_id

    def _answer(
        self, request: web.Request, status: int, payload: object, headers: dict[str, str], *, size: int = 0
    ) -> web.Response:
        record = RequestRecord(
            time.monotonic(),
            request.method,
            request.path,
            status,
            self._auth(request),
            request.headers.get("Content-Type", ""),
            size,
            dict(request.query),
        )
        with self._lock:
            self.records.append(record)
        if payload is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    def _auth(self, request: web.Request) -> str:
        key = request.headers.get("Ocp-Apim-Subscription-Key")
        if key is not None:
            return "key" if key == self.api_key else "invalid"
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer "):
            token = bearer[len("Bearer ") :]
            return f"bearer:{token}" if token in self.bearer_tokens else "invalid"
        return "none"


# -- the "layout model" -----------------------------------------------------------------------------------------------
class _Result:
    """Builds ``content`` block by block and records true spans for pages, paragraphs and tables."""

    def __init__(self, *, markdown: bool) -> None:
        self.markdown = markdown
        self.content = ""
        self.pages: list[dict[str, Any]] = []
        self.paragraphs: list[dict[str, Any]] = []
        self.tables: list[dict[str, Any]] = []
        self._page_start = 0

    def block(self, text: str) -> dict[str, int]:
        if self.content:
            self.content += "\n\n" if self.markdown else "\n"
        span = {"offset": len(self.content), "length": len(text)}
        self.content += text
        return span

    def paragraph(self, text: str, role: str | None = None) -> None:
        prefix = {"title": "# ", "sectionHeading": "## "}.get(role or "", "") if self.markdown else ""
        shown = f'<!-- PageNumber="{html.escape(text)}" -->' if role == "pageNumber" and self.markdown else text
        span = self.block(prefix + shown)
        paragraph: dict[str, Any] = {"content": text, "spans": [span], "boundingRegions": self._region()}
        if role:
            paragraph["role"] = role
        self.paragraphs.append(paragraph)

    def table(self, rows: list[list[str]]) -> None:
        width = max(len(row) for row in rows)
        if self.markdown:
            lines = ["<table>"]
            for index, row in enumerate(rows):
                tag = "th" if index == 0 else "td"
                lines.append("<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row) + "</tr>")
            span = self.block("\n".join([*lines, "</table>"]))
        else:
            span = self.block("\n".join(" ".join(row) for row in rows))
        cells = [
            {"rowIndex": r, "columnIndex": c, "content": text, **({"kind": "columnHeader"} if r == 0 else {})}
            for r, row in enumerate(rows)
            for c, text in enumerate(row)
        ]
        self.tables.append(
            {
                "rowCount": len(rows),
                "columnCount": width,
                "cells": cells,
                "spans": [span],
                "boundingRegions": self._region(),
            }
        )

    def end_page(self, *, last: bool) -> None:
        number = len(self.pages) + 1
        span = {"offset": self._page_start, "length": len(self.content) - self._page_start}
        self.pages.append(
            {
                "pageNumber": number,
                "angle": 0.0,
                "width": 8.5,
                "height": 11.0,
                "unit": "inch",
                "words": [],
                "lines": [],
                "spans": [span],
            }
        )
        if not last:
            if self.markdown:
                self.block("<!-- PageBreak -->")
            self._page_start = len(self.content) + (2 if self.markdown else 1)

    def _region(self) -> list[dict[str, Any]]:
        return [{"pageNumber": len(self.pages) + 1, "polygon": [1.0, 1.0, 7.5, 1.0, 7.5, 1.3, 1.0, 1.3]}]

    def as_dict(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "contentFormat": "markdown" if self.markdown else "text",
            "pages": self.pages,
            "paragraphs": self.paragraphs,
            "tables": self.tables,
            "sections": [],
            "styles": [],
        }


def analyze_pdf(data: bytes, *, markdown: bool, max_pages: int | None = None) -> dict[str, Any]:
    """The fake's layout analysis of a PDF's text layer (see the module docstring)."""
    reader = PdfReader(io.BytesIO(data))
    pages = [_page_lines(page) for page in reader.pages[:max_pages]]
    sizes = Counter(size for lines in pages for _, size in lines)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    largest = max(sizes, default=0.0)
    result = _Result(markdown=markdown)
    for number, lines in enumerate(pages, start=1):
        table: list[list[str]] = []
        for index, (text, size) in enumerate(lines):
            if " | " in text:
                table.append([cell.strip() for cell in text.split("|")])
                continue
            if table:
                result.table(table)
                table = []
            if number == 1 and index == 0 and size == largest > body:
                result.paragraph(text, "title")
            elif size > body:
                result.paragraph(text, "sectionHeading")
            elif _PAGE_LABEL.match(text):
                result.paragraph(text, "pageNumber")
            else:
                result.paragraph(text)
        if table:
            result.table(table)
        result.end_page(last=number == len(pages))
    return result.as_dict()


def analyze_markdown(markdown_text: str, *, markdown: bool, max_pages: int | None = None) -> dict[str, Any]:
    """A canned answer: ``markdown_text`` as given (or stripped of markup for the text format), with page spans."""
    pages = re.split(r"\n*<!-- PageBreak -->\n*", markdown_text.strip())[:max_pages]
    result = _Result(markdown=markdown)
    for number, page in enumerate(pages, start=1):
        shown = page if markdown else re.sub(r"<[^>]+>|^#+ ", "", page, flags=re.MULTILINE).strip()
        result.block(shown)
        result.end_page(last=number == len(pages))
    return result.as_dict()


def _check_pdf(data: bytes) -> None:
    try:
        reader = PdfReader(io.BytesIO(data))
        locked = reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
        pages = len(reader.pages)
    except Exception:  # whatever pypdf raises, the service would call it corrupt
        raise _Reply(400, "InvalidRequest", _CORRUPT, inner="InvalidContent") from None
    if locked:
        raise _Reply(400, "InvalidRequest", "The document is password protected.", inner="InvalidContent")
    if pages == 0:
        raise _Reply(400, "InvalidRequest", _CORRUPT, inner="InvalidContent")


def _page_lines(page: Any) -> list[tuple[str, float]]:
    """(text, font size) of each line on a page, in reading order."""
    lines: list[tuple[str, float]] = []

    def visit(text: str, _cm: object, _tm: object, _font: object, size: float) -> None:
        for part in text.split("\n"):
            if part.strip():
                lines.append((" ".join(part.split()), float(size)))

    page.extract_text(visitor_text=visit)
    return lines


async def _document_bytes(request: web.Request, max_bytes: int) -> bytes:
    too_large = _Reply(400, "InvalidRequest", "The input document is too large.", inner="InvalidContentLength")
    if (request.content_length or 0) > max_bytes:
        raise too_large
    body = await request.read()
    if request.content_type == "application/json":
        body = _json_source(body)
    if len(body) > max_bytes:
        raise too_large
    return body


def _json_source(body: bytes) -> bytes:
    try:
        source = json.loads(body)
        if isinstance(source, dict) and isinstance(source.get("base64Source"), str):
            return base64.b64decode(source["base64Source"], validate=True)
    except (ValueError, binascii.Error):
        pass
    raise _Reply(400, "InvalidRequest", "The request body must carry base64Source.", inner="InvalidParameter")


def _is_html(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
