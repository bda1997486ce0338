"""Grounding-data ingestion: source -> crack -> chunk -> embed -> index."""

__version__ = "0.1.0"
