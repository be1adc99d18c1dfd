"""GOV.UK Pay: weekly public performance snapshots (data/pay/snapshots/*.json).

Each file is read by ``tracker/pay_snapshots.py``. The same ``dateUpdated`` is sometimes published more than
once, and ``versions.csv`` says when each version was published: the version published last for a date is its
figure, the others are kept and marked superseded.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

import tracker.parsing
import tracker.pay_snapshots
from assets.raw import raw_files_asset
from assets.staging import (
    LEFT_OUT,
    FeedReader,
    Parsed,
    Problem,
    Quarantine,
    VersionsView,
    code_fingerprint,
    staging_tables_asset,
    versioned,
)
from tracker.dates import long_date
from tracker.parsing import FeedError
from tracker.pay_snapshots import parse_pay_file
from tracker.resources import TrackerConfig
from tracker.versions import VERSIONS_FILE
from tracker.warehouse import ListedFile, SourceFile, table_columns, table_exists, transaction

SOURCE = "pay"

pay_files = raw_files_asset(
    SOURCE,
    "pay/snapshots",
    "*.json",
    "Every weekly version of GOV.UK Pay's public performance data (performance.json), and "
    "versions.csv: when each was published.",
    also=f"pay/{VERSIONS_FILE}",
    feed=SOURCE,  # and every version the tracker fetched of performance.json (assets/feeds.py)
)


HEADLINE = {  # what a version's parse keeps beside its counts, and the type it is kept as
    "date_updated": "DATE", "payments_cumulative": "DOUBLE", "amount_gbp_cumulative": "DOUBLE", "services": "BIGINT",
    "organisations": "BIGINT", "organisations_listed": "BIGINT", "services_by_organisation_sum": "BIGINT",
    "services_by_sector_sum": "BIGINT",
}
PARSED_VERSIONS = "parsed.pay_versions"  # one row a version: its headline figures, and the number its counts carry
PARSED_NAMES = "parsed.pay_names"  # every name a version counted, once, with the number its counts carry
PARSED_COUNTS = {"_by_org": ("parsed.pay_organisation_counts", "organisation_name"),
                 "_by_sector": ("parsed.pay_sector_counts", "sector")}


class PayParseCache:
    """Each snapshot is parsed once: its headline figures and its tens of thousands of counts are kept by sha256.

    A new weekly snapshot then costs one file's parse, not the history's; the counts never come back into
    Python, the staging tables are views over them. A count is kept as three numbers (its version's, its name's,
    the count): names, kept once in ``parsed.pay_names``, are nearly the same every week, and writing them with every
    count was most of the time a full build spent keeping Pay's 15.8 million counts at national size.
    """

    def __init__(self) -> None:
        self.fingerprint = code_fingerprint(sys.modules[__name__], tracker.pay_snapshots, tracker.parsing)

    def keeps(self, name: str) -> bool:
        return name != VERSIONS_FILE

    def _ensure(self, con) -> None:
        con.execute("CREATE SCHEMA IF NOT EXISTS parsed")
        if table_exists(con, PARSED_VERSIONS) and "version_id" not in table_columns(con, PARSED_VERSIONS):
            # kept by an earlier layout (counts named by sha256): parsed again, as changed code always is
            for table in [PARSED_VERSIONS, *(t for t, _ in PARSED_COUNTS.values())]:
                con.execute(f"DROP TABLE IF EXISTS {table}")
        headline = ", ".join(f"{column} {kind}" for column, kind in HEADLINE.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {PARSED_VERSIONS} (sha256 VARCHAR PRIMARY KEY, version_id INTEGER, "
                    f"parser VARCHAR, problem VARCHAR, {headline})")
        con.execute(f"CREATE TABLE IF NOT EXISTS {PARSED_NAMES} (name_id INTEGER, name VARCHAR)")
        for table, _name in PARSED_COUNTS.values():
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} (version_id INTEGER, name_id INTEGER, "
                        "live_services BIGINT)")

    def stored(self, con, files: list[ListedFile]) -> dict[str, Any]:
        self._ensure(con)
        wanted = pd.DataFrame({"sha256": sorted({f.sha256 for f in files})}, dtype="string")
        con.register("_wanted_versions", wanted)
        rows = con.execute(f"SELECT sha256, problem, {', '.join(HEADLINE)} FROM {PARSED_VERSIONS} "
                           "SEMI JOIN _wanted_versions USING (sha256) WHERE parser = ?", [self.fingerprint]).fetchall()
        con.unregister("_wanted_versions")
        return {sha: FeedError("", problem) if problem is not None else dict(zip(HEADLINE, values, strict=True))
                for sha, problem, *values in rows}

    def as_stored(self, result: Any) -> Any:
        # the headline figures: the tens of thousands of counts stay in the warehouse (520 snapshots' counts held
        # in Python took some 3 GB on a full build at national size)
        return result if isinstance(result, FeedError) else {column: result[column] for column in HEADLINE}

    def store(self, con, results: list[tuple[SourceFile, Any]]) -> None:
        by_sha = {file.sha256: result for file, result in results}
        if not by_sha:
            return
        self._ensure(con)
        versions = pd.DataFrame([
            {"sha256": sha, "parser": self.fingerprint,
             "problem": r.problem if isinstance(r, FeedError) else None,
             **{column: None if isinstance(r, FeedError) else r[column] for column in HEADLINE}}
            for sha, r in by_sha.items()])
        with transaction(con):  # a version's figures and its counts are kept together or not at all
            con.register("_parsed_shas", versions[["sha256"]])
            replaced = f"SELECT version_id FROM {PARSED_VERSIONS} WHERE sha256 IN (SELECT sha256 FROM _parsed_shas)"
            for table, _name in PARSED_COUNTS.values():
                con.execute(f"DELETE FROM {table} WHERE version_id IN ({replaced})")
            con.execute(f"DELETE FROM {PARSED_VERSIONS} WHERE sha256 IN (SELECT sha256 FROM _parsed_shas)")
            con.unregister("_parsed_shas")
            con.register("_parsed_versions", versions)
            con.execute(f"INSERT INTO {PARSED_VERSIONS} BY NAME SELECT v.*, (SELECT coalesce(max(version_id), 0) "
                        f"FROM {PARSED_VERSIONS}) + row_number() OVER (ORDER BY v.sha256) AS version_id "
                        "FROM _parsed_versions v")
            con.unregister("_parsed_versions")
            for part, (table, _column) in PARSED_COUNTS.items():
                counts = _stacked_counts(by_sha, part)
                if counts is None:
                    continue
                con.register("_parsed_counts", counts[0])
                con.register("_parsed_numbers", counts[1])
                con.execute(f"INSERT INTO {PARSED_NAMES} SELECT (SELECT coalesce(max(name_id), 0) FROM {PARSED_NAMES})"
                            " + row_number() OVER (ORDER BY name), name FROM (SELECT DISTINCT name FROM "
                            f"_parsed_counts EXCEPT SELECT name FROM {PARSED_NAMES})")
                con.execute(f"INSERT INTO {table} (version_id, name_id, live_services) SELECT p.version_id, "
                            f"n.name_id, c.live_services FROM _parsed_counts c JOIN _parsed_numbers v USING (version) "
                            f"JOIN {PARSED_VERSIONS} p USING (sha256) JOIN {PARSED_NAMES} n USING (name)")
                con.unregister("_parsed_counts")
                con.unregister("_parsed_numbers")


def dated_out_of_step(snapshots: dict[str, Any], pubs: dict, shown: list[str]) -> dict[str, str]:
    """Versions whose dateUpdated cannot be right, with why: after the day the version was published (a figure
    for a day still to come), or before the date of a version published earlier (a slip of the year would
    otherwise rewrite history, and its flows turn negative). A version republished for the same date, as Pay
    corrects one, is in step. Neither happens in the 240 real versions."""
    said: dict[str, str] = {}
    latest: dt.date | None = None
    latest_name = ""
    for name in shown:  # in order of publication
        day, published = snapshots[name]["date_updated"], pubs[name].published_on
        if day > published:
            said[name] = (f"its dateUpdated, {long_date(day)}, is after the day it was published, "
                          f"{long_date(published)}: a figure cannot be for a day still to come. Check the year in "
                          "dateUpdated.")
        elif latest is not None and day < latest:
            said[name] = (f"its dateUpdated, {long_date(day)}, is earlier than that of {latest_name}, published before "
                          f"it ({long_date(latest)}): it would rewrite figures already published. Check the year in "
                          "dateUpdated.")
        else:
            latest, latest_name = day, name
    return said


def _stacked_counts(by_sha: dict[str, Any], part: str) -> tuple[pa.Table, pa.Table] | None:
    """The versions' Arrow columns one under the other, each row with its version's number, and the versions by
    number: one insert for a batch of versions, read by DuckDB where the columns lie (one insert a version took
    75% longer at national size)."""
    versions = [(sha, r[part]) for sha, r in by_sha.items() if not isinstance(r, FeedError) and r[part].num_rows]
    if not versions:
        return None
    stacked = pa.concat_tables([counts.append_column("version", pa.array(np.full(counts.num_rows, number, np.int32)))
                                for number, (_sha, counts) in enumerate(versions)])
    numbers = pa.table({"version": pa.array(range(len(versions)), pa.int32()),
                        "sha256": pa.array([sha for sha, _counts in versions], pa.string())})
    return stacked, numbers


def _counts_view(part: str) -> str:
    """The counts of the versions kept, each with its version's date: a view over the parse cache, the versions
    listed in the table ``{kept}`` names (sha256, version_value)."""
    table, column = PARSED_COUNTS[part]
    return (f"SELECT k.version_value AS date_updated, n.name AS {column}, c.live_services FROM {table} c "
            f"JOIN {PARSED_VERSIONS} p USING (version_id) JOIN {{kept}} k USING (sha256) "
            f"JOIN {PARSED_NAMES} n USING (name_id)")


def build_pay_tables(parsed: Parsed, settings: TrackerConfig) -> dict[str, pd.DataFrame | VersionsView]:
    """Versions in order of publication; for each dateUpdated the version published last is its figure."""
    snapshots, pubs, shown = versioned(parsed, "data/pay/snapshots", settings.as_of_date())
    out_of_step = dated_out_of_step(snapshots, pubs, shown)
    if out_of_step:  # left out by name; the source is put together again without them
        raise Quarantine([Problem(name, parsed[name][0].sha256, why, LEFT_OUT) for name, why in out_of_step.items()])
    current: dict = {}
    for name in shown:  # in order of publication, so the last published version of a date wins
        current[snapshots[name]["date_updated"]] = name
    kept = set(current.values())
    rows = []
    for name, p in sorted(snapshots.items(), key=lambda kv: (pubs[kv[0]].published_at, pubs[kv[0]].order)):
        date = p["date_updated"]
        rows.append({"file_name": name, "sha256": parsed[name][0].sha256, **{k: p[k] for k in HEADLINE},
                     "published_at": pubs[name].published_at.astimezone(dt.UTC).replace(tzinfo=None),
                     "published_on": pubs[name].published_on,
                     "is_current_version": name in kept,
                     "superseded_by": None if name in kept else current.get(date),
                     "not_used_because": None if name in kept else (
                         "published after the reporting date" if name not in shown and pubs[name].published_on
                         > settings.as_of_date() else "merged together with a later version" if name not in shown
                         else "a later version for the same date was published")})
    kept_versions = {parsed[n][0].sha256: snapshots[n]["date_updated"] for n in kept}
    return {
        "staging.pay_snapshots": pd.DataFrame(rows).astype({"superseded_by": "string"}),  # text, even if none is
        "staging.pay_organisation_services": VersionsView(kept_versions, _counts_view("_by_org")),
        "staging.pay_sector_services": VersionsView(kept_versions, _counts_view("_by_sector")),
    }


PAY_TABLES = {
    "staging.pay_snapshots": "One row per snapshot file: headline totals parsed to numbers, "
    "per-organisation and per-sector sums, when it was published, and whether it is the figure for its "
    "dateUpdated (the version published last) or why not.",
    "staging.pay_organisation_services": "Live services per organisation name (as published) "
    "for each de-duplicated version.",
    "staging.pay_sector_services": "Live services per sector for each de-duplicated version.",
}


pay_staging = staging_tables_asset(
    name="pay_staging",
    raw=pay_files,
    source=SOURCE,
    feed_label="GOV.UK Pay",
    tables=PAY_TABLES,
    reader=FeedReader(parse=parse_pay_file, assemble=build_pay_tables, cache=PayParseCache()),
)
