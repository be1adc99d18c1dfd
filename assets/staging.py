"""The shape every single-table staging asset shares: parse the listed raw files, replace one table.

A parse error becomes a Dagster Failure naming the file and the problem, raised
before anything is written, so the last good table stays in place.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.parsing import FeedError
from assets.raw import OWNERS
from assets.resources import TrackerConfig
from assets.warehouse import SourceFile, connect, load_listed_files, replace_tables, tables_metadata

Build = Callable[[list[SourceFile], TrackerConfig], pd.DataFrame]


def staging_table_asset(
    *,
    raw: dg.AssetsDefinition,
    source: str,
    feed_label: str,
    table: str,
    build: Build,
    description: str,
    extra_metadata: Callable[[pd.DataFrame], dict] | None = None,
) -> dg.AssetsDefinition:
    @dg.asset(
        key=table.split("."),
        deps=[raw],
        group_name=source,
        kinds={"duckdb", "pandas"},
        owners=OWNERS,
        description=description,
    )
    def _staging(settings: TrackerConfig, warehouse: DuckDBResource) -> dg.MaterializeResult:
        with connect(warehouse) as con:
            try:
                frame = build(load_listed_files(con, source), settings)
            except FeedError as err:
                raise err.as_failure(feed_label) from None
            replace_tables(con, {table: frame})
            metadata = tables_metadata(con, [table])
        if extra_metadata:
            metadata |= extra_metadata(frame)
        return dg.MaterializeResult(metadata=metadata)

    return _staging
