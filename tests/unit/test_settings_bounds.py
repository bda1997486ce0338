"""Every numeric setting's bounds are enforced at both ends: one value past each side is refused, naming it."""

from __future__ import annotations

import pytest

from ingestion.errors import ConfigurationError
from ingestion.settings import Settings

# (setting, lowest accepted, highest accepted or None when unbounded above)
BOUNDS = [
    ("MAX_CONCURRENCY", 1, 256),
    ("CHUNK_MAX_TOKENS", 16, 8191),
    ("CHUNK_OVERLAP_TOKENS", 0, None),
    ("REINDEX_MAX_DEQUEUE_COUNT", 1, 100),
    ("REINDEX_DOCUMENTS_PER_MESSAGE", 1, 64),
    ("SCHEMA_RETENTION_HOURS", 0, 24 * 365),
    ("AZURE_OPENAI_EMBEDDING_DIMENSIONS", 1, 4096),
    ("RRF_K", 1, None),
]
BASE = {"CHUNK_MAX_TOKENS": "512", "CHUNK_OVERLAP_TOKENS": "0"}


@pytest.mark.parametrize(("name", "low", "high"), BOUNDS)
def test_the_bounds_themselves_are_accepted(name: str, low: int, high: int | None) -> None:
    for value in (low, high) if high is not None else (low,):
        Settings.from_env({**BASE, name: str(value)})


@pytest.mark.parametrize(("name", "low", "high"), BOUNDS)
def test_one_past_either_bound_is_refused(name: str, low: int, high: int | None) -> None:
    for value in (low - 1, high + 1) if high is not None else (low - 1,):
        with pytest.raises(ConfigurationError, match=name):
            Settings.from_env({**BASE, name: str(value)})
