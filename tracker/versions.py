"""When each version of a feed was published, so history is rebuilt as it stood on any date.

An archive's ``versions.csv`` gives each file's commit and ``published_at``: the
time the commit reached the publisher's main line. Rules, in one place:

- a version counts from its ``published_at``; ``--as-of`` ignores every version
  published after the reporting date (London time);
- versions that reached the main line in the same merge (same ``main_commit``)
  were never visible one by one: only the last of them (in the file's commit
  order) is a data point;
- a file the list does not know counts from when it was fetched, for a document
  the tracker fetched itself (its name, tracker/feed_store.py, says to the second,
  UTC), else from the date in its name (a newer archive), else from when the
  tracker received it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tracker.feed_store import fetched_at_from_name
from tracker.parsing import date_from_file_name, read_csv_rows
from tracker.warehouse import SourceFile

VERSIONS_FILE = "versions.csv"
LONDON = ZoneInfo("Europe/London")
REQUIRED_COLUMNS = ("file", "published_at")


@dataclass(frozen=True)
class Publication:
    file_name: str
    published_at: dt.datetime  # timezone-aware
    order: int  # position in the publisher's commit order (versions.csv row), or after every listed file
    main_commit: str | None
    listed: bool  # False: dated by its name or arrival, not by versions.csv

    @property
    def published_on(self) -> dt.date:
        """The London calendar day the version became public."""
        return self.published_at.astimezone(LONDON).date()


def parse_versions(file: SourceFile) -> dict[str, dict]:
    """versions.csv -> {file name: row}; an unreadable or incomplete list is refused whole. A row whose time cannot
    be read says so in its ``problem`` (its file is left out, naming the row: when it was published is not
    known), and the other rows stand: one bad row must not re-date the whole history."""
    rows = read_csv_rows(file, REQUIRED_COLUMNS, "the list of versions")
    listed = {}
    for number, row in enumerate(rows, start=2):
        try:
            published = dt.datetime.fromisoformat(row["published_at"].strip())
        except ValueError:
            listed[row["file"].strip()] = {"problem": f"its row in {file.name} (row {number}) gives published_at "
                                           f"{row['published_at']!r}, not an ISO 8601 date and time such as "
                                           "2025-12-22T10:31:00+00:00: correct the row, and the file counts.",
                                           "order": number}
            continue
        if published.tzinfo is None:
            published = published.replace(tzinfo=dt.UTC)
        listed[row["file"].strip()] = {"published_at": published, "order": number,
                                       "main_commit": (row.get("main_commit") or "").strip() or None}
    return listed


def publications(files: list[SourceFile], listed: dict[str, dict]) -> dict[str, Publication]:
    """When each data file was published (every file in ``files``, listed or not)."""
    result = {}
    after = max((v["order"] for v in listed.values()), default=0)
    for f in files:
        if f.name in listed:
            v = listed[f.name]
            result[f.name] = Publication(f.name, v["published_at"], v["order"], v["main_commit"], True)
            continue
        fetched = fetched_at_from_name(f.name)
        named = date_from_file_name(f.name)
        if fetched is not None:
            when = fetched.replace(tzinfo=dt.UTC)
        elif named is not None:
            when = dt.datetime.combine(named, dt.time(), LONDON)
        else:
            when = (f.received_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)).replace(tzinfo=dt.UTC)
        result[f.name] = Publication(f.name, when, after + 1, None, False)
    return result


def visible(pubs: dict[str, Publication], as_of: dt.date) -> dict[str, Publication]:
    """The versions that were public data points by the end of ``as_of``, in order of publication.

    Of versions merged together, only the last was ever visible.
    """
    kept = [p for p in pubs.values() if p.published_on <= as_of]
    last_of_merge: dict[str, Publication] = {}
    for p in kept:
        if p.main_commit and (p.main_commit not in last_of_merge or p.order > last_of_merge[p.main_commit].order):
            last_of_merge[p.main_commit] = p
    shown = [p for p in kept if not p.main_commit or last_of_merge[p.main_commit] is p]
    return {p.file_name: p for p in sorted(shown, key=lambda p: (p.published_at, p.order, p.file_name))}
