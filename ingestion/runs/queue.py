"""The reindex work queue (and its poison queue) through the async azure-storage-queue client.

Messages are base64 text, as the Functions host expects by default: the clients given here must be built with
``TextBase64EncodePolicy`` / ``TextBase64DecodePolicy`` (``ingestion/functions/clients.py`` does). SDK errors become
ingestion errors here, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.queue.aio import QueueClient

from ingestion.cloud.storage_errors import translate_storage_error
from ingestion.errors import IngestionError

POISON_SUFFIX = "-poison"


class WorkQueue:
    """Send to the work queue, and look at what the host moved to ``<queue>-poison``.

    ``watch`` are further queues whose length the status shows (e.g. the blob trigger's ``webjobs-blobtrigger-poison``).
    """

    def __init__(
        self,
        queue: QueueClient,
        poison: QueueClient,
        *,
        watch: Sequence[QueueClient] = (),
        send_concurrency: int = 32,
    ) -> None:
        if send_concurrency < 1:
            raise ValueError("send_concurrency must be >= 1")
        self.name = queue.queue_name
        self.poison_name = poison.queue_name
        self._queue = queue
        self._poison = poison
        self._watch = tuple(watch)
        self._send_concurrency = send_concurrency

    async def ensure(self) -> None:
        """Create the work queue if it does not exist (the host creates the poison queue when it first needs it)."""
        try:
            await self._queue.create_queue()
        except ResourceExistsError:
            return
        except (AzureError, TimeoutError) as error:
            raise _translate(error, f"creating queue {self.name}") from error

    async def send(self, text: str) -> None:
        try:
            await self._queue.send_message(text)
        except (AzureError, TimeoutError) as error:
            raise _translate(error, f"sending to queue {self.name}") from error

    async def send_all(self, texts: AsyncIterator[str] | Iterable[str]) -> int:
        """Send every text with at most ``send_concurrency`` requests in flight; return how many were sent."""
        gate = asyncio.Semaphore(self._send_concurrency)
        sent = 0

        async def one(text: str) -> None:
            try:
                await self.send(text)
            finally:
                gate.release()

        try:
            async with asyncio.TaskGroup() as group:
                async for text in _aiter(texts):
                    await gate.acquire()  # back-pressure: at most send_concurrency sends in flight
                    group.create_task(one(text))
                    sent += 1
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None
        return sent

    async def approximate_count(self) -> int:
        return await _count(self._queue, self.name)

    async def counts(self) -> dict[str, int]:
        """Approximate message count of the work queue, its poison queue and every watched queue, by name."""
        clients = (self._queue, self._poison, *self._watch)
        return {client.queue_name: await _count(client, client.queue_name) for client in clients}

    async def poison_messages(self, *, limit: int = 1000, hide_seconds: int = 60) -> list[str]:
        """Up to ``limit`` poison-queue message bodies, left in place (hidden for ``hide_seconds`` while scanned)."""
        bodies: list[str] = []
        try:
            pages = self._poison.receive_messages(
                messages_per_page=32, max_messages=limit, visibility_timeout=hide_seconds
            )
            async for message in pages:
                bodies.append(str(message.content))
        except HttpResponseError as error:
            if error.status_code == 404:  # the host has not created it: nothing was poisoned yet
                return []
            raise _translate(error, f"reading queue {self.poison_name}") from error
        except (AzureError, TimeoutError) as error:
            raise _translate(error, f"reading queue {self.poison_name}") from error
        return bodies

    async def close(self) -> None:
        await self._queue.close()
        await self._poison.close()
        for client in self._watch:
            await client.close()


async def _aiter(texts: AsyncIterator[str] | Iterable[str]) -> AsyncIterator[str]:
    if hasattr(texts, "__aiter__"):
        async for text in texts:  # type: ignore[union-attr]
            yield text
    else:
        for text in texts:  # type: ignore[union-attr]
            yield text


async def _count(client: QueueClient, name: str) -> int:
    try:
        properties = await client.get_queue_properties()
    except HttpResponseError as error:
        if error.status_code == 404:
            return 0
        raise _translate(error, f"reading queue {name}") from error
    except (AzureError, TimeoutError) as error:
        raise _translate(error, f"reading queue {name}") from error
    return int(properties.approximate_message_count or 0)


def _translate(error: Exception, subject: str) -> IngestionError:
    return translate_storage_error(error, subject=subject, service="queue", transient=frozenset({409}))
