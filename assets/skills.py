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
    KEPT,
    LEFT_OUT,
    NOTHING_TO_READ,
    FeedReader,
    Parsed,
    Problem,
    _record_problems,
    derived_inputs_sha256,
    forget_inputs,
    kept_if_unchanged,
    record_build,
    staging_tables_asset,
    unexpected,
)
from assets.staging_shapes import empty as empty_table
from checks.platform_checks import feed_problems_table
from tracker.declaration_files import DeclarationError
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


MAPPING_PROBLEMS = "skills_mapping"  # quarantine.skills_mapping_feed_problems, shown under skills
UNMAPPED = ("the department names are left unmapped until it can be read: the figures still count, under the "
            "names as published")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            MAPPING_TABLE.split("."),
            deps=[["staging", "digital_capacity"], ["staging", "organisations"],
                  ["staging", "organisation_identifiers"], ["raw", "organisations_files"]],
            group_name=GROUP, kinds={"duckdb", "pandas"}, owners=OWNERS,
            description="Each parent-department name the Civil Service Statistics published, per year, mapped by "
            "the date of the figure: to the department of today (a renamed or merged body under its successor), or "
            "kept under its old name when it was later split (not divided), or left unmapped with the reason "
            "(devolved, an ACSES grouping, unknown to the register).",
        ),
        dg.AssetSpec(
            feed_problems_table(MAPPING_PROBLEMS).split("."),
            deps=[["raw", "organisations_files"]],
            group_name=GROUP, kinds={"duckdb"}, owners=OWNERS,
            description="What kept the latest run from mapping the Civil Service Statistics' department names "
            "(the GOV.UK organisations API file, or data/skills/department_names.yaml), and what the tracker did.",
        ),
    ],
    can_subset=False,
)
def skills_name_mapping(context, settings: TrackerConfig, warehouse: DuckDBResource):
    """One unreadable input of the mapping never stops the publication: an older API file is used, or the last
    mapping kept, or, on a home that never had one, the names are left unmapped; each is said in the problems."""
    keys = [MAPPING_TABLE.split("."), feed_problems_table(MAPPING_PROBLEMS).split(".")]
    with connect(warehouse) as con:
        inputs = derived_inputs_sha256(con, MAPPED, ["skills", "organisations"], settings)
        kept = kept_if_unchanged(context, con, MAPPED, inputs, keys, build_asset=False)
        if kept:
            yield from kept
            return
        problems: list[Problem] = []
        surprised = False
        unmade = KEPT if table_exists(con, MAPPING_TABLE) else UNMAPPED  # what a mapping not made leaves
        try:
            mapping = _mapping(con, settings, problems, unmade)
        except DeclarationError as err:
            problems.append(Problem(None, None, str(err), unmade))
            mapping = None
        except Exception as err:  # noqa: BLE001 - the skills figures still publish, under the names as published
            context.log.exception("Civil Service Statistics: the department names could not be mapped")
            problems.append(Problem(None, None, unexpected(type(err).__name__), unmade))
            mapping, surprised = None, True
        forget_inputs(con, MAPPED)
        if mapping is not None:
            replace_tables(con, {MAPPING_TABLE: mapping})
        elif unmade == UNMAPPED:
            empty_table(con, MAPPING_TABLE)
        _record_problems(con, MAPPING_PROBLEMS, problems, shown_as=SOURCE)
        record_build(con, MAPPED, mapping is not None, context.run_id, None if surprised else inputs)
        meta = tables_metadata(con, [MAPPING_TABLE])
        problem_meta = tables_metadata(con, [feed_problems_table(MAPPING_PROBLEMS)])
    for p in problems:
        context.log.warning(f"Civil Service Statistics department names: {p.file_name or 'the mapping'}: "
                            f"{p.problem} ({p.consequence}).")
    if mapping is not None:
        unmapped = mapping[mapping["department_code"].isna()][["year", "name_as_published", "mapping",
                                                               "unmapped_reason"]]
        meta |= {"names mapped to a department of today": int(mapping["department_code"].notna().sum()),
                 "names not mapped": dg.MetadataValue.md(unmapped.to_markdown(index=False))}
    yield dg.MaterializeResult(asset_key=keys[0], metadata=meta)
    yield dg.MaterializeResult(asset_key=keys[1], metadata=problem_meta)


def _mapping(con, settings: TrackerConfig, problems: list[Problem], unmade: str) -> pd.DataFrame | None:
    """The mapping from the newest GOV.UK organisations API file that can be read (each newer one that cannot is
    named in ``problems``); None, said in ``problems`` with the consequence ``unmade``, when none can."""
    names = con.execute("SELECT DISTINCT year, name_as_published FROM staging.digital_capacity").df() \
        if table_exists(con, "staging.digital_capacity") else pd.DataFrame(columns=["year", "name_as_published"])
    organisations = con.execute("SELECT * FROM staging.organisations").df()
    identifiers = con.execute("SELECT * FROM staging.organisation_identifiers").df()
    curated = load_department_names(settings.data)
    api = None
    unread: list[Problem] = []
    api_files = [f for f in listed_files(con, "organisations") if f.name.startswith("govuk_api_organisations")]
    for listed in sorted(api_files, key=lambda f: f.name, reverse=True):
        try:
            newest, = load_files(con, "organisations", [listed])
            api = parse_api_organisations(newest)
            break
        except RawStoreError as err:
            unread.append(Problem(listed.name, listed.sha256, str(err), LEFT_OUT))
        except FeedError as err:
            unread.append(Problem(listed.name, listed.sha256, err.problem, LEFT_OUT))
    if api is None:
        why = "".join(f" ({p.file_name}: {p.problem})" for p in unread[:1])
        problems.append(Problem(None, None, "no GOV.UK organisations API file in data/organisations/ could be read"
                                f"{why}, so the department names cannot be mapped: add a readable "
                                "govuk_api_organisations_<date>.json.", unmade))
        return None
    problems.extend(unread)  # newer files left out: an older one mapped the names
    mapping = map_department_names(names, organisations, identifiers, api, load_aliases(settings.data), curated)
    for column in MAPPING_COLUMNS:
        if column not in ("year", "as_at", "closed_on"):
            mapping[column] = mapping[column].astype("string")
    mapping = mapping.astype({"year": "int64"})
    mapping["as_at"] = pd.to_datetime(mapping["as_at"]).dt.date
    mapping["closed_on"] = pd.to_datetime(mapping["closed_on"]).dt.date
    return mapping
