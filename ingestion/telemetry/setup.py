"""Build the tracer and meter providers for the configured destinations, with the ecosystem's own libraries.

* Application Insights: ``configure_azure_monitor`` (azure-monitor-opentelemetry). It installs the global providers,
  the Azure Monitor exporters (``<IngestionEndpoint>/v2.1/track``), the azure-core tracing plugin (every Azure SDK
  call and its HTTP requests become dependencies) and the httpx instrumentation (the openai SDK's requests). Its
  sampler follows ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``; by default it is rate-limited (5 traces/s),
  which can drop the first spans of a process: ``microsoft.fixed_percentage`` with ``1.0`` keeps every span.
* OTLP/HTTP (``OTEL_EXPORTER_OTLP_ENDPOINT``): the OpenTelemetry SDK's providers with the OTLP exporters, which read
  the standard ``OTEL_EXPORTER_OTLP_*`` variables themselves; the same azure-core and httpx tracing is switched on.
  With both set, the OTLP exporters are added to the distro's pipeline.
"""

from __future__ import annotations

import logging
from typing import Any

from ingestion.settings import TelemetrySettings

log = logging.getLogger(__name__)

LOGGER_NAME = "ingestion"


def build_providers(settings: TelemetrySettings, *, service_name: str, export_logs: bool) -> tuple[Any, Any]:
    """Install global tracer and meter providers for ``settings`` and return them."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create({SERVICE_NAME: service_name})  # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win
    if settings.applicationinsights_connection_string is not None:
        _azure_monitor(settings, resource, export_logs=export_logs)
    else:
        _otlp_only(resource)
    return trace.get_tracer_provider(), metrics.get_meter_provider()


def _azure_monitor(settings: TelemetrySettings, resource: Any, *, export_logs: bool) -> None:
    from azure.monitor.opentelemetry import configure_azure_monitor

    extra: dict[str, Any] = {}
    if settings.otlp_endpoint is not None:
        span_processor, metric_reader = _otlp_exporters()
        extra = {"span_processors": [span_processor], "metric_readers": [metric_reader]}
    assert settings.applicationinsights_connection_string is not None
    configure_azure_monitor(
        connection_string=settings.applicationinsights_connection_string.get(),
        resource=resource,
        logger_name=LOGGER_NAME,
        disable_logging=not export_logs,
        enable_live_metrics=False,
        **extra,
    )


def _otlp_only(resource: Any) -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    span_processor, metric_reader = _otlp_exporters()
    tracer_provider = TracerProvider(resource=resource)  # its sampler follows OTEL_TRACES_SAMPLER(_ARG)
    tracer_provider.add_span_processor(span_processor)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[metric_reader], resource=resource))
    _trace_sdk_calls()


def _otlp_exporters() -> tuple[Any, Any]:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(OTLPSpanExporter()), PeriodicExportingMetricReader(OTLPMetricExporter())


def _trace_sdk_calls() -> None:
    """What the distro does for Application Insights: azure-core's OpenTelemetry plugin and the httpx instrumentor."""
    from azure.core.settings import settings
    from azure.core.tracing.ext.opentelemetry_span import OpenTelemetrySpan
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    settings.tracing_implementation = OpenTelemetrySpan
    HTTPXClientInstrumentor().instrument()
