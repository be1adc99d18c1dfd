"""Each source stands alone: a file that cannot be read is quarantined on its own, named with the
problem, and the source's other files (newer ones included) still count; a problem no file explains
keeps the source at its last good figures; the formats the platforms already use are read.

Feed files here are written by the tests, never added to the shipped data.
"""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import duckdb
import pytest

from assets import forms, pay, verify
from checks.platform_checks import feed_readable_check
from tests.conftest import make_resources

GOOD = {
    "dateUpdated": "5 January 2026",
    "numberOfPayments": "124.0 million",
    "totalPaymentAmount": "8.2 billion",
    "numberOfServices": 2,
    "numberOfOrganisations": 1,
    "serviceCountBySector": {"central": 2},
    "serviceCountByOrganisation": {"Companies House": 2},
}
PAY = [pay.pay_files, pay.pay_staging, feed_readable_check("pay")]


def run(assets, home, data, as_of="2026-01-31"):
    return dg.materialize(assets, resources=make_resources(home, data, as_of=as_of), raise_on_error=False)


def query(home, sql, *params):
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def write_pay(data, name, content):
    (data / "pay" / "snapshots" / name).write_text(
        content if isinstance(content, str) else json.dumps(content), encoding="utf-8")


def feed_check(result, source):
    return next(c for c in result.get_asset_check_evaluations() if c.check_name == f"{source}_feed_readable")


@pytest.fixture()
def pay_home(tmp_path, data_copy):
    """A warehouse where the Pay feed has already been loaded once, successfully."""
    home = tmp_path / "home"
    assert run(PAY, home, data_copy).success
    return home


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({k: v for k, v in GOOD.items() if k != "numberOfServices"}, "has no 'numberOfServices'"),
        ({k: v for k, v in GOOD.items() if k != "dateUpdated"}, "has no 'dateUpdated'"),
        (GOOD | {"numberOfPayments": "about 124 million"}, "'numberOfPayments' is 'about 124 million'"),
        (GOOD | {"numberOfServices": -3}, "cannot be negative"),
        (GOOD | {"numberOfServices": "12,34"}, "'numberOfServices' is '12,34'"),
        (GOOD | {"dateUpdated": "sometime in January"}, "'dateUpdated' is 'sometime in January'"),
        (GOOD | {"serviceCountByOrganisation": ["Companies House"]}, "is not a list of names with counts"),
        ("", "the file is empty"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "is empty or is not a key/value object"),
        # a slip of the year: a day still to come, or a date that would rewrite figures already published
        (GOOD | {"dateUpdated": "5 January 2027"}, "is after the day it was published, 5 January 2026"),
        (GOOD | {"dateUpdated": "Tuesday 5 January 2026"}, "but 5 January 2026 is a Monday: check which is meant"),
        (GOOD | {"dateUpdated": "5 January 2025"}, "is earlier than that of 2025-12-22_"),
        # a row the blocking rule refuses names its version, so only that version is left out
        (GOOD | {"numberOfServices": 4, "serviceCountBySector": {"central": 4},
                 "serviceCountByOrganisation": {"Companies House": 2, "   ": 2}}, "Every organisation row has a name"),
    ],
)
def test_a_bad_pay_file_is_quarantined_alone_and_newer_files_still_count(pay_home, data_copy, content, problem):
    before = query(pay_home, "SELECT count(*) FROM staging.pay_snapshots")[0][0]
    write_pay(data_copy, "2026-01-05_deadbeef.json", content)
    write_pay(data_copy, "2026-01-12_cafef00d.json", GOOD | {"dateUpdated": "12 January 2026"})  # newer, good
    result = run(PAY, pay_home, data_copy)
    assert result.success  # the source's problem never stops the run
    problems = query(pay_home, "SELECT file_name, problem, consequence FROM quarantine.pay_feed_problems")
    assert len(problems) == 1
    file_name, text, consequence = problems[0]
    assert file_name == "2026-01-05_deadbeef.json" and problem in text, text
    assert "Traceback" not in text and "left out" in consequence
    # the bad file is kept byte for byte, left out of staging; the newer good file counts
    assert query(pay_home, "SELECT count(*) FROM raw.pay_files WHERE file_name = '2026-01-05_deadbeef.json'") == [(1,)]
    assert query(pay_home, "SELECT count(*) FROM staging.pay_snapshots")[0][0] == before + 1
    assert query(pay_home, "SELECT max(date_updated) FROM staging.pay_snapshots WHERE is_current_version")[0][0] \
        .isoformat() == "2026-01-12"
    check = feed_check(result, "pay")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "2026-01-05_deadbeef.json" in check.description


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"numberOfServices": "1,603", "serviceCountByOrganisation": {"HMRC": 1603}}, ("services", 1603)),
        ({"numberOfServices": 1603.0, "serviceCountByOrganisation": {"HMRC": "1,603"}}, ("services", 1603)),
        ({"numberOfPayments": "142.9 million"}, ("payments_cumulative", 142_900_000)),
        ({"numberOfPayments": "142,900,000"}, ("payments_cumulative", 142_900_000)),
        ({"totalPaymentAmount": "£9.6 billion"}, ("amount_gbp_cumulative", 9_600_000_000)),
        ({"totalPaymentAmount": "9.6bn"}, ("amount_gbp_cumulative", 9_600_000_000)),
        ({"dateUpdated": "5th January 2026"}, ("date_updated", "2026-01-05")),
        ({"dateUpdated": "2026-01-05"}, ("date_updated", "2026-01-05")),
        ({"dateUpdated": "Monday 5 January 2026"}, ("date_updated", "2026-01-05")),  # with the day's name
        ({"dateUpdated": "Mon, 5th Jan 2026"}, ("date_updated", "2026-01-05")),
        ({"aNewKey": {"anything": 1}}, ("services", 2)),
        ({"numberOfOrganisations": None}, ("organisations", None)),
    ],
)
def test_formats_real_feeds_use_are_read(pay_home, data_copy, change, expected):
    content = GOOD | change
    write_pay(data_copy, "2026-01-05_feedf00d.json", {k: v for k, v in content.items() if v is not None})
    assert run(PAY, pay_home, data_copy).success
    assert query(pay_home, "SELECT count(*) FROM quarantine.pay_feed_problems") == [(0,)]
    column, value = expected
    got = query(pay_home, f"SELECT {column} FROM staging.pay_snapshots WHERE file_name = '2026-01-05_feedf00d.json'")
    got = got[0][0].isoformat() if hasattr(got[0][0], "isoformat") else got[0][0]
    assert got == value


def test_names_differing_only_by_spaces_are_two_rows(pay_home, data_copy):
    write_pay(data_copy, "2026-01-05_5pace5.json", GOOD | {
        "numberOfServices": 3, "serviceCountByOrganisation": {"Police and Crime Commissioner for Bedfordshire": 1,
                                                              "Police and Crime Commissioner for Bedfordshire ": 2}})
    assert run(PAY, pay_home, data_copy).success
    rows = query(pay_home, "SELECT count(*), sum(live_services) FROM staging.pay_organisation_services "
                 "WHERE date_updated = '2026-01-05'")
    assert rows == [(2, 3)]


def test_a_repeated_date_takes_the_version_published_last(pay_home, data_copy):
    write_pay(data_copy, "2026-01-05_aaaa1111.json", GOOD | {"numberOfServices": 3,
                                                             "serviceCountByOrganisation": {"Companies House": 3}})
    write_pay(data_copy, "2026-01-06_0000ffff.json", GOOD)  # same dateUpdated, published a day later
    assert run(PAY, pay_home, data_copy).success
    assert query(pay_home, "SELECT file_name, services FROM staging.pay_snapshots "
                 "WHERE date_updated = '2026-01-05' AND is_current_version") == [("2026-01-06_0000ffff.json", 2)]


def test_a_version_breaking_the_sum_rule_is_quarantined_by_name(pay_home, data_copy):
    write_pay(data_copy, "2026-01-05_5umbad00.json", GOOD | {"numberOfServices": 40})
    result = run(PAY, pay_home, data_copy)
    assert result.success
    (file_name, problem, consequence), = query(
        pay_home, "SELECT file_name, problem, consequence FROM quarantine.pay_feed_problems")
    assert file_name == "2026-01-05_5umbad00.json" and "add up to numberOfServices" in problem
    assert query(pay_home, "SELECT count(*) FROM staging.pay_snapshots WHERE file_name = ?", file_name) == [(0,)]


def test_a_bad_row_in_the_versions_list_leaves_out_its_file_and_the_history_stands(pay_home, data_copy):
    """One row's time unreadable: that file is left out, naming the row; every other version keeps its published
    time, so the 10 February 2025 correction still wins (the list dropped whole would date files by name)."""
    write_pay(data_copy, "2026-01-05_deadbeef.json", GOOD)
    listed = data_copy / "pay" / "versions.csv"
    row = "2026-01-05_deadbeef.json,c0ffee,,,c0ffee,05/01/2026 09:30\n"  # a day-first time, not ISO 8601
    listed.write_text(listed.read_text(encoding="utf-8") + row, encoding="utf-8")
    result = run(PAY, pay_home, data_copy)
    assert result.success
    problems = query(pay_home, "SELECT file_name, problem, consequence FROM quarantine.pay_feed_problems")
    assert len(problems) == 1, problems
    (file_name, problem, consequence), = problems
    assert file_name == "2026-01-05_deadbeef.json" and "gives published_at '05/01/2026 09:30'" in problem
    assert consequence.startswith("file left out")
    assert query(pay_home, "SELECT organisations, payments_cumulative FROM staging.pay_snapshots "
                 "WHERE date_updated = '2025-02-10' AND is_current_version") == [(435, 99_500_000)]


def test_versions_published_after_the_reporting_date_are_ignored(pay_home, data_copy):
    write_pay(data_copy, "2026-03-02_1a7e1a7e.json", GOOD | {"dateUpdated": "2 March 2026"})
    assert run(PAY, pay_home, data_copy, as_of="2026-01-31").success
    rows = query(pay_home, "SELECT is_current_version, not_used_because FROM staging.pay_snapshots "
                 "WHERE file_name = '2026-03-02_1a7e1a7e.json'")
    assert rows == [(False, "published after the reporting date")]


def test_a_problem_no_file_explains_keeps_the_last_good_figures(tmp_path, data_copy):
    home = tmp_path / "home"
    assert run([verify.verify_files, verify.verify_accounts], home, data_copy).success
    before = query(home, "SELECT * FROM staging.verify_accounts ORDER BY period_end")
    path = data_copy / "verify" / "accounts_created_by_financial_year.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(line for line in lines if not line.startswith("2016-17")) + "\n", encoding="utf-8")
    result = run([verify.verify_files, verify.verify_accounts], home, data_copy)
    assert result.success
    assert query(home, "SELECT * FROM staging.verify_accounts ORDER BY period_end") == before
    (file_name, problem, consequence), = query(
        home, "SELECT file_name, problem, consequence FROM quarantine.verify_feed_problems")
    assert file_name is None and "Financial years follow one another" in problem
    assert "last good figures" in consequence


def test_forms_counts_with_thousands_separators(tmp_path, data_copy):
    (data_copy / "forms" / "snapshots" / "2026-01-05_5eb5eb.yml").write_text(
        "performance_metrics:\n  organisations: '1,204'\n  published: 412\n  submissions: 549,870\n"
        "  last_updated: 5 January 2026\n", encoding="utf-8")
    home = tmp_path / "home"
    assert run([forms.forms_files, forms.forms_metrics], home, data_copy).success
    assert query(home, "SELECT organisations, live_forms, submissions_cumulative, is_current_version "
                 "FROM staging.forms_metrics WHERE file_name = '2026-01-05_5eb5eb.yml'") == [(1204, 412, 549870, True)]
    assert query(home, "SELECT count(*) FROM quarantine.forms_feed_problems") == [(0,)]


def test_forms_file_without_metrics_is_quarantined(tmp_path, data_copy):
    (data_copy / "forms" / "snapshots" / "2026-01-05_0000.yml").write_text("something_else: 1\n")
    home = tmp_path / "home"
    assert run([forms.forms_files, forms.forms_metrics], home, data_copy).success
    (file_name, problem), = query(home, "SELECT file_name, problem FROM quarantine.forms_feed_problems")
    assert file_name == "2026-01-05_0000.yml" and "has no 'performance_metrics'" in problem
    assert query(home, "SELECT count(*) FROM staging.forms_metrics")[0][0] == 45


def test_an_empty_feed_folder_keeps_the_last_good_figures_and_says_why(pay_home, data_copy):
    before = query(pay_home, "SELECT count(*) FROM staging.pay_snapshots")
    for path in (data_copy / "pay" / "snapshots").glob("*.json"):
        path.unlink()
    result = run(PAY, pay_home, data_copy)
    assert result.success
    assert query(pay_home, "SELECT count(*) FROM staging.pay_snapshots") == before
    (file_name, problem, consequence), = query(
        pay_home, "SELECT file_name, problem, consequence FROM quarantine.pay_feed_problems")
    assert file_name == "data/pay/snapshots" and "the folder is empty" in problem and "last good" in consequence
    assert query(pay_home, "SELECT count(*) FROM raw.pay_files") == [(241,)]  # nothing deleted


def test_what_is_not_a_file_is_passed_over_and_the_others_count(pay_home, data_copy):
    before = query(pay_home, "SELECT count(*) FROM raw.pay_files")[0][0]
    (data_copy / "pay" / "snapshots" / "2026-01-05_folder.json").mkdir()
    (data_copy / "pay" / "snapshots" / "2026-01-06_dangling.json").symlink_to(data_copy / "no-such-file")
    write_pay(data_copy, "2026-01-12_cafef00d.json", GOOD | {"dateUpdated": "12 January 2026"})
    assert run(PAY, pay_home, data_copy).success
    assert query(pay_home, "SELECT count(*) FROM raw.pay_files")[0][0] == before + 1


def test_a_whole_source_folder_empty_keeps_its_figures(tmp_path, data_copy):
    home = tmp_path / "home"
    assert run([verify.verify_files, verify.verify_accounts], home, data_copy).success
    for path in (data_copy / "verify").glob("*.csv"):
        path.unlink()
    assert run([verify.verify_files, verify.verify_accounts], home, data_copy).success
    (problem,), = query(home, "SELECT problem FROM quarantine.verify_feed_problems")
    assert "the folder is empty" in problem
    assert query(home, "SELECT count(*) FROM staging.verify_accounts")[0][0] > 0


def test_a_newer_one_login_registry_adds_to_history_and_rewrites_none_of_it(tmp_path, data_copy):
    import csv

    from assets import one_login

    assets = [one_login.one_login_files, one_login.one_login_services, feed_readable_check("one_login")]
    home = tmp_path / "home"
    assert run(assets, home, data_copy, as_of="2026-04-30").success
    before = query(home, "SELECT client_key, live_from, live_until FROM staging.one_login_periods ORDER BY ALL")
    source = data_copy / "one_login" / "relying_party_registry_2025-12-31.csv"
    with source.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [r for r in rows if r["client_key"] != "CMAD"]  # CMAD gone by 31 Mar 2026
    for r in kept:
        if r["client_key"] == "PDPConnect":
            r["is_offboarded"] = "true"
    kept.append(kept[0] | {"client_key": "dwpNewService2026", "service_name": "A new DWP service",
                           "is_offboarded": "false"})
    with (data_copy / "one_login" / "relying_party_registry_2026-03-31.csv").open("w", encoding="utf-8",
                                                                                  newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    assert run(assets, home, data_copy, as_of="2026-04-30").success
    after = query(home, "SELECT client_key, live_from, live_until FROM staging.one_login_periods ORDER BY ALL")
    day = dt.date(2026, 3, 31)
    changed = set(after) - set(before)
    assert ("dwpNewService2026", day, None) in changed
    assert {(k, f, u) for k, f, u in changed if k in ("CMAD", "PDPConnect")} == {
        (k, f, day) for k, f, u in before if k in ("CMAD", "PDPConnect")}
    assert set(before) - set(after) == {(k, f, u) for k, f, u in before if k in ("CMAD", "PDPConnect")}
    # and as of a date before the new registry, nothing of it counts
    assert run(assets, home, data_copy, as_of="2026-03-30").success
    assert query(home, "SELECT client_key, live_from, live_until FROM staging.one_login_periods ORDER BY ALL") == before


HOSTILE = {
    "pay/snapshots/2026-01-05_hostile.json": [
        b"[" * 100_000,  # nesting deep enough to exhaust the parser's recursion
        b"\x00\xff\xfe garbage",
        json.dumps(GOOD | {"numberOfServices": float("nan")}).encode(),
        json.dumps(GOOD | {"numberOfServices": 1e400}).encode(),
        json.dumps(GOOD | {"serviceCountByOrganisation": {"A": {"nested": 1}}}).encode(),
        json.dumps(GOOD | {"dateUpdated": ["5 January 2026"]}).encode(),
        "\ufeff".encode() + json.dumps(GOOD | {"numberOfServices": "٢"}).encode(),  # an Arabic-Indic digit
    ],
    "forms/snapshots/2026-01-05_hostile.yml": [
        b"performance_metrics: [1, 2, 3]\n",
        b"performance_metrics:\n  organisations: *anchor\n",
        b"a: &a [*a]\n",
        b"performance_metrics:\n  organisations: 1\n  published: 2\n  submissions: 1e400\n",
        b"\xff\xfe\x00p\x00e\x00r",
    ],
    "data_sharing/catalogue_versions/2026-01-05_hostile.csv": [
        b"",
        b"dateAdded,url,name\n2026-01-05,https://x,y\n",
        b"\x00\x01\x02",
        b'dateAdded,url,name,provider\n2026-01-05,"unterminated,quote,x\n',
    ],
    "one_login/registry_events_2026-01-05.csv": [
        b"client_key,service_name,event,event_at\nx,y,exploded,2026-01-05T00:00:00\n",
        b"client_key,service_name,event,event_at\nx,y,added,yesterday\n",
        b"\x89PNG",
    ],
}


@pytest.mark.parametrize(("path", "content"), [(p, c) for p, cs in HOSTILE.items() for c in cs])
def test_hostile_feed_files_are_left_out_by_name_and_never_stop_the_run(tmp_path, data_copy, path, content):
    from assets import data_sharing, one_login

    source = path.split("/")[0]
    module = {"pay": pay, "forms": forms, "data_sharing": data_sharing, "one_login": one_login}[source]
    assets = [a for a in vars(module).values() if isinstance(a, dg.AssetsDefinition)]
    assets.append(feed_readable_check(source))
    (data_copy / path).write_bytes(content)
    home = tmp_path / "home"
    result = run(assets, home, data_copy)
    assert result.success
    rows = query(home, f"SELECT file_name, problem FROM quarantine.{source}_feed_problems")
    assert [r[0] for r in rows] == [path.split("/")[-1]], rows
    assert "Traceback" not in rows[0][1] and rows[0][1].strip()


def test_blank_text_is_found_as_trim_finds_it_with_the_fast_range_test():
    """checks.platform_checks.blank: the same rows as trim(x) = '' (ASCII and Unicode spaces), none else."""
    import duckdb

    from checks.platform_checks import blank

    con = duckdb.connect()
    texts = ["A", " ", "  ", "", "\t", "\n", "\u00a0\u00a0", "\u3000 ", "\u2003", "Éire", " A ", "!", "~", "\u0085",
             "\u00a0x", "zz", "\u4e2d\u6587", None]
    con.execute("CREATE TABLE t (x VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[t] for t in texts])
    slow = con.execute("SELECT x FROM t WHERE trim(x) = '' ORDER BY x").fetchall()
    fast = con.execute(f"SELECT x FROM t WHERE {blank('x')} ORDER BY x").fetchall()
    assert fast == slow and len(slow) >= 5
