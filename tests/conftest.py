"""Suite-wide fixtures. Fixtures that belong to one area live in that area's own conftest.py or tests/support/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import index_schemas
from index_schemas import v3
from tests.support.require import missing, pytest_runtest_makereport  # noqa: F401  (the CI=true skip rule)
from tests.support.schema_versions import build_v4


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    """Real documents from ../shared/corpora/fetch.sh (``make test`` fetches them into $CORPORA_DIR)."""
    root = Path(os.environ.get("CORPORA_DIR", Path(__file__).resolve().parent.parent / ".cache" / "corpora"))
    if not (root / "html").is_dir():
        missing(f"real-document corpus not found in {root} (run `make corpora`)")
    return root


@pytest.fixture
def v4(monkeypatch: pytest.MonkeyPatch) -> int:
    """Register v4 (tests/support/schema_versions.py), the version after the newest real one, as a developer adding
    index_schemas/v4.py would (the registry is ours, not the SDK's); gone again after the test."""
    monkeypatch.setitem(index_schemas.VERSIONS, 4, build_v4)
    monkeypatch.setitem(index_schemas.TO_DOCUMENT, 4, v3.to_document)
    return 4
