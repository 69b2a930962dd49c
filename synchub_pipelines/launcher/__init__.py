"""Run launchers of this project (see `forking.py`); instance configs name this module."""

from synchub_pipelines.launcher.forking import ForkingRunLauncher

__all__ = ["ForkingRunLauncher"]
