"""GOV.UK Verify: accounts created per financial year (a written parliamentary answer, 2022)."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from assets.raw import raw_files_asset
from assets.staging import staging_table_asset, whole_source
from tracker.parsing import FeedError, read_csv_feed
from tracker.warehouse import SourceFile

SOURCE = "verify"
_FY = re.compile(r"^(\d{4})-(\d{2})$")
_PARTIAL_END = re.compile(r"to end (\w+) (\d{4})", re.I)

verify_files = raw_files_asset(
    SOURCE, "verify", "*.csv", "GOV.UK Verify accounts created per financial year, 2014-15 to 2022-23."
)


def financial_year_end(label: str, file_name: str) -> dt.date:
    """'2017-18' -> 31 March 2018 (UK government financial years run April to March)."""
    match = _FY.match(str(label).strip())
    if not match or (int(match[1]) + 1) % 100 != int(match[2]):
        raise FeedError(file_name, f"financial_year {label!r} is not of the form '2017-18'.")
    return dt.date(int(match[1]) + 1, 3, 31)


def parse_verify(file: SourceFile) -> pd.DataFrame:
    frame = read_csv_feed(file, ["financial_year", "verify_accounts_created"])
    rows = []
    for i, r in enumerate(frame.to_dict("records"), start=2):
        value = str(r["verify_accounts_created"]).replace(",", "").strip()
        if not value.isdigit():
            raise FeedError(file.name, f"row {i}: verify_accounts_created {r['verify_accounts_created']!r} "
                            "is not a whole number of accounts.")
        period_end = financial_year_end(r["financial_year"], file.name)
        note = r.get("note", "")
        partial = _PARTIAL_END.search(note)
        if partial:
            month = dt.datetime.strptime(f"1 {partial[1]} {partial[2]}", "%d %B %Y").date()
            period_end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        rows.append(
            {
                "financial_year": r["financial_year"],
                "period_end": period_end,
                "accounts_created": int(value),
                "is_partial_year": bool(partial),
                "note": note or None,
            }
        )
    out = pd.DataFrame(rows).sort_values("period_end")
    out["accounts_cumulative"] = out["accounts_created"].cumsum()
    return out


verify_accounts = staging_table_asset(
    raw=verify_files,
    source=SOURCE,
    feed_label="GOV.UK Verify",
    table="staging.verify_accounts",
    reader=whole_source(lambda files, _settings: {"staging.verify_accounts": parse_verify(files[-1])}),
    description="GOV.UK Verify accounts created per financial year and cumulatively "
    "(2022-23 covers April to September 2022 only).",
)
