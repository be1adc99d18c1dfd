"""GOV.UK Notify's live performance data (https://www.notifications.service.gov.uk/features/performance.json).

The format, as alphagov/notifications-admin builds it (function ``performance``, endpoint
``main.performance_json``, in app/main/views_nl/performance.py; before that app/main/views/performance.py)
from the API's /performance-dashboard (alphagov/notifications-api, app/performance_dashboard/rest.py,
asked for the last 7 days) and /_api_status/live-service-and-organisation-counts:

    total_notifications, email_notifications, sms_notifications, letter_notifications
                            int: messages sent since Notify began (May 2016), all and by channel
    notifications_by_type   [{date, emails, sms, letters}]: messages sent each day of the window
    processing_time         [{date, percentage_under_10_seconds}]: each day's share sent within 10 s
    average_percentage_under_10_seconds   float: the mean of those
    live_service_count      int: live services (before the admin drops its ignored organisations)
    organisations_using_notify  [{organisation_name, count_of_live_services}]: services grouped by
                            organisation with itertools.groupby over rows NOT sorted by organisation, so
                            one organisation can appear more than once (then sorted by lower-case name);
                            a service with no organisation counts under "No organisation"
    count_of_live_services_and_organisations  {organisations, services}: the status API's counts

Dates are JSON strings: ISO (2021-02-21) or, as Flask writes a date, RFC 1123 (Sun, 21 Feb 2021 00:00:00 GMT).
The document carries no publication date: its latest day is the nearest thing to one.

parse_notify_performance() reads it: repeated organisations summed, unknown keys ignored, a missing
required key or a wrong type refused with NotifyFormatError naming the key. No Dagster here.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from tracker.parsing import FeedError

WHAT = "GOV.UK Notify's performance data"
NO_ORGANISATION = "No organisation"  # what notifications-admin publishes for services without one


class NotifyFormatError(FeedError):
    """Notify's document is not in the published format (a ValueError, as every FeedError): names the key."""

    def __init__(self, problem: str, file_name: str = WHAT):
        super().__init__(file_name, problem)


@dataclass(frozen=True)
class OrganisationServices:
    name: str  # as published
    live_services: int  # summed over every row the document gives it
    rows: int  # how many rows the document gives it (more than 1: grouped, not sorted, upstream)


@dataclass(frozen=True)
class DailyMessages:
    date: dt.date
    emails: int
    sms: int
    letters: int


@dataclass(frozen=True)
class NotifyPerformance:
    organisations: tuple[OrganisationServices, ...]  # in the document's order, each name once
    live_service_count: int
    total_notifications: int
    email_notifications: int
    sms_notifications: int
    letter_notifications: int
    daily: tuple[DailyMessages, ...]  # oldest first
    count_of_organisations: int | None  # from count_of_live_services_and_organisations, when given
    count_of_services: int | None
    average_percentage_under_10_seconds: float | None

    @property
    def first_date(self) -> dt.date | None:
        return self.daily[0].date if self.daily else None

    @property
    def last_date(self) -> dt.date | None:
        """The latest day the document covers: its only date of its own."""
        return self.daily[-1].date if self.daily else None

    def live_services_by_organisation(self) -> dict[str, int]:
        return {row.name: row.live_services for row in self.organisations}


def parse_notify_performance(content: bytes, file_name: str = WHAT) -> NotifyPerformance:
    def fail(problem: str) -> NotifyFormatError:
        return NotifyFormatError(problem, file_name)

    try:
        document = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise fail("is not UTF-8 text.") from exc
    except json.JSONDecodeError as exc:
        raise fail(f"is not complete JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from exc
    if not isinstance(document, dict):
        raise fail(f"should be a JSON object; it is a {_json_type(document)}.")

    def required(key: str):
        if key not in document:
            raise fail(f"has no '{key}' key, which Notify's performance data always has.")
        return document[key]

    totals = {key: _count(required(key), key, fail) for key in (
        "total_notifications", "email_notifications", "sms_notifications", "letter_notifications",
        "live_service_count")}

    rows = _list(required("organisations_using_notify"), "organisations_using_notify", fail)
    summed: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        where = f"organisations_using_notify[{index}]"
        row = _object(row, where, fail)
        for key in ("organisation_name", "count_of_live_services"):
            if key not in row:
                raise fail(f"has no '{key}' key in {where}.")
        name = row["organisation_name"]
        if not isinstance(name, str) or not name.strip():
            raise fail(f"has an organisation_name in {where} that is not a name: {name!r}.")
        services = _count(row["count_of_live_services"], f"{where}.count_of_live_services", fail)
        seen = summed.setdefault(name, [0, 0])
        seen[0] += services
        seen[1] += 1

    daily = []
    for index, row in enumerate(_list(required("notifications_by_type"), "notifications_by_type", fail)):
        where = f"notifications_by_type[{index}]"
        row = _object(row, where, fail)
        for key in ("date", "emails", "sms", "letters"):
            if key not in row:
                raise fail(f"has no '{key}' key in {where}.")
        daily.append(DailyMessages(date=_date(row["date"], f"{where}.date", fail),
                                   emails=_count(row["emails"], f"{where}.emails", fail),
                                   sms=_count(row["sms"], f"{where}.sms", fail),
                                   letters=_count(row["letters"], f"{where}.letters", fail)))
    dates = [day.date for day in daily]
    if len(set(dates)) != len(dates):
        raise fail("gives the same date more than once in notifications_by_type.")

    counts = document.get("count_of_live_services_and_organisations")
    count_of_organisations = count_of_services = None
    if counts is not None:
        counts = _object(counts, "count_of_live_services_and_organisations", fail)
        for key in ("organisations", "services"):
            if key not in counts:
                raise fail(f"has no '{key}' key in count_of_live_services_and_organisations.")
        count_of_organisations = _count(counts["organisations"],
                                        "count_of_live_services_and_organisations.organisations", fail)
        count_of_services = _count(counts["services"], "count_of_live_services_and_organisations.services", fail)

    average = document.get("average_percentage_under_10_seconds")
    if average is not None:
        if isinstance(average, bool) or not isinstance(average, (int, float)) or not 0 <= average <= 100:
            raise fail(f"has an average_percentage_under_10_seconds that is not a percentage: {average!r}.")
        average = float(average)

    return NotifyPerformance(
        organisations=tuple(OrganisationServices(name=name, live_services=services, rows=count)
                            for name, (services, count) in summed.items()),
        live_service_count=totals["live_service_count"],
        total_notifications=totals["total_notifications"],
        email_notifications=totals["email_notifications"],
        sms_notifications=totals["sms_notifications"],
        letter_notifications=totals["letter_notifications"],
        daily=tuple(sorted(daily, key=lambda day: day.date)),
        count_of_organisations=count_of_organisations,
        count_of_services=count_of_services,
        average_percentage_under_10_seconds=average,
    )


def _json_type(value: object) -> str:
    return {dict: "object", list: "list", str: "string", bool: "true/false", type(None): "null",
            int: "number", float: "number"}.get(type(value), type(value).__name__)


def _count(value: object, key: str, fail) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(f"has a '{key}' that is not a whole number: {value!r} (a {_json_type(value)}).")
    if value < 0:
        raise fail(f"has a '{key}' below zero: {value}.")
    return value


def _list(value: object, key: str, fail) -> list:
    if not isinstance(value, list):
        raise fail(f"has a '{key}' that should be a list; it is a {_json_type(value)}.")
    return value


def _object(value: object, key: str, fail) -> dict:
    if not isinstance(value, dict):
        raise fail(f"has a '{key}' that should be an object; it is a {_json_type(value)}.")
    return value


def _date(value: object, key: str, fail) -> dt.date:
    if isinstance(value, str):
        text = value.strip()
        for parse in (lambda t: dt.date.fromisoformat(t[:10]),
                      lambda t: dt.datetime.strptime(t, "%a, %d %b %Y %H:%M:%S GMT").date()):
            try:
                return parse(text)
            except ValueError:
                continue
    raise fail(f"has a '{key}' that is not a date: {value!r}.")
