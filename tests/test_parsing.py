"""Turning the platforms' published text into numbers and dates."""

import datetime as dt
import json
from pathlib import Path

import pytest

from tracker.parsing import (
    MOST_COUNTED,
    FeedError,
    date_from_file_name,
    parse_long_date,
    parse_quantity,
    read_json_feed,
    require_int,
)
from tracker.pay_snapshots import parse_pay_snapshot
from tracker.warehouse import SourceFile


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


@pytest.mark.parametrize("text", ["Tuesday 13 April 2021", "Tue, 13 Apr 2021", "Tues 13th April 2021",
                                  "tuesday 13/04/2021"])
def test_a_date_with_its_day_s_name_is_read(text):
    assert parse_long_date(text, "f", "dateUpdated") == dt.date(2021, 4, 13)


def test_a_day_s_name_that_is_not_the_date_s_is_refused_in_words():
    with pytest.raises(FeedError, match="'Monday 13 April 2021', but 13 April 2021 is a Tuesday: check which"):
        parse_long_date("Monday 13 April 2021", "f", "dateUpdated")


@pytest.mark.parametrize("text, expected", [
    ("2021-03-04", dt.date(2021, 3, 4)), ("04/03/2021", dt.date(2021, 3, 4)),  # day first, as written in the UK
    ("4th March 2021", dt.date(2021, 3, 4)), ("", None), ("soon", None), ("2020-13-45", None),
])
def test_a_catalogue_date_is_read_in_the_forms_people_write(text, expected):
    from tracker.api_catalogue import _date

    assert _date(text) == expected


# --- JSON read by orjson, as json would read it ---------------------------------------------------------------

SAME_AS_JSON = [
    b'{"a": 1, "a": 2}',  # a repeated key: the last one, as json
    b'[1.0000000000000002, 0.1, 5e-324, 1e-400, -0.0, 1E2]',
    b'{"\\u00e9\\ud83d\\ude00": "\\u0000 a\\/b", "x": [true, false, null]}',
    b'18446744073709551615',  # the largest whole number orjson reads exactly
    b' \t\n{"n": -9223372036854775808}\r\n',
    '\ufeff{"dateUpdated": "1 May 2026"}'.encode(),  # a byte-order mark: refused by orjson, read by json
    b'{"v": NaN, "w": Infinity, "x": -Infinity}',  # not JSON, but json reads it: refused by orjson, read as before
    b'[1e400, -1e400]',  # beyond a double: json gives infinities
    b'"\\ud800"',  # a lone surrogate
    ("[" * 900 + "]" * 900).encode(),  # nested deep, as deep as both read
]


@pytest.mark.parametrize("content", SAME_AS_JSON, ids=range(len(SAME_AS_JSON)))
def test_a_json_document_is_read_exactly_as_json_reads_it(content):
    read = read_json_feed(SourceFile(Path("2026-05-01_abc.json"), content))
    expected = json.loads(content.decode("utf-8-sig"))
    assert repr(read) == repr(expected)  # repr: NaN is not equal to itself, and -0.0 == 0.0


@pytest.mark.parametrize("content", [b'{"a": 1,}', b"\xff\xfe{}", b'{"a": "\x01"}', b"[1, 2", b"nul"])
def test_a_document_that_is_not_json_is_refused_as_before_in_jsons_words(content):
    with pytest.raises(FeedError) as err:
        read_json_feed(SourceFile(Path("2026-05-01_abc.json"), content))
    try:
        json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as expected:
        assert str(err.value) == str(FeedError("2026-05-01_abc.json", f"the file is not valid JSON ({expected})."))
    else:
        pytest.fail("json reads it")


@pytest.mark.parametrize("depth", [1100, 100_000])
def test_a_document_nested_too_deeply_is_refused_in_words(depth):
    with pytest.raises(FeedError) as err:
        read_json_feed(SourceFile(Path("2026-05-01_abc.json"), ("[" * depth + "]" * depth).encode()))
    assert "nests lists or objects too deeply" in str(err.value) and "2026-05-01_abc.json" in str(err.value)


@pytest.mark.parametrize("value", [MOST_COUNTED, str(MOST_COUNTED), float(2**53)])
def test_the_largest_count_the_warehouse_holds_is_read(value):
    assert require_int(value, "f.json", "numberOfServices") == int(value)


@pytest.mark.parametrize("value", [MOST_COUNTED + 1, 10**20, "99,999,999,999,999,999,999", 1e19])
def test_a_count_too_large_for_the_warehouse_is_refused_in_words(value):
    with pytest.raises(FeedError) as err:
        require_int(value, "f.json", "numberOfServices")
    assert "'numberOfServices' is a number too large to be a count" in str(err.value)


@pytest.mark.parametrize("count", ["99999999999999999999", "9223372036854775808", "-99999999999999999999"])
def test_a_snapshot_with_a_count_beyond_64_bits_is_refused_in_words_not_a_surprise(count):
    """Read by orjson, a whole number beyond 64 bits is a float; by json it was an int that broke the warehouse's
    insert: either way the file is refused, in words, naming the organisation."""
    content = ('{"dateUpdated": "1 May 2026", "numberOfServices": 3, "serviceCountByOrganisation": '
               f'{{"Ashford Borough Council": 2, "Big Numbers Ltd": {count}}}}}').encode()
    with pytest.raises(FeedError) as err:
        parse_pay_snapshot(SourceFile(Path("2026-05-01_abc.json"), content))
    assert "Big Numbers Ltd" in str(err.value)
    assert "too large to be a count" in str(err.value) or "cannot be negative" in str(err.value)


# --- a version of the API catalogue, row by row ---------------------------------------------------------------

CATALOGUE = (
    "dateAdded,dateUpdated,url,name,description,provider,endDate\n"
    "2020-01-02,2020-02-03, https://a.example ,  Alpha   API ,desc,hmrc,\n"
    "2020-01-03,,https://b.example,Beta,desc, with comma,dvla,2024-05-06\n"  # an unquoted comma: one field more
    '2020-01-04,,https://c.example,Gamma,"quoted\nline break",dwp,\n'  # quoted: one row
    ",,,,,,\n"  # blank: not a row
    "2020-01-05,,https://d.example,,desc,ons,\n"  # no name: malformed, not an API
    "2020-01-06,2020-13-45,,Epsilon,desc,Cabinet-Office,2021-02-30\n"  # a date's form, no such day
    "2020-01-08,,https://f.example,Zeta,desc starts\n here,ons,\n"  # an unquoted line break: two fragments
)


def test_a_catalogue_version_is_read_row_by_row_with_its_malformed_rows_counted():
    from tracker.api_catalogue import parse_catalogue_version

    parsed = parse_catalogue_version(SourceFile(Path("2020-01-09_abc.csv"), CATALOGUE.encode()))
    day = dt.date
    assert parsed["apis"] == [
        {"row": 2, "date_added": day(2020, 1, 2), "date_updated": day(2020, 2, 3), "end_date": None,
         "api_name": "Alpha API", "url": "https://a.example", "provider": "hmrc", "well_formed": True},
        {"row": 3, "date_added": day(2020, 1, 3), "date_updated": None, "end_date": None,  # shifted: 'dvla'
         "api_name": "Beta", "url": "https://b.example", "provider": "dvla", "well_formed": False},
        {"row": 4, "date_added": day(2020, 1, 4), "date_updated": None, "end_date": None,
         "api_name": "Gamma", "url": "https://c.example", "provider": "dwp", "well_formed": True},
        {"row": 7, "date_added": day(2020, 1, 6), "date_updated": None, "end_date": None,
         "api_name": "Epsilon", "url": None, "provider": "Cabinet-Office", "well_formed": True},
        {"row": 8, "date_added": day(2020, 1, 8), "date_updated": None, "end_date": None,
         "api_name": "Zeta", "url": "https://f.example", "provider": "", "well_formed": False},
    ]
    assert parsed["malformed_rows"] == 4  # Beta's, the nameless row, and Zeta's two fragments


def test_a_catalogue_without_its_optional_columns_reads_them_as_blank():
    from tracker.api_catalogue import parse_catalogue_version

    parsed = parse_catalogue_version(SourceFile(Path("2018-01-09_abc.csv"),
                                                b"dateAdded,url,name,provider\n2018-01-02,,Alpha,hmrc\n"))
    assert parsed == {"apis": [{"row": 2, "date_added": dt.date(2018, 1, 2), "date_updated": None, "end_date": None,
                                "api_name": "Alpha", "url": None, "provider": "hmrc", "well_formed": True}],
                      "malformed_rows": 0}


@pytest.mark.parametrize(("count", "read"), [
    (True, None), (False, None), (2.0, 2), (2.5, None), ("1,603", 1603), (-1, None), (None, None), ([1], None),
    (MOST_COUNTED, MOST_COUNTED), (0, 0),
])
def test_an_organisations_count_among_whole_numbers_is_read_as_require_int_reads_it(count, read):
    """The usual snapshot's counts are all whole numbers, checked at once; one count of another kind among them is
    read, or refused naming its organisation, exactly as ``require_int`` reads it alone."""
    counts = {f"Body {n}": n for n in range(1, 200)} | {"Odd One": count}
    content = json.dumps({"dateUpdated": "1 May 2026", "numberOfServices": 3,
                          "serviceCountByOrganisation": counts}).encode()
    file = SourceFile(Path("2026-05-01_abc.json"), content)
    if read is None:
        with pytest.raises(FeedError) as err:
            parse_pay_snapshot(file)
        assert "Odd One" in str(err.value)
    else:
        parsed = parse_pay_snapshot(file)["_by_org"].to_pydict()
        assert dict(zip(parsed["name"], parsed["live_services"], strict=True))["Odd One"] == read
        assert type(parsed["live_services"][-1]) is int
