"""host.json and local.settings.sample.json agree with the code that relies on them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ingestion.settings import STORAGE_CONNECTION, Settings
from tests.functions.host import bindings, fresh_app

ROOT = Path(__file__).resolve().parents[2]
HOST = json.loads((ROOT / "host.json").read_text())
LOCAL = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
# Settings.from_env reads these as alternatives to the DocumentStorage connection string used locally.
ALTERNATIVES = {
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_URL",
    f"{STORAGE_CONNECTION}__blobServiceUri",
    f"{STORAGE_CONNECTION}__queueServiceUri",
    f"{STORAGE_CONNECTION}__tableServiceUri",
}


class RecordingEnv(dict[str, str]):
    """An empty environment that remembers every name Settings.from_env asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.append(name)
        return super().get(name, default)


def settings_named_by_function() -> dict[str, set[str]]:
    """Per function, every app setting its bindings make the host resolve: ``%NAME%`` values and ``connection``."""
    named: dict[str, set[str]] = {}
    for function in fresh_app().app.get_functions():
        names = named.setdefault(function.get_function_name(), set())
        for binding in bindings(function):
            names.update(name for value in binding.values() for name in re.findall(r"%([^%]+)%", str(value)))
            if "connection" in binding:
                names.add(str(binding["connection"]))
    return named


# What each function's bindings must name: a setting that moves or disappears must show up here as a failure.
NAMED_SETTINGS = {
    "ingest_blob": {"SOURCE_CONTAINER", STORAGE_CONNECTION},
    "delete_blob": set(),
    "reindex_timer": {"REINDEX_SCHEDULE"},
    "reindex_worker": {"REINDEX_QUEUE", STORAGE_CONNECTION},
    "reindex_reconcile": set(),
    "reindex_now": set(),
    "run_status": set(),
    "health": set(),
}


def test_host_json_pins_the_bundle_and_matches_the_retry_policy() -> None:
    assert HOST["version"] == "2.0"
    assert HOST["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    queues = HOST["extensions"]["queues"]
    # The handler records a document as failed on the attempt the host will poison: both must agree.
    assert queues["maxDequeueCount"] == Settings().reindex_max_dequeue_count == 5
    assert queues["messageEncoding"] == "base64"  # the queue clients use TextBase64EncodePolicy
    assert 1 <= queues["batchSize"] <= 32
    assert HOST["extensions"]["blobs"]["poisonBlobThreshold"] == 5
    hours, minutes, seconds = (int(part) for part in HOST["functionTimeout"].split(":"))
    timeout = hours * 3600 + minutes * 60 + seconds
    assert 0 < timeout <= 30 * 60  # Flex default; longer needs an explicit choice
    # One document must be stopped well before the host kills the worker (and every invocation on it) at timeout,
    # even on Consumption's 5-minute default.
    assert Settings().document_timeout_seconds < min(timeout, 5 * 60)


def test_local_settings_name_every_setting_the_app_reads() -> None:
    env = RecordingEnv()
    Settings.from_env(env)
    assert set(env.asked) - ALTERNATIVES - set(LOCAL) == set()
    assert LOCAL["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert LOCAL["AzureWebJobsStorage"] == LOCAL[STORAGE_CONNECTION] == "UseDevelopmentStorage=true"


def test_local_settings_are_valid_and_safe_for_local_development() -> None:
    settings = Settings.from_env(LOCAL)
    assert (settings.embedding_backend, settings.index_backend) == ("local", "local")
    assert settings.blob_trigger_source == "LogsAndContainerScan"  # Azurite has no Event Grid
    assert settings.reindex_schedule == "0 0 2 * * *"
    assert not any(key.endswith("_API_KEY") and value for key, value in LOCAL.items())


def test_every_setting_a_binding_names_exists_locally() -> None:
    named = settings_named_by_function()
    assert named == NAMED_SETTINGS
    missing = {function: sorted(names - set(LOCAL)) for function, names in named.items() if names - set(LOCAL)}
    assert missing == {}, "the host resolves these %NAME% / connection settings: they must be app settings"


def test_docs_describe_every_local_setting() -> None:
    docs = (ROOT / "docs" / "functions.md").read_text()
    assert [name for name in LOCAL if f"`{name}`" not in docs] == []
