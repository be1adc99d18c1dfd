"""Reading one file of the cross-government API catalogue (co-cddo/api-catalogue): a version of the catalogue,
the catalogue's organisation list, or ``versions.csv``.

Twenty archived versions hold a malformed row (an unquoted comma or line break shifts the fields): a row that
starts with a date is one API, its name is the fourth field and its provider the last field that is a known
provider id; the fragment lines a line break leaves are not APIs. Imports no Dagster, so a process of its own
(``tracker/parse_processes.py``) starts in a moment.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pandas as pd

from tracker.parsing import FeedError
from tracker.versions import VERSIONS_FILE, parse_versions
from tracker.warehouse import SourceFile

CATALOGUE_COLUMNS = ["dateAdded", "url", "name", "provider"]
ORGANISATIONS_PREFIX = "api_catalogue_organisations"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PROVIDER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


def _date(text: str) -> dt.date | None:
    text = (text or "").strip()
    return dt.date.fromisoformat(text) if _DATE.match(text) else None


def parse_catalogue_version(file: SourceFile) -> dict:
    """One version -> its API rows, each with the fields it could be read with, and the malformed count."""
    try:
        rows = list(csv.reader(io.StringIO(file.content.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as err:
        raise FeedError(file.name, f"the catalogue is not a readable CSV ({err}).") from None
    if not rows:
        raise FeedError(file.name, "the catalogue is empty.")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in CATALOGUE_COLUMNS if c not in header]
    if missing:
        raise FeedError(file.name, f"the catalogue has no column {', '.join(map(repr, missing))}.")
    at = {c: header.index(c) for c in header}
    apis, malformed = [], 0
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        well_formed = len(row) == len(header)
        if not well_formed:
            malformed += 1
            if _date(row[0]) is None:
                continue  # the rest of a row that an unquoted line break split: not an API of its own

        def field(column: str, row: list[str] = row) -> str:
            return row[at[column]].strip() if at[column] < len(row) else ""

        if not field("name"):
            malformed += well_formed  # an API without a name cannot be told apart from another: not counted
            continue
        candidates = [c.strip() for c in row[at["name"] + 1:] if _PROVIDER_ID.match(c.strip())]
        apis.append({
            "row": number,
            "date_added": _date(field("dateAdded")),
            "date_updated": _date(field("dateUpdated")) if "dateUpdated" in at else None,
            "end_date": _date(field("endDate")) if "endDate" in at else None,
            "api_name": " ".join(field("name").split()),
            "url": field("url") or None,
            "provider": field("provider") if well_formed else (candidates[-1] if candidates else ""),
            "well_formed": well_formed,
        })
    if not apis:
        raise FeedError(file.name, "the catalogue has a header but no APIs.")
    return {"apis": apis, "malformed_rows": malformed}


def parse_organisation_names(file: SourceFile) -> dict[str, str]:
    try:
        orgs = pd.read_csv(io.BytesIO(file.content), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise FeedError(file.name, f"the organisation list is not a readable table ({err}).") from None
    if not {"id", "name"} <= set(orgs.columns):
        raise FeedError(file.name, "the organisation list needs the columns 'id' and 'name'.")
    return dict(zip(orgs["id"].str.strip(), orgs["name"], strict=False))


def parse_data_sharing_file(file: SourceFile) -> object:
    if file.name == VERSIONS_FILE:
        return parse_versions(file)
    if file.name.startswith(ORGANISATIONS_PREFIX):
        return parse_organisation_names(file)
    return parse_catalogue_version(file)
