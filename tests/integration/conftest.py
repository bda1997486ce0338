"""Fixtures for integration tests: a real Azurite for the session (see tests/support/azurite.py)."""

from tests.support.azurite import azurite  # noqa: F401  (re-exported as the `azurite` fixture)
