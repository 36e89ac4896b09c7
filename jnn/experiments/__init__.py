"""Measured experiments behind the scripts (importable, so tests can run them small)."""
