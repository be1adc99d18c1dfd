"""Reading one file of GOV.UK Pay's weekly public performance data (``performance.json``), or its ``versions.csv``.

Quirks handled here rather than in the data: volumes are strings such as '142.9 million'; organisation names are
free text and two can differ only by surrounding spaces (both are kept, as published: they are two rows of the
file). A snapshot's tens of thousands of counts come back as Arrow columns, not a dict: made where the file is
parsed (a process of its own on a full build, ``tracker/parse_processes.py``), they cross to the run and into the
warehouse as a few buffers, not one Python object a name. Imports no Dagster, so a child starts in a moment.
"""

from __future__ import annotations

import pyarrow as pa

from tracker.parsing import (
    MOST_COUNTED,
    FeedError,
    parse_long_date,
    parse_quantity,
    read_json_feed,
    require_int,
    require_keys,
)
from tracker.versions import VERSIONS_FILE, parse_versions
from tracker.warehouse import SourceFile

REQUIRED_KEYS = ["dateUpdated", "numberOfServices"]  # without these a version is not a data point
OPTIONAL_KEYS = ["numberOfPayments", "totalPaymentAmount", "numberOfOrganisations", "serviceCountBySector",
                 "serviceCountByOrganisation"]  # a missing one is left blank
COUNTS = {"_by_org": "serviceCountByOrganisation", "_by_sector": "serviceCountBySector"}  # part -> published key


def _counts(data: dict, key: str, file_name: str) -> dict[str, int]:
    mapping = data.get(key)
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise FeedError(file_name, f"'{key}' is not a list of names with counts.")
    # keys as published: names differing only by spaces are two rows of the file, not one
    counts = mapping.values()
    # the usual case, tens of thousands at a time: every count a whole number (not a bool) in range, checked in C
    if not counts or (set(map(type, counts)) == {int} and min(counts) >= 0 and max(counts) <= MOST_COUNTED):
        return mapping
    return {str(name): require_int(n, file_name, f"{key}[{name!r}]") for name, n in mapping.items()}


def counts_table(counts: dict[str, int]) -> pa.Table:
    """Names and live services as two Arrow columns, in the file's order."""
    return pa.table({"name": pa.array(list(counts), pa.string()),
                     "live_services": pa.array(list(counts.values()), pa.int64())})


def _optional(data: dict, key: str, read) -> float | int | None:
    return None if data.get(key) in (None, "") else read(data[key])


def parse_pay_snapshot(file: SourceFile) -> dict:
    """One snapshot file -> headline numbers plus per-sector and per-organisation counts (Arrow tables of name and
    live_services)."""
    data = read_json_feed(file)
    require_keys(data, REQUIRED_KEYS, file.name, "the snapshot")
    organisations = _counts(data, COUNTS["_by_org"], file.name)
    sectors = _counts(data, COUNTS["_by_sector"], file.name)
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
        "_by_org": counts_table(organisations),
        "_by_sector": counts_table(sectors),
    }


def parse_pay_file(file: SourceFile) -> dict:
    return parse_versions(file) if file.name == VERSIONS_FILE else parse_pay_snapshot(file)
