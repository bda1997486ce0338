"""The one place that chooses implementations: Settings in, real (Azure) or local (embedded default) stages out.

Imports of the Azure SDK adapters happen inside the builders, so the local stack never pays for them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import index_schemas
from ingestion import telemetry
from ingestion.acl import AclDefault
from ingestion.chunking import Chunker
from ingestion.cracking.base import AnyCracker
from ingestion.deployment.lifecycle import SchemaConfig
from ingestion.deployment.target import resolve_target
from ingestion.embedding.base import Embedder
from ingestion.errors import ConfigurationError
from ingestion.indexing.admin import IndexAdmin
from ingestion.indexing.base import Index
from ingestion.pipeline import Pipeline, PipelineOptions
from ingestion.settings import Settings
from ingestion.sources.base import Source
from ingestion.tokenizer import get_tokenizer

if TYPE_CHECKING:
    from ingestion.sources.blob import BlobContainerSource


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedding_backend == "hash":
        from ingestion.embedding.hashing import HashEmbedder

        return HashEmbedder()
    if settings.embedding_backend == "azure_openai":
        from ingestion.embedding.azure_openai import AzureOpenAIEmbedder
        from ingestion.embedding.batching import BatchingEmbedder

        telemetry.watch_quota(settings.azure_openai_tpm)
        inner = AzureOpenAIEmbedder.from_settings(settings, tokenizer=get_tokenizer())
        return BatchingEmbedder(
            inner,
            tokenizer=get_tokenizer(),
            max_inputs=inner.max_batch_inputs,
            max_tokens=inner.max_batch_tokens,
            slots=inner.request_slots,
        )
    from ingestion.embedding.local import LocalEmbedder

    return LocalEmbedder()


def build_index(settings: Settings, *, dimensions: int, name: str | None = None, version: int | None = None) -> Index:
    """An index on physical ``name`` at schema ``version``; without ``name``, on ``resolve_target(settings)``."""
    if name is None:
        target = resolve_target(settings)
        name, version = target.name, target.version
    if settings.index_backend == "azure_search":
        from ingestion.indexing.azure.index import AzureSearchIndex

        return AzureSearchIndex.from_settings(
            settings, dimensions=dimensions, index_name=name, version=version, **_search_schema_options(settings)
        )
    from ingestion.indexing.local.index import LocalIndex

    return LocalIndex(
        Path(settings.local_index_path),
        name=name,
        dimensions=dimensions,
        version=version,
        rrf_k=settings.rrf_k,
        vector_weight=settings.hybrid_vector_weight,
        exact_term_vector_weight=exact_term_vector_weight(settings),
    )


def exact_term_vector_weight(settings: Settings) -> float | None:
    """The hybrid vector weight for exact-term queries, or None when HYBRID_FUSION is ``fixed``."""
    return settings.hybrid_exact_term_vector_weight if settings.hybrid_fusion == "exact-term" else None


def build_admin(settings: Settings) -> IndexAdmin:
    """The administrator of the alias's physical indexes (schema versions, alias swaps, retention)."""
    if settings.index_backend == "azure_search":
        from ingestion.indexing.azure.admin import AzureIndexAdmin

        return AzureIndexAdmin.from_settings(settings, **_search_schema_options(settings))
    from ingestion.indexing.local.admin import LocalIndexAdmin

    return LocalIndexAdmin(
        Path(settings.local_index_path),
        settings.azure_search_index,
        rrf_k=settings.rrf_k,
        vector_weight=settings.hybrid_vector_weight,
    )


def schema_params(settings: Settings, *, name: str, dimensions: int) -> index_schemas.SchemaParams:
    """What a definition is built from for this deployment: on Azure AI Search with AZURE_SEARCH_VECTOR_COMPRESSION
    and AZURE_SEARCH_VECTORIZER; the local store has no vectorizer or compression."""
    return index_schemas.SchemaParams(name=name, dimensions=dimensions, **_search_schema_options(settings))


def build_schema_config(settings: Settings, *, dimensions: int) -> SchemaConfig:
    """What the schema lifecycle needs from this deployment (the ``schema`` commands and the Functions app alike)."""
    return SchemaConfig(
        dimensions=dimensions,
        retention=timedelta(hours=settings.schema_retention_hours),
        params=lambda name, dims: schema_params(settings, name=name, dimensions=dims),
    )


def _search_schema_options(settings: Settings) -> dict[str, Any]:
    """The ``vectorizer`` and ``compression`` of this deployment's definitions ({} for the local store)."""
    if settings.index_backend != "azure_search":
        return {}
    vectorizer = None
    if settings.azure_search_vectorizer:
        vectorizer = index_schemas.VectorizerParams(
            endpoint=settings.azure_openai_endpoint or "",
            deployment=settings.azure_openai_embedding_deployment or "",
            model_name=settings.azure_openai_embedding_model,
        )
    return {"vectorizer": vectorizer, "compression": settings.azure_search_vector_compression}


def build_cracker(settings: Settings) -> AnyCracker:
    """Local parsers in killable worker processes (MAX_CONCURRENCY of them), behind Document Intelligence when set."""
    from ingestion.cracking.registry import LocalCracker
    from ingestion.cracking.structure import TableLimits
    from ingestion.cracking.worker import ProcessCracker

    limits = TableLimits(
        max_workbook_cells=settings.max_workbook_cells, max_json_text_bytes=settings.max_json_text_bytes
    )
    local = ProcessCracker(LocalCracker(table_limits=limits), workers=settings.max_concurrency)
    local.warm()
    if settings.documentintelligence_endpoint:
        from ingestion.cracking.docintel import DocumentIntelligenceCracker

        return DocumentIntelligenceCracker.from_settings(settings, fallback=local)
    return local


def build_chunker(settings: Settings) -> Chunker:
    return Chunker(
        get_tokenizer(),
        max_tokens=settings.chunk_max_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        titled=settings.embed_headings,
        # Titles are bounded (a quarter of the cap) but take no room from the text: chunk boundaries, hashes and
        # vectors of existing indexes stay as they are (no re-embedding on upgrade), and the retrieval figures in
        # docs/retrieval-quality.md were measured with the full cap for the text.
        reserve_title=False,
    )


def build_pipeline(
    settings: Settings,
    *,
    index: Index | None = None,
    embedder: Embedder | None = None,
    schema_version: int | None = None,
    reuse_from: Index | None = None,
) -> Pipeline:
    """The pipeline writing into ``index`` (default: the alias's target, at its schema version) with
    ``schema_version`` (default: that of the resolved target) in its fingerprint."""
    cracker = build_cracker(settings)  # first: its worker processes start while the rest is built
    embedder = embedder or build_embedder(settings)
    check_chunk_cap(settings, embedder)
    if index is None:
        target = resolve_target(settings)
        index = build_index(settings, dimensions=embedder.dimensions, name=target.name, version=target.version)
        schema_version = schema_version or target.version
    return Pipeline(
        cracker=cracker,
        chunker=build_chunker(settings),
        tokenizer=get_tokenizer(),
        embedder=embedder,
        index=index,
        options=PipelineOptions(
            max_document_bytes=settings.max_document_bytes,
            max_concurrency=settings.max_concurrency,
            embed_headings=settings.embed_headings,
            max_bytes_in_flight=settings.max_bytes_in_flight,
            document_timeout=float(settings.document_timeout_seconds),
            max_chunks_per_document=settings.max_chunks_per_document,
            schema_version=schema_version or index_schemas.LATEST,
            acl_default=AclDefault(settings.acl_default),
        ),
        reuse_from=reuse_from,
    )


def check_chunk_cap(settings: Settings, embedder: Embedder) -> None:
    """``Embedder.max_input_tokens``'s promise: with azure_openai (whose tokenizer the chunker counts in), a chunk cap
    above what the model accepts would fail every long chunk at the service; refuse it at start instead."""
    if settings.embedding_backend == "azure_openai" and settings.chunk_max_tokens > embedder.max_input_tokens:
        raise ConfigurationError(
            f"CHUNK_MAX_TOKENS={settings.chunk_max_tokens} is above the {embedder.max_input_tokens} tokens "
            f"the embedding model {embedder.model_id} accepts"
        )


def build_folder_source(path: Path) -> Source:
    from ingestion.sources.local import LocalFolderSource

    return LocalFolderSource(path)


def build_container_source(
    settings: Settings, container: str | None = None, *, prefix: str = "", credential: Any = None
) -> BlobContainerSource:
    """The blob container source (CLI ``--container`` and the Functions app alike). ``credential``: a token
    credential to share with other clients when the account is reached by identity (None: the source makes its own)."""
    from ingestion.sources.blob import BlobContainerSource

    container = container or settings.source_container
    if settings.storage_connection_string is not None:
        return BlobContainerSource(
            container,
            connection_string=settings.storage_connection_string.get(),
            prefix=prefix,
            acl_reader=build_acl_reader(settings, container),
        )
    if settings.storage_account_url:
        return BlobContainerSource(
            container,
            account_url=settings.storage_account_url,
            credential=credential,
            prefix=prefix,
            acl_reader=build_acl_reader(settings, container, credential=credential),
        )
    raise ConfigurationError(
        "a blob container source needs AZURE_STORAGE_CONNECTION_STRING (e.g. UseDevelopmentStorage=true for Azurite) "
        "or AZURE_STORAGE_ACCOUNT_URL (with a managed identity)"
    )


def build_acl_reader(settings: Settings, container: str, *, credential: Any = None) -> Any:
    """The ADLS Gen2 ACL reader of ``container`` when ACL_SOURCE=adls, else None (ACLs from blob metadata).

    The dfs endpoint is AZURE_STORAGE_DFS_URL, else the blob endpoint's Azure-style sibling. Credentials: the account
    key of AZURE_STORAGE_CONNECTION_STRING when there is one, else ``credential`` (None: ``DefaultAzureCredential``);
    a connection string with only a SAS cannot be used here."""
    if settings.acl_source != "adls":
        return None
    from ingestion.settings import sibling_service_url
    from ingestion.sources.adls_acl import AdlsAclReader, account_key

    dfs_url = settings.storage_dfs_url
    if settings.storage_connection_string is not None:
        blob_url, credential = account_key(settings.storage_connection_string.get())
        dfs_url = dfs_url or sibling_service_url(blob_url, "dfs")
    if not dfs_url:
        raise ConfigurationError(
            "ACL_SOURCE=adls needs the account's dfs endpoint: set AZURE_STORAGE_DFS_URL "
            "(https://<account>.dfs.core.windows.net)"
        )
    return AdlsAclReader(dfs_url, container, credential=credential)
