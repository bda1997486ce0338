"""Local SQLite backend: the Index and IndexAdmin implementations over one SQLite file (FTS5 + numpy vectors)."""
