"""Moved to :mod:`workbench.versioning.evidence` (the registry reads it, and versioning imports nothing above it).

Re-exported here only until the last importers outside the core helper's files (validation,
status, the validation and deployment views) import the new place; then this file goes.
"""

from workbench.versioning.evidence import *  # noqa: F403  (every public name, as before the move)
