"""Where the dashboard is written: `<data folder>/dashboard/` (SYNCHUB_DATA_DIR)."""

from __future__ import annotations

from pathlib import Path

from synchub_pipelines import settings

FOLDER = "dashboard"


def dashboard_folder() -> Path:
    return settings.data_dir() / FOLDER
