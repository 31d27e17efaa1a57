"""Development phase: data engineering, training, validation, review."""
