"""Azure Functions blueprints: the only code that imports azure.functions.

Each handler translates its trigger into one call on ingestion.runs (which owns the logic) and the outcome into a
log line or an HTTP response, and nothing more. ``BLUEPRINTS`` is what function_app.py registers.

    blobs.py     blob created/updated -> ingest it; Event Grid BlobDeleted/DirectoryDeleted -> drop from the index
    reindex.py   timer %REINDEX_SCHEDULE% -> start a run; queue %REINDEX_QUEUE% -> listing / one document; reconcile
    http.py      POST /api/reindex, GET /api/status, GET /api/health (function key)
    invocation.py  per process: Azure SDK loggers at WARNING; per invocation: telemetry under the host's trace context
"""
