"""Entry point ``ingestion/cli.py`` looks for: registers the ``schema`` subcommands (``ingestion/schema/cli.py``)."""

from ingestion.schema.cli import register

__all__ = ["register"]
