"""Blob URLs and identities, and BlobContainerSource's construction rules (no network)."""

from __future__ import annotations

import re

import pytest

from ingestion.errors import BadInputError, ConfigurationError
from ingestion.sources.blob import BlobContainerSource, blob_source_id, parse_blob_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://acct.blob.core.windows.net/docs/a.pdf", ("acct", "docs", "a.pdf")),
        ("https://acct.blob.core.windows.net/docs/dir/sub/a%20b.pdf", ("acct", "docs", "dir/sub/a b.pdf")),
        (
            "https://acct.blob.core.windows.net/docs/%C3%BCber/r%C3%A9sum%C3%A9.docx",
            ("acct", "docs", "über/résumé.docx"),
        ),
        ("https://acct.blob.core.windows.net/docs/a+b%2Bc.txt", ("acct", "docs", "a+b+c.txt")),
        ("https://acct.blob.core.chinacloudapi.cn/docs/a.pdf", ("acct", "docs", "a.pdf")),
        ("http://127.0.0.1:10000/devstoreaccount1/docs/a%20b.pdf", ("devstoreaccount1", "docs", "a b.pdf")),
        ("http://localhost:10000/devstoreaccount1/docs/x/y.txt", ("devstoreaccount1", "docs", "x/y.txt")),
        ("http://[::1]:10000/devstoreaccount1/docs/y.txt", ("devstoreaccount1", "docs", "y.txt")),
        ("http://devstoreaccount1.blob.localhost:10000/docs/y.txt", ("devstoreaccount1", "docs", "y.txt")),
        # Event Grid URLs carry no query string; a raw "?" or "#" belongs to the name (issue 15)
        ("https://acct.blob.core.windows.net/docs/a.pdf?v=2", ("acct", "docs", "a.pdf?v=2")),
        ("https://acct.blob.core.windows.net/docs/notes#1.txt", ("acct", "docs", "notes#1.txt")),
        ("https://acct.blob.core.windows.net/docs/q?/#/x", ("acct", "docs", "q?/#/x")),
        ("http://127.0.0.1:10000/devstoreaccount1/docs/what?.md", ("devstoreaccount1", "docs", "what?.md")),
        ("https://acct.blob.core.windows.net/docs/a%3Fb%23c", ("acct", "docs", "a?b#c")),
    ],
)
def test_parse_blob_url(url: str, expected: tuple[str, str, str]) -> None:
    assert parse_blob_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://acct.blob.core.windows.net/docs",
        "https://acct.blob.core.windows.net/docs/",
        "https://acct.blob.core.windows.net/",
        "http://127.0.0.1:10000/devstoreaccount1/docs",
        "http://127.0.0.1:10000/",
        "not a url",
        "https://acct.blob.core.windows.net/docs/%FF.txt",
        "http://[::1/devstoreaccount1/docs/a.txt",
        "https://acct.blob.core.windows.net?/docs/a.txt",
    ],
)
def test_parse_blob_url_refuses_non_blob_urls(url: str) -> None:
    with pytest.raises(BadInputError, match="not a blob URL"):
        parse_blob_url(url)


def test_refusal_does_not_echo_a_sas_token() -> None:
    with pytest.raises(BadInputError) as caught:
        parse_blob_url("https://acct.blob.core.windows.net/docs?sv=2024&sig=SECRETSIGNATURE")
    assert "SECRETSIGNATURE" not in str(caught.value)


def test_blob_source_id_round_trips_with_parse() -> None:
    account, container, name = parse_blob_url("https://acct.blob.core.windows.net/docs/dir/a%20b.pdf")
    assert blob_source_id(account, container, name) == "blob:acct/docs/dir/a b.pdf"


def test_scope_from_connection_string_and_account_url() -> None:
    local = BlobContainerSource("docs", connection_string="UseDevelopmentStorage=true", prefix="2024/")
    assert local.scope == "blob:devstoreaccount1/docs/2024/"
    assert local.account_name == "devstoreaccount1"
    remote = BlobContainerSource("docs", account_url="https://acct.blob.core.windows.net")
    assert remote.scope == "blob:acct/docs/"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"connection_string": "UseDevelopmentStorage=true", "account_url": "https://acct.blob.core.windows.net"},
        {"connection_string": "UseDevelopmentStorage=true", "max_concurrency": 0},
    ],
)
def test_construction_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        BlobContainerSource("docs", **kwargs)  # type: ignore[arg-type]


def test_malformed_connection_string_is_a_configuration_error_without_the_secret() -> None:
    with pytest.raises(ConfigurationError) as caught:
        BlobContainerSource("docs", connection_string="AccountKey=SECRETKEY;nonsense")
    assert "SECRETKEY" not in str(caught.value)


async def test_token_credential_over_plain_http_is_a_configuration_error() -> None:
    source = BlobContainerSource("docs", account_url="http://127.0.0.1:9/devstoreaccount1")
    try:
        with pytest.raises(ConfigurationError, match=re.escape("127.0.0.1:9/devstoreaccount1")):
            await source.get("blob:devstoreaccount1/docs/a.txt")
    finally:
        await source.close()
