"""Digital capacity: the Civil Service Statistics (ACSES) in post by parent department and profession, the
national series of digital headcount as reported, and the 2015-2017 surveys of civil servants (data/skills/).

Reading and deriving are in tracker/skills.py (Dagster-free, tested on the real files). Each file stands
alone: one that cannot be read is named in quarantine.skills_feed_problems and the others still count (a
year missing a file shows NULL for the figures that file gives). The department names are mapped by the date
of each figure in a second asset, once the organisation register is built: staging.skills_name_mapping.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.raw import OWNERS, raw_files_asset
from assets.staging import (
    NOTHING_TO_READ,
    FeedReader,
    Parsed,
    derived_inputs_sha256,
    forget_inputs,
    kept_if_unchanged,
    record_build,
    staging_tables_asset,
)
from tracker.organisation_names import load_aliases
from tracker.organisation_register import parse_api_organisations
from tracker.parsing import FeedError
from tracker.raw_store import RawStoreError
from tracker.resources import TrackerConfig
from tracker.skills import (
    MAPPING_COLUMNS,
    SERIES_COLUMNS,
    SERIES_FILE,
    SURVEY_COLUMNS,
    SURVEYS_FILE,
    AcsesFile,
    capacity_tables,
    files_table,
    load_department_names,
    map_department_names,
    parse_skills_file,
)
from tracker.warehouse import connect, listed_files, load_files, replace_tables, table_exists, tables_metadata

SOURCE = "skills"
GROUP = "skills"
MAPPING_TABLE = "staging.skills_name_mapping"
MAPPED = "skills_name_mapping"  # its build (meta.skills_name_mapping_build): kept while its inputs are unchanged

skills_files = raw_files_asset(
    SOURCE,
    "skills",
    "*.csv",
    "Civil Service Statistics (ACSES) 2021-2023 in post by parent department and profession of post, as "
    "published by the Cabinet Office's data browser; the national count of civil servants in digital roles as "
    "reported since 2013; what civil servants said about digital skills in the surveys of 2015-2017.",
    group=GROUP,
)

SKILLS_TABLES = {
    "staging.digital_capacity": "Per parent department (the name as published on each date) and year, as at "
    "31 March: DDaT and total headcount and FTE of civil servants in post, the DDaT share of headcount, the share "
    "with no recorded profession ('Unknown') and whether that is over 20% (low coverage).",
    "staging.digital_capacity_national": "The same figures for the whole Civil Service per year, with the sums "
    "of the department rows beside them (rows are rounded to 5, so they differ by a little).",
    "staging.ddat_series_as_reported": "The national count of civil servants in digital roles as published "
    "2013-2025, each row with its own definition: never join rows of different definitions.",
    "staging.civil_servant_surveys": "What civil servants said about digital skills and barriers (surveys of "
    "2015-2017): percent as worded, percent_value only where the report gave a plain number.",
    "staging.skills_files_read": "Each ACSES file read: year, breakdown, the encoding it was read in, rows, In post "
    "rows, suppressed ([c]) In post cells, and the version line of its notes.",
}


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})


def build_skills_tables(parsed: Parsed, _settings: TrackerConfig) -> dict[str, pd.DataFrame]:
    """The source's tables from the files that could be read; with no ACSES file it keeps its last good tables."""
    acses = [p for _f, p in parsed.values() if isinstance(p, AcsesFile)]
    if not acses:
        raise FeedError("data/skills", NOTHING_TO_READ)
    capacity = capacity_tables(acses)
    series = parsed[SERIES_FILE][1] if SERIES_FILE in parsed else _empty([*SERIES_COLUMNS, "file_name"])
    surveys = parsed[SURVEYS_FILE][1] if SURVEYS_FILE in parsed else \
        _empty([*SURVEY_COLUMNS, "file_name"]).assign(percent_value=pd.Series(dtype="float64"))
    return {
        "staging.digital_capacity": capacity["departments"],
        "staging.digital_capacity_national": capacity["national"],
        "staging.ddat_series_as_reported": series,
        "staging.civil_servant_surveys": surveys,
        "staging.skills_files_read": files_table(acses),
    }


def _headline(frames: dict[str, pd.DataFrame]) -> dict[str, dict]:
    national = frames["staging.digital_capacity_national"]
    table = national[["year", "ddat_headcount", "total_headcount", "ddat_share_pct", "unknown_profession_share_pct",
                      "low_coverage"]]
    return {"staging.digital_capacity_national": {"figures": dg.MetadataValue.md(table.to_markdown(index=False))}}


skills_staging = staging_tables_asset(
    name="skills_staging",
    raw=skills_files,
    source=SOURCE,
    feed_label="Civil Service Statistics (digital capacity)",
    tables=SKILLS_TABLES,
    reader=FeedReader(parse=parse_skills_file, assemble=build_skills_tables),
    group=GROUP,
    extra_metadata=_headline,
)


@dg.asset(
    key=MAPPING_TABLE.split("."),
    deps=[["staging", "digital_capacity"], ["staging", "organisations"], ["staging", "organisation_identifiers"],
          ["raw", "organisations_files"]],
    group_name=GROUP,
    kinds={"duckdb", "pandas"},
    owners=OWNERS,
    description="Each parent-department name the Civil Service Statistics published, per year, mapped by the date "
    "of the figure: to the department of today (a renamed or merged body under its successor), or kept under its "
    "old name when it was later split (not divided), or left unmapped with the reason (devolved, an ACSES "
    "grouping, unknown to the register).",
)
def skills_name_mapping(context, settings: TrackerConfig, warehouse: DuckDBResource) -> dg.MaterializeResult:
    with connect(warehouse) as con:
        inputs = derived_inputs_sha256(con, MAPPED, ["skills", "organisations"], settings)
        kept = kept_if_unchanged(context, con, MAPPED, inputs, [MAPPING_TABLE.split(".")], build_asset=False)
        if kept:
            return kept[0]
        names = con.execute("SELECT DISTINCT year, name_as_published FROM staging.digital_capacity").df() \
            if table_exists(con, "staging.digital_capacity") else pd.DataFrame(columns=["year", "name_as_published"])
        organisations = con.execute("SELECT * FROM staging.organisations").df()
        identifiers = con.execute("SELECT * FROM staging.organisation_identifiers").df()
        api_files = [f for f in listed_files(con, "organisations") if f.name.startswith("govuk_api_organisations")]
        if not api_files:
            raise dg.Failure("The GOV.UK organisations API file is not in raw.organisations_files: the department "
                             "names cannot be mapped. Check data/organisations/.")
        try:
            newest, = load_files(con, "organisations", [max(api_files, key=lambda f: f.name)])
        except RawStoreError as err:
            raise dg.Failure(f"The department names cannot be mapped: {err}") from None
        api = parse_api_organisations(newest)
        mapping = map_department_names(names, organisations, identifiers, api, load_aliases(settings.data),
                                       load_department_names(settings.data))
        for column in MAPPING_COLUMNS:
            if column not in ("year", "as_at", "closed_on"):
                mapping[column] = mapping[column].astype("string")
        mapping = mapping.astype({"year": "int64"})
        mapping["as_at"] = pd.to_datetime(mapping["as_at"]).dt.date
        mapping["closed_on"] = pd.to_datetime(mapping["closed_on"]).dt.date
        forget_inputs(con, MAPPED)
        replace_tables(con, {MAPPING_TABLE: mapping})
        record_build(con, MAPPED, True, context.run_id, inputs)
        meta = tables_metadata(con, [MAPPING_TABLE])
    unmapped = mapping[mapping["department_code"].isna()][["year", "name_as_published", "mapping", "unmapped_reason"]]
    return dg.MaterializeResult(metadata={
        **meta,
        "names mapped to a department of today": int(mapping["department_code"].notna().sum()),
        "names not mapped": dg.MetadataValue.md(unmapped.to_markdown(index=False)),
    })
