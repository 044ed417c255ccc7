"""Hooks modelyard installs into other tools (the mlflow client)."""
