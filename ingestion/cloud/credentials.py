"""The one place a ``DefaultAzureCredential`` is built.

The SDK's ``DefaultAzureCredential`` already honours ``AZURE_CLIENT_ID`` (a user-assigned managed identity) and the
other ``AZURE_*`` variables it documents, so nothing here reads the environment. azure.identity is imported on first
use: an adapter given an API key never loads it. Whoever calls these owns the credential and closes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.credentials_async import AsyncTokenCredential


def default_credential() -> AsyncTokenCredential:
    """An async ``DefaultAzureCredential`` (managed identity in Azure, developer sign-in locally)."""
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential()


def default_sync_credential() -> TokenCredential:
    """A synchronous ``DefaultAzureCredential``, for the few blocking calls (``deployment.target.resolve_target``)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
