"""mlops-workbench core: UI-free operations over a git + DVC project.

Nothing in this package imports Textual or ``screens``; the CLI and the TUI are
two faces over the same functions (tests/test_import_hygiene.py enforces it).
Heavy libraries (pandas, scikit-learn, DVC's Python API, GTO) are imported inside
the functions that use them so that startup stays fast.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
