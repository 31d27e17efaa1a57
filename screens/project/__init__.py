"""The project shell: the project screen (sidebar, dashboard), the timeline, the command palette,
the help, the step-view registry and the dialogs and progress widget the step views share."""
