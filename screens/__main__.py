"""``python -m screens`` is the ``mlops-workbench`` command (the CLI and the app)."""

from screens.launch import main

raise SystemExit(main())
