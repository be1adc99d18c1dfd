"""GOV.UK Forms: public headline metrics (data/forms/snapshots/*.yml).

Quirks: ``last_updated`` is missing from the earliest versions and lags the
figures in others, so a version is dated by its publication (the file name);
several versions can share a day (the last one wins).
"""

from __future__ import annotations

import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import staging_table_asset
from tracker.parsing import (
    FeedError,
    date_from_file_name,
    parse_long_date,
    read_yaml_feed,
    require_int,
    require_keys,
)
from tracker.warehouse import SourceFile

SOURCE = "forms"

forms_files = raw_files_asset(
    SOURCE,
    "forms/snapshots",
    "*.yml",
    "Every version of GOV.UK Forms' public performance metrics (performance_metrics.yml).",
)


def parse_forms_snapshot(file: SourceFile) -> dict:
    data = read_yaml_feed(file)
    require_keys(data, ["performance_metrics"], file.name)
    metrics = require_keys(
        data["performance_metrics"],
        ["organisations", "published", "submissions"],
        file.name,
        "'performance_metrics'",
    )
    published_on = date_from_file_name(file.name)
    last_updated = metrics.get("last_updated")
    if last_updated is not None:
        last_updated = parse_long_date(last_updated, file.name, "last_updated")
    if published_on is None and last_updated is None:
        raise FeedError(file.name, "no date: neither the file name nor 'last_updated' gives one.")
    return {
        "file_name": file.name,
        "sha256": file.sha256,
        "snapshot_date": published_on or last_updated,
        "last_updated": last_updated,
        "organisations": require_int(metrics["organisations"], file.name, "organisations"),
        "live_forms": require_int(metrics["published"], file.name, "published"),
        "submissions_cumulative": require_int(metrics["submissions"], file.name, "submissions"),
    }


def build_forms_table(files: list[SourceFile]) -> pd.DataFrame:
    rows = sorted((parse_forms_snapshot(f) for f in files), key=lambda r: (r["snapshot_date"], r["file_name"]))
    frame = pd.DataFrame(rows)
    frame["is_current_version"] = ~frame.duplicated("snapshot_date", keep="last")
    return frame


forms_metrics = staging_table_asset(
    raw=forms_files,
    source=SOURCE,
    feed_label="GOV.UK Forms",
    table="staging.forms_metrics",
    build=lambda files, _settings: build_forms_table(files),
    description="GOV.UK Forms headline metrics per published version: organisations, live forms, "
    "cumulative submissions. The last version of each day is marked current.",
)
