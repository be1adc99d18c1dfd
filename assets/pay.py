"""GOV.UK Pay: weekly public performance snapshots (data/pay/snapshots/*.json).

Quirks handled here rather than in the data: volumes are strings such as
'142.9 million'; organisation names are free text and two can differ only by
surrounding spaces (both are kept, as published: they are two rows of the
file); the same ``dateUpdated`` is sometimes published more than once, and
``versions.csv`` says when each version was published: the version published
last for a date is its figure, the others are kept and marked superseded.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import FeedReader, Parsed, staging_tables_asset, versioned
from tracker.parsing import FeedError, parse_long_date, parse_quantity, read_json_feed, require_int, require_keys
from tracker.resources import TrackerConfig
from tracker.versions import VERSIONS_FILE, parse_versions
from tracker.warehouse import SourceFile

SOURCE = "pay"
REQUIRED_KEYS = ["dateUpdated", "numberOfServices"]  # without these a version is not a data point
OPTIONAL_KEYS = ["numberOfPayments", "totalPaymentAmount", "numberOfOrganisations", "serviceCountBySector",
                 "serviceCountByOrganisation"]  # a missing one is left blank

pay_files = raw_files_asset(
    SOURCE,
    "pay/snapshots",
    "*.json",
    "Every weekly version of GOV.UK Pay's public performance data (performance.json), and "
    "versions.csv: when each was published.",
    also=f"pay/{VERSIONS_FILE}",
    feed=SOURCE,  # and every version the tracker fetched of performance.json (assets/feeds.py)
)


def _counts(data: dict, key: str, file_name: str) -> dict[str, int]:
    mapping = data.get(key)
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise FeedError(file_name, f"'{key}' is not a list of names with counts.")
    # keys as published: names differing only by spaces are two rows of the file, not one
    return {str(name): require_int(n, file_name, f"{key}[{name!r}]") for name, n in mapping.items()}


def _optional(data: dict, key: str, read) -> float | int | None:
    return None if data.get(key) in (None, "") else read(data[key])


def parse_pay_snapshot(file: SourceFile) -> dict:
    """One snapshot file -> headline numbers plus per-sector and per-organisation counts."""
    data = read_json_feed(file)
    require_keys(data, REQUIRED_KEYS, file.name, "the snapshot")
    organisations = _counts(data, "serviceCountByOrganisation", file.name)
    sectors = _counts(data, "serviceCountBySector", file.name)
    return {
        "file_name": file.name,
        "sha256": file.sha256,
        "date_updated": parse_long_date(data["dateUpdated"], file.name, "dateUpdated"),
        "payments_cumulative": _optional(data, "numberOfPayments",
                                         lambda v: parse_quantity(v, file.name, "numberOfPayments")),
        "amount_gbp_cumulative": _optional(data, "totalPaymentAmount",
                                           lambda v: parse_quantity(v, file.name, "totalPaymentAmount")),
        "services": require_int(data["numberOfServices"], file.name, "numberOfServices"),
        "organisations": _optional(data, "numberOfOrganisations",
                                   lambda v: require_int(v, file.name, "numberOfOrganisations")),
        "organisations_listed": len(organisations) if organisations else None,
        "services_by_organisation_sum": sum(organisations.values()) if organisations else None,
        "services_by_sector_sum": sum(sectors.values()) if sectors else None,
        "_by_org": organisations,
        "_by_sector": sectors,
    }


def parse_pay_file(file: SourceFile, _settings: TrackerConfig) -> dict:
    return parse_versions(file) if file.name == VERSIONS_FILE else parse_pay_snapshot(file)


def build_pay_tables(parsed: Parsed, settings: TrackerConfig) -> dict[str, pd.DataFrame]:
    """Versions in order of publication; for each dateUpdated the version published last is its figure."""
    snapshots, pubs, shown = versioned(parsed, "data/pay/snapshots", settings.as_of_date())
    current: dict = {}
    for name in shown:  # in order of publication, so the last published version of a date wins
        current[snapshots[name]["date_updated"]] = name
    kept = set(current.values())
    rows = []
    for name, p in sorted(snapshots.items(), key=lambda kv: (pubs[kv[0]].published_at, pubs[kv[0]].order)):
        date = p["date_updated"]
        rows.append({k: v for k, v in p.items() if not k.startswith("_")} | {
            "published_at": pubs[name].published_at.astimezone(dt.UTC).replace(tzinfo=None),
            "published_on": pubs[name].published_on,
            "is_current_version": name in kept,
            "superseded_by": None if name in kept else current.get(date),
            "not_used_because": None if name in kept else (
                "published after the reporting date" if name not in shown and pubs[name].published_on
                > settings.as_of_date() else "merged together with a later version" if name not in shown
                else "a later version for the same date was published"),
        })
    organisation_rows = [
        {"date_updated": snapshots[n]["date_updated"], "organisation_name": name, "live_services": count}
        for n in kept for name, count in snapshots[n]["_by_org"].items()
    ]
    sector_rows = [
        {"date_updated": snapshots[n]["date_updated"], "sector": sector, "live_services": count}
        for n in kept for sector, count in snapshots[n]["_by_sector"].items()
    ]
    return {
        "staging.pay_snapshots": pd.DataFrame(rows),
        "staging.pay_organisation_services": pd.DataFrame(
            organisation_rows, columns=["date_updated", "organisation_name", "live_services"]),
        "staging.pay_sector_services": pd.DataFrame(sector_rows, columns=["date_updated", "sector", "live_services"]),
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
    reader=FeedReader(parse=parse_pay_file, assemble=build_pay_tables),
)
