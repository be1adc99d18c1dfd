"""Turning what the platforms publish into numbers and dates, with errors a person can act on."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import TYPE_CHECKING

import orjson
import pandas as pd
import yaml

from tracker.dates import long_date

if TYPE_CHECKING:
    import dagster as dg

_SCALES = {
    "": 1,
    "thousand": 1_000,
    "k": 1_000,
    "million": 1_000_000,
    "m": 1_000_000,
    "billion": 1_000_000_000,
    "bn": 1_000_000_000,
    "b": 1_000_000_000,
}
_QUANTITY = re.compile(r"^\s*£?\s*(?P<number>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s*(?P<scale>[a-z]*)\.?\s*$",
                       re.I | re.ASCII)


class FeedError(ValueError):
    """A feed file that cannot be read as published: names the file and the problem."""

    def __init__(self, file_name: str, problem: str):
        super().__init__(f"{file_name}: {problem}")
        self.file_name = file_name
        self.problem = problem

    def __reduce__(self):  # so it crosses from a process of its own as it was raised (tracker/parse_processes.py)
        return FeedError, (self.file_name, self.problem)

    def as_failure(self, source: str) -> dg.Failure:
        import dagster as dg  # here, not at the top: tracker validate reads feeds without loading Dagster

        return dg.Failure(
            description=(
                f"The {source} feed could not be read. {self.file_name}: {self.problem} "
                "Nothing was written: the tables from the last good run are unchanged."
            ),
            metadata={"file": self.file_name, "problem": self.problem},
        )


def parse_quantity(text: object, file_name: str, key: str) -> float:
    """'142.9 million' -> 142900000.0; '9.6 billion' -> 9600000000.0; plain numbers pass through."""
    if isinstance(text, bool):
        raise FeedError(file_name, f"'{key}' is {text!r}, expected a number such as '142.9 million'.")
    if isinstance(text, int | float):
        return float(text)
    if not isinstance(text, str):
        raise FeedError(file_name, f"'{key}' is {text!r}, expected a number such as '142.9 million'.")
    match = _QUANTITY.match(text)
    scale = match and _SCALES.get(match["scale"].lower())
    if not match or scale is None:
        raise FeedError(
            file_name,
            f"'{key}' is {text!r}, which is not a number in a form the tracker knows "
            "(for example '142.9 million', '9.6 billion' or '1,234'). "
            "If the platform changed its wording, add the new form to tracker/parsing.py.",
        )
    return round(float(match["number"].replace(",", "")) * scale, 2)


_WEEKDAY = re.compile(r"^(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(day|nesday|rsday|urday)?,?\s+", re.I)


def parse_long_date(text: object, file_name: str, key: str) -> dt.date:
    """'13 April 2021', '13th April 2021', '13 Apr 2021', 'Tuesday 13 April 2021', '13/04/2021', '2021-04-13' or
    an ISO date-time -> date."""
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    if isinstance(text, str):
        cleaned = re.sub(r"(?<=\d)(st|nd|rd|th)\b", "", " ".join(text.split()), flags=re.I)
        named = _WEEKDAY.match(cleaned)  # the day's name: read past, and checked against the date
        cleaned = cleaned[named.end():] if named else cleaned
        for fmt in ("%d %B %Y", "%d %b %Y", "%Y-%m-%d", "%d/%m/%Y", "%B %d, %Y"):
            try:
                day = dt.datetime.strptime(cleaned, fmt).date()
            except ValueError:
                continue
            if named and named[1][:3].lower() != f"{day:%a}".lower():
                raise FeedError(file_name, f"'{key}' is {text!r}, but {long_date(day)} is a {day:%A}: check "
                                "which is meant.")
            return day
        try:
            return dt.datetime.fromisoformat(cleaned).date()
        except ValueError:
            pass
    raise FeedError(file_name, f"'{key}' is {text!r}, expected a date such as '13 April 2021'.")


def date_from_file_name(file_name: str) -> dt.date | None:
    """Archive files are named '<publication date>_<commit>.ext'."""
    match = re.match(r"^(\d{4}-\d{2}-\d{2})_", file_name)
    return dt.date.fromisoformat(match[1]) if match else None


_WHOLE = re.compile(r"^\s*(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?\s*$", re.ASCII)  # 0-9 only


MOST_COUNTED = 2**63 - 1  # the largest count the warehouse can hold (BIGINT)


def require_int(value: object, file_name: str, key: str) -> int:
    """A count as the feeds write it: 549870, "549870", "549,870" or 549870.0 (a whole number)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and (match := _WHOLE.match(value)):
        value = int(match["number"].replace(",", ""))
    if isinstance(value, bool) or not isinstance(value, int):
        raise FeedError(file_name, f"'{key}' is {value!r}, expected a whole number such as 1,603.")
    if value < 0:
        raise FeedError(file_name, f"'{key}' is {value}, but a count cannot be negative.")
    if value > MOST_COUNTED:  # said without the number: JSON's reader gives one this large only roughly
        raise FeedError(file_name, f"'{key}' is a number too large to be a count (more than {MOST_COUNTED:,}).")
    return value


def require_keys(record: object, keys: list[str], file_name: str, what: str = "the file") -> dict:
    if not isinstance(record, dict) or not record:
        raise FeedError(file_name, f"{what} is empty or is not a key/value object.")
    missing = [k for k in keys if k not in record]
    if missing:
        raise FeedError(
            file_name,
            f"{what} has no {', '.join(repr(k) for k in missing)} "
            f"(found: {', '.join(map(repr, list(record)[:12]))}).",
        )
    return record


def read_csv_feed(file, columns: list[str], sep: str = ",", what: str = "the file") -> pd.DataFrame:
    """A published CSV/TSV as text columns; fails, naming the file, if unreadable, short of columns or empty."""
    try:
        frame = pd.read_csv(io.BytesIO(file.content), dtype=str, keep_default_na=False, sep=sep)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise FeedError(file.name, f"{what} is not a readable table ({err}).") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FeedError(file.name, f"{what} has no column {', '.join(map(repr, missing))}.")
    if frame.empty:
        raise FeedError(file.name, f"{what} has a header but no rows.")
    return frame


def read_csv_rows(file, columns: tuple[str, ...] | list[str], what: str) -> list[dict[str, str]]:
    """A small published CSV as rows of text, refused whole (naming the file) if unreadable or short of columns."""
    try:
        rows = list(csv.DictReader(io.StringIO(file.content.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as err:
        raise FeedError(file.name, f"{what} is not a readable CSV ({err}).") from None
    if not rows or any(c not in rows[0] for c in columns):
        raise FeedError(file.name, f"{what} needs the columns {', '.join(columns)}.")
    return rows


def json_document(content: bytes) -> object:
    """``content`` read as JSON: by orjson, about twice as fast as Python's json on the gigabyte of Pay snapshots a
    national history holds, or, when orjson refuses it (a byte-order mark, NaN, a lone surrogate, nesting deeper
    than 1,024), by json as before, raising json's errors; so what is read, and what a refusal says, is the same.
    The two differ only on whole numbers beyond 64 bits, which orjson gives as floats: no count is that large
    (``require_int``)."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content.decode("utf-8-sig"))


def read_json_feed(file) -> object:
    """A published JSON document; fails, naming the file, if it is empty or not JSON."""
    if not file.content.strip():
        raise FeedError(file.name, "the file is empty (0 bytes of JSON).")
    try:
        return json_document(file.content)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FeedError(file.name, f"the file is not valid JSON ({err}).") from None
    except RecursionError:
        raise FeedError(file.name, "the file nests lists or objects too deeply to be read (more than a "
                        "thousand levels); the platforms' files nest a few.") from None


def read_yaml_feed(file) -> object:
    """A published YAML file; fails, naming the file, if it is empty or not YAML."""
    try:
        return yaml.safe_load(file.content.decode("utf-8-sig")) if file.content.strip() else None
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise FeedError(file.name, f"the file is not valid YAML ({err}).") from None
