"""``IndexAdmin`` for Azure AI Search: the physical indexes behind one alias, over the async ``SearchIndexClient``.

Physical indexes are named ``<alias>-v<N>[-r<K>]``; the alias is a service alias (GA in api-version 2026-04-01, one
alias -> one index). The bookkeeping the local store keeps in ``index_meta`` (schema ``version``, ``state``,
``retired_at``, ``created_at``) lives here in the index's ``description`` as a small JSON object under the key
``ingestion``; ``get_definition`` strips it, so drift checks compare only the real definition. An index without that
JSON (made in the portal) counts as ready, never retired, at the version in its name.

An alias swap takes about 10 s to reach every reader (``propagation_seconds``, a constructor parameter): retention
(``schema gc``) never deletes the old index sooner than that after the swap. The service refuses (400) to delete an
index an alias maps to; ``delete_index`` refuses first with a ConfigurationError.

``set_alias(name, expected=...)`` is a compare-and-swap on the alias's ETag: it reads the alias, checks it points at
``expected``, then writes it with ``If-Match: <etag>`` (``If-None-Match: *`` when there was no alias); the service's
412 (someone else wrote it in between) becomes ``AliasConflict``, as does a failed check.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials import AzureKeyCredential, TokenCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.search.documents.indexes.aio import SearchIndexClient
from azure.search.documents.indexes.models import SearchAlias, SearchIndex

from index_schemas import VERSIONS, VectorizerParams, field_specs, parse_physical_name
from index_schemas.diff import diff_indexes
from index_schemas.names import is_valid_index_name
from index_schemas.types import IndexDefinition, definition_from_wire
from ingestion.cloud.credentials import default_credential, default_sync_credential
from ingestion.endpoints import require_tls
from ingestion.errors import AliasConflict, ConfigurationError
from ingestion.indexing.admin import ANY, Expected, IndexState, PhysicalIndex
from ingestion.indexing.azure.batches import API_VERSION
from ingestion.indexing.azure.errors import translate
from ingestion.indexing.azure.index import AzureSearchIndex
from ingestion.indexing.azure.transport import AllowHttpTokens, http_to_loopback
from ingestion.settings import Settings

META_KEY = "ingestion"
PROPAGATION_SECONDS = 10.0


class AzureIndexAdmin:
    """The physical indexes behind ``alias`` on the service at ``endpoint`` (see ``admin.IndexAdmin``).

    ``vectorizer`` and ``compression`` (``wiring.schema_params``) shape the definitions of the indexes ``open_index``
    returns; the definitions this admin creates and updates are built by its callers (``lifecycle.SchemaConfig``)."""

    def __init__(
        self,
        endpoint: str,
        alias: str,
        *,
        credential: AzureKeyCredential | AsyncTokenCredential | None = None,
        propagation_seconds: float | None = None,
        timeout_seconds: float = 60.0,
        vector_weight: float = 1.0,
        vectorizer: VectorizerParams | None = None,
        compression: str | None = None,
    ) -> None:
        if not is_valid_index_name(alias):
            raise ConfigurationError(f"{alias!r} is not a valid index alias")
        require_tls("AZURE_SEARCH_ENDPOINT", endpoint)
        self.endpoint = endpoint
        self.alias = alias
        self.propagation_seconds = PROPAGATION_SECONDS if propagation_seconds is None else propagation_seconds
        self._credential = credential
        self._timeout = timeout_seconds
        self._vector_weight = vector_weight
        self._schema_options: dict[str, Any] = {"vectorizer": vectorizer, "compression": compression}
        self._client: SearchIndexClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> AzureIndexAdmin:
        if not settings.azure_search_endpoint:
            raise ConfigurationError("AZURE_SEARCH_ENDPOINT is required for the Azure AI Search index admin")
        key = settings.azure_search_api_key
        credential = AzureKeyCredential(key.get()) if key is not None else None
        options.setdefault("vector_weight", settings.hybrid_vector_weight)
        return cls(settings.azure_search_endpoint, settings.azure_search_index, credential=credential, **options)

    def _indexes(self) -> SearchIndexClient:
        if self._client is None:
            if self._credential is None:
                self._credential = default_credential()
            self._client = SearchIndexClient(
                self.endpoint,
                self._credential,
                api_version=API_VERSION,
                connection_timeout=self._timeout,
                read_timeout=self._timeout,
            )
        return self._client

    # -- IndexAdmin ----------------------------------------------------------------------------------------------

    async def list_indexes(self) -> list[PhysicalIndex]:
        try:
            found = [index async for index in self._indexes().list_indexes()]
        except AzureError as exc:
            raise translate(exc, what=f"list the indexes of alias {self.alias}") from exc
        parsed = [(parse_physical_name(self.alias, str(i.name)), i) for i in found]
        return [_physical(index) for key, index in sorted(((p, i) for p, i in parsed if p), key=lambda x: x[0])]

    async def get_definition(self, name: str) -> IndexDefinition | None:
        raw = await self._get(name)
        if raw is None:
            return None
        _, definition = _split(raw)
        return definition

    async def create_index(self, definition: IndexDefinition, *, version: int) -> PhysicalIndex:
        name = str(definition.name)
        _check_version(version)
        if await self._get(name) is not None:
            raise ConfigurationError(f"Azure AI Search index {name} already exists")
        now = datetime.now(UTC).isoformat()
        meta = {"version": version, "state": IndexState.BUILDING.value, "created_at": now, "retired_at": None}
        created = await self._put(_with_meta(definition, meta), what=f"create {name}", create=True)
        return _physical(created)

    async def update_index(self, definition: IndexDefinition, *, version: int) -> PhysicalIndex:
        name = str(definition.name)
        _check_version(version)
        raw = await self._get(name)
        if raw is None:
            raise ConfigurationError(f"Azure AI Search index {name} does not exist")
        meta, current = _split(raw)
        rebuild = diff_indexes(current, definition).rebuild
        if rebuild:
            change = rebuild[0].describe()
            raise ConfigurationError(f"Azure AI Search index {name}: {change} cannot be applied in place")
        updated = await self._put(_with_meta(definition, {**meta, "version": version}), what=f"update {name}")
        return _physical(updated)

    async def mark_ready(self, name: str) -> None:
        await self._write_meta(name, state=IndexState.READY.value)

    async def delete_index(self, name: str) -> bool:
        if await self.get_alias() == name:
            raise ConfigurationError(f"Azure AI Search index {name} is the target of alias {self.alias}: move it first")
        if await self._get(name) is None:  # the SDK treats DELETE's 404 as success: ask first
            return False
        try:
            await self._indexes().delete_index(name)
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise translate(exc, what=f"delete index {name}") from exc
        return True

    async def get_alias(self) -> str | None:
        return _target(await self._get_alias())

    async def set_alias(self, name: str, *, expected: Expected = ANY) -> None:
        if await self._get(name) is None:
            raise ConfigurationError(f"cannot point alias {self.alias} at {name}: no such Azure AI Search index")
        current = await self._get_alias()
        previous = _target(current)
        if expected is not ANY and previous != expected:
            raise AliasConflict(self.alias, expected=expected, found=previous, target=name)
        alias, condition = SearchAlias(name=self.alias, indexes=[name]), MatchConditions.Unconditionally
        if expected is not ANY:
            if current is None:
                condition = MatchConditions.IfMissing  # If-None-Match: *
            elif current.e_tag:
                alias.e_tag, condition = current.e_tag, MatchConditions.IfNotModified  # If-Match: <etag>
            else:
                raise ConfigurationError(f"alias {self.alias} has no ETag: cannot move it conditionally")
        try:
            await self._indexes().create_or_update_alias(alias, match_condition=condition)
        except HttpResponseError as exc:
            if expected is not ANY and exc.status_code == 412:  # moved between our read and our write
                found = await self.get_alias()
                raise AliasConflict(self.alias, expected=expected, found=found, target=name) from exc
            raise translate(exc, what=f"point alias {self.alias} at {name}") from exc
        except AzureError as exc:
            raise translate(exc, what=f"point alias {self.alias} at {name}") from exc
        if previous is not None and previous != name:
            await self._write_meta(previous, retired_at=datetime.now(UTC).isoformat())
        await self._write_meta(name, retired_at=None)

    def open_index(self, index: PhysicalIndex) -> AzureSearchIndex:
        return AzureSearchIndex(
            self.endpoint,
            index.name,
            index.dimensions,
            credential=self._credential,
            version=index.version,
            vector_weight=self._vector_weight,
            **self._schema_options,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None

    # -- helpers -------------------------------------------------------------------------------------------------

    async def _get(self, name: str) -> SearchIndex | None:
        try:
            return await self._indexes().get_index(name)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise translate(exc, what=f"read the definition of {name}") from exc

    async def _get_alias(self) -> SearchAlias | None:
        try:
            return await self._indexes().get_alias(self.alias)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise translate(exc, what=f"resolve alias {self.alias}") from exc

    async def _put(self, definition: SearchIndex, *, what: str, create: bool = False) -> SearchIndex:
        try:
            if create:
                return await self._indexes().create_index(definition)
            return await self._indexes().create_or_update_index(definition)
        except AzureError as exc:
            raise translate(exc, what=what) from exc

    async def _write_meta(self, name: str, **changes: object) -> None:
        raw = await self._get(name)
        if raw is None:
            raise ConfigurationError(f"Azure AI Search index {name} does not exist")
        meta, definition = _split(raw)
        await self._put(_with_meta(definition, {**meta, **changes}), what=f"record the state of {name}")


def _target(alias: SearchAlias | None) -> str | None:
    return str(alias.indexes[0]) if alias is not None and alias.indexes else None


def _check_version(version: int) -> None:
    if version not in VERSIONS:
        raise ConfigurationError(f"unknown index schema version {version}; known: {sorted(VERSIONS)}")


def _split(raw: SearchIndex) -> tuple[dict[str, Any], IndexDefinition]:
    """The bookkeeping JSON kept in ``description`` and the definition without it (and without the etag)."""
    body = raw.as_dict()
    meta: dict[str, Any] = {}
    try:
        parsed = json.loads(body.get("description") or "")
        if isinstance(parsed, dict) and isinstance(parsed.get(META_KEY), dict):
            meta = parsed[META_KEY]
            body.pop("description", None)
    except ValueError:
        pass
    body.pop("@odata.etag", None)
    return meta, definition_from_wire(body)


def _with_meta(definition: IndexDefinition, meta: dict[str, Any]) -> SearchIndex:
    body = definition.to_wire()
    body.pop("@odata.etag", None)
    body["description"] = json.dumps({META_KEY: meta}, sort_keys=True)
    return SearchIndex(body)


def _physical(raw: SearchIndex) -> PhysicalIndex:
    meta, definition = _split(raw)
    name = str(definition.name)
    vectors = [spec for spec in field_specs(definition) if spec.is_vector]
    dimensions = vectors[0].dimensions if vectors and vectors[0].dimensions else 0
    parsed = parse_physical_name(name.rsplit("-v", 1)[0], name)
    version = int(meta.get("version") or (parsed[0] if parsed else 0))
    created, retired = meta.get("created_at"), meta.get("retired_at")
    return PhysicalIndex(
        name=name,
        version=version,
        dimensions=int(dimensions),
        state=IndexState(meta.get("state") or IndexState.READY.value),
        created_at=datetime.fromisoformat(created) if created else None,
        retired_at=datetime.fromisoformat(retired) if retired else None,
    )


def alias_target(settings: Settings, *, credential: TokenCredential | None = None) -> tuple[str, int] | None:
    """``(name, version)`` of the index the alias points at, or None when there is no alias (sync: one or two GETs
    with the synchronous client). A backend primitive: only ``deployment.target`` calls it. Authenticates with the
    API key if set, else with ``credential``, else with a synchronous ``DefaultAzureCredential`` (managed identity
    in Azure)."""
    from azure.search.documents.indexes import SearchIndexClient as SyncIndexClient

    endpoint, key = settings.azure_search_endpoint, settings.azure_search_api_key
    if not endpoint:
        return None
    require_tls("AZURE_SEARCH_ENDPOINT", endpoint)
    owned = None
    if key is not None:
        auth: AzureKeyCredential | TokenCredential = AzureKeyCredential(key.get())
    elif credential is not None:
        auth = credential
    else:
        auth = owned = default_sync_credential()
    options: dict[str, Any] = {"api_version": API_VERSION}
    if not isinstance(auth, AzureKeyCredential) and http_to_loopback(endpoint):
        options["per_call_policies"] = [AllowHttpTokens()]
    alias = settings.azure_search_index
    client = SyncIndexClient(endpoint, auth, **options)
    try:
        try:
            found = client.get_alias(alias)
        except ResourceNotFoundError:
            return None
        name = str(found.indexes[0])
        index = _physical(client.get_index(name))
    except AzureError as exc:
        raise translate(exc, what=f"resolve alias {alias}") from exc
    finally:
        client.close()
        if owned is not None:
            owned.close()
    return name, index.version
