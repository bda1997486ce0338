"""The access-control contract (tests/contract/acl_contract.py) on the local SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ingestion.indexing.local.index import LocalIndex
from tests.contract.acl_contract import AclContract
from tests.contract.acl_fusion_contract import AclFusionContract
from tests.contract.index_contract import DIMENSIONS


@pytest.fixture
async def acl_index(tmp_path: Path) -> AsyncIterator[LocalIndex]:
    index = LocalIndex(tmp_path / "index.sqlite", "grounding-v3", DIMENSIONS, version=3)
    await index.ensure()
    yield index
    await index.close()


@pytest.fixture
async def v1_index(tmp_path: Path) -> AsyncIterator[LocalIndex]:
    index = LocalIndex(tmp_path / "index.sqlite", "grounding-v1", DIMENSIONS, version=1)
    await index.ensure()
    yield index
    await index.close()


class TestLocalAclContract(AclContract, AclFusionContract):
    """The shared ACL contracts (trimming; trimming with the exact-term rule) on the local store."""
