"""Turning the platforms' published text into numbers and dates."""

import datetime as dt

import pytest

from tracker.parsing import FeedError, date_from_file_name, parse_long_date, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("142.9 million", 142_900_000),
        ("9.6 billion", 9_600_000_000),
        ("910.0 million", 910_000_000),
        ("1,234", 1234),
        ("£1.2 billion", 1_200_000_000),
        ("950 thousand", 950_000),
        ("12.5m", 12_500_000),
        (" 3 Billion ", 3_000_000_000),
        (42, 42),
    ],
)
def test_quantities(text, expected):
    assert parse_quantity(text, "f.json", "numberOfPayments") == expected


@pytest.mark.parametrize("text", ["about 3 million", "1.2 trillion", "", "n/a", None, True, "3 millions"])
def test_unknown_quantity_forms_name_the_file_key_and_value(text):
    with pytest.raises(FeedError) as err:
        parse_quantity(text, "2026-01-05_abc.json", "numberOfPayments")
    message = str(err.value)
    assert "2026-01-05_abc.json" in message and "numberOfPayments" in message and repr(text) in message


def test_dates():
    assert parse_long_date("13 April 2021", "f", "dateUpdated") == dt.date(2021, 4, 13)
    assert parse_long_date("2025-12-15", "f", "last_updated") == dt.date(2025, 12, 15)
    assert date_from_file_name("2025-12-22_73bfaefd.json") == dt.date(2025, 12, 22)
    assert date_from_file_name("performance.json") is None
    with pytest.raises(FeedError, match="dateUpdated"):
        parse_long_date("Thirteenth of April", "f", "dateUpdated")
