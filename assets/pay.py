"""GOV.UK Pay: weekly public performance snapshots (data/pay/snapshots/*.json).

Quirks handled here rather than in the data: volumes are strings such as
'142.9 million'; the same ``dateUpdated`` is sometimes published more than once
(the last file for a date wins, the others are kept and marked superseded);
organisation names are free text (matched in organisation_matching.py).
"""

from __future__ import annotations

import json

import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import staging_tables_asset
from tracker.parsing import (
    FeedError,
    date_from_file_name,
    parse_long_date,
    parse_quantity,
    require_int,
    require_keys,
)
from tracker.warehouse import SourceFile

SOURCE = "pay"
REQUIRED_KEYS = [
    "dateUpdated",
    "numberOfPayments",
    "totalPaymentAmount",
    "numberOfServices",
    "numberOfOrganisations",
    "serviceCountBySector",
    "serviceCountByOrganisation",
]

pay_files = raw_files_asset(
    SOURCE,
    "pay/snapshots",
    "*.json",
    "Every weekly version of GOV.UK Pay's public performance data (performance.json).",
)


def parse_pay_snapshot(file: SourceFile) -> dict:
    """One snapshot file -> headline numbers plus per-sector and per-organisation counts."""
    if not file.content.strip():
        raise FeedError(file.name, "the file is empty (0 bytes of JSON).")
    try:
        data = json.loads(file.content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FeedError(file.name, f"the file is not valid JSON ({err}).") from None
    require_keys(data, REQUIRED_KEYS, file.name, "the snapshot")
    by_org = data["serviceCountByOrganisation"]
    by_sector = data["serviceCountBySector"]
    for key, mapping in (("serviceCountByOrganisation", by_org), ("serviceCountBySector", by_sector)):
        if not isinstance(mapping, dict) or not mapping:
            raise FeedError(file.name, f"'{key}' is empty: the snapshot lists no services.")
    organisations = {
        str(name).strip(): require_int(n, file.name, f"serviceCountByOrganisation[{name!r}]")
        for name, n in by_org.items()
    }
    sectors = {
        str(name): require_int(n, file.name, f"serviceCountBySector[{name!r}]")
        for name, n in by_sector.items()
    }
    return {
        "file_name": file.name,
        "sha256": file.sha256,
        "published_on": date_from_file_name(file.name),
        "date_updated": parse_long_date(data["dateUpdated"], file.name, "dateUpdated"),
        "payments_cumulative": parse_quantity(data["numberOfPayments"], file.name, "numberOfPayments"),
        "amount_gbp_cumulative": parse_quantity(
            data["totalPaymentAmount"], file.name, "totalPaymentAmount"
        ),
        "services": require_int(data["numberOfServices"], file.name, "numberOfServices"),
        "organisations": require_int(data["numberOfOrganisations"], file.name, "numberOfOrganisations"),
        "organisations_listed": len(organisations),
        "services_by_organisation_sum": sum(organisations.values()),
        "services_by_sector_sum": sum(sectors.values()),
        "_by_org": organisations,
        "_by_sector": sectors,
    }


def build_pay_tables(files: list[SourceFile]) -> dict[str, pd.DataFrame]:
    """Parse every file and de-duplicate versions: the last file for each dateUpdated wins."""
    parsed = [parse_pay_snapshot(f) for f in files]
    parsed.sort(key=lambda p: (p["date_updated"], p["published_on"] or p["date_updated"], p["file_name"]))
    current: dict = {}
    for p in parsed:
        current[p["date_updated"]] = p  # sorted, so the last publication of a date wins
    kept = {id(p) for p in current.values()}
    snapshots = pd.DataFrame(
        [
            {k: v for k, v in p.items() if not k.startswith("_")}
            | {
                "is_current_version": id(p) in kept,
                "superseded_by": None if id(p) in kept else current[p["date_updated"]]["file_name"],
            }
            for p in parsed
        ]
    )
    organisation_rows = [
        {"date_updated": p["date_updated"], "organisation_name": name, "live_services": n}
        for p in current.values()
        for name, n in p["_by_org"].items()
    ]
    sector_rows = [
        {"date_updated": p["date_updated"], "sector": sector, "live_services": n}
        for p in current.values()
        for sector, n in p["_by_sector"].items()
    ]
    return {
        "staging.pay_snapshots": snapshots,
        "staging.pay_organisation_services": pd.DataFrame(organisation_rows),
        "staging.pay_sector_services": pd.DataFrame(sector_rows),
    }


PAY_TABLES = {
    "staging.pay_snapshots": "One row per snapshot file: headline totals parsed to numbers, "
    "per-organisation and per-sector sums, and whether the file is the current version of its "
    "dateUpdated.",
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
    build=lambda files, _settings: build_pay_tables(files),
)
