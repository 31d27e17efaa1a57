"""The retraining policy in workbench.yaml (``retraining.policy``: manual or automatic)."""

from __future__ import annotations

from typing import Any

from workbench.errors import WorkbenchError

POLICIES = ("manual", "automatic")
DEFAULT_POLICY = "manual"


def retraining_policy(config: dict[str, Any]) -> str:
    """``retraining.policy`` from workbench.yaml: manual (default) or automatic; a typo is an error."""
    raw = config.get("retraining")
    if raw is None:
        return DEFAULT_POLICY
    if not isinstance(raw, dict):
        raise WorkbenchError("retraining in workbench.yaml is not a mapping: write it as "
                             "'retraining: {policy: manual}' (or automatic)")
    policy = raw.get("policy")
    if policy is None:
        return DEFAULT_POLICY
    if not isinstance(policy, str) or policy.strip().lower() not in POLICIES:
        raise WorkbenchError(f"retraining.policy in workbench.yaml is {policy!r}: use manual or automatic")
    return policy.strip().lower()
