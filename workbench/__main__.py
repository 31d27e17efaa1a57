"""``python -m workbench``: the headless commands of ``mlops-workbench`` (no UI: see screens/launch.py)."""

from workbench.cli import main

raise SystemExit(main())
