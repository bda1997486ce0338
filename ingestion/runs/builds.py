"""Build runs: a run that writes into an index of its own instead of the main pipeline's, then finalizes through a hook.

The run machinery (``reindex.Reindexer``) knows only this protocol: who plans such a run, which pipeline writes a
document of it, and what finalizing it means. ``ingestion.deployment.migration_runs.Migrations`` supplies it for
migration runs (plan -> build -> verify -> cut over -> retire); nothing in ``runs/`` knows what a migration is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from ingestion.indexing.base import Index
from ingestion.pipeline import Pipeline
from ingestion.runs.records import RunRecord
from ingestion.sources.base import Source


@dataclass(frozen=True)
class BuildPlan:
    """Where a build run writes: ``index_name`` at schema ``version``; ``planned_live`` is the index the alias named
    when the run was planned (the finalize hook may require it unchanged), None when none was live."""

    index_name: str
    version: int
    planned_live: str | None = None


class Builds(Protocol):
    """What a deployment supplies so that the durable fan-out can run builds (see the module docstring)."""

    async def plan(self, run_id: str, version: object) -> BuildPlan:
        """Claim what ``run_id`` needs exclusively and create or resume its index; raise to refuse (nothing held)."""
        ...

    async def release(self, run_id: str) -> None:
        """Give back what ``plan`` claimed for a run that was never recorded."""
        ...

    async def pipeline(self, main: Pipeline, index: str, version: int) -> Pipeline:
        """The pipeline writing a build run's documents into ``index`` (BadInputError when it no longer exists)."""
        ...

    async def finalize(self, run: RunRecord, *, main: Pipeline, source: Source) -> str | None:
        """The finalize hook of a complete build run: None when done, else why it could not finish (idempotent)."""
        ...

    async def close(self) -> None: ...


def derive_pipeline(main: Pipeline, index: Index, *, version: int, reuse_from: Index | None = None) -> Pipeline:
    """A pipeline like ``main`` (same cracker, chunker, tokenizer, embedder and options) writing into ``index`` at
    schema ``version``; nothing is built anew, so the embedding model is loaded once per process."""
    derived = Pipeline(
        cracker=main.cracker,
        chunker=main.chunker,
        tokenizer=main.tokenizer,
        embedder=main.embedder,
        index=index,
        options=replace(main.options, schema_version=version),
        reuse_from=reuse_from,
    )
    derived.share_limits(main)  # one byte budget and one set of crack slots per process
    return derived
