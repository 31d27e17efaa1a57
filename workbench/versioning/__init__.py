"""The one place that touches git, DVC and GTO (ARCHITECTURE §3-4).

- :mod:`.git` — identity, discovery, path states, commits with trailers;
- :mod:`.dvc` — DVC subprocesses with streamed output and cancellation;
- :mod:`.locks` — the project write lock and stale-lock recovery;
- :mod:`.step` — a step as a transaction: check, write, commit or roll back;
- :mod:`.timeline` — the history read from git.
"""
