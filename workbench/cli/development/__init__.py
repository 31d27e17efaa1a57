"""Development-phase commands: ``pipeline``, ``stage``, ``train``, ``exp``, ``validate``, ``review``."""
