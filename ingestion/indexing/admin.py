"""Index administration: the physical indexes behind one alias, their schema versions, and the alias itself.

Readers query the alias (``AZURE_SEARCH_INDEX``, default ``grounding``); it points at exactly one physical index
named ``<alias>-v<N>`` (or ``<alias>-v<N>-r<K>`` for the K-th rebuild of version N, e.g. new vector dimensions).
The schema commands (``ingestion/schema/``) do everything through this Protocol, so each backend supplies one small
implementation: ``local_admin.LocalIndexAdmin`` (the SQLite file) and, for Azure AI Search, an admin over
``SearchIndexClient`` (indexes, ``create_or_update_alias``).

Every physical index carries, besides its definition, a little bookkeeping the commands rely on: the schema
``version`` it conforms to (an in-place upgrade raises it without renaming the index), its ``state`` (``building``
from creation until a migration has verified it, then ``ready``) and ``retired_at`` (when the alias last moved away
from it; retention counts from there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Literal, Protocol

from index_schemas.types import IndexDefinition
from ingestion.indexing.base import Index
from ingestion.jsonview import as_json


class _Unchecked(Enum):
    ANY = "any"


ANY = _Unchecked.ANY
"""``set_alias(name, expected=ANY)`` (the default): move the alias wherever it points now, without checking."""

Expected = str | None | Literal[_Unchecked.ANY]
"""What ``set_alias`` expects the alias to point at: an index name, None (no alias yet) or ``ANY``."""


class IndexState(StrEnum):
    BUILDING = "building"
    READY = "ready"


@dataclass(frozen=True)
class PhysicalIndex:
    """One physical index behind the alias and its bookkeeping (see the module docstring)."""

    name: str
    version: int
    dimensions: int
    state: IndexState = IndexState.READY
    created_at: datetime | None = None
    retired_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return as_json(self)


class IndexAdmin(Protocol):
    alias: str
    """The name readers query (``grounding``)."""

    propagation_seconds: float
    """How long an alias swap takes to reach every reader (Azure AI Search: about 10 s; local: 0). An index the
    alias left is never deleted sooner than this after the swap."""

    async def list_indexes(self) -> list[PhysicalIndex]:
        """Every physical index named after ``alias`` (``<alias>-v<N>[-r<K>]``), oldest version first."""
        ...

    async def get_definition(self, name: str) -> IndexDefinition | None:
        """The definition the service holds for physical index ``name`` (what drift is measured against), or None
        when there is no such index. Bookkeeping kept inside the definition (if any) is not part of it."""
        ...

    async def create_index(self, definition: IndexDefinition, *, version: int) -> PhysicalIndex:
        """Create ``definition.name`` empty, in state BUILDING, recorded as schema ``version``.

        ConfigurationError if an index of that name exists already (nothing is overwritten)."""
        ...

    async def update_index(self, definition: IndexDefinition, *, version: int) -> PhysicalIndex:
        """Apply ``definition`` to the existing index ``definition.name`` in place and record it as ``version``.

        The caller has checked with ``index_schemas.diff`` that every change is IN PLACE; an implementation still
        refuses (ConfigurationError) a change it cannot make without a rebuild, and leaves the index unchanged."""
        ...

    async def mark_ready(self, name: str) -> None:
        """Record that index ``name`` is complete and verified (state READY)."""
        ...

    async def delete_index(self, name: str) -> bool:
        """Delete physical index ``name``; returns whether it existed. ConfigurationError while the alias points at
        it (the service refuses that too)."""
        ...

    async def get_alias(self) -> str | None:
        """The physical index the alias points at, or None when there is no alias yet."""
        ...

    async def set_alias(self, name: str, *, expected: Expected = ANY) -> None:
        """Create the alias or move it to ``name`` (which must exist), atomically for readers. The index it pointed at
        before, if another, gets ``retired_at`` = now; ``name``'s ``retired_at`` is cleared.

        A compare-and-swap when ``expected`` is given: the alias moves only if it points at ``expected`` now (None:
        only if there is no alias yet), checked and moved in one atomic step; otherwise ``errors.AliasConflict``
        and nothing changes. The default, ``ANY``, moves it whatever it points at."""
        ...

    def open_index(self, index: PhysicalIndex) -> Index:
        """An ``Index`` (reader and writer) on physical index ``index``; the caller closes it."""
        ...

    async def close(self) -> None: ...
