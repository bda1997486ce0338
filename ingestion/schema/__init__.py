"""The ``schema`` subcommands (``python -m ingestion schema ...``): a thin command line over ``ingestion.deployment``,
which owns what is live, in-place upgrades, migrations, rollback and retention. See docs/schema-versions.md.
"""
