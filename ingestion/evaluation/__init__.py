"""Retrieval quality on golden question sets: ``python -m ingestion eval GOLDEN.jsonl --root DIR``."""
