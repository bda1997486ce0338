"""ACLs of an ADLS Gen2 (hierarchical namespace) account: each file's POSIX access ACL, through the async
azure-storage-file-datalake client (``get_access_control`` on the account's ``dfs`` endpoint), mapped to an ``Acl``.

Mapping (``acl_from_posix``), for the file's **access** ACL ``user::rw-,user:<oid>:r--,group:<gid>:r-x,mask::r--,...``:

- named user entries (``user:<oid>:...``) with read permission -> ``oids``; named group entries -> ``groups``.
  Read permission is the *effective* one: the entry's ``r`` AND the ``mask`` entry's ``r`` when there is a mask;
- ``other`` with read permission -> public (every identity that can reach the account may read the file);
- the owning user and owning group (``user::``, ``group::``) are not mapped: they are whoever created the file
  (often the ingesting identity or ``$superuser``), not a grant anyone made; grant access with named entries;
- ``default:`` entries are ignored: a directory's default ACL is copied into a file's access ACL when the file is
  created (that is how ACLs are inherited in ADLS) and never applies to the file afterwards, so the access ACL
  already holds whatever was inherited; changing a directory's default ACL later does not change existing files;
- permissions on parent directories (the ``x`` a reader needs to traverse them) are not checked;
- a file whose ACL has no named entries and no readable ``other`` says nothing: ``ACL_DEFAULT`` applies (None). One
  with named entries but none readable is visible to nobody through a trimmed query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError

from ingestion.acl import Acl, check_ids
from ingestion.cloud.credentials import default_credential
from ingestion.cloud.storage_errors import translate_storage_error
from ingestion.endpoints import require_tls
from ingestion.errors import BadInputError, ConfigurationError

if TYPE_CHECKING:
    from azure.storage.filedatalake.aio import DataLakeServiceClient


def acl_from_posix(acl: str, *, path: str) -> Acl | None:
    """The ``Acl`` a POSIX access ACL string grants (see the module docstring); BadInputError if it is malformed."""
    named: dict[str, list[tuple[str, str]]] = {"user": [], "group": []}
    mask, other = None, ""
    for entry in (part.strip() for part in acl.split(",") if part.strip()):
        fields = entry.split(":")
        if fields[0] == "default":
            continue
        if len(fields) != 3 or fields[0] not in ("user", "group", "mask", "other") or len(fields[2]) != 3:
            raise BadInputError(f"{path}: malformed ADLS ACL entry {entry[:80]!r}")
        kind, qualifier, permissions = fields
        if kind == "mask":
            mask = permissions
        elif kind == "other":
            other = permissions
        elif qualifier:
            named[kind].append((qualifier, permissions))
    if other.startswith("r"):
        return Acl.public()
    if not named["user"] and not named["group"]:
        return None

    def readable(kind: str) -> list[str]:
        return [q for q, p in named[kind] if p.startswith("r") and (mask is None or mask.startswith("r"))]

    return Acl.of(
        check_ids(readable("user"), what=f"{path}: ADLS ACL user"),
        check_ids(readable("group"), what=f"{path}: ADLS ACL group"),
    )


class AdlsAclReader:
    """Reads files' access ACLs from file system (container) ``file_system`` at ``account_url`` (the ``dfs``
    endpoint). ``credential`` as for the blob source (None: ``DefaultAzureCredential``, created on first use)."""

    def __init__(
        self,
        account_url: str,
        file_system: str,
        *,
        credential: Any = None,
        retry_total: int | None = None,
    ) -> None:
        require_tls("AZURE_STORAGE_DFS_URL", account_url)
        self.account_url = account_url.rstrip("/")
        self.file_system = file_system
        self._credential = credential
        self._owned: Any = None
        self._options: dict[str, Any] = {} if retry_total is None else {"retry_total": retry_total}
        self._client: DataLakeServiceClient | None = None

    async def read(self, name: str, *, path: str) -> Acl | None:
        """The ACL of file ``name``; BadInputError when it no longer exists, TransientError/ConfigurationError as
        the blob source maps storage errors."""
        client = self._service().get_file_client(self.file_system, name)
        try:
            properties = await client.get_access_control(upn=False)
        except (AzureError, TimeoutError) as error:
            missing = BadInputError(f"{path}: file no longer exists (the source changed during the run)")
            subject = f"{path}: reading its ADLS ACL"
            raise translate_storage_error(error, subject=subject, not_found=missing) from error
        return acl_from_posix(str(properties.get("acl") or ""), path=path)

    def _service(self) -> DataLakeServiceClient:
        if self._client is None:
            from azure.storage.filedatalake.aio import DataLakeServiceClient

            credential = self._credential
            if credential is None:
                credential = self._owned = default_credential()
            self._client = DataLakeServiceClient(self.account_url, credential=credential, **self._options)
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        owned, self._owned = self._owned, None
        if owned is not None:
            await owned.close()


def account_key(connection_string: str) -> tuple[str, Any]:
    """The blob endpoint and an account-key credential from a storage connection string (ConfigurationError when it
    is malformed or holds no account key, e.g. a SAS: never quoting it)."""
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.storage.blob import BlobServiceClient

    try:
        client = BlobServiceClient.from_connection_string(connection_string)
    except ValueError as error:
        raise ConfigurationError("storage connection string is malformed") from error
    shared = client.credential
    name, key = getattr(shared, "account_name", None), getattr(shared, "account_key", None)
    if not name or not key:
        raise ConfigurationError(
            "ACL_SOURCE=adls needs an account key in AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_URL "
            "with a managed identity (a SAS cannot read ACLs here)"
        )
    return client.primary_endpoint, AzureNamedKeyCredential(name, key)
