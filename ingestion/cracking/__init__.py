"""Crackers: one module per format, plus a registry that picks by extension and by sniffed content."""
