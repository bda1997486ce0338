"""Indexes: the local SQLite store (FTS5 + vectors, RRF hybrid) and Azure AI Search."""
