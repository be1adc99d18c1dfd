"""Shared fixtures: the whole graph materialised once, on the shipped data, into a temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from assets.resources import TrackerConfig

PROJECT = Path(__file__).resolve().parent.parent
DATA = PROJECT / "data"
AS_OF = "2026-01-31"


def make_resources(home: Path, data: Path = DATA, as_of: str = AS_OF) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": DuckDBResource(database=str(home / "warehouse.duckdb")),
        "settings": TrackerConfig(data_dir=str(data), home_dir=str(home), as_of=as_of),
    }


def everything():
    from pipelines.definitions import all_assets, all_checks

    return [*all_assets, *all_checks]


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict:
    """Materialise every asset and check once; tests read the warehouse and the snapshot."""
    home = tmp_path_factory.mktemp("tracker_home")
    result = dg.materialize(everything(), resources=make_resources(home), raise_on_error=False)
    return {"home": home, "result": result}


@pytest.fixture()
def warehouse(built):
    con = duckdb.connect(str(built["home"] / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture()
def data_copy(tmp_path) -> Path:
    """A private copy of the shipped data that a test may break."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target
