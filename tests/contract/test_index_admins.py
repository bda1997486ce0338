"""The ``IndexAdmin`` contract run by both admins: the local SQLite admin and the Azure admin on the fake service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from azure.core.credentials import AzureKeyCredential

from ingestion.indexing.azure.admin import AzureIndexAdmin
from ingestion.indexing.local.admin import LocalIndexAdmin
from tests.contract.index_admin_contract import ALIAS, IndexAdminContract
from tests.fakes.search_server import FakeSearchServer


class TestLocalIndexAdminContract(IndexAdminContract):
    @pytest.fixture
    async def admin(self, tmp_path: Path) -> AsyncIterator[LocalIndexAdmin]:
        admin = LocalIndexAdmin(tmp_path / "index.sqlite", ALIAS)
        yield admin
        await admin.close()


class TestAzureIndexAdminContract(IndexAdminContract):
    @pytest.fixture
    async def admin(self) -> AsyncIterator[AzureIndexAdmin]:
        with FakeSearchServer() as server:
            credential = AzureKeyCredential(server.api_key)
            admin = AzureIndexAdmin(server.url, ALIAS, credential=credential, propagation_seconds=0.0)
            yield admin
            await admin.close()
