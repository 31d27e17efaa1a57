"""``python -m workbench`` is the same as the ``mlops-workbench`` command."""

from workbench.cli import main

raise SystemExit(main())
