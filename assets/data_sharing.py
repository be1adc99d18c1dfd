"""Data sharing: the cross-government API catalogue (co-cddo/api-catalogue).

Each API names its provider by a slug that is usually a GOV.UK organisation
slug; the catalogue's own organisation list supplies names for the rest.
"""

from __future__ import annotations

import io

import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import staging_table_asset
from tracker.parsing import FeedError, read_csv_feed
from tracker.warehouse import SourceFile

SOURCE = "data_sharing"
CATALOGUE_COLUMNS = ["dateAdded", "url", "name", "provider"]

api_catalogue_files = raw_files_asset(
    SOURCE, "data_sharing", "*.csv", "The cross-government API catalogue and its organisation list."
)


def parse_catalogue(file: SourceFile, organisations: SourceFile | None) -> pd.DataFrame:
    frame = read_csv_feed(file, CATALOGUE_COLUMNS, what="the catalogue")
    added = pd.to_datetime(frame["dateAdded"], format="%Y-%m-%d", errors="coerce")
    if added.isna().any():
        row = int(added.isna().idxmax())
        raise FeedError(file.name, f"row {row + 2}: dateAdded {frame['dateAdded'][row]!r} is not a date "
                        "(expected YYYY-MM-DD).")
    blank = frame["provider"].str.strip() == ""
    if blank.any():
        raise FeedError(file.name, f"row {int(blank.idxmax()) + 2}: the API has no provider.")
    names = {}
    if organisations is not None:
        orgs = pd.read_csv(io.BytesIO(organisations.content), dtype=str, keep_default_na=False)
        if {"id", "name"} <= set(orgs.columns):
            names = dict(zip(orgs["id"], orgs["name"], strict=False))
    return pd.DataFrame(
        {
            "api_name": frame["name"],
            "url": frame["url"],
            "provider": frame["provider"].str.strip(),
            "provider_name": frame["provider"].str.strip().map(names),
            "date_added": added.dt.date,
            "date_updated": pd.to_datetime(frame.get("dateUpdated"), errors="coerce").dt.date,
            "end_date": pd.to_datetime(frame.get("endDate"), errors="coerce").dt.date,
        }
    )


def build_catalogue(files: list[SourceFile], _settings=None) -> pd.DataFrame:
    catalogue = [f for f in files if f.name.startswith("api_catalogue_") and "organisations" not in f.name]
    organisations = [f for f in files if f.name.startswith("api_catalogue_organisations")]
    if not catalogue:
        raise FeedError("data/data_sharing", "no api_catalogue_*.csv file.")
    return parse_catalogue(catalogue[-1], organisations[-1] if organisations else None)


api_catalogue = staging_table_asset(
    raw=api_catalogue_files,
    source=SOURCE,
    feed_label="API catalogue",
    table="staging.api_catalogue",
    build=build_catalogue,
    description="Every API in the cross-government API catalogue with its provider and the date "
    "it was added: the tracker's first measure of data sharing between organisations.",
)
