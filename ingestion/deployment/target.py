"""Which physical index the alias names: the one resolver every reader, writer and migration asks.

An alias (AZURE_SEARCH_INDEX, e.g. ``grounding``) names one physical index (``grounding-v1``); before any alias
exists, readers and writers use the latest schema version's physical name. ``find_live`` answers through an
``IndexAdmin`` (async: commands, migrations, the Functions app following a swap); ``resolve_target`` answers from
Settings alone for the composition root (sync: one read of the SQLite file, or one or two GETs to the service).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import index_schemas
from index_schemas import LATEST, physical_name
from ingestion.errors import ConfigurationError
from ingestion.indexing.admin import IndexAdmin, IndexState, PhysicalIndex
from ingestion.settings import Settings


def index_name(settings: Settings, version: int | None = None) -> str:
    """The physical index the writer targets: ``<alias>-v<N>`` of the latest schema version unless told otherwise."""
    return index_schemas.physical_name(settings.azure_search_index, version or index_schemas.LATEST)


@dataclass(frozen=True)
class IndexTarget:
    """A physical index and the schema version it follows."""

    name: str
    version: int


def resolve_target(settings: Settings) -> IndexTarget:
    """The physical index readers and writers use: the one the alias (AZURE_SEARCH_INDEX) points at, else (no alias
    yet) the latest version's physical name. Local: read from the SQLite file. Azure AI Search: the service alias
    (API key, else a token credential)."""
    found = None
    if settings.index_backend == "local":
        from ingestion.indexing.local.admin import alias_target

        found = alias_target(Path(settings.local_index_path), settings.azure_search_index)
    elif settings.index_backend == "azure_search":
        from ingestion.indexing.azure.admin import alias_target as azure_alias_target

        found = azure_alias_target(settings)
    return IndexTarget(*found) if found is not None else IndexTarget(index_name(settings), index_schemas.LATEST)


async def find_live(admin: IndexAdmin, indexes: list[PhysicalIndex] | None = None) -> PhysicalIndex | None:
    """The index readers use: the alias's target, else ``<alias>-v<LATEST>`` when it exists, else None.

    The alias only ever moves to a verified build, which ``cut_over`` marks ready right after the swap; an alias
    target still ``building`` is a cutover a crash interrupted between the two, and is marked ready here."""
    indexes = await admin.list_indexes() if indexes is None else indexes
    target = await admin.get_alias()
    name = target or physical_name(admin.alias, LATEST)
    found = next((index for index in indexes if index.name == name), None)
    if target is not None and found is None:
        raise ConfigurationError(f"alias {admin.alias} points at {target}, which is not one of its versioned indexes")
    if target is not None and found is not None and found.state is IndexState.BUILDING:
        await admin.mark_ready(found.name)
        found = replace(found, state=IndexState.READY)
    return found


def default_version(live: PhysicalIndex | None) -> int:
    """The version ``apply`` and ``migrate`` target without ``--to``: LATEST, or the live index's own version when
    it is newer (a registered version applied before its release is never downgraded by default)."""
    return max(LATEST, live.version) if live is not None else LATEST
