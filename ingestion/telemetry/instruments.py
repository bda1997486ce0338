"""The tracer and metric instruments, built on the providers telemetry.configure (or a test) installs.

Imported only once telemetry is on: this is where OpenTelemetry's API is first imported.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.trace import Status, StatusCode, TracerProvider

SCOPE = "ingestion"
QUOTA_WINDOW_SECONDS = 60.0


class Instruments:
    def __init__(self, tracer_provider: TracerProvider, meter_provider: MeterProvider) -> None:
        self.tracer = _Tracer(tracer_provider.get_tracer(SCOPE))
        meter = meter_provider.get_meter(SCOPE)
        self.documents = meter.create_counter("ingestion.documents", unit="{document}", description="documents")
        self.chunks = meter.create_counter("ingestion.chunks", unit="{chunk}", description="chunks written")
        self.tokens = meter.create_counter(
            "ingestion.tokens_embedded", unit="{token}", description="tokens sent to the embedder"
        )
        self.throttled = meter.create_histogram(
            "ingestion.embedding.throttled", unit="s", description="seconds waited after each 429 of the embedder"
        )
        self.duration = meter.create_histogram(
            "ingestion.document.duration", unit="s", description="time to bring one document up to date"
        )
        self.in_flight = meter.create_up_down_counter(
            "ingestion.documents.in_flight", unit="{document}", description="documents being processed"
        )
        self.queue_messages = meter.create_gauge(
            "ingestion.queue.messages", unit="{message}", description="approximate messages per queue (reconcile)"
        )
        self.quota = QuotaWindow()
        meter.create_observable_gauge(
            "ingestion.embedding.quota.used",
            callbacks=[self.quota.observe],
            unit="1",
            description="embedding tokens sent in the last minute / AZURE_OPENAI_TPM",
        )

    def record_document(self, outcome: str, *, chunks: int, tokens: int) -> None:
        self.documents.add(1, {"outcome": outcome})
        if chunks:
            self.chunks.add(chunks)
        if tokens:
            self.tokens.add(tokens)

    def record_run(self, attributes: Mapping[str, Any], *, started: datetime, finished: datetime) -> None:
        from ingestion.telemetry import _attributes

        span = self.tracer.raw.start_span("ingest.run", attributes=_attributes(attributes), start_time=_nanos(started))
        if attributes.get("status") != "done":
            span.set_status(Status(StatusCode.ERROR, f"run ended {attributes.get('status')}"))
        span.end(end_time=_nanos(finished))


class _Tracer:
    """Our spans never record exception text (an SDK's message may quote a URL): failures set a reason instead."""

    def __init__(self, tracer: Any) -> None:
        self.raw = tracer

    def start_as_current_span(self, name: str, *, context: Any, attributes: Mapping[str, Any]) -> Any:
        return self.raw.start_as_current_span(
            name, context=context, attributes=attributes, record_exception=False, set_status_on_exception=False
        )


class QuotaWindow:
    """Tokens sent over the last minute, as a share of the deployment's tokens-per-minute quota (when known)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: collections.deque[tuple[float, int]] = collections.deque()
        self._total = 0
        self.tokens_per_minute: int | None = None

    def watch(self, tokens_per_minute: int) -> None:
        self.tokens_per_minute = tokens_per_minute

    def sent(self, tokens: int) -> None:
        with self._lock:
            self._sent.append((self._clock(), tokens))
            self._total += tokens
            self._expire()

    def used(self) -> float | None:
        if not self.tokens_per_minute:
            return None
        with self._lock:
            self._expire()
            return self._total / self.tokens_per_minute

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        used = self.used()
        return [] if used is None else [Observation(used)]

    def _expire(self) -> None:
        horizon = self._clock() - QUOTA_WINDOW_SECONDS
        while self._sent and self._sent[0][0] < horizon:
            self._total -= self._sent.popleft()[1]


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)
