"""The blob container source on a real Azurite: the shared Source contract on a fresh container."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from ingestion.sources.blob import BlobContainerSource
from tests.contract.source_contract import SourceContract
from tests.support.azurite import Azurite, azurite  # noqa: F401  (the session's Azurite, as the `azurite` fixture)


@dataclass
class ContainerHarness:
    container: ContainerClient
    source: BlobContainerSource

    async def put(self, name: str, data: bytes) -> None:
        await self.container.upload_blob(name, data, overwrite=True)

    async def remove(self, name: str) -> None:
        await self.container.delete_blob(name)

    def path(self, name: str) -> str:
        return f"{self.container.container_name}/{name}"


@pytest.mark.azurite
class TestBlobContainerSourceContract(SourceContract):
    @pytest.fixture
    async def harness(self, azurite: Azurite) -> AsyncIterator[ContainerHarness]:  # noqa: F811
        name = f"contract-{uuid.uuid4().hex[:12]}"
        async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
            container = await service.create_container(name)
            source = BlobContainerSource(name, connection_string=azurite.connection_string)
            yield ContainerHarness(container, source)
            await source.close()
            await service.delete_container(name)
