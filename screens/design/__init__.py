"""The Design phase's step views: requirements, use cases, data availability."""
