"""Documents from an Azure Blob Storage container (or Azurite), through the async azure-storage-blob client.

Identity: ``source_id`` is ``blob:<account>/<container>/<name>``, ``path`` is ``<container>/<name>`` and ``scope`` is
``blob:<account>/<container>/<prefix>``: a prefix in the blob-listing sense (``docs/a`` covers ``docs/a.pdf`` and
``docs/ab/c.pdf``). ``content_version`` is ``md5:<base64>`` from the blob's Content-MD5 when the service has one,
else ``etag:<etag>``.

ACL (``acl``): the blob's ``oids`` / ``groups`` metadata (ingestion/acl.py), or with an ``acl_reader``
(``ACL_SOURCE=adls``) the file's POSIX ACL in an ADLS Gen2 account (ingestion/sources/adls_acl.py).

Listed: every blob under the prefix except "directory" placeholders (empty blobs with ``hdi_isfolder`` metadata, as
ADLS Gen2 and Storage Explorer create) and names with any ``/``-separated segment starting with ``.`` (the prefix
included). SDK errors are translated here, once: a missing blob is bad input, a refused credential is configuration
(never with the key or SAS in the message), 429/503 is throttling, connection failures, timeouts and 5xx are transient.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
from collections.abc import AsyncIterator, Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import (
    AzureError,
    ResourceNotFoundError,
)
from azure.storage.blob.aio import ContainerClient

from ingestion.acl import Acl, from_metadata
from ingestion.cloud.credentials import default_credential
from ingestion.cloud.storage_errors import translate_storage_error
from ingestion.errors import (
    BadInputError,
    ConfigurationError,
    DocumentTooLargeError,
    IngestionError,
)
from ingestion.models import SourceItem
from ingestion.sources.base import BLOB_SCHEME

if TYPE_CHECKING:
    from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.storage.blob import BlobProperties

    Credential = AsyncTokenCredential | AzureNamedKeyCredential | AzureSasCredential | str


def blob_source_id(account: str, container: str, name: str) -> str:
    return f"{BLOB_SCHEME}{account}/{container}/{name}"


def parse_blob_url(url: str) -> tuple[str, str, str]:
    """``(account, container, name)`` of a blob URL, Azure-style or path-style (Azurite); the name URL-decoded.

    ``https://acct.blob.core.windows.net/docs/a%20b.pdf`` and ``http://127.0.0.1:10000/acct/docs/a%20b.pdf`` both give
    ``("acct", "docs", "a b.pdf")``. The URL is an Event Grid event's ``url``: it carries no query string, and a blob
    name may hold a raw ``?`` or ``#`` (Event Grid does not encode them), so everything after the container is the
    name. Raises BadInputError for a URL that does not name a blob, or whose name is not UTF-8 once decoded.
    """
    scheme, separator, rest = url.partition("://")
    authority, _, path = rest.partition("/")
    if not separator or not scheme or not authority or any(c in authority for c in "?#"):
        raise BadInputError(f"not a blob URL: {_safe_url(url)}")
    try:
        host = urlsplit(f"{scheme}://{authority}").hostname or ""
    except ValueError:  # e.g. an unbalanced "[" in the host
        raise BadInputError(f"not a blob URL: {_safe_url(url)}") from None
    account, segments = _account_and_segments(host, path)
    if account and len(segments) >= 2 and segments[0] and any(segments[1:]):
        try:
            name = unquote("/".join(segments[1:]), errors="strict")
        except UnicodeDecodeError:
            raise BadInputError(f"not a blob URL (the name is not UTF-8): {_safe_url(url)}") from None
        return account, segments[0], name
    raise BadInputError(f"not a blob URL: {_safe_url(url)}")


class BlobContainerSource:
    """A ``Source`` over one blob container, optionally restricted to names starting with ``prefix``.

    Give either ``connection_string`` (account key, SAS or ``UseDevelopmentStorage=true``) or ``account_url`` with a
    ``credential``; without one, a ``DefaultAzureCredential`` is created on first use and closed by ``close()``.
    ``acl_reader`` (an ``AdlsAclReader``, closed by ``close()``) reads ACLs instead of the blobs' metadata.
    """

    def __init__(
        self,
        container: str,
        *,
        connection_string: str | None = None,
        account_url: str | None = None,
        credential: Credential | None = None,
        prefix: str = "",
        max_concurrency: int = 4,
        retry_total: int | None = None,
        acl_reader: Any = None,
    ) -> None:
        if (connection_string is None) == (account_url is None):
            raise ConfigurationError("blob source needs exactly one of a storage connection string or an account URL")
        if max_concurrency < 1:
            raise ConfigurationError(f"blob source max_concurrency must be >= 1, got {max_concurrency}")
        self.container = container
        self.prefix = prefix
        self.acl_reader = acl_reader
        self._max_concurrency = max_concurrency
        self._account_url = account_url
        self._credential = credential
        self._owned_credential: AsyncTokenCredential | None = None
        self._client: ContainerClient | None = None
        # The pipeline retries transient errors itself; callers may turn the SDK's own retries down (None: SDK default).
        self._options: dict[str, Any] = {} if retry_total is None else {"retry_total": retry_total}
        if connection_string is not None:
            try:
                self._client = ContainerClient.from_connection_string(connection_string, container, **self._options)
            except ValueError as error:
                raise ConfigurationError("storage connection string is malformed") from error
            account = self._client.account_name
        else:
            account = _split_account(account_url or "")[0]
        if not account:
            raise ConfigurationError("cannot tell the storage account name from the storage settings")
        self.account_name: str = account
        self.scope = blob_source_id(account, container, prefix)

    async def list(self) -> AsyncIterator[SourceItem]:
        client = self._container_client()
        pages = client.list_blobs(name_starts_with=self.prefix or None, include=["metadata"], results_per_page=5000)
        try:
            async for properties in pages:
                if _is_document(properties.name, properties.size, properties.metadata):
                    yield self._item(properties)
        except (AzureError, TimeoutError) as error:
            missing = ConfigurationError(f"container {self.container} does not exist in account {self.account_name}")
            raise _translate(error, subject=f"listing {self.scope}", not_found=missing) from error

    async def read(self, item: SourceItem, *, max_bytes: int) -> bytes:
        if item.size > max_bytes:
            raise _too_large(item.path, item.size, max_bytes)
        name = self._name_of(item.source_id)
        if name is None:
            raise BadInputError(f"{item.path}: not a blob of {self.scope}")
        # Ask for at most max_bytes + 1 bytes: enough to tell "too large" without downloading the rest.
        window: dict[str, int] = {"offset": 0, "length": max_bytes + 1} if item.size > 0 else {}
        try:
            downloader = await self._container_client().download_blob(
                name, max_concurrency=self._max_concurrency, **window
            )
            if downloader.size > max_bytes:
                raise _too_large(item.path, None, max_bytes)
            data = await downloader.readall()
        except (AzureError, TimeoutError) as error:
            missing = BadInputError(f"{item.path}: blob no longer exists (the source changed during the run)")
            raise _translate(error, subject=item.path, not_found=missing) from error
        if len(data) > max_bytes:
            raise _too_large(item.path, None, max_bytes)
        return data

    async def get(self, source_id: str) -> SourceItem | None:
        name = self._name_of(source_id)
        if name is None or not _is_document(name, 1, {}):
            return None
        path = f"{self.container}/{name}"
        try:
            properties = await self._container_client().get_blob_client(name).get_blob_properties()
        except ResourceNotFoundError:
            return None
        except (AzureError, TimeoutError) as error:
            raise _translate(error, subject=path, not_found=BadInputError(f"{path}: blob no longer exists")) from error
        if not _is_document(name, properties.size, properties.metadata):
            return None
        return self._item(properties, name=name)

    def narrow(self, prefix: str) -> BlobContainerSource:
        """A view of the blobs under ``self.prefix + prefix`` sharing this source's clients (close only this one)."""
        view = copy.copy(self)
        view.prefix = self.prefix + prefix
        view.scope = blob_source_id(self.account_name, self.container, view.prefix)
        return view

    async def acl(self, item: SourceItem) -> Acl | None:
        if self.acl_reader is None:
            return from_metadata(item.metadata, path=item.path)
        name = self._name_of(item.source_id)
        if name is None:
            raise BadInputError(f"{item.path}: not a blob of {self.scope}")
        return await self.acl_reader.read(name, path=item.path)

    async def close(self) -> None:
        reader, self.acl_reader = self.acl_reader, None
        if reader is not None:
            await reader.close()
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        credential, self._owned_credential = self._owned_credential, None
        if credential is not None:
            await credential.close()

    def _container_client(self) -> ContainerClient:
        if self._client is not None:
            return self._client
        if self._account_url is None:
            raise ConfigurationError(f"blob source {self.scope} is closed")
        credential = self._credential
        if credential is None:
            credential = self._owned_credential = default_credential()
        try:
            self._client = ContainerClient(self._account_url, self.container, credential=credential, **self._options)
        except ValueError as error:  # e.g. a token credential over plain http
            url = _safe_url(self._account_url)
            raise ConfigurationError(f"storage account URL {url} is not usable: {error}") from error
        return self._client

    def _name_of(self, source_id: str) -> str | None:
        if not source_id.startswith(self.scope):
            return None
        name = source_id[len(blob_source_id(self.account_name, self.container, "")) :]
        return name or None

    def _item(self, properties: BlobProperties, *, name: str | None = None) -> SourceItem:
        name = name or properties.name
        settings = properties.content_settings
        md5 = settings.content_md5 if settings is not None else None
        if md5:
            version = "md5:" + base64.b64encode(bytes(md5)).decode("ascii")
        else:
            version = "etag:" + (properties.etag or "").strip('"')
        modified = properties.last_modified
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        return SourceItem(
            source_id=blob_source_id(self.account_name, self.container, name),
            path=f"{self.container}/{name}",
            size=properties.size,
            last_modified=modified,
            content_version=version,
            content_type=(settings.content_type or None) if settings is not None else None,
            metadata=dict(properties.metadata or {}),
        )


def _is_document(name: str, size: int, metadata: Mapping[str, str] | None) -> bool:
    if any(segment.startswith(".") for segment in name.split("/")):
        return False
    if size == 0:
        folder = {key.lower(): str(value).lower() for key, value in (metadata or {}).items()}.get("hdi_isfolder")
        if folder == "true":
            return False
    return True


def _translate(error: Exception, *, subject: str, not_found: IngestionError) -> IngestionError:
    """One SDK error as an error of ingestion.errors (``cloud.storage_errors``); ``not_found`` is what a 404 means
    here, and its kind (bad input vs configuration) is also used for other refusals."""
    return translate_storage_error(error, subject=subject, transient=frozenset({412, 416}), not_found=not_found)


def _too_large(path: str, size: int | None, max_bytes: int) -> DocumentTooLargeError:
    actual = f"{size} bytes" if size is not None else "it grew after listing"
    return DocumentTooLargeError(f"{path}: over the {max_bytes}-byte document limit ({actual})")


def _split_account(url: str) -> tuple[str, list[str]]:
    """The account name and the remaining raw path segments of a storage URL (path-style for IPs and bare hosts)."""
    parts = urlsplit(url)
    return _account_and_segments(parts.hostname or "", parts.path)


def _account_and_segments(host: str, path: str) -> tuple[str, list[str]]:
    segments = path.lstrip("/").split("/") if path.strip("/") else []
    if "." not in host or _is_ip(host):
        return (segments[0] if segments else ""), segments[1:]
    return host.split(".", 1)[0], segments


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _safe_url(url: str) -> str:
    """The URL without its query string (a SAS token lives there) or user info, cut to 200 characters."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        shown = f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
    except ValueError:  # a malformed host or port
        shown = "(malformed URL)"
    return shown if len(shown) <= 200 else shown[:200] + "..."
