"""Monthly and quarterly flows from GOV.UK Pay's running totals, on hand-worked cases.

The method (macros/interpolated_flows.sql): each running total is estimated at every period end on a
straight line between the published figures either side of it; the flow is the difference between two
period ends; the period the data stops in is cut at the last data date and marked partial; a flow is not
shown when the rounding of the published totals could put it out by more than 10% of it.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb
import pandas as pd
import pytest

from tests.conftest import DATA, build_models

D = dt.date
M = 1_000_000

# Four published versions, plus one superseded version that must be ignored. Payments and value are published
# rounded: below £1 billion to £0.1 million (unit 100,000), from £1 billion to £0.1 billion (unit 100,000,000).
#   date        payments   value (£)      live services  organisations
#   11 Jan 2023 10.0 m     900.0 m        100            50
#   10 Feb 2023 13.0 m     930.0 m        104            51    30 days after 11 Jan
#   (15 Mar 2023: a superseded version, 99 m payments: not current, so March has no version)
#   11 Apr 2023 19.0 m     990.0 m        110            53    60 days after 10 Feb
#   16 May 2023 19.7 m     1.2 billion    118            55    35 days after 11 Apr; the data stops here
VERSIONS = [
    (D(2023, 1, 11), True, 10.0 * M, 900.0 * M, 100, 50),
    (D(2023, 2, 10), True, 13.0 * M, 930.0 * M, 104, 51),
    (D(2023, 3, 15), False, 99.0 * M, 999.0 * M, 999, 99),
    (D(2023, 4, 11), True, 19.0 * M, 990.0 * M, 110, 53),
    (D(2023, 5, 16), True, 19.7 * M, 1_200.0 * M, 118, 55),
]


@pytest.fixture(scope="module")
def flows(tmp_path_factory) -> dict[str, pd.DataFrame]:
    path = tmp_path_factory.mktemp("flows") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE SCHEMA marts")
    frame = pd.DataFrame(VERSIONS, columns=["date_updated", "is_current_version", "payments_cumulative",
                                            "amount_gbp_cumulative", "services", "organisations"])
    con.register("versions", frame)
    con.execute("CREATE TABLE staging.pay_snapshots AS SELECT * FROM versions")
    con.close()
    build_models(path, "pay_monthly pay_quarterly")
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {period: con.execute(f"SELECT * FROM marts.pay_{period}ly ORDER BY {period}").df()
                .assign(**{period: lambda f, p=period: f[p].dt.date}).set_index(period)
                for period in ("month", "quarter")}
    finally:
        con.close()


def test_one_row_per_calendar_month_from_the_first_version_to_the_last(flows):
    assert list(flows["month"].index) == [D(2023, m, 1) for m in (1, 2, 3, 4, 5)]


def test_month_end_totals_on_a_straight_line_between_versions(flows):
    month = flows["month"]
    # 31 Jan is 20 of the 30 days from 11 Jan to 10 Feb: 10.0 m + (13.0 m - 10.0 m) * 20/30 = 12.0 m;
    # value 900 m + 30 m * 20/30 = 920 m
    assert month.loc[D(2023, 1, 1), "payments_cumulative"] == 12_000_000
    assert month.loc[D(2023, 1, 1), "amount_gbp_cumulative"] == 920_000_000
    # 28 Feb is 18 of the 60 days from 10 Feb to 11 Apr: 13.0 m + 6.0 m * 18/60 = 14.8 m; 930 m + 60 m * 0.3 = 948 m
    assert month.loc[D(2023, 2, 1), "payments_cumulative"] == 14_800_000
    assert month.loc[D(2023, 2, 1), "amount_gbp_cumulative"] == 948_000_000
    # 30 Apr is 19 of the 35 days from 11 Apr to 16 May: 19.0 m + 0.7 m * 19/35 = 19.38 m;
    # 990 m + 210 m * 19/35 = 1,104 m
    assert month.loc[D(2023, 4, 1), "payments_cumulative"] == 19_380_000
    assert month.loc[D(2023, 4, 1), "amount_gbp_cumulative"] == 1_104_000_000
    assert (month.loc[D(2023, 4, 1), "last_version"].date(), month.loc[D(2023, 4, 1), "next_version"].date()) == (
        D(2023, 4, 11), D(2023, 5, 16))


def test_flow_is_the_difference_of_month_end_estimates(flows):
    month = flows["month"]
    assert month.loc[D(2023, 2, 1), "payments_in_month"] == 2_800_000  # 14.8 m - 12.0 m
    assert month.loc[D(2023, 2, 1), "amount_gbp_in_month"] == 28_000_000  # 948 m - 920 m
    assert month.loc[D(2023, 4, 1), "payments_in_month"] == 1_480_000  # 19.38 m - 17.9 m
    assert month.loc[D(2023, 2, 1), "days_covered"] == 28


def test_a_month_with_no_version_in_it(flows):
    march = flows["month"].loc[D(2023, 3, 1)]
    # 31 Mar is 49 of the 60 days from 10 Feb to 11 Apr (the superseded 15 March version is not used):
    # 13.0 m + 6.0 m * 49/60 = 17.9 m; value 930 m + 60 m * 49/60 = 979 m
    assert march["payments_cumulative"] == 17_900_000
    assert march["amount_gbp_cumulative"] == 979_000_000
    assert march["payments_in_month"] == 3_100_000  # 17.9 m - 14.8 m
    assert march["amount_gbp_in_month"] == 31_000_000  # 979 m - 948 m
    # live services are a count as it stands: the last version on or before 31 March, from February
    assert march["last_version"].date() == D(2023, 2, 10)
    assert (march["live_services"], march["organisations"]) == (104, 51)
    assert not march["is_partial"]


def test_no_flow_in_the_first_month(flows):
    january = flows["month"].loc[D(2023, 1, 1)]
    assert pd.isna(january["payments_in_month"]) and pd.isna(january["amount_gbp_in_month"])
    assert january["payments_not_shown"] == january["amount_gbp_not_shown"] == "the data starts in this month"
    assert pd.isna(january["days_covered"])
    assert (january["live_services"], january["last_version"].date()) == (100, D(2023, 1, 11))


def test_the_last_month_is_partial_and_not_extrapolated(flows):
    may = flows["month"].loc[D(2023, 5, 1)]
    assert may["is_partial"]
    assert may["data_to"].date() == D(2023, 5, 16) and may["month_end"].date() == D(2023, 5, 31)
    assert may["days_covered"] == 16  # 30 April to 16 May, not a whole month
    # the running totals are the last published ones, not carried on to 31 May
    assert may["payments_cumulative"] == 19_700_000 and may["amount_gbp_cumulative"] == 1_200_000_000
    assert may["live_services"] == 118
    assert not flows["month"].drop(D(2023, 5, 1))["is_partial"].any()


def test_rounding_hides_a_flow_it_could_put_out_by_more_than_a_tenth(flows):
    month = flows["month"]
    # Payments in the 16 days of May: 19.7 m - 19.38 m = 0.32 m. Both ends rest on totals rounded to 0.1 m, so
    # each is out by up to 50,000 and the flow by up to 100,000: over 10% of 320,000, so not shown.
    may = month.loc[D(2023, 5, 1)]
    assert may["payments_max_error"] == 100_000
    assert pd.isna(may["payments_in_month"])
    assert may["payments_not_shown"] == "rounding could put it out by over 10%"
    # 1.48 m in April: 100,000 is under 10% of it, so it is shown
    assert month.loc[D(2023, 4, 1), "payments_max_error"] == 100_000
    assert pd.isna(month.loc[D(2023, 4, 1), "payments_not_shown"])
    # Value in April: 1,104 m - 979 m = 125 m. 31 March rests on two totals in millions: out by up to 50,000.
    # 30 April is 19/35 of the way from 990.0 m (unit 0.1 m) to 1.2 billion (unit 0.1 billion): out by up to
    # (16/35 * 100,000 + 19/35 * 100,000,000) / 2 = 27,165,714.29. Together 27,215,714: over 12.5 m.
    april = month.loc[D(2023, 4, 1)]
    assert april["amount_gbp_max_error"] == 27_215_714
    assert pd.isna(april["amount_gbp_in_month"])
    assert april["amount_gbp_not_shown"] == "rounding could put it out by over 10%"
    # in February both ends rest on totals in millions: out by up to 100,000 against 28 m, shown
    assert month.loc[D(2023, 2, 1), "amount_gbp_max_error"] == 100_000


def test_quarters_the_same_way(flows):
    quarter = flows["quarter"]
    assert list(quarter.index) == [D(2023, 1, 1), D(2023, 4, 1)]
    first, second = quarter.loc[D(2023, 1, 1)], quarter.loc[D(2023, 4, 1)]
    assert first["payments_cumulative"] == 17_900_000 and pd.isna(first["payments_in_quarter"])
    assert first["payments_not_shown"] == "the data starts in this quarter"
    # the second quarter runs only to 16 May (46 days from 31 March): 19.7 m - 17.9 m = 1.8 m, labelled partial
    assert second["is_partial"] and second["data_to"].date() == D(2023, 5, 16) and second["days_covered"] == 46
    assert second["payments_in_quarter"] == 1_800_000
    # value: 1,200 m - 979 m = 221 m, out by up to 50,000 + 50,000,000: over a tenth, so not shown
    assert second["amount_gbp_max_error"] == 50_050_000 and pd.isna(second["amount_gbp_in_quarter"])


def test_the_rounding_unit_read_off_the_size_matches_every_published_version():
    """staging.pay_snapshots keeps numbers, not the words GOV.UK Pay published ('123.4 million', '8.1 billion'):
    the models read the rounding unit off the size (100,000 below 1 billion, 100,000,000 from it). Every
    shipped version must agree, or the rule hides too little."""
    quantity = re.compile(r"^£?(?P<number>[\d,]+\.(?P<decimals>\d+)) (?P<scale>million|billion)$")
    checked = 0
    for path in sorted((DATA / "pay" / "snapshots").glob("*.json")):
        published = json.loads(path.read_text(encoding="utf-8"))
        for key in ("numberOfPayments", "totalPaymentAmount"):
            match = quantity.match(published[key])
            assert match, f"{path.name}: {key} is {published[key]!r}"
            scale = 1e6 if match["scale"] == "million" else 1e9
            unit = scale / 10 ** len(match["decimals"])
            value = float(match["number"].replace(",", "")) * scale
            assert unit == (1e8 if value >= 1e9 else 1e5), f"{path.name}: {key} {published[key]!r}"
            checked += 1
    assert checked >= 480
