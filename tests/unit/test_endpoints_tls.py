"""Credentials (API keys and bearer tokens) travel over TLS only, except to loopback (issue 15).

Checked twice: by Settings (the deployment fails at start, naming the setting) and by each adapter's constructor
(code that builds one directly gets the same rule), for Azure OpenAI, Azure AI Search, Document Intelligence and
storage. Nothing here opens a connection: a refused endpoint must be refused before any request."""

from __future__ import annotations

import pytest
from azure.core.credentials import AzureKeyCredential

from ingestion.cracking.docintel import DocumentIntelligenceCracker
from ingestion.cracking.registry import LocalCracker
from ingestion.embedding.azure_openai import AzureOpenAIEmbedder
from ingestion.endpoints import is_loopback, require_tls
from ingestion.errors import ConfigurationError
from ingestion.indexing.azure.admin import AzureIndexAdmin
from ingestion.indexing.azure.index import AzureSearchIndex
from ingestion.settings import Secret, Settings
from ingestion.tokenizer import get_tokenizer

REMOTE_HTTP = "http://service.example.com"
KEY = "SUPERSECRETKEY123"
OPENAI = {"AZURE_OPENAI_ENDPOINT": REMOTE_HTTP, "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "e"}


class StaticToken:
    async def get_token(self, *scopes: str, **kwargs: object) -> object:
        raise AssertionError("no token may be asked for: the endpoint must be refused first")

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        (OPENAI, "AZURE_OPENAI_ENDPOINT"),
        ({**OPENAI, "AZURE_OPENAI_API_KEY": "k"}, "AZURE_OPENAI_ENDPOINT"),
        ({"AZURE_SEARCH_ENDPOINT": REMOTE_HTTP}, "AZURE_SEARCH_ENDPOINT"),
        ({"AZURE_SEARCH_ENDPOINT": REMOTE_HTTP, "AZURE_SEARCH_API_KEY": KEY}, "AZURE_SEARCH_ENDPOINT"),
        ({"DOCUMENTINTELLIGENCE_ENDPOINT": REMOTE_HTTP}, "DOCUMENTINTELLIGENCE_ENDPOINT"),
        (
            {"DOCUMENTINTELLIGENCE_ENDPOINT": REMOTE_HTTP, "DOCUMENTINTELLIGENCE_API_KEY": KEY},
            "DOCUMENTINTELLIGENCE_ENDPOINT",
        ),
        ({"AZURE_STORAGE_ACCOUNT_URL": "http://acct.blob.core.windows.net"}, "AZURE_STORAGE_ACCOUNT_URL"),
        ({"DocumentStorage__queueServiceUri": "http://acct.queue.example.com"}, "DocumentStorage__queueServiceUri"),
        (
            {"AZURE_STORAGE_CONNECTION_STRING": f"DefaultEndpointsProtocol=http;AccountName=a;AccountKey={KEY}"},
            "connection string",
        ),
        (
            {"AZURE_STORAGE_CONNECTION_STRING": f"AccountName=a;AccountKey={KEY};BlobEndpoint=http://a.example.com"},
            "blobendpoint",
        ),
        ({"AZURE_SEARCH_ENDPOINT": "ftp://search.example.com"}, "AZURE_SEARCH_ENDPOINT"),
        ({"AZURE_SEARCH_ENDPOINT": "http://[::1"}, "AZURE_SEARCH_ENDPOINT"),
    ],
)
def test_settings_refuse_a_plain_http_endpoint_off_loopback(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigurationError, match=setting) as caught:
        Settings.from_env(env)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:8080", "http://localhost:1234/x", "http://[::1]:9", "http://127.8.9.10", "https://a.example.com"],
)
def test_https_anywhere_and_plain_http_to_loopback_are_allowed(endpoint: str) -> None:
    settings = Settings.from_env(
        {
            "AZURE_OPENAI_ENDPOINT": endpoint,
            "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "e",
            "AZURE_SEARCH_ENDPOINT": endpoint,
            "DOCUMENTINTELLIGENCE_ENDPOINT": endpoint,
            "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
        }
    )
    assert settings.azure_search_endpoint == endpoint


@pytest.mark.parametrize("host", ["127.0.0.1.example.com", "localhost.example.com", "10.0.0.1", "0.0.0.0", ""])
def test_only_real_loopback_counts(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigurationError):
        require_tls("X", f"http://{host}/")


@pytest.mark.parametrize("api_key", [KEY, None])
def test_azure_openai_embedder_refuses_remote_plain_http(api_key: str | None) -> None:
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_ENDPOINT"):
        AzureOpenAIEmbedder(
            endpoint=REMOTE_HTTP,
            deployment="e",
            tokenizer=get_tokenizer(),
            api_key=Secret(api_key) if api_key else None,
            credential=None if api_key else StaticToken(),  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("credential", [AzureKeyCredential(KEY), StaticToken()])
def test_azure_search_refuses_remote_plain_http(credential: object) -> None:
    with pytest.raises(ConfigurationError, match="AZURE_SEARCH_ENDPOINT"):
        AzureSearchIndex(REMOTE_HTTP, "grounding-v1", 8, credential=credential)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="AZURE_SEARCH_ENDPOINT"):
        AzureIndexAdmin(REMOTE_HTTP, "grounding", credential=credential)  # type: ignore[arg-type]


@pytest.mark.parametrize("with_key", [True, False])
def test_document_intelligence_refuses_remote_plain_http(with_key: bool) -> None:
    with pytest.raises(ConfigurationError, match="DOCUMENTINTELLIGENCE_ENDPOINT"):
        DocumentIntelligenceCracker(
            REMOTE_HTTP,
            fallback=LocalCracker(),
            api_key=Secret(KEY) if with_key else None,
            credential=None if with_key else StaticToken(),  # type: ignore[arg-type]
        )
