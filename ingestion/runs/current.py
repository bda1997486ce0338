"""The pipeline that writes into the live index, held in one place that the reindexer and live updates share.

When a migration moves the alias, ``swap`` replaces the pipeline for every holder at once: nobody rebinds another
object's attribute, and nothing is injected after construction.
"""

from __future__ import annotations

from ingestion.pipeline import Pipeline


class CurrentPipeline:
    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    @property
    def pipeline(self) -> Pipeline:
        return self._pipeline

    def swap(self, pipeline: Pipeline) -> Pipeline:
        """Use ``pipeline`` from now on; returns the one it replaces (the caller closes its index when safe)."""
        old, self._pipeline = self._pipeline, pipeline
        return old


def current_of(pipeline: Pipeline | CurrentPipeline) -> CurrentPipeline:
    """A holder for ``pipeline`` (shared as is when it already is one)."""
    return pipeline if isinstance(pipeline, CurrentPipeline) else CurrentPipeline(pipeline)
