"""BlobContainerSource against a real Azurite, and its error translation against a faulty fake storage server."""

from __future__ import annotations

import base64
import hashlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web
from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from ingestion.errors import (
    BadInputError,
    ConfigurationError,
    DocumentTooLargeError,
    ThrottledError,
    TransientError,
)
from ingestion.models import SourceItem
from ingestion.sources.blob import BlobContainerSource
from tests.support.azurite import ACCOUNT_KEY, ACCOUNT_NAME, Azurite

DOCUMENTS = {
    "a.txt": b"alpha",
    "nested/dir/b c.md": b"# beta with spaces",
    "über/résumé 日本.txt": "héllo wörld".encode(),
    "empty.txt": b"",
}
NOT_DOCUMENTS = {".hidden.txt": b"secret", "nested/.git/config": b"[core]", "über/.cache/x.txt": b"x"}


def md5_version(data: bytes) -> str:
    return "md5:" + base64.b64encode(hashlib.md5(data).digest()).decode()


async def listed(source: BlobContainerSource) -> dict[str, SourceItem]:
    items = [item async for item in source.list()]
    by_path = {item.path: item for item in items}
    assert len(by_path) == len(items), "a blob was listed twice"
    return by_path


@pytest.fixture
async def container(azurite: Azurite) -> AsyncIterator[ContainerClient]:
    """A fresh container holding DOCUMENTS, NOT_DOCUMENTS and a directory placeholder."""
    name = f"docs-{uuid.uuid4().hex[:12]}"
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        client = await service.create_container(name)
        for blob, data in {**DOCUMENTS, **NOT_DOCUMENTS}.items():
            await client.upload_blob(blob, data, content_settings=ContentSettings(content_type="text/plain"))
        await client.upload_blob("a.txt", b"alpha", overwrite=True, metadata={"owner": "hr", "group": "staff"})
        await client.upload_blob("nested/dir", b"", metadata={"hdi_isfolder": "true"})
        yield client
        await service.delete_container(name)


@pytest.fixture
async def source(azurite: Azurite, container: ContainerClient) -> AsyncIterator[BlobContainerSource]:
    blob_source = BlobContainerSource(container.container_name, connection_string=azurite.connection_string)
    yield blob_source
    await blob_source.close()


@pytest.mark.azurite
async def test_lists_exactly_the_documents(source: BlobContainerSource, container: ContainerClient) -> None:
    name = container.container_name
    assert source.scope == f"blob:{ACCOUNT_NAME}/{name}/"
    items = await listed(source)
    assert set(items) == {f"{name}/{blob}" for blob in DOCUMENTS}
    for blob, data in DOCUMENTS.items():
        item = items[f"{name}/{blob}"]
        assert item.source_id == f"blob:{ACCOUNT_NAME}/{name}/{blob}"
        assert item.size == len(data)
        assert item.content_version == md5_version(data)
        assert item.last_modified.tzinfo is not None
    assert items[f"{name}/a.txt"].metadata == {"owner": "hr", "group": "staff"}
    assert items[f"{name}/nested/dir/b c.md"].content_type == "text/plain"
    assert items[f"{name}/nested/dir/b c.md"].metadata == {}


@pytest.mark.azurite
async def test_read_returns_the_uploaded_bytes(source: BlobContainerSource) -> None:
    items = await listed(source)
    for blob, data in DOCUMENTS.items():
        assert await source.read(items[f"{source.container}/{blob}"], max_bytes=1024) == data


@pytest.mark.azurite
async def test_prefix_limits_listing_and_scope(azurite: Azurite, container: ContainerClient) -> None:
    name = container.container_name
    source = BlobContainerSource(name, connection_string=azurite.connection_string, prefix="nested/")
    try:
        assert source.scope == f"blob:{ACCOUNT_NAME}/{name}/nested/"
        assert set(await listed(source)) == {f"{name}/nested/dir/b c.md"}
        assert await source.get(f"blob:{ACCOUNT_NAME}/{name}/a.txt") is None
    finally:
        await source.close()


@pytest.mark.azurite
async def test_account_url_with_a_named_key_credential(azurite: Azurite, container: ContainerClient) -> None:
    credential = AzureNamedKeyCredential(ACCOUNT_NAME, ACCOUNT_KEY)
    source = BlobContainerSource(container.container_name, account_url=azurite.blob_url, credential=credential)
    try:
        assert source.scope == f"blob:{ACCOUNT_NAME}/{container.container_name}/"
        items = await listed(source)
        assert await source.read(items[f"{container.container_name}/a.txt"], max_bytes=5) == b"alpha"
    finally:
        await source.close()


@pytest.mark.azurite
async def test_too_large_names_the_limit(source: BlobContainerSource, container: ContainerClient) -> None:
    await container.upload_blob("big.bin", b"x" * 5000)
    item = (await listed(source))[f"{source.container}/big.bin"]
    assert await source.read(item, max_bytes=5000) == b"x" * 5000
    with pytest.raises(DocumentTooLargeError, match="4999-byte"):
        await source.read(item, max_bytes=4999)


@pytest.mark.azurite
async def test_blob_that_grew_after_listing_is_refused(source: BlobContainerSource, container: ContainerClient) -> None:
    item = (await listed(source))[f"{source.container}/a.txt"]
    await container.upload_blob("a.txt", b"alpha" * 1000, overwrite=True)
    with pytest.raises(DocumentTooLargeError, match="100-byte") as caught:
        await source.read(item, max_bytes=100)
    assert "a.txt" in str(caught.value)


@pytest.mark.azurite
async def test_deleted_blob_is_bad_input(source: BlobContainerSource, container: ContainerClient) -> None:
    item = (await listed(source))[f"{source.container}/nested/dir/b c.md"]
    await container.delete_blob("nested/dir/b c.md")
    with pytest.raises(BadInputError, match="blob no longer exists") as caught:
        await source.read(item, max_bytes=1024)
    assert "b c.md" in str(caught.value)
    assert await source.get(item.source_id) is None


@pytest.mark.azurite
async def test_version_is_stable_and_changes_on_overwrite(
    source: BlobContainerSource, container: ContainerClient
) -> None:
    path = f"{source.container}/über/résumé 日本.txt"
    first = (await listed(source))[path]
    assert (await listed(source))[path].content_version == first.content_version
    await container.upload_blob("über/résumé 日本.txt", b"new words", overwrite=True)
    changed = (await listed(source))[path]
    assert changed.content_version != first.content_version
    assert changed.content_version == md5_version(b"new words")


@pytest.mark.azurite
async def test_block_blob_without_md5_is_versioned_by_etag(
    source: BlobContainerSource, container: ContainerClient
) -> None:
    blob = container.get_blob_client("blocks.bin")
    await blob.stage_block("QUFBQQ==", b"x" * 10)
    await blob.commit_block_list(["QUFBQQ=="])
    properties = await blob.get_blob_properties()
    item = (await listed(source))[f"{source.container}/blocks.bin"]
    assert item.content_version == "etag:" + properties.etag.strip('"')


@pytest.mark.azurite
async def test_get(source: BlobContainerSource) -> None:
    items = await listed(source)
    prefix = f"blob:{ACCOUNT_NAME}/{source.container}/"
    for item in items.values():
        assert await source.get(item.source_id) == item
    assert await source.get(prefix + "missing.txt") is None
    assert await source.get(prefix + ".hidden.txt") is None
    assert await source.get(prefix + "nested/dir") is None  # directory placeholder
    assert await source.get(f"blob:{ACCOUNT_NAME}/other-container/a.txt") is None
    assert await source.get("/local/a.txt") is None


@pytest.mark.azurite
async def test_missing_container_is_a_configuration_error(azurite: Azurite) -> None:
    source = BlobContainerSource("no-such-container", connection_string=azurite.connection_string)
    try:
        with pytest.raises(ConfigurationError, match="no-such-container does not exist"):
            await listed(source)
    finally:
        await source.close()


@pytest.mark.azurite
async def test_wrong_key_is_a_configuration_error_without_the_key(azurite: Azurite, container: ContainerClient) -> None:
    wrong_key = base64.b64encode(b"not the key" * 6).decode()
    connection_string = azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
    source = BlobContainerSource(container.container_name, connection_string=connection_string, retry_total=0)
    try:
        with pytest.raises(ConfigurationError, match="403") as caught:
            await listed(source)
    finally:
        await source.close()
    assert wrong_key not in str(caught.value)
    assert wrong_key[:16] not in str(caught.value)


# -- error translation, against a fake storage server that answers every request with a programmed fault ------------


@pytest.fixture
async def faulty_storage() -> AsyncIterator[Callable[[int, str, dict[str, str]], str]]:
    """Start servers on 127.0.0.1 answering every request with one status, error code and headers; return URLs."""
    runners: list[web.AppRunner] = []

    async def start(status: int, code: str, headers: dict[str, str]) -> str:
        async def answer(request: web.Request) -> web.Response:
            body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>no</Message></Error>'
            return web.Response(
                status=status, text=body, content_type="application/xml", headers={"x-ms-error-code": code, **headers}
            )

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/{ACCOUNT_NAME}"

    yield start
    for runner in runners:
        await runner.cleanup()


def fake_item(container: str, name: str, size: int = 10) -> SourceItem:
    return SourceItem(
        source_id=f"blob:{ACCOUNT_NAME}/{container}/{name}",
        path=f"{container}/{name}",
        size=size,
        last_modified=datetime.now(UTC),
        content_version="md5:x",
    )


def faulty_source(url: str) -> BlobContainerSource:
    credential = AzureNamedKeyCredential(ACCOUNT_NAME, ACCOUNT_KEY)
    return BlobContainerSource("docs", account_url=url, credential=credential, retry_total=0)


@pytest.mark.parametrize(
    ("status", "code", "headers", "expected", "fragment"),
    [
        (503, "ServerBusy", {"Retry-After": "7"}, ThrottledError, "503 ServerBusy"),
        (429, "TooManyRequests", {}, ThrottledError, "429"),
        (500, "InternalError", {}, TransientError, "500 InternalError"),
        (403, "AuthenticationFailed", {}, ConfigurationError, "403 AuthenticationFailed"),
        (403, "AuthorizationPermissionMismatch", {}, ConfigurationError, "403"),
        (404, "ContainerNotFound", {}, ConfigurationError, "does not exist"),
    ],
)
async def test_listing_errors_are_translated(faulty_storage, status, code, headers, expected, fragment) -> None:
    source = faulty_source(await faulty_storage(status, code, headers))
    try:
        with pytest.raises(expected, match=fragment) as caught:
            await listed(source)
    finally:
        await source.close()
    assert type(caught.value) is expected
    if headers.get("Retry-After"):
        assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "code", "expected", "fragment"),
    [
        (404, "BlobNotFound", BadInputError, "blob no longer exists"),
        (503, "ServerBusy", ThrottledError, "503"),
        (502, "BadGateway", TransientError, "502"),
        (401, "InvalidAuthenticationInfo", ConfigurationError, "401"),
        (400, "InvalidHeaderValue", BadInputError, "400 InvalidHeaderValue"),
    ],
)
async def test_read_errors_are_translated(faulty_storage, status, code, expected, fragment) -> None:
    source = faulty_source(await faulty_storage(status, code, {}))
    try:
        with pytest.raises(expected, match=fragment) as caught:
            await source.read(fake_item("docs", "dir/a b.pdf"), max_bytes=100)
    finally:
        await source.close()
    assert type(caught.value) is expected
    assert "docs/dir/a b.pdf" in str(caught.value)


async def test_get_errors_are_translated(faulty_storage) -> None:
    missing = faulty_source(await faulty_storage(404, "BlobNotFound", {}))
    busy = faulty_source(await faulty_storage(503, "ServerBusy", {}))
    try:
        assert await missing.get(f"blob:{ACCOUNT_NAME}/docs/a.txt") is None
        with pytest.raises(ThrottledError, match=r"docs/a\.txt"):
            await busy.get(f"blob:{ACCOUNT_NAME}/docs/a.txt")
    finally:
        await missing.close()
        await busy.close()


async def test_unreachable_storage_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = faulty_source(f"http://127.0.0.1:{port}/{ACCOUNT_NAME}")
    try:
        with pytest.raises(TransientError, match="storage request failed"):
            await listed(source)
    finally:
        await source.close()
