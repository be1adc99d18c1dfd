"""The platforms' live public feeds as data/feeds.yaml configures them: address, format, publisher, schedule.

TRACKER_FEED_<SOURCE>_URL (for example TRACKER_FEED_PAY_URL) overrides a source's address.
No Dagster here: the fetching layer and the command line read it too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tracker.declaration_files import read_declaration
from tracker.settings import data_dir

FEEDS_FILE = "feeds.yaml"
FORMATS = ("json", "csv", "yaml")


@dataclass(frozen=True)
class Feed:
    source: str
    url: str  # the address to fetch: the environment's override, else the public default
    default_url: str
    format: str  # json, csv or yaml
    publisher: str
    schedule: str  # a cron string, in ``timezone``
    timezone: str = "UTC"  # the schedule's; feeds.yaml may give another (an IANA name such as Europe/London)


def url_variable(source: str) -> str:
    """The environment variable that overrides a source's address."""
    return f"TRACKER_FEED_{source.upper()}_URL"


def load_feeds(path: Path | None = None) -> dict[str, Feed]:
    """Every configured feed by source key; a malformed entry raises ValueError naming it."""
    path = Path(path) if path is not None else data_dir() / FEEDS_FILE
    config = read_declaration(path, f"data/{path.name}")  # DeclarationError (a ValueError) says what is wrong
    feeds = {}
    for source, entry in config.items():
        if not isinstance(entry, dict):
            raise ValueError(f"{path.name}: the entry for {source!r} must be a mapping.")
        for key in ("url", "format", "publisher", "schedule"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ValueError(f"{path.name}: the feed {source!r} has no {key}.")
        if entry["format"] not in FORMATS:
            raise ValueError(f"{path.name}: the feed {source!r} has format {entry['format']!r}, "
                             f"not one of {', '.join(FORMATS)}.")
        if len(entry["schedule"].split()) != 5:
            raise ValueError(f"{path.name}: the feed {source!r} has schedule {entry['schedule']!r}, "
                             "not a cron string of five fields.")
        timezone = entry.get("timezone", "UTC")
        if not isinstance(timezone, str) or not timezone.strip():
            raise ValueError(f"{path.name}: the feed {source!r} has timezone {timezone!r}, not a time zone name.")
        override = os.environ.get(url_variable(source), "").strip()
        feeds[source] = Feed(source=source, url=override or entry["url"], default_url=entry["url"],
                             format=entry["format"], publisher=entry["publisher"], schedule=entry["schedule"],
                             timezone=timezone.strip())
    return feeds


def feed(source: str, path: Path | None = None) -> Feed:
    feeds = load_feeds(path)
    if source not in feeds:
        raise KeyError(f"No feed is configured for {source!r}; known: {', '.join(sorted(feeds))}.")
    return feeds[source]
