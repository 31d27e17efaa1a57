"""Design phase: requirements, use-case prioritization, data availability."""
