"""Moved to :mod:`workbench.reference` (the drift reference: training writes it, monitoring reads it; neither phase owns it).

Re-exported here only until monitoring imports the new place; then this file goes.
"""

from workbench.reference import *  # noqa: F403  (every public name, as before the move)
