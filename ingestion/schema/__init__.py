"""Versioned index schemas with zero-downtime cutover: ``python -m ingestion schema ...``.

- ``lifecycle``: what is live and how it drifts (status), in-place upgrades (apply), rollback, retention (gc);
- ``migrate``: a rebuild into a new physical index, verified, then the alias swap; ``estimate``: its dry run;
- ``cli``: the ``schema`` subcommands.

Everything goes through ``ingestion.indexing.admin.IndexAdmin``, so the same code drives the local store and Azure AI
Search. See docs/schema-versions.md.
"""
