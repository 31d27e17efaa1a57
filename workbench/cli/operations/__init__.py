"""Operations-phase commands: ``model``, ``serve``, ``predict``, ``monitor``, ``retrain``, ``ci``, ``check``."""
