"""An in-process Azure AI Document Intelligence endpoint on 127.0.0.1, faithful enough for the real SDK.

Speaks the REST subset ``azure-ai-documentintelligence`` 1.0.x uses (api-version 2024-11-30)::

    POST {endpoint}/documentintelligence/documentModels/{model}:analyze?api-version=...&outputContentFormat=markdown
         body: the raw document (application/octet-stream or its own type) or JSON {"base64Source": ...}
         -> 202, empty body, Operation-Location: .../documentModels/{model}/analyzeResults/{id}?api-version=...
    GET  {endpoint}/documentintelligence/documentModels/{model}/analyzeResults/{id}?api-version=...
         -> {"status": "running"} ``polls_before_done`` times, then "succeeded" with ``analyzeResult`` (or "failed")

Auth is an ``Ocp-Apim-Subscription-Key`` header or ``Authorization: Bearer <token>`` (401 otherwise). Like the
service, it checks the content before accepting it (docintel_content.identify): 400 ``InvalidRequest`` with
innererror ``EmptyRequest`` for an empty body, ``InvalidContent`` for garbage, a corrupt file or a PDF that needs a
password, ``UnsupportedContent`` for a container it does not read (a zip that is not OOXML), and
``InvalidContentDimensions`` / ``InvalidContentLength`` for an image out of range / a body past ``max_bytes``;
``max_pages`` analyses only the first pages as the F0 tier does.

The result is generated from the upload itself. For a PDF a small "layout model" (docintel_layout) reads each
page's lines and font sizes with pypdf: the largest text on page 1 is the title (``# ``), text larger than the body
a section heading (``## ``), lines of cells separated by `` | `` an HTML ``<table>``, a "Page N of M" line a
``<!-- PageNumber -->`` marker, and pages are joined by ``<!-- PageBreak -->``; ``pages``, ``paragraphs`` and
``tables`` carry true spans into ``content``. DOCX, XLSX, PPTX, HTML and images are read from their own parts
(docintel_content). ``respond_with(markdown)`` makes every non-PDF upload that passed the checks answer with that
markdown instead, e.g. ``CANNED_MARKDOWN``: a realistic two-page answer with page headers/footers, a captioned table
with colspan/rowspan, a figure and selection marks, which no generated answer has.

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
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.docintel_content import analyze, identify
from tests.fakes.docintel_layout import CORRUPT, Refused, analyze_markdown, analyze_pdf
from tests.fakes.loopback import LoopbackServer

API_VERSION = "2024-11-30"
MODELS = frozenset({"prebuilt-layout", "prebuilt-read"})
_PREFIX = "/documentintelligence/documentModels"
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
        self.canned_markdown: str | None = None
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

    def reject(self, data: bytes, *, code: str = "InvalidContent", message: str = CORRUPT) -> None:
        """Every analyze request carrying exactly ``data`` answers 400 InvalidRequest with innererror ``code``."""
        with self._lock:
            self._rejected[hashlib.sha256(data).hexdigest()] = (code, message)

    def fail_operations_next(
        self, count: int, *, code: str = "InternalServerError", message: str = "An unexpected error occurred."
    ) -> None:
        """The next ``count`` accepted analyses end with status "failed" and this error."""
        with self._lock:
            self._failing_operations.extend([(code, message)] * count)

    def respond_with(self, markdown: str | None) -> None:
        """Uploads that are not PDFs get ``markdown`` (with its page breaks) as their analysis once they passed the
        content checks; None: analyse them (the default)."""
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
            kind = self._check_document(data)
            operation_id = self._start_operation(request, data, kind)
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

    def _check_document(self, data: bytes) -> str:
        """The upload's format (docintel_content.identify), or the 400 the service answers."""
        if not data:
            raise _Reply(400, "InvalidRequest", "Request body should not be empty.", inner="EmptyRequest")
        with self._lock:
            rejected = self._rejected.get(hashlib.sha256(data).hexdigest())
        if rejected is not None:
            raise _Reply(400, "InvalidRequest", rejected[1], inner=rejected[0])
        try:
            return identify(data)
        except Refused as refused:
            raise _Reply(400, "InvalidRequest", refused.message, inner=refused.code) from None

    def _start_operation(self, request: web.Request, data: bytes, kind: str) -> str:
        markdown = request.query.get("outputContentFormat", "text") == "markdown"
        if kind == "pdf":
            result = analyze_pdf(data, markdown=markdown, max_pages=self.max_pages)
        elif self.canned_markdown is not None:
            result = analyze_markdown(self.canned_markdown, markdown=markdown, max_pages=self.max_pages)
        else:
            result = analyze(data, kind, markdown=markdown, max_pages=self.max_pages)
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


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
