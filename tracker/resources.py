"""Where the tracker reads its inputs and writes its outputs.

Declared in the core (not in pipelines/) so that assets and checks depend only
on this small class; pipelines/definitions.py fills it in from tracker/settings.py
(the environment).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from tracker import settings


class TrackerConfig(dg.ConfigurableResource):
    """Paths and the reporting date for one run."""

    data_dir: str
    home_dir: str
    as_of: str = ""  # ISO date; empty means "today"

    @property
    def data(self) -> Path:
        return Path(self.data_dir)

    @property
    def home(self) -> Path:
        return Path(self.home_dir)

    @property
    def published_dir(self) -> Path:
        return settings.published_dir(self.home)

    def as_of_date(self) -> dt.date:
        return dt.date.fromisoformat(self.as_of) if self.as_of else dt.date.today()
