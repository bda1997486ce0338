"""The only module that reads the environment.

``Settings.from_env()`` builds one frozen, validated object at start-up. A missing or invalid value raises
``ConfigurationError`` naming the setting, so a misconfigured deployment fails at once rather than on the first
document. Secrets are wrapped in ``Secret`` so that no repr, log line or error message can show them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from ingestion.endpoints import connection_endpoints_tls, require_tls, storage_connection_tls
from ingestion.errors import ConfigurationError
from ingestion.setting_values import STORAGE_CONNECTION, Reader, Secret, sibling_service_url

EMBEDDING_BACKENDS = ("local", "hash", "azure_openai")
INDEX_BACKENDS = ("local", "azure_search")
BLOB_TRIGGER_SOURCES = ("EventGrid", "LogsAndContainerScan")
VECTOR_COMPRESSIONS = ("none", "scalar", "binary")
ACL_SOURCES = ("metadata", "adls")
ACL_DEFAULTS = ("public", "private")
# The embedding models an Azure AI Search ``azureOpenAI`` vectorizer accepts as its ``modelName``.
VECTORIZER_MODELS = ("text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002")
DEFAULT_REINDEX_SCHEDULE = "0 0 2 * * *"
MAX_DOCUMENT_BYTES_LIMIT = 2 * 1024**3
"""Upper bound of MAX_DOCUMENT_BYTES (2 GiB): a document is read whole into memory."""
HYBRID_VECTOR_WEIGHT = 6.0
HYBRID_FUSIONS = ("exact-term", "fixed")
"""``exact-term``: a query naming a rare exact term of the index (ingestion/indexing/fusion.py) is fused with
HYBRID_EXACT_TERM_VECTOR_WEIGHT instead of HYBRID_VECTOR_WEIGHT; ``fixed``: every query with HYBRID_VECTOR_WEIGHT."""
HYBRID_EXACT_TERM_VECTOR_WEIGHT = 0.5
CHUNK_MAX_TOKENS = {"local": 256, "hash": 512, "azure_openai": 512}
"""Default chunk size per embedding backend: what the model reads. The local ONNX model truncates at 256 word pieces,
and 256-token chunks were the only size meeting the retrieval target on every shared golden set with it (the tail of
a 512-token chunk never reaches its vector); Azure OpenAI models read 8,191 tokens. docs/retrieval-quality.md."""
"""The vector query's RRF weight in hybrid search (text weighs 1), chosen with ``eval``: docs/retrieval-quality.md."""
DOCUMENTINTELLIGENCE_TIMEOUT_SECONDS = 1800.0
"""Bound of one Document Intelligence analysis outside the Functions host (the CLI has no host limit)."""
DEFAULT_FUNCTION_TIMEOUT = "00:05:00"
"""What the host applies when host.json has no ``functionTimeout`` on the classic Consumption plan, the smallest."""
INNER_TIMEOUT_SHARE = 0.8
"""Share of ``functionTimeout`` an inner operation (one analysis) may use: the rest is for reading, embedding and
indexing the document, so the invocation ends (and fails cleanly) before the host kills the worker."""


@dataclass(frozen=True)
class Settings:
    # Which implementation of each stage runs (wiring.py is the one place that acts on these).
    embedding_backend: str = "local"
    index_backend: str = "local"
    local_index_path: Path = Path(".ingestion/index.sqlite")
    # Chunking.
    chunk_max_tokens: int = 512
    chunk_overlap_tokens: int = 64
    embed_headings: bool = True
    # Limits and concurrency.
    max_document_bytes: int = 100 * 1024 * 1024
    max_concurrency: int = 4
    # Scale (docs/performance.md): read-ahead bounded by bytes, a per-document time limit, expansion caps, and how
    # long a service may answer nothing before a run stops.
    max_bytes_in_flight: int = 16 * 1024 * 1024
    document_timeout_seconds: int = 180
    max_chunks_per_document: int = 20_000
    max_workbook_cells: int = 1_000_000
    max_json_text_bytes: int = 16 * 1024 * 1024
    service_down_seconds: int = 45
    rrf_k: int = 60
    hybrid_vector_weight: float = HYBRID_VECTOR_WEIGHT
    hybrid_fusion: str = HYBRID_FUSIONS[0]
    hybrid_exact_term_vector_weight: float = HYBRID_EXACT_TERM_VECTOR_WEIGHT
    # Azure OpenAI embeddings.
    azure_openai_endpoint: str | None = None
    azure_openai_api_key: Secret | None = None
    azure_openai_embedding_deployment: str | None = None
    azure_openai_embedding_model: str = "text-embedding-3-small"
    azure_openai_embedding_dimensions: int | None = None
    azure_openai_api_version: str = "2024-10-21"
    azure_openai_tpm: int | None = None
    azure_openai_max_batch_tokens: int = 16_384
    # Azure AI Search.
    azure_search_endpoint: str | None = None
    azure_search_api_key: Secret | None = None
    azure_search_index: str = "grounding"
    # Index definition options for Azure AI Search only (the local store has neither): vector compression (None or
    # one of VECTOR_COMPRESSIONS but "none") and an Azure OpenAI vectorizer for the embedding deployment above.
    azure_search_vector_compression: str | None = None
    azure_search_vectorizer: bool = False
    # Document Intelligence.
    documentintelligence_endpoint: str | None = None
    documentintelligence_api_key: Secret | None = None
    documentintelligence_polling_seconds: float = 1.0
    # Storage (blob source, Functions run records and queues).
    storage_connection_string: Secret | None = None
    storage_account_url: str | None = None
    source_container: str = "documents"
    # Document-level access control (ingestion/acl.py): where a blob's ACL comes from, what a document without one
    # gets, and the ADLS Gen2 ``dfs`` endpoint (derived from an Azure-style blob endpoint when unset).
    acl_source: str = "metadata"
    acl_default: str = "public"
    storage_dfs_url: str | None = None
    reindex_queue: str = "reindex"
    blob_trigger_source: str = "EventGrid"
    # Functions app: identity-based queue/table endpoints, and full reindex runs (see ingestion/runs/).
    storage_queue_url: str | None = None
    storage_table_url: str | None = None
    reindex_schedule: str = DEFAULT_REINDEX_SCHEDULE
    runs_table: str = "reindexruns"
    reindex_max_dequeue_count: int = 5
    reindex_stall_seconds: int = 3600
    reindex_documents_per_message: int = 4
    # Index schema versions (ingestion/schema/): how long an index the alias left is kept for rollback, and the
    # embedding price a migration's dry run multiplies its token estimate by (None: the model's list price if known).
    schema_retention_hours: int = 72
    schema_migration_max_failures: int = 0
    """Failed documents a migration (``schema migrate``, Functions migration runs) allows before it still swaps."""
    embedding_price_per_million: float | None = None
    # Telemetry (ingestion/telemetry/) and the Functions host's limits.
    telemetry: TelemetrySettings = field(default_factory=lambda: TelemetrySettings())
    function_timeout_seconds: float | None = None
    """host.json's ``functionTimeout`` when running in the Functions host (None: no host limit, e.g. the CLI)."""

    @property
    def documentintelligence_timeout_seconds(self) -> float:
        """How long one Document Intelligence analysis may take: derived from ``functionTimeout`` when there is one."""
        return inner_timeout(self.function_timeout_seconds, default=DOCUMENTINTELLIGENCE_TIMEOUT_SECONDS)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, host_json: Path | None = None) -> Settings:
        """Build settings from ``env`` (default: ``os.environ``); raise ConfigurationError naming any bad setting.

        ``host_json``: the Functions app's host.json, whose ``functionTimeout`` bounds every inner timeout."""
        env = os.environ if env is None else env
        read = Reader(env)
        openai_endpoint = read.text("AZURE_OPENAI_ENDPOINT")
        search_endpoint = read.text("AZURE_SEARCH_ENDPOINT")
        blob_url = read.text("AZURE_STORAGE_ACCOUNT_URL") or read.text(f"{STORAGE_CONNECTION}__blobServiceUri")
        # An explicit connection string, else the trigger connection's; the host's own AzureWebJobsStorage only
        # when no account URL says the documents live elsewhere (identity-based DocumentStorage).
        storage_connection_string = (
            read.secret("AZURE_STORAGE_CONNECTION_STRING")
            or read.secret(STORAGE_CONNECTION)
            or (None if blob_url else read.secret("AzureWebJobsStorage"))
        )
        embedding_backend = read.choice(
            "EMBEDDING_BACKEND", EMBEDDING_BACKENDS, "azure_openai" if openai_endpoint else "local"
        )
        settings = cls(
            embedding_backend=embedding_backend,
            index_backend=read.choice("INDEX_BACKEND", INDEX_BACKENDS, "azure_search" if search_endpoint else "local"),
            local_index_path=Path(read.text("LOCAL_INDEX_PATH") or ".ingestion/index.sqlite"),
            chunk_max_tokens=read.integer(
                "CHUNK_MAX_TOKENS", CHUNK_MAX_TOKENS[embedding_backend], minimum=16, maximum=8191
            ),
            chunk_overlap_tokens=read.integer("CHUNK_OVERLAP_TOKENS", 64, minimum=0, maximum=8190),
            embed_headings=read.boolean("EMBED_HEADINGS", True),
            max_document_bytes=read.integer(
                "MAX_DOCUMENT_BYTES", cls.max_document_bytes, minimum=1, maximum=MAX_DOCUMENT_BYTES_LIMIT
            ),
            max_concurrency=read.integer("MAX_CONCURRENCY", 4, minimum=1, maximum=256),
            max_bytes_in_flight=read.integer(
                "MAX_BYTES_IN_FLIGHT", cls.max_bytes_in_flight, minimum=1024 * 1024, maximum=64 * 1024**3
            ),
            document_timeout_seconds=read.integer("DOCUMENT_TIMEOUT_SECONDS", 180, minimum=1, maximum=24 * 3600),
            max_chunks_per_document=read.integer("MAX_CHUNKS_PER_DOCUMENT", 20_000, minimum=1, maximum=1_000_000),
            max_workbook_cells=read.integer("MAX_WORKBOOK_CELLS", 1_000_000, minimum=1, maximum=1_000_000_000),
            max_json_text_bytes=read.integer(
                "MAX_JSON_TEXT_BYTES", cls.max_json_text_bytes, minimum=1024, maximum=MAX_DOCUMENT_BYTES_LIMIT
            ),
            service_down_seconds=read.integer("SERVICE_DOWN_SECONDS", 45, minimum=1, maximum=3600),
            rrf_k=read.integer("RRF_K", 60, minimum=1, maximum=100_000),
            hybrid_vector_weight=read.number(
                "HYBRID_VECTOR_WEIGHT", HYBRID_VECTOR_WEIGHT, minimum=0.01, maximum=100.0
            ),
            hybrid_fusion=read.choice("HYBRID_FUSION", HYBRID_FUSIONS, HYBRID_FUSIONS[0]),
            hybrid_exact_term_vector_weight=read.number(
                "HYBRID_EXACT_TERM_VECTOR_WEIGHT", HYBRID_EXACT_TERM_VECTOR_WEIGHT, minimum=0.01, maximum=100.0
            ),
            azure_openai_endpoint=openai_endpoint,
            azure_openai_api_key=read.secret("AZURE_OPENAI_API_KEY"),
            azure_openai_embedding_deployment=read.text("AZURE_OPENAI_EMBEDDING_DEPLOYMENT"),
            azure_openai_embedding_model=read.text("AZURE_OPENAI_EMBEDDING_MODEL") or "text-embedding-3-small",
            azure_openai_embedding_dimensions=read.optional_integer(
                "AZURE_OPENAI_EMBEDDING_DIMENSIONS", minimum=1, maximum=4096
            ),
            azure_openai_api_version=read.text("AZURE_OPENAI_API_VERSION") or "2024-10-21",
            azure_openai_tpm=read.optional_integer("AZURE_OPENAI_TPM", minimum=1, maximum=1_000_000_000),
            azure_openai_max_batch_tokens=read.integer(
                "AZURE_OPENAI_MAX_BATCH_TOKENS", 16_384, minimum=8191, maximum=2048 * 8191
            ),
            azure_search_endpoint=search_endpoint,
            azure_search_api_key=read.secret("AZURE_SEARCH_API_KEY"),
            azure_search_index=read.index_name("AZURE_SEARCH_INDEX", "grounding"),
            azure_search_vector_compression=read.optional_choice(
                "AZURE_SEARCH_VECTOR_COMPRESSION", VECTOR_COMPRESSIONS, none="none"
            ),
            azure_search_vectorizer=read.boolean("AZURE_SEARCH_VECTORIZER", False),
            documentintelligence_endpoint=read.text("DOCUMENTINTELLIGENCE_ENDPOINT"),
            documentintelligence_api_key=read.secret("DOCUMENTINTELLIGENCE_API_KEY"),
            documentintelligence_polling_seconds=read.number(
                "DOCUMENTINTELLIGENCE_POLLING_SECONDS", 1.0, minimum=0.0, maximum=60.0
            ),
            storage_connection_string=storage_connection_string,
            storage_account_url=blob_url,
            source_container=read.text("SOURCE_CONTAINER") or "documents",
            acl_source=read.choice("ACL_SOURCE", ACL_SOURCES, "metadata"),
            acl_default=read.choice("ACL_DEFAULT", ACL_DEFAULTS, "public"),
            storage_dfs_url=read.text("AZURE_STORAGE_DFS_URL") or sibling_service_url(blob_url, "dfs"),
            reindex_queue=read.queue_name("REINDEX_QUEUE", "reindex"),
            blob_trigger_source=blob_trigger_source(env),
            storage_queue_url=read.service_url("queue", blob_url),
            storage_table_url=read.service_url("table", blob_url),
            reindex_schedule=read.ncrontab("REINDEX_SCHEDULE", DEFAULT_REINDEX_SCHEDULE),
            runs_table=read.table_name("RUNS_TABLE", "reindexruns"),
            reindex_max_dequeue_count=read.integer("REINDEX_MAX_DEQUEUE_COUNT", 5, minimum=1, maximum=100),
            reindex_stall_seconds=read.integer("REINDEX_STALL_SECONDS", 3600, minimum=60, maximum=7 * 86400),
            reindex_documents_per_message=read.integer("REINDEX_DOCUMENTS_PER_MESSAGE", 4, minimum=1, maximum=64),
            schema_retention_hours=read.integer("SCHEMA_RETENTION_HOURS", 72, minimum=0, maximum=24 * 365),
            schema_migration_max_failures=read.integer(
                "SCHEMA_MIGRATION_MAX_FAILURES", 0, minimum=0, maximum=1_000_000_000
            ),
            embedding_price_per_million=read.optional_number(
                "EMBEDDING_PRICE_PER_MILLION", minimum=0.0, maximum=1000.0
            ),
            telemetry=telemetry_settings(env),
            function_timeout_seconds=None if host_json is None else function_timeout(host_json),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Cross-field rules; raise ConfigurationError naming the setting."""
        if self.chunk_overlap_tokens >= self.chunk_max_tokens:
            raise ConfigurationError(
                f"CHUNK_OVERLAP_TOKENS ({self.chunk_overlap_tokens}) must be smaller than "
                f"CHUNK_MAX_TOKENS ({self.chunk_max_tokens})"
            )
        if self.embedding_backend == "azure_openai":
            if not self.azure_openai_endpoint:
                raise ConfigurationError("AZURE_OPENAI_ENDPOINT is required when EMBEDDING_BACKEND=azure_openai")
            if not self.azure_openai_embedding_deployment:
                raise ConfigurationError(
                    "AZURE_OPENAI_EMBEDDING_DEPLOYMENT is required when EMBEDDING_BACKEND=azure_openai"
                )
        if self.index_backend == "azure_search" and not self.azure_search_endpoint:
            raise ConfigurationError("AZURE_SEARCH_ENDPOINT is required when INDEX_BACKEND=azure_search")
        if self.index_backend == "azure_search" and self.azure_search_vectorizer:
            self._validate_vectorizer()
        self._validate_endpoints()

    def _validate_endpoints(self) -> None:
        """Credentials travel over TLS only, except to loopback (ingestion/endpoints.py)."""
        for setting, endpoint in (
            ("AZURE_OPENAI_ENDPOINT", self.azure_openai_endpoint),
            ("AZURE_SEARCH_ENDPOINT", self.azure_search_endpoint),
            ("DOCUMENTINTELLIGENCE_ENDPOINT", self.documentintelligence_endpoint),
            (f"AZURE_STORAGE_ACCOUNT_URL or {STORAGE_CONNECTION}__blobServiceUri", self.storage_account_url),
            (f"{STORAGE_CONNECTION}__queueServiceUri", self.storage_queue_url),
            (f"{STORAGE_CONNECTION}__tableServiceUri", self.storage_table_url),
            ("AZURE_STORAGE_DFS_URL", self.storage_dfs_url),
        ):
            if endpoint:
                require_tls(setting, endpoint)
        if self.storage_connection_string:
            storage_connection_tls("the storage connection string", self.storage_connection_string.get())

    def _validate_vectorizer(self) -> None:
        """The service embeds text queries itself: with the deployment (and model) that embedded the documents."""
        if self.embedding_backend != "azure_openai":  # which also requires the endpoint and the deployment
            raise ConfigurationError(
                "AZURE_SEARCH_VECTORIZER=true needs EMBEDDING_BACKEND=azure_openai with AZURE_OPENAI_ENDPOINT and "
                "AZURE_OPENAI_EMBEDDING_DEPLOYMENT: queries must be embedded by the model that embedded the "
                f"documents (EMBEDDING_BACKEND is {self.embedding_backend})"
            )
        if self.azure_openai_embedding_model not in VECTORIZER_MODELS:
            raise ConfigurationError(
                f"AZURE_OPENAI_EMBEDDING_MODEL={self.azure_openai_embedding_model!r} cannot back an Azure AI Search "
                f"vectorizer (AZURE_SEARCH_VECTORIZER=true); it accepts: {', '.join(VECTORIZER_MODELS)}"
            )

    def __repr__(self) -> str:  # keep secrets out even if a Secret were ever replaced by a str
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"Settings({shown})"


@dataclass(frozen=True)
class TelemetrySettings:
    """Where traces and metrics go (ingestion/telemetry/): Application Insights, an OTLP/HTTP collector, or nowhere.

    Sampling (``OTEL_TRACES_SAMPLER`` / ``_ARG``), the service name and resource attributes are read by the
    OpenTelemetry libraries themselves from their standard variables."""

    applicationinsights_connection_string: Secret | None = None
    otlp_endpoint: str | None = None

    @property
    def enabled(self) -> bool:
        return self.applicationinsights_connection_string is not None or self.otlp_endpoint is not None


OTLP_SIGNAL_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")


def telemetry_settings(env: Mapping[str, str] | None = None) -> TelemetrySettings:
    """The telemetry settings alone: the Functions app configures telemetry before (and even without) Settings."""
    read = Reader(os.environ if env is None else env)
    endpoint = read.text("OTEL_EXPORTER_OTLP_ENDPOINT")
    for name in (*OTLP_SIGNAL_ENDPOINTS, "OTEL_EXPORTER_OTLP_ENDPOINT"):  # the exporters read the signal ones
        if (value := read.text(name)) is not None:
            require_tls(name, value)
    connection = read.secret("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if connection is not None and "instrumentationkey=" not in connection.get().lower():
        raise ConfigurationError("APPLICATIONINSIGHTS_CONNECTION_STRING has no InstrumentationKey")
    if connection is not None:
        connection_endpoints_tls("APPLICATIONINSIGHTS_CONNECTION_STRING", connection.get())
    return TelemetrySettings(applicationinsights_connection_string=connection, otlp_endpoint=endpoint)


def function_timeout(host_json: Path) -> float | None:
    """``functionTimeout`` of ``host_json`` in seconds (None: unbounded, ``-1``); its plan default when absent."""
    try:
        value = json.loads(host_json.read_text(encoding="utf-8")).get("functionTimeout", DEFAULT_FUNCTION_TIMEOUT)
    except (OSError, ValueError, AttributeError, RecursionError) as error:
        raise ConfigurationError(f"{host_json}: not a readable host.json ({type(error).__name__})") from None
    if str(value).strip() == "-1":
        return None
    match = re.fullmatch(r"(?:([0-9]{1,4})\.)?([0-9]{1,2}):([0-9]{2}):([0-9]{2})", str(value).strip())
    if match is None:
        raise ConfigurationError(f"{host_json}: functionTimeout={value!r} is not [d.]hh:mm:ss or -1")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise ConfigurationError(f"{host_json}: functionTimeout={value!r} must be positive")
    return float(total)


def inner_timeout(function_timeout_seconds: float | None, *, default: float) -> float:
    """A bound for one inner operation: ``default``, and below the host's ``functionTimeout`` when there is one."""
    if function_timeout_seconds is None:
        return default
    return min(default, function_timeout_seconds * INNER_TIMEOUT_SHARE)


def blob_trigger_source(env: Mapping[str, str] | None = None) -> str:
    """BLOB_TRIGGER_SOURCE alone (validated): the blob trigger's decorator needs it when the app is indexed."""
    return Reader(os.environ if env is None else env).choice("BLOB_TRIGGER_SOURCE", BLOB_TRIGGER_SOURCES, "EventGrid")
