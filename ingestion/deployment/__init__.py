"""The index's lifecycle: which physical index is live (``target``), in-place upgrades, rollback and retention
(``lifecycle``), and rebuilds into a new index with verification and the alias swap (``migrate``, ``estimate``; and
``migration_runs``, the same steps as the finalize hook of the Functions app's durable runs).

Everything goes through ``ingestion.indexing.admin.IndexAdmin``, so the same code drives the local store and Azure AI
Search. The ``schema`` commands (``ingestion/schema/cli.py``) and the Functions migration runs both use it. See
docs/schema-versions.md and docs/architecture.md.
"""
