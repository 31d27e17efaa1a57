"""The Textual face of the workbench: screens that render core results and call the core in workers.

Screen modules import only Textual and light core modules; heavy libraries (pandas,
scikit-learn, DVC) are imported inside the workers that use them (a test checks it).
The names below are re-exported lazily (PEP 562), so importing one screen does not
import them all: startup loads only what the first screen needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "WorkbenchApp": "screens.app",
    "make_app": "screens.app",
    "HelpScreen": "screens.project.help_screen",
    "NewProjectScreen": "screens.onboarding.new_project_screen",
    "OpenProjectScreen": "screens.onboarding.open_project_screen",
    "ProjectScreen": "screens.project.project_screen",
    "SamplePickerScreen": "screens.onboarding.sample_picker_screen",
    "STEP_VIEWS": "screens.project.step_views",
    "lazy_view": "screens.project.step_views",
    "make_step_view": "screens.project.step_views",
    "WelcomeScreen": "screens.onboarding.welcome_screen",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'screens' has no attribute {name!r}")
