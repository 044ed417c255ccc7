"""modelyard: an MLOps platform that speaks the MLflow REST API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("modelyard")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
