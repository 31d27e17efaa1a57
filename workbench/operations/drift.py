"""Moved to :mod:`workbench.drift` (drift statistics: training writes it, monitoring reads it; neither phase owns it).

Re-exported here only until monitoring imports the new place; then this file goes.
"""

from workbench.drift import *  # noqa: F403  (every public name, as before the move)
