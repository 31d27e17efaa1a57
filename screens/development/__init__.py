"""The Development phase's step views: data engineering, training (with the experiment history), validation, review."""
