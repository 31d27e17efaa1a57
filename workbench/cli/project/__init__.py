"""Commands over the whole project rather than one step: open, new, samples, status, history, remote, sync."""
