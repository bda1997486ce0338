"""The naming rule for Azure AI Search indexes and aliases, which the local store follows too."""

from __future__ import annotations


def is_valid_index_name(name: str) -> bool:
    """2-128 lowercase letters, digits, ``-`` and ``_``; starts with a letter or digit; no ``--`` or ``__``."""
    if not 2 <= len(name) <= 128 or not name[0].isalnum():
        return False
    if "--" in name or "__" in name:
        return False
    return all(c.islower() or c.isdigit() or c in "-_" for c in name) and name.isascii()
