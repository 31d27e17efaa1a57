"""The three shapes of progress callback a core operation takes (one definition each).

A step reports progress through a plain callable so the core never sees the UI: the CLI
prints, a screen posts a message. Three shapes are in use:

- :data:`Progress`: ``progress(message)``, a line of what is happening now.
- :data:`FractionProgress`: ``progress(fraction, message)``, 0..1 and a line (the data profile
  and data check, which know how far they are).
- :data:`CountProgress`: ``progress(done, total)``, rows scored so far (batch prediction).
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]
FractionProgress = Callable[[float, str], None]
CountProgress = Callable[[int, int], None]

__all__ = ["CountProgress", "FractionProgress", "Progress"]
