"""What every invocation of the Functions app shares: the process set up once, and the invocation's trace context.

``prepare_process`` (function_app.py calls it when the worker indexes the app) quiets the Azure SDK loggers: the host
files every Python logger under the function's category, so host.json's ``"Azure.Core": "Warning"`` never reaches
them and each HTTP request would otherwise be an Information trace in Application Insights.

``invocation(context)`` wraps each handler: on the first call it configures telemetry (ingestion/telemetry/; nothing
unless ``APPLICATIONINSIGHTS_CONNECTION_STRING`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set), and it makes the host's
trace context for the invocation (``context.trace_context``) the parent of every span the handler starts, so the
documents, their stages and the SDKs' HTTP calls appear under the invocation's request in Application Insights.
Logs are not exported from here: the host already collects the worker's log records.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from ingestion import telemetry
from ingestion.settings import telemetry_settings

APP_ROOT = Path(__file__).resolve().parents[2]
HOST_JSON = APP_ROOT / "host.json"
SERVICE_NAME = "ingestion-functions"
QUIET_LOGGERS = ("azure", "azure.core.pipeline.policies.http_logging_policy")


def prepare_process() -> None:
    """Once per worker process, when the app is indexed: Azure SDK loggers at WARNING."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@contextlib.contextmanager
def invocation(context: object | None) -> Iterator[None]:
    """Run one handler under the invocation's trace context (see the module docstring)."""
    telemetry.configure(telemetry_settings(), service_name=SERVICE_NAME, export_logs=False)
    trace = getattr(context, "trace_context", None)
    parent = getattr(trace, "trace_parent", None) or getattr(trace, "Traceparent", None)
    state = getattr(trace, "trace_state", None) or getattr(trace, "Tracestate", None)
    with telemetry.continue_trace(
        parent if isinstance(parent, str) else None, state if isinstance(state, str) else None
    ):
        yield
