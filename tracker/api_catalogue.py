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
import functools
import io
import re

import pandas as pd

from tracker.parsing import FeedError, parse_long_date
from tracker.versions import VERSIONS_FILE, parse_versions
from tracker.warehouse import SourceFile

CATALOGUE_COLUMNS = ["dateAdded", "url", "name", "provider"]
ORGANISATIONS_PREFIX = "api_catalogue_organisations"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PROVIDER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


@functools.lru_cache(maxsize=1 << 14)  # a catalogue's dates repeat: 480,000 read in 40 national versions
def _date(text: str) -> dt.date | None:
    """A date as the catalogue writes it (2021-03-04), or in a form people write one (04/03/2021, day first as in
    the UK; 4th March 2021), as the other sources' dates are read; None for a blank, or no such day."""
    text = (text or "").strip()
    if not _DATE.match(text):
        if not text:
            return None
        try:
            return parse_long_date(text, "", "")
        except FeedError:
            return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:  # 2020-13-45: a date's form, no such day
        return None


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
    added_at, url_at, name_at, provider_at = (at[c] for c in CATALOGUE_COLUMNS)
    updated_at, end_at = at.get("dateUpdated"), at.get("endDate")
    apis, malformed = [], 0
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        size = len(row)
        well_formed = size == len(header)
        if not well_formed:
            malformed += 1
            if _date(row[0]) is None:
                continue  # the rest of a row that an unquoted line break split: not an API of its own
        # each field, stripped, or "" where a short row ends before it (written out: 1.1 million fields nationally)
        name = row[name_at].strip() if name_at < size else ""
        if not name:
            malformed += well_formed  # an API without a name cannot be told apart from another: not counted
            continue
        if well_formed:
            provider = row[provider_at].strip()
        else:
            candidates = [c.strip() for c in row[name_at + 1:] if _PROVIDER_ID.match(c.strip())]
            provider = candidates[-1] if candidates else ""
        apis.append({
            "row": number,
            "date_added": _date(row[added_at] if added_at < size else ""),
            "date_updated": _date(row[updated_at] if updated_at < size else "") if updated_at is not None else None,
            "end_date": _date(row[end_at] if end_at < size else "") if end_at is not None else None,
            "api_name": " ".join(name.split()),
            "url": (row[url_at].strip() if url_at < size else "") or None,
            "provider": provider,
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
