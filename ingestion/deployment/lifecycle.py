"""What is live behind the alias, how it drifts from its definition, in-place upgrades, rollback and retention.

- The *live* index is the alias's target; before any alias exists, ``<alias>-v<LATEST>`` if it exists (what readers
  fall back to).
- *Drift* is every difference between the definition the service holds for the live index and the definition its
  schema version gives for this deployment now (``index_schemas.diff``): someone edited the index by hand, a
  released version's module was edited, or a setting that shapes it changed (vector dimensions).
- *Retention*: an index the alias moved away from is kept ``SCHEMA_RETENTION_HOURS`` (and never less than the
  admin's propagation delay) for ``rollback``, then deleted by ``gc``, which ``apply`` and ``migrate`` also run when
  they finish. Indexes still *building* (an unfinished migration) are never collected: ``migrate`` resumes them and
  ``migrate --abort`` deletes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from index_schemas import LATEST, VERSIONS, SchemaParams, physical_name
from index_schemas.diff import SchemaDiff, diff_indexes
from index_schemas.errors import SchemaError
from index_schemas.types import IndexDefinition
from ingestion.deployment.target import default_version, find_live
from ingestion.errors import ConfigurationError
from ingestion.indexing.admin import IndexAdmin, IndexState, PhysicalIndex
from ingestion.jsonview import as_json


def _default_params(name: str, dimensions: int) -> SchemaParams:
    return SchemaParams(name=name, dimensions=dimensions)


@dataclass(frozen=True)
class SchemaConfig:
    """What the schema commands need from the deployment: the embedder's ``dimensions``, the retention, and how
    a definition's parameters are built (``wiring.schema_params``: vectorizer and compression on Azure)."""

    dimensions: int
    retention: timedelta = timedelta(hours=72)
    params: Callable[[str, int], SchemaParams] = _default_params

    def definition(self, version: int, name: str) -> IndexDefinition:
        if version not in VERSIONS:
            raise ConfigurationError(f"unknown index schema version {version}; known: {sorted(VERSIONS)}")
        try:
            params = self.params(name, self.dimensions)
        except SchemaError as error:
            raise ConfigurationError(str(error)) from None
        return VERSIONS[version](params)


async def drift(admin: IndexAdmin, config: SchemaConfig, live: PhysicalIndex) -> SchemaDiff:
    """Changes from the definition the live index holds to the one its version defines now."""
    current = await admin.get_definition(live.name)
    if current is None:
        raise ConfigurationError(f"index {live.name} vanished")
    return diff_indexes(current, config.definition(live.version, live.name))


def delete_after(index: PhysicalIndex, admin: IndexAdmin, config: SchemaConfig) -> datetime | None:
    """When ``gc`` may delete ``index`` (None: never, it is live, building or was never retired)."""
    if index.state is not IndexState.READY or index.retired_at is None:
        return None
    return index.retired_at + max(config.retention, timedelta(seconds=admin.propagation_seconds))


async def collect_garbage(admin: IndexAdmin, config: SchemaConfig, *, now: datetime | None = None) -> list[str]:
    """Delete every retired index whose retention has passed; never the alias's target. Returns the names."""
    now = now or datetime.now(UTC)
    live = await admin.get_alias()
    deleted = []
    for index in await admin.list_indexes():
        due = delete_after(index, admin, config)
        if index.name != live and due is not None and now >= due and await admin.delete_index(index.name):
            deleted.append(index.name)
    return deleted


@dataclass
class Status:
    alias: str
    alias_target: str | None
    live: PhysicalIndex | None
    documents: int | None = None
    chunks: int | None = None
    drift: SchemaDiff = field(default_factory=SchemaDiff)
    latest: int = LATEST
    upgrade: SchemaDiff | None = None
    others: list[tuple[PhysicalIndex, datetime | None]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        indexes = [{**index.as_dict(), "delete_after": due} for index, due in self.others]
        return as_json(self, rename={"latest": "latest_version", "others": "indexes"}, indexes=indexes)


async def status(admin: IndexAdmin, config: SchemaConfig) -> Status:
    """The live index, its counts and drift, the upgrade to LATEST if it is older, and every other index."""
    indexes = await admin.list_indexes()
    live = await find_live(admin, indexes)
    result = Status(alias=admin.alias, alias_target=await admin.get_alias(), live=live)
    result.others = [(i, delete_after(i, admin, config)) for i in indexes if live is None or i.name != live.name]
    if live is None:
        return result
    index = admin.open_index(live)
    try:
        stats = await index.stats()
    finally:
        await index.close()
    result.documents, result.chunks = stats.documents, stats.chunks
    result.drift = await drift(admin, config, live)
    if live.version < LATEST:
        current = await admin.get_definition(live.name)
        result.upgrade = diff_indexes(current, config.definition(LATEST, live.name))
    return result


@dataclass
class ApplyResult:
    alias: str
    index: str
    version_before: int | None
    version: int
    created: bool = False
    alias_set: bool = False
    changes: SchemaDiff = field(default_factory=SchemaDiff)
    deleted: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return as_json(self)


async def apply(admin: IndexAdmin, config: SchemaConfig, *, version: int | None = None) -> ApplyResult:
    """Create ``version`` if nothing is live, else bring the live index to it IN PLACE; point the alias at it.

    ``version`` defaults to ``default_version``. ConfigurationError (nothing changed) when that needs a rebuild: the
    message says to run ``schema migrate``."""
    indexes = await admin.list_indexes()
    live = await find_live(admin, indexes)
    version = default_version(live) if version is None else version
    config.definition(version, physical_name(admin.alias, version))  # unknown version: fail before anything
    if live is None:
        name = physical_name(admin.alias, version)
        if any(index.name == name for index in indexes):
            live = next(index for index in indexes if index.name == name)
        else:
            await admin.create_index(config.definition(version, name), version=version)
            await admin.mark_ready(name)
            await admin.set_alias(name, expected=None)
            result = ApplyResult(admin.alias, name, None, version, created=True, alias_set=True)
            result.deleted = await collect_garbage(admin, config)
            return result
    if live.version > version:
        raise ConfigurationError(
            f"{live.name} is at schema v{live.version}, newer than v{version}: use `schema rollback` to go back"
        )
    current = await admin.get_definition(live.name)
    changes = diff_indexes(current, config.definition(version, live.name))
    if changes.rebuild:
        listed = "; ".join(change.describe() for change in changes.rebuild)
        raise ConfigurationError(
            f"{live.name} cannot become v{version} in place ({listed}): run `python -m ingestion schema migrate "
            f"--to {version}` to rebuild it as a new index"
        )
    result = ApplyResult(admin.alias, live.name, live.version, version, changes=changes)
    if changes or live.version != version:
        await admin.update_index(config.definition(version, live.name), version=version)
    if (current := await admin.get_alias()) != live.name:
        await admin.set_alias(live.name, expected=current)
        result.alias_set = True
    result.deleted = await collect_garbage(admin, config)
    return result


async def rollback(admin: IndexAdmin, config: SchemaConfig, *, to: str | None = None, force: bool = False) -> dict:
    """Point the alias back at the most recently retired ready index (or ``to``: a name or a version number)."""
    current = await admin.get_alias()
    if current is None:
        raise ConfigurationError(f"alias {admin.alias} does not exist yet: nothing to roll back")
    candidates = [i for i in await admin.list_indexes() if i.name != current and i.state is IndexState.READY]
    if to is not None:
        candidates = [i for i in candidates if to in (i.name, str(i.version))]
    else:
        candidates = [i for i in candidates if i.retired_at is not None]
    if not candidates:
        wanted = f" matching {to!r}" if to is not None else ""
        raise ConfigurationError(
            f"no earlier ready index{wanted} is kept for alias {admin.alias} "
            "(retired indexes are deleted SCHEMA_RETENTION_HOURS after the swap)"
        )
    target = max(candidates, key=lambda i: (i.retired_at or datetime.min.replace(tzinfo=UTC), i.version))
    if target.dimensions != config.dimensions and not force:
        raise ConfigurationError(
            f"{target.name} holds {target.dimensions}-dimension vectors but the embedder makes {config.dimensions}: "
            "restore the embedding settings first (or pass --force)"
        )
    await admin.set_alias(target.name, expected=current)  # AliasConflict if someone else moved it meanwhile
    return {"alias": admin.alias, "from": current, "to": target.name, "version": target.version}
