"""GOV.UK Forms: public headline metrics (data/forms/snapshots/*.yml, and the live performance.json).

Quirks: ``last_updated`` is missing from the earliest versions and lags the
figures in others, so a version is dated by when it was published
(``versions.csv``, London date; else the file name). Versions merged together
were never public one by one: only the last counts. Several versions can still
be published on one day: the last one published is that day's figure.

The live feed (data/feeds.yaml) is the performance page as JSON: the same three
figures (``organisations``, ``published``, ``submissions``), at the top level or
under ``performance_metrics`` as in the YAML, and no date of its own (the page
drops ``last_updated``), so a fetched document is dated by when it was fetched
(tracker/versions.py). A renamed key is refused by name; a new key is ignored.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import FeedReader, Parsed, staging_table_asset, versioned
from tracker.parsing import parse_long_date, read_json_feed, read_yaml_feed, require_int, require_keys
from tracker.resources import TrackerConfig
from tracker.versions import VERSIONS_FILE, parse_versions
from tracker.warehouse import SourceFile

SOURCE = "forms"

forms_files = raw_files_asset(
    SOURCE,
    "forms/snapshots",
    "*.yml",
    "Every version of GOV.UK Forms' public performance metrics (performance_metrics.yml), and "
    "versions.csv: when each was published.",
    also=f"forms/{VERSIONS_FILE}",
    feed=SOURCE,  # and every document the tracker fetched of performance.json (assets/feeds.py)
)


FIGURES = ["organisations", "published", "submissions"]


def _metrics(data: object, file_name: str, top_level: bool) -> dict:
    """The figures of a version: under ``performance_metrics`` (the YAML), or at the top level (the live JSON)."""
    if top_level and not (isinstance(data, dict) and "performance_metrics" in data):
        return require_keys(data, FIGURES, file_name, "the document")
    require_keys(data, ["performance_metrics"], file_name)
    return require_keys(data["performance_metrics"], FIGURES, file_name, "'performance_metrics'")


def parse_forms_snapshot(file: SourceFile) -> dict:
    live = file.name.endswith(".json")  # a document fetched from the live feed (assets/feeds.py)
    metrics = _metrics(read_json_feed(file) if live else read_yaml_feed(file), file.name, top_level=live)
    last_updated = metrics.get("last_updated")
    if last_updated not in (None, ""):
        last_updated = parse_long_date(last_updated, file.name, "last_updated")
    return {
        "file_name": file.name,
        "sha256": file.sha256,
        "last_updated": last_updated or None,
        "organisations": require_int(metrics["organisations"], file.name, "organisations"),
        "live_forms": require_int(metrics["published"], file.name, "published"),
        "submissions_cumulative": require_int(metrics["submissions"], file.name, "submissions"),
    }


def parse_forms_file(file: SourceFile) -> dict:
    return parse_versions(file) if file.name == VERSIONS_FILE else parse_forms_snapshot(file)


def build_forms_table(parsed: Parsed, settings: TrackerConfig) -> pd.DataFrame:
    snapshots, pubs, shown = versioned(parsed, "data/forms/snapshots", settings.as_of_date())
    day_figure = {pubs[name].published_on: name for name in shown}  # in publication order: the last wins
    rows = []
    for name, p in sorted(snapshots.items(), key=lambda kv: (pubs[kv[0]].published_at, pubs[kv[0]].order)):
        pub = pubs[name]
        current = day_figure.get(pub.published_on) == name
        rows.append(p | {
            "snapshot_date": pub.published_on,
            "published_at": pub.published_at.astimezone(dt.UTC).replace(tzinfo=None),
            "is_current_version": current,
            "not_used_because": None if current else (
                "published after the reporting date" if pub.published_on > settings.as_of_date()
                else "merged together with a later version, so never public on its own" if name not in shown
                else "a later version was published the same day"),
        })
    return pd.DataFrame(rows)


forms_metrics = staging_table_asset(
    raw=forms_files,
    source=SOURCE,
    feed_label="GOV.UK Forms",
    table="staging.forms_metrics",
    reader=FeedReader(parse=parse_forms_file, assemble=lambda parsed, settings: {
        "staging.forms_metrics": build_forms_table(parsed, settings)}),
    description="GOV.UK Forms headline metrics per version: organisations, live forms, cumulative "
    "submissions, when it was published, and whether it is that day's figure (the last one published) "
    "or why not.",
)
