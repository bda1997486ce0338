"""ACLs from ADLS Gen2 (``ACL_SOURCE=adls``): the POSIX ACL mapping, the reader through the real
azure-storage-file-datalake SDK against the fake dfs endpoint, and an ingest from Azurite whose ACLs live there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.blob import BlobServiceClient

from ingestion.acl import Acl
from ingestion.cli import main
from ingestion.errors import BadInputError, ConfigurationError, ThrottledError
from ingestion.settings import Settings
from ingestion.sources.adls_acl import AdlsAclReader, acl_from_posix
from ingestion.wiring import build_acl_reader
from tests.fakes.adls_server import FakeAdlsServer

# The key every Azurite (and the fake) accepts for devstoreaccount1: a published development key, not a secret.
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
OID_A, OID_B, GID = "0f6a1c2e-aaaa-4bbb-8ccc-000000000001", "0f6a1c2e-aaaa-4bbb-8ccc-000000000002", "g-finance"


@pytest.mark.parametrize(
    ("acl", "expected"),
    [
        (f"user::rwx,user:{OID_A}:r--,group::r-x,group:{GID}:r-x,mask::r-x,other::---", Acl.of([OID_A], [GID])),
        (f"user::rwx,user:{OID_A}:r--,user:{OID_B}:-w-,group::r-x,mask::r-x,other::---", Acl.of([OID_A])),
        (f"user::rwx,user:{OID_A}:r--,group::r-x,group:{GID}:r--,mask::-wx,other::---", Acl()),  # mask: nobody
        (f"user::rwx,user:{OID_A}:r--,group::r-x,mask::r-x,other::r--", Acl.public()),  # other may read
        ("user::rwx,group::r-x,other::---", None),  # no named entries: ACL_DEFAULT
        (f"user::rwx,group::r-x,other::---,default:user:{OID_A}:r--,default:mask::r--", None),  # defaults ignored
        (f"user::rwx,user:{OID_A}:r--,group::r-x,other::---", Acl.of([OID_A])),  # no mask: the entry counts
    ],
)
def test_posix_acls_map_named_readers_to_oids_and_groups(acl: str, expected: Acl | None) -> None:
    assert acl_from_posix(acl, path="fs/a.md") == expected


@pytest.mark.parametrize("acl", ["user::rwx,bogus", "user:a:b:c:rwx", "user::rwx,user:x:rw"])
def test_a_malformed_acl_is_bad_input_naming_the_file(acl: str) -> None:
    with pytest.raises(BadInputError, match=r"^fs/a.md: malformed ADLS ACL entry"):
        acl_from_posix(acl, path="fs/a.md")


@pytest.fixture
def adls() -> Iterator[FakeAdlsServer]:
    with FakeAdlsServer(ACCOUNT) as server:
        yield server


def reader(server: FakeAdlsServer, **options: object) -> AdlsAclReader:
    return AdlsAclReader(server.account_url, "docs", credential=AzureNamedKeyCredential(ACCOUNT, KEY), **options)


async def test_the_reader_asks_get_access_control_through_the_sdk(adls: FakeAdlsServer) -> None:
    adls.set_acl("docs", "hr/pay.md", f"user::rw-,group::r--,group:{GID}:r--,mask::r--,other::---")
    source = reader(adls)
    try:
        assert await source.read("hr/pay.md", path="docs/hr/pay.md") == Acl.of(groups=[GID])
        method, path, query = adls.requests[-1]
        assert (method, path) == ("HEAD", f"/{ACCOUNT}/docs/hr/pay.md")
        assert query["action"] == "getAccessControl" and query["upn"] == "false"  # object ids, never UPNs
        with pytest.raises(BadInputError, match=r"^docs/gone.md: file no longer exists"):
            await source.read("gone.md", path="docs/gone.md")
    finally:
        await source.close()


async def test_reader_errors_map_to_the_pipeline_tree(adls: FakeAdlsServer) -> None:
    adls.set_acl("docs", "a.md", "user::rw-,group::r--,other::r--")
    source = reader(adls, retry_total=0)
    try:
        adls.fail_requests(1, status=503, retry_after=2)
        with pytest.raises(ThrottledError):
            await source.read("a.md", path="docs/a.md")
        assert await source.read("a.md", path="docs/a.md") == Acl.public()
    finally:
        await source.close()
    wrong = AdlsAclReader(adls.account_url, "docs", credential=AzureNamedKeyCredential("otheraccount", KEY))
    try:
        with pytest.raises(ConfigurationError, match="refused the credential"):
            await wrong.read("a.md", path="docs/a.md")
    finally:
        await wrong.close()


@pytest.mark.parametrize("url", ["http://acct.dfs.core.windows.net", "ftp://acct", "acct.dfs.core.windows.net"])
def test_the_dfs_endpoint_must_be_https_off_this_machine(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"AZURE_STORAGE_DFS_URL (uses plain http|is not an http)"):
        AdlsAclReader(url, "docs")


def test_wiring_needs_a_dfs_endpoint_and_an_account_key() -> None:
    metadata = Settings.from_env({"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})
    assert build_acl_reader(metadata, "docs") is None
    azurite = {"ACL_SOURCE": "adls", "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}
    with pytest.raises(ConfigurationError, match="AZURE_STORAGE_DFS_URL"):  # Azurite's endpoint has no sibling
        build_acl_reader(Settings.from_env(azurite), "d")
    sas = "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=2024&sig=abc"
    with pytest.raises(ConfigurationError, match="needs an account key") as caught:
        build_acl_reader(Settings.from_env({"ACL_SOURCE": "adls", "AZURE_STORAGE_CONNECTION_STRING": sas}), "d")
    assert "sig=abc" not in str(caught.value)
    identity = {"ACL_SOURCE": "adls", "AZURE_STORAGE_ACCOUNT_URL": "https://acct.blob.core.windows.net"}
    assert build_acl_reader(Settings.from_env(identity), "d").account_url == "https://acct.dfs.core.windows.net"
    keyed = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net"
    settings = Settings.from_env({"ACL_SOURCE": "adls", "AZURE_STORAGE_CONNECTION_STRING": keyed})
    assert build_acl_reader(settings, "d").account_url == "https://acct.dfs.core.windows.net"


@pytest.mark.azurite
def test_ingest_from_azurite_with_acls_from_adls(
    azurite, adls: FakeAdlsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_SEARCH_ENDPOINT", "DOCUMENTINTELLIGENCE_ENDPOINT",
                 "AzureWebJobsStorage", "ACL_DEFAULT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "hash")
    monkeypatch.setenv("LOCAL_INDEX_PATH", str(tmp_path / "index.sqlite"))
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("ACL_SOURCE", "adls")
    monkeypatch.setenv("AZURE_STORAGE_DFS_URL", adls.account_url)
    container = BlobServiceClient.from_connection_string(azurite.connection_string).create_container("lake")
    container.upload_blob("hr/pay.md", b"# Pay\n\nThe quarterly pay review.\n", metadata={"groups": "ignored"})
    container.upload_blob("wiki/home.md", b"# Home\n\nThe quarterly all-hands.\n")
    adls.set_acl("lake", "hr/pay.md", f"user::rw-,user:{OID_A}:r--,group::r--,mask::r--,other::---")
    adls.set_acl("lake", "wiki/home.md", "user::rw-,group::r--,other::---")  # says nothing: ACL_DEFAULT (public)

    def search(*who: str) -> set[str]:
        assert main(["search", "quarterly", "--mode", "text", "--json", *who]) == 0
        return {hit["source"] for hit in json.loads(capsys.readouterr().out)["hits"]}

    assert main(["ingest", "--container", "lake", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 2
    assert search("--groups", "ignored") == {"lake/wiki/home.md"}  # metadata is not the ACL source
    assert search("--user", OID_A) == {"lake/hr/pay.md", "lake/wiki/home.md"}

    adls.set_acl("lake", "hr/pay.md", f"user::rw-,user:{OID_B}:r--,group::r--,mask::r--,other::---")
    assert main(["ingest", "--container", "lake", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["updated"], counts["unchanged"], counts["tokens_embedded"]) == (1, 1, 0)
    assert search("--user", OID_A) == {"lake/wiki/home.md"}
    assert search("--user", OID_B) == {"lake/hr/pay.md", "lake/wiki/home.md"}
