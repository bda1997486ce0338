"""What the Functions host does around our handlers, done by hand against a real Azurite (``func start`` cannot run
here: Core Tools downloads from a CDN).

* Blob trigger: the host sends "model binding data" (connection name, container, blob name) and the SDK-type
  extension's converter turns it into a ``BlobClient``; ``blob_client`` runs that same converter.
* Queue trigger: messages are base64 on the wire; the host decodes them, passes the dequeue count, deletes the
  message when the function returns, makes it visible again when it raises, and moves it to ``<queue>-poison``
  once the dequeue count reaches ``maxDequeueCount``. ``deliver`` / ``drain`` do exactly that.
* Event Grid: a ``func.EventGridEvent`` as the Event Grid trigger builds it from a storage event.
* Indexing: the worker imports function_app and reads ``app.get_functions()`` once; ``fresh_app`` re-imports it so
  that each test can index it again (with other settings).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
import random
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType

import azure.functions as func
import azure.functions.queue
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob.aio import ContainerClient
from azure.storage.queue import QueueMessage as RawMessage
from azure.storage.queue.aio import QueueClient
from azurefunctions.extensions.base import Datum
from azurefunctions.extensions.bindings.blob import BlobClient, BlobClientConverter

import ingestion.functions
from ingestion.settings import STORAGE_CONNECTION

APP_MODULES = ("function_app", "ingestion.functions.blobs", "ingestion.functions.reindex", "ingestion.functions.http")

QueueHandler = Callable[[func.QueueMessage], Awaitable[None]]


@dataclass(frozen=True)
class ModelBindingData:
    """The fields of the host's ``ModelBindingData`` protobuf that the blob extension reads."""

    version: str
    source: str
    content_type: str
    content: str


def fresh_app() -> ModuleType:
    """Import function_app and its blueprints anew, as the worker does when it indexes the app."""
    for name in APP_MODULES:
        sys.modules.pop(name, None)
        package, _, attribute = name.rpartition(".")
        if package == "ingestion.functions":
            vars(ingestion.functions).pop(attribute, None)
    return importlib.import_module("function_app")


def bindings(function: object) -> list[dict[str, object]]:
    """One function's bindings as the host reads them (its function.json)."""
    return json.loads(function.get_function_json())["bindings"]  # type: ignore[attr-defined]


def blob_client(container: str, name: str) -> object:
    """The object the worker passes to a blob trigger annotated with the SDK type, built by the real converter."""
    content = json.dumps({"Connection": STORAGE_CONNECTION, "ContainerName": container, "BlobName": name})
    data = ModelBindingData("1.0", "AzureStorageBlobs", "application/json", content)
    return BlobClientConverter.decode(Datum(data, "model_binding_data"), trigger_metadata=None, pytype=BlobClient)


def storage_event(event_type: str, url: str, *, subject: str = "") -> func.EventGridEvent:
    data = {"api": "DeleteBlob", "url": url, "contentType": "text/plain", "blobType": "BlockBlob"}
    return func.EventGridEvent(
        id=secrets.token_hex(8),
        data=data,
        topic="/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
        subject=subject or url,
        event_type=event_type,
        event_time=datetime.now(UTC),
        data_version="",
    )


class FunctionsHost:
    def __init__(self, connection_string: str, *, container: str, queue: str, max_dequeue_count: int = 5) -> None:
        self.container = ContainerClient.from_connection_string(connection_string, container)
        # No message policies: the raw base64 text, as it is on the wire.
        self.queue = QueueClient.from_connection_string(connection_string, queue)
        self.poison = QueueClient.from_connection_string(connection_string, f"{queue}-poison")
        self.max_dequeue_count = max_dequeue_count
        self.delivered = 0

    async def upload(self, name: str, data: bytes | str) -> None:
        await self.container.upload_blob(name, data, overwrite=True)

    async def delete(self, name: str) -> None:
        await self.container.delete_blob(name)

    def blob_url(self, name: str) -> str:
        return f"{self.container.url}/{name}"

    async def names(self) -> set[str]:
        return {blob.name async for blob in self.container.list_blobs()}

    async def receive(self, count: int = 32, *, visibility_timeout: int = 60) -> list[RawMessage]:
        """Dequeue up to ``count`` messages (each hidden for ``visibility_timeout`` s until settled)."""
        pages = self.queue.receive_messages(
            messages_per_page=min(count, 32), max_messages=count, visibility_timeout=visibility_timeout
        )
        return [message async for message in pages]

    @staticmethod
    def as_trigger(raw: RawMessage) -> func.QueueMessage:
        """The queue trigger's view of a message (the worker's ``azure.functions.queue.QueueMessage``): the body
        base64-decoded, with its id and dequeue count."""
        body = base64.b64decode(raw.content)
        return azure.functions.queue.QueueMessage(
            id=raw.id, body=body, dequeue_count=raw.dequeue_count, pop_receipt=raw.pop_receipt
        )

    async def deliver(self, raw: RawMessage, handler: QueueHandler, *, complete: bool = True) -> BaseException | None:
        """Run the handler on one message and settle it as the host would; ``complete=False`` simulates a crash
        after the handler returned but before the host deleted the message (it is redelivered later)."""
        self.delivered += 1
        try:
            await handler(self.as_trigger(raw))
        except Exception as error:
            if raw.dequeue_count >= self.max_dequeue_count:
                await self._poison(raw)
            else:
                await self.queue.update_message(raw, pop_receipt=raw.pop_receipt, visibility_timeout=0)
            return error
        if complete:
            await self.queue.delete_message(raw, pop_receipt=raw.pop_receipt)
        else:
            await self.queue.update_message(raw, pop_receipt=raw.pop_receipt, visibility_timeout=0)
        return None

    async def drain(
        self,
        handler: QueueHandler,
        *,
        concurrency: int = 1,
        shuffle: random.Random | None = None,
        duplicate: Callable[[func.QueueMessage], bool] | None = None,
        max_rounds: int = 200,
    ) -> list[BaseException]:
        """Deliver messages until the queue is empty; ``duplicate(message)`` true = also redeliver it once later."""
        errors: list[BaseException] = []
        redeliver: set[str] = set()
        for _ in range(max_rounds):
            batch = await self.receive(concurrency)
            if not batch:
                return errors
            if shuffle is not None:
                shuffle.shuffle(batch)

            async def one(raw: RawMessage) -> BaseException | None:
                again = duplicate is not None and raw.id not in redeliver and duplicate(self.as_trigger(raw))
                if again:
                    redeliver.add(raw.id)
                return await self.deliver(raw, handler, complete=not again)

            results = await asyncio.gather(*(one(raw) for raw in batch))
            errors.extend(error for error in results if error is not None)
        raise AssertionError(f"queue not drained after {max_rounds} rounds")

    async def poison_bodies(self) -> list[dict[str, object]]:
        messages = self.poison.peek_messages(max_messages=32)
        return [json.loads(base64.b64decode(message.content)) for message in await messages]

    async def _poison(self, raw: RawMessage) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.poison.create_queue()
        await self.poison.send_message(raw.content)
        await self.queue.delete_message(raw, pop_receipt=raw.pop_receipt)

    async def close(self) -> None:
        for client in (self.container, self.queue, self.poison):
            await client.close()


def bodies(messages: Sequence[RawMessage]) -> list[dict[str, object]]:
    return [json.loads(base64.b64decode(message.content)) for message in messages]
