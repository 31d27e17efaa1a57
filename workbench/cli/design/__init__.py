"""Design-phase commands: ``charter`` (requirements), ``usecase`` (prioritization), ``data`` (availability)."""
