"""Traces and metrics of the pipeline, through OpenTelemetry: the one place the rest of the code calls.

Nothing happens (no import of OpenTelemetry, no cost beyond a function call) until ``configure`` finds a destination
in the settings: Application Insights (``APPLICATIONINSIGHTS_CONNECTION_STRING``, through Microsoft's distro
``azure-monitor-opentelemetry``) and/or an OTLP/HTTP collector (``OTEL_EXPORTER_OTLP_ENDPOINT``). setup.py builds the
providers; instruments.py holds the tracer and the metric instruments. What is emitted:

    ingest.run                          a CLI run, or a reindex run when it finalizes (started_at -> finished_at)
      ingest.document                   one document (attributes: source, bytes, pages, chunks, tokens,
        ingest.read / crack / chunk       vectors_reused, outcome, failure_reason); the SDKs' HTTP calls are
        ingest.embed / index              children of the stage that made them (azure-core and httpx tracing)
    ingestion.documents                 counter, attribute ``outcome``
    ingestion.chunks, ingestion.tokens_embedded                     counters
    ingestion.embedding.throttled       histogram of seconds waited per 429 (count = 429s, sum = seconds waited)
    ingestion.document.duration         histogram (s), attribute ``outcome``
    ingestion.documents.in_flight       up-down counter
    ingestion.embedding.quota.used      gauge: tokens sent in the last minute / AZURE_OPENAI_TPM (only when known)
    ingestion.queue.messages            gauge per ``queue`` (Functions: work queue and poison queues, every 10 min)

Attribute values are only paths, counts, outcomes and our own one-line failure reasons, which never carry secrets.
docs/observability.md shows the queries.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingestion.models import DocumentResult
    from ingestion.settings import TelemetrySettings
    from ingestion.telemetry.instruments import Instruments

log = logging.getLogger(__name__)

PREFIX = "ingestion."

_instruments: Instruments | None = None
_providers: list[Any] = []
_document: ContextVar[Span | None] = ContextVar("ingestion_document_span", default=None)
_bound: ContextVar[Mapping[str, object] | None] = ContextVar("ingestion_bound_attributes", default=None)


class Span:
    """A started span (or nothing, when telemetry is off): ``set`` attributes, ``fail`` with a reason."""

    def __init__(self, span: Any = None) -> None:
        self._span = span

    def set(self, **attributes: object) -> None:
        if self._span is not None:
            self._span.set_attributes(_attributes(attributes))

    def fail(self, reason: str) -> None:
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_attributes({PREFIX + "failure_reason": reason})
            self._span.set_status(Status(StatusCode.ERROR, reason))


_OFF = Span()


def configure(settings: TelemetrySettings, *, service_name: str, export_logs: bool = False) -> bool:
    """Send traces and metrics where ``settings`` say, once per process; True if telemetry is (now) on.

    ``export_logs``: also send the ``ingestion`` loggers' records (the CLI; in Functions the host collects logs)."""
    if _instruments is not None or not settings.enabled:
        return _instruments is not None
    from ingestion.telemetry.setup import build_providers

    tracer_provider, meter_provider = build_providers(settings, service_name=service_name, export_logs=export_logs)
    install(tracer_provider, meter_provider)
    _providers.extend((tracer_provider, meter_provider))
    return True


def install(tracer_provider: Any, meter_provider: Any) -> None:
    """Emit through these providers from now on (configure's second half; tests pass in-memory ones)."""
    global _instruments
    from ingestion.telemetry.instruments import Instruments

    _instruments = Instruments(tracer_provider, meter_provider)


def reset() -> None:
    """Back to emitting nothing (tests). Providers built by configure are shut down first."""
    global _instruments
    shutdown()
    _instruments = None


def enabled() -> bool:
    return _instruments is not None


def flush(timeout_seconds: float = 10.0) -> None:
    """Export what is buffered now (spans and a metric collection), waiting at most about ``timeout_seconds``."""
    for provider in _providers:
        with contextlib.suppress(Exception):
            provider.force_flush(int(timeout_seconds * 1000))


def shutdown() -> None:
    """Flush and stop the exporters (end of a CLI run: a short run loses nothing). Idempotent."""
    while _providers:
        provider = _providers.pop()
        with contextlib.suppress(Exception):
            provider.shutdown()


@contextlib.contextmanager
def span(name: str, *, parent: Any = None, **attributes: object) -> Iterator[Span]:
    """A child of the current span (or of ``parent``, an OpenTelemetry context); a no-op when telemetry is off."""
    if _instruments is None:
        yield _OFF
        return
    with _instruments.tracer.start_as_current_span(
        name, context=parent, attributes=_attributes({**(_bound.get() or {}), **attributes})
    ) as current:
        yield Span(current)


@contextlib.contextmanager
def continue_trace(traceparent: str | None, tracestate: str | None = None) -> Iterator[None]:
    """Make a caller's W3C trace context (a Functions invocation's) the parent of every span started inside."""
    if _instruments is None or not traceparent:
        yield
        return
    from opentelemetry import context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {"traceparent": traceparent, **({"tracestate": tracestate} if tracestate else {})}
    token = context.attach(TraceContextTextMapPropagator().extract(carrier))
    try:
        yield
    finally:
        context.detach(token)


@contextlib.contextmanager
def bind(**attributes: object) -> Iterator[None]:
    """Add ``attributes`` (e.g. ``run_id``) to every span started inside."""
    token = _bound.set({**(_bound.get() or {}), **attributes})
    try:
        yield
    finally:
        _bound.reset(token)


@contextlib.contextmanager
def document(source: str) -> Iterator[DocumentTrace]:
    """The ``ingest.document`` span of one document, its in-flight count and, at ``finish``, its metrics."""
    if _instruments is None:
        yield DocumentTrace(_OFF)
        return
    instruments = _instruments
    instruments.in_flight.add(1)
    started = time.perf_counter()
    trace = None
    try:
        with span("ingest.document", source=source) as current:
            token = _document.set(current)
            trace = DocumentTrace(current)
            try:
                yield trace
            except BaseException as error:
                trace.error(error)
                raise
            finally:
                _document.reset(token)
    finally:
        instruments.in_flight.add(-1)
        outcome = trace.outcome if trace is not None else "error"
        instruments.duration.record(time.perf_counter() - started, {"outcome": outcome})


class DocumentTrace:
    """What ``document`` yields: ``finish`` records the result on the span and in the metrics."""

    def __init__(self, current: Span) -> None:
        self.span = current
        self.outcome = "error"

    def finish(self, result: DocumentResult) -> DocumentResult:
        self.outcome = result.outcome.value
        self.span.set(outcome=self.outcome, chunks=result.chunks, tokens=result.tokens_embedded)
        if result.error:
            self.span.fail(result.error)
        if _instruments is not None:
            _instruments.record_document(self.outcome, chunks=result.chunks, tokens=result.tokens_embedded)
        return result

    def error(self, error: BaseException) -> None:
        """The document raised (a transient error its host retries, a configuration error, a cancellation)."""
        from ingestion.errors import IngestionError

        reason = str(error) if isinstance(error, IngestionError) else f"internal error: {type(error).__name__}"
        self.outcome = "error"
        self.span.set(outcome="error")
        self.span.fail(reason)
        if _instruments is not None:
            _instruments.record_document("error", chunks=0, tokens=0)


def annotate(**attributes: object) -> None:
    """Set attributes on the current document's span (e.g. bytes, pages), if any."""
    current = _document.get()
    if current is not None:
        current.set(**attributes)


def embedding_sent(tokens: int) -> None:
    """An embeddings request of ``tokens`` tokens succeeded (for the quota gauge)."""
    if _instruments is not None:
        _instruments.quota.sent(tokens)


def embedding_throttled(seconds: float) -> None:
    """A 429 from the embedding service, after which the client waits ``seconds``."""
    if _instruments is not None:
        _instruments.throttled.record(max(seconds, 0.0))


def watch_quota(tokens_per_minute: int | None) -> None:
    """Report quota use against ``tokens_per_minute`` (AZURE_OPENAI_TPM) from now on; None: unknown, no gauge."""
    if _instruments is not None and tokens_per_minute:
        _instruments.quota.watch(tokens_per_minute)


def queue_lengths(counts: Mapping[str, int]) -> None:
    """Approximate message counts by queue name (work queue, its poison queue, the blob trigger's poison queue)."""
    if _instruments is not None:
        for queue, count in counts.items():
            _instruments.queue_messages.set(count, {"queue": queue})


def record_run(
    run_id: str, *, started: datetime, finished: datetime, status: str, counts: Mapping[str, int], trigger: str
) -> None:
    """An ``ingest.run`` span for a reindex run that just finalized, spanning its whole life."""
    if _instruments is not None:
        _instruments.record_run(
            {"run_id": run_id, "status": status, "trigger": trigger, **counts}, started=started, finished=finished
        )


def _attributes(values: Mapping[str, object]) -> dict[str, Any]:
    """``ingestion.``-prefixed attributes; None dropped, anything not a plain value as its str."""
    attributes: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if not isinstance(value, str | bool | int | float):
            value = str(value)
        attributes[key if "." in key else PREFIX + key] = value
    return attributes
