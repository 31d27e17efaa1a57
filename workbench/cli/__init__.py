"""The headless face of the workbench: the ``mlops-workbench`` command (no UI here).

``main`` (in :mod:`workbench.cli.main`) parses and runs a command; the commands are listed
in :mod:`workbench.cli.parser`, one module per command in the lifecycle's phase folders
(``design/``, ``development/``, ``operations/``; ``project/`` for the commands over the
whole project); :mod:`workbench.cli.output` is what they print with. screens/launch.py
fills in :data:`OPENERS` (the terminal app, the browser face) before it calls ``main``.
"""

from workbench.cli.main import main
from workbench.cli.project.open import OPENERS

__all__ = ["OPENERS", "main"]
