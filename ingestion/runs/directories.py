"""A deleted directory (hierarchical namespace) is handled on the reindex queue, not inside the Event Grid delivery.

Removing every indexed document under a large directory takes one index listing plus one blob check and one delete
per document: far longer than the ~30 s Event Grid waits for the trigger before it retries the delivery. The Event
Grid trigger only enqueues ``{"v": 1, "kind": "delete_directory", "url": ...}``; the queue worker does the work
(``LiveUpdates.delete_directory``, idempotent), with the host's retries and ``<queue>-poison`` like any message.
"""

from __future__ import annotations

import json

from ingestion.runs.queue import WorkQueue
from ingestion.runs.records import MESSAGE_VERSION

KIND = "delete_directory"


def encode_directory_delete(url: str) -> str:
    return json.dumps({"v": MESSAGE_VERSION, "kind": KIND, "url": url}, ensure_ascii=False)


def directory_delete_url(body: bytes | str) -> str | None:
    """The directory URL when ``body`` is a directory-delete message, else None (a run's message, or malformed)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION or data.get("kind") != KIND:
        return None
    url = data.get("url")
    return url if isinstance(url, str) and url else None


async def enqueue_directory_delete(queue: WorkQueue, url: str) -> None:
    await queue.send(encode_directory_delete(url))
