"""Where a project keeps what the steps write, and how a path a person gives is read.

Every path is relative to the project root, in POSIX form, as git and DVC name it (and as
commit trailers and reports record it). This module imports nothing heavy: screens and
the child process read these names without pulling pandas in.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "BATCHES_FOLDER", "DATA_CHECK_MD", "DATA_CHECK_REPORT", "METRICS_FILE", "MODEL_CARD", "MODEL_FILE",
    "PREDICTIONS_FOLDER", "REFERENCE_FILE", "REVIEW_FILE", "TEST_SPLIT", "TRAINING_ENV_FILE", "TRAIN_SPLIT", "VALIDATION_MD",
    "VALIDATION_REPORT", "inside", "user_path",
]

#: The data check (design): its JSON report and the readable one.
DATA_CHECK_REPORT = "reports/data_check.json"
DATA_CHECK_MD = "reports/data_check.md"
#: The prepare stage's split (development), read again by the reference at evaluate time.
TRAIN_SPLIT = "data/prepared/train.parquet"
TEST_SPLIT = "data/prepared/test.parquet"
#: Training (development): the model, its test metrics, the library versions it was fit with.
MODEL_FILE = "models/model.skops"
METRICS_FILE = "metrics.json"
TRAINING_ENV_FILE = "reports/training_env.json"
#: The drift reference written with the model (what monitoring compares a batch with).
REFERENCE_FILE = "reports/reference.json"
#: Validation and review (development).
VALIDATION_REPORT = "reports/validation.json"
VALIDATION_MD = "reports/validation.md"
MODEL_CARD = "reports/model_card.md"
REVIEW_FILE = "reports/review.json"
#: Monitoring (operations): logged predictions and the batches checked.
PREDICTIONS_FOLDER = "monitoring/predictions"
BATCHES_FOLDER = "monitoring/batches"


def inside(path: Path, root: Path) -> Path | None:
    """``path`` relative to ``root`` when it is inside it (both resolved), else None."""
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return None


def user_path(path: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> Path:
    """A path a person typed, as an absolute path: ``~`` expanded, relative to ``cwd`` (default: here).

    It names the file the system opens for it, which is the one the person's shell shows
    (``ls link/../x``): a ``..`` after a symlinked folder goes up from where the link leads,
    not back to the folder the link is in (what ``os.path.abspath`` would say). So the part
    up to the last ``..`` is resolved (``os.path.realpath``); a path without ``..`` is only
    normalised (``.`` and doubled slashes dropped) and keeps its links, so a message can still
    show the path as it was given next to where it led, and a linked file keeps its own name.
    """
    src = Path(path).expanduser()
    if not src.is_absolute():
        src = Path(cwd or Path.cwd()) / src
    parts = src.parts
    if ".." not in parts:
        return Path(os.path.normpath(src))
    last = len(parts) - 1 - parts[::-1].index("..")
    return Path(os.path.realpath(Path(*parts[:last + 1])), *parts[last + 1:])
