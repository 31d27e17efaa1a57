"""Bundled sample projects (data, not code)."""
