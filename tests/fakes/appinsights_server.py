"""A stand-in for Application Insights' ingestion endpoint (and an OTLP/HTTP receiver), on 127.0.0.1.

``POST <IngestionEndpoint>/v2.1/track`` takes what the Azure Monitor exporter sends: a JSON array of envelopes (or
newline-delimited JSON), gzip-compressed or not, and answers as the service does (``itemsReceived`` /
``itemsAccepted``). ``POST /v1/traces`` and ``/v1/metrics`` take OTLP/HTTP protobuf, decoded with the
``opentelemetry-proto`` messages. Envelopes are kept as received, with helpers to read the parts tests look at.
"""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

IKEY = "00000000-0000-0000-0000-0000000000a1"


class AppInsightsServer(LoopbackServer):
    thread_name = "fake-appinsights"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._envelopes: list[dict[str, Any]] = []
        self._otlp_spans: list[Any] = []
        self._otlp_metrics: list[Any] = []

    def connection_string(self, ikey: str = IKEY) -> str:
        return f"InstrumentationKey={ikey};IngestionEndpoint={self.url}/;LiveEndpoint={self.url}/"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        # The real connection strings end the endpoint with "/", and the exporter appends "/v2.1/track" to it.
        for path in ("/v2.1/track", "//v2.1/track", "/v2/track", "//v2/track"):
            app.router.add_post(path, self._track)
        app.router.add_post("/v1/traces", self._otlp_traces)
        app.router.add_post("/v1/metrics", self._otlp_metrics_handler)
        return app

    # -- what was received ------------------------------------------------------------------------------------------

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._envelopes)

    def items(self, kind: str) -> list[dict[str, Any]]:
        """``baseData`` of every envelope of ``kind`` (``RemoteDependency``, ``Request``, ``Metric``, ...), with the
        envelope's tags under ``"tags"``."""
        found = []
        for envelope in self.envelopes:
            if envelope.get("name", "").endswith("." + kind):
                found.append({**envelope["data"]["baseData"], "tags": envelope.get("tags", {})})
        return found

    def spans(self, name: str) -> list[dict[str, Any]]:
        return [item for item in self.items("RemoteDependency") + self.items("Request") if item.get("name") == name]

    def metric_names(self) -> set[str]:
        return {metric["name"] for item in self.items("Metric") for metric in item.get("metrics", [])}

    def metric_points(self, name: str) -> list[dict[str, Any]]:
        """Each data point of metric ``name`` with its properties (dimensions) under ``"properties"``."""
        points = []
        for item in self.items("Metric"):
            for metric in item.get("metrics", []):
                if metric["name"] == name:
                    points.append({**metric, "properties": item.get("properties", {})})
        return points

    @property
    def otlp_span_names(self) -> list[str]:
        with self._lock:
            return [span.name for span in self._otlp_spans]

    @property
    def otlp_client_span_count(self) -> int:
        """Spans of kind CLIENT: outgoing HTTP calls traced by azure-core or httpx."""
        with self._lock:
            return sum(1 for span in self._otlp_spans if span.kind == 3)  # SPAN_KIND_CLIENT

    @property
    def otlp_metric_names(self) -> set[str]:
        with self._lock:
            return {metric.name for metric in self._otlp_metrics}

    # -- handlers ---------------------------------------------------------------------------------------------------

    async def _track(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding", "").lower() == "gzip" or body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        text = body.decode("utf-8").strip()
        try:
            parsed = json.loads(text)
            envelopes = parsed if isinstance(parsed, list) else [parsed]
        except ValueError:
            envelopes = [json.loads(line) for line in text.splitlines() if line.strip()]
        with self._lock:
            self._envelopes.extend(envelopes)
        count = len(envelopes)
        return web.json_response({"itemsReceived": count, "itemsAccepted": count, "errors": []})

    async def _otlp_traces(self, request: web.Request) -> web.Response:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        message = ExportTraceServiceRequest.FromString(await self._otlp_body(request))
        spans = [span for rs in message.resource_spans for ss in rs.scope_spans for span in ss.spans]
        with self._lock:
            self._otlp_spans.extend(spans)
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def _otlp_metrics_handler(self, request: web.Request) -> web.Response:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

        message = ExportMetricsServiceRequest.FromString(await self._otlp_body(request))
        metrics = [metric for rm in message.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics]
        with self._lock:
            self._otlp_metrics.extend(metrics)
        return web.Response(body=b"", content_type="application/x-protobuf")

    @staticmethod
    async def _otlp_body(request: web.Request) -> bytes:
        body = await request.read()
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        return body
