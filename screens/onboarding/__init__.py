"""Before a project is open: the welcome screen, the new-project wizard, the sample picker, open a folder."""
