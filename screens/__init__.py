"""The Textual face of the workbench: screens that render core results and call the core in workers.

Screen modules import only Textual and light core modules; heavy libraries (pandas,
scikit-learn, DVC) are imported inside the workers that use them (a test checks it).
"""

from screens.app import WorkbenchApp, make_app
from screens.help_screen import HelpScreen
from screens.new_project_screen import NewProjectScreen
from screens.open_project_screen import OpenProjectScreen
from screens.project_screen import ProjectScreen
from screens.sample_picker_screen import SamplePickerScreen
from screens.step_views import STEP_VIEWS, lazy_view, make_step_view
from screens.welcome_screen import WelcomeScreen

__all__ = [
    "STEP_VIEWS",
    "HelpScreen",
    "NewProjectScreen",
    "OpenProjectScreen",
    "ProjectScreen",
    "SamplePickerScreen",
    "WelcomeScreen",
    "WorkbenchApp",
    "lazy_view",
    "make_app",
    "make_step_view",
]
