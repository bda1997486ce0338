"""Settings the Functions app adds: storage connection, reindex schedule, queue and table names, run policy."""

from __future__ import annotations

import pytest

from ingestion.errors import ConfigurationError
from ingestion.settings import DEFAULT_REINDEX_SCHEDULE, Secret, Settings, blob_trigger_source, sibling_service_url


def test_defaults() -> None:
    s = Settings.from_env({})
    assert (s.reindex_schedule, s.reindex_queue, s.runs_table) == ("0 0 2 * * *", "reindex", "reindexruns")
    assert (s.reindex_max_dequeue_count, s.reindex_stall_seconds, s.blob_trigger_source) == (5, 3600, "EventGrid")
    assert s.storage_connection_string is None and s.storage_queue_url is None and s.storage_table_url is None
    assert s.reindex_schedule == DEFAULT_REINDEX_SCHEDULE


def test_document_storage_connection_string_is_a_secret_and_wins_over_the_host_storage() -> None:
    s = Settings.from_env({"DocumentStorage": "AccountKey=k3y-value", "AzureWebJobsStorage": "host-storage"})
    assert s.storage_connection_string == Secret("AccountKey=k3y-value")
    assert "k3y-value" not in repr(s)
    explicit = {"AZURE_STORAGE_CONNECTION_STRING": "explicit", "DocumentStorage": "documents"}
    assert Settings.from_env(explicit).storage_connection_string == Secret("explicit")
    assert Settings.from_env({"AzureWebJobsStorage": "host"}).storage_connection_string == Secret("host")


def test_identity_based_document_storage_reads_each_service_uri() -> None:
    env = {
        "DocumentStorage__blobServiceUri": "https://docs.blob.core.windows.net",
        "DocumentStorage__queueServiceUri": "https://docs-q.queue.core.windows.net",
        # The host's own storage must not be mistaken for the documents' account.
        "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountName=host;AccountKey=x",
    }
    s = Settings.from_env(env)
    assert s.storage_connection_string is None
    assert s.storage_account_url == "https://docs.blob.core.windows.net"
    assert s.storage_queue_url == "https://docs-q.queue.core.windows.net"
    assert s.storage_table_url == "https://docs.table.core.windows.net"  # derived from the blob endpoint


def test_sibling_service_urls_are_derived_only_from_azure_style_endpoints() -> None:
    assert sibling_service_url("https://a.blob.core.windows.net/", "queue") == "https://a.queue.core.windows.net/"
    assert sibling_service_url("http://127.0.0.1:10000/devstoreaccount1", "queue") is None
    assert sibling_service_url(None, "table") is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"REINDEX_SCHEDULE": "0 30 1 * * Sun"}, ("reindex_schedule", "0 30 1 * * Sun")),
        ({"REINDEX_SCHEDULE": " 0  */5 * * * * "}, ("reindex_schedule", "0 */5 * * * *")),
        ({"REINDEX_QUEUE": "docs-reindex-2"}, ("reindex_queue", "docs-reindex-2")),
        ({"RUNS_TABLE": "Runs2026"}, ("runs_table", "Runs2026")),
        ({"REINDEX_MAX_DEQUEUE_COUNT": "10"}, ("reindex_max_dequeue_count", 10)),
        ({"REINDEX_STALL_SECONDS": "7200"}, ("reindex_stall_seconds", 7200)),
        ({"REINDEX_DOCUMENTS_PER_MESSAGE": "1"}, ("reindex_documents_per_message", 1)),
        ({"BLOB_TRIGGER_SOURCE": "LogsAndContainerScan"}, ("blob_trigger_source", "LogsAndContainerScan")),
    ],
)
def test_valid_values(env: dict[str, str], expected: tuple[str, object]) -> None:
    name, value = expected
    assert getattr(Settings.from_env(env), name) == value


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REINDEX_SCHEDULE": "0 2 * * *"}, "REINDEX_SCHEDULE"),  # five fields: classic cron, not NCRONTAB
        ({"REINDEX_SCHEDULE": "0 0 2 * * * *"}, "REINDEX_SCHEDULE"),
        ({"REINDEX_SCHEDULE": "0 0 2 * * ;rm"}, "REINDEX_SCHEDULE"),
        ({"REINDEX_QUEUE": "Reindex"}, "REINDEX_QUEUE"),
        ({"REINDEX_QUEUE": "re--index"}, "REINDEX_QUEUE"),
        ({"REINDEX_QUEUE": "-reindex"}, "REINDEX_QUEUE"),
        ({"REINDEX_QUEUE": "ab"}, "REINDEX_QUEUE"),
        ({"REINDEX_QUEUE": "q" * 57}, "REINDEX_QUEUE"),  # no room for "-poison"
        ({"RUNS_TABLE": "runs-table"}, "RUNS_TABLE"),
        ({"RUNS_TABLE": "1runs"}, "RUNS_TABLE"),
        ({"REINDEX_MAX_DEQUEUE_COUNT": "0"}, "REINDEX_MAX_DEQUEUE_COUNT"),
        ({"REINDEX_STALL_SECONDS": "10"}, "REINDEX_STALL_SECONDS"),
        ({"REINDEX_DOCUMENTS_PER_MESSAGE": "0"}, "REINDEX_DOCUMENTS_PER_MESSAGE"),
    ],
)
def test_invalid_values_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Settings.from_env(env)


def test_blob_trigger_source_alone_is_validated_without_the_rest() -> None:
    assert blob_trigger_source({"CHUNK_MAX_TOKENS": "nonsense"}) == "EventGrid"
    assert blob_trigger_source({"BLOB_TRIGGER_SOURCE": "LogsAndContainerScan"}) == "LogsAndContainerScan"
    with pytest.raises(ConfigurationError, match="BLOB_TRIGGER_SOURCE"):
        blob_trigger_source({"BLOB_TRIGGER_SOURCE": "eventgrid"})
