"""Suite-wide fixtures. Fixtures that belong to one area live in that area's own conftest.py or tests/support/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    """Real documents from ../shared/corpora/fetch.sh (``make test`` fetches them into $CORPORA_DIR)."""
    root = Path(os.environ.get("CORPORA_DIR", Path(__file__).resolve().parent.parent / ".cache" / "corpora"))
    if not (root / "html").is_dir():
        pytest.skip(f"real-document corpus not found in {root} (run `make corpora`)")
    return root
