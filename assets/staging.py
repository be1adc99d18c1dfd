"""The shape every staging asset fed by raw files shares: parse the listed files, replace its tables.

A parse error becomes a Dagster Failure naming the file and the problem, raised
before anything is written, so the last good tables stay in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.raw import OWNERS
from tracker.parsing import FeedError
from tracker.resources import TrackerConfig
from tracker.warehouse import SourceFile, connect, load_listed_files, replace_tables, tables_metadata

Frames = dict[str, pd.DataFrame]
BuildTables = Callable[[list[SourceFile], TrackerConfig], Frames]
BuildTable = Callable[[list[SourceFile], TrackerConfig], pd.DataFrame]
ExtraMetadata = Callable[[Frames], Mapping[str, dict]]


def staging_tables_asset(
    *,
    name: str,
    raw: dg.AssetsDefinition,
    source: str,
    feed_label: str,
    tables: Mapping[str, str],
    build: BuildTables,
    group: str | None = None,
    extra_metadata: ExtraMetadata | None = None,
) -> dg.AssetsDefinition:
    """One multi-asset writing ``tables`` ({table: description}) in one transaction."""

    @dg.multi_asset(
        name=name,
        specs=[
            dg.AssetSpec(
                key=table.split("."),
                deps=[raw],
                description=description,
                group_name=group or source,
                kinds={"duckdb", "pandas"},
                owners=OWNERS,
            )
            for table, description in tables.items()
        ],
        can_subset=False,
    )
    def _staging(settings: TrackerConfig, warehouse: DuckDBResource):
        with connect(warehouse) as con:
            try:
                frames = build(load_listed_files(con, source), settings)
            except FeedError as err:
                raise err.as_failure(feed_label) from None
            replace_tables(con, frames)
            metadata = {table: tables_metadata(con, [table]) for table in frames}
        for table, extra in (extra_metadata(frames) if extra_metadata else {}).items():
            metadata[table] |= extra
        for table, meta in metadata.items():
            yield dg.MaterializeResult(asset_key=table.split("."), metadata=meta)

    return _staging


def staging_table_asset(
    *,
    raw: dg.AssetsDefinition,
    source: str,
    feed_label: str,
    table: str,
    build: BuildTable,
    description: str,
    extra_metadata: Callable[[pd.DataFrame], dict] | None = None,
) -> dg.AssetsDefinition:
    """The common case: one source, one table."""
    return staging_tables_asset(
        name=table.replace(".", "__"),
        raw=raw,
        source=source,
        feed_label=feed_label,
        tables={table: description},
        build=lambda files, settings: {table: build(files, settings)},
        extra_metadata=(lambda frames: {table: extra_metadata(frames[table])}) if extra_metadata else None,
    )
