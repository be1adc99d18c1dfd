"""The returns lists a page at a time (issue 17): on a snapshot holding more returns than a page, the Returns and
Your returns pages count every return in SQL (not just the page shown), show the newest page and then the next,
filter by organisation, quarter and status, and offer the whole list as a formula-safe CSV that is read only when
the download is asked for; a department's submitter sees its own sent values only, on the page and in the CSV."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import snapshot
from dashboard.components import number, status_text
from dashboard.export import safe_csv
from dashboard.formatting import for_csv
from dashboard.labels import column
from tests.test_dashboard_pages import signed_in

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PADDING = 450  # returns added to the demo's few: more than two pages of snapshot.PAGE_SIZE
FORMULA_FILE = '=HYPERLINK("http://evil.example/","open me").csv'
FORMULA_SUMMARY = "+SUM(A1:A9) was sent"
FORMULA_SENDER = "@evil.example"
PROBLEMS = "STRUCT(row_number INTEGER, column_letter VARCHAR, column_name VARCHAR, message VARCHAR)[]"


@pytest.fixture(scope="module")
def home(built, tmp_path_factory) -> Path:
    """The demo's published snapshot with PADDING more returns from three organisations (every 50th carrying a
    formula in what was sent; pairs received at the same minute, so the order needs its tie-break), under a new
    version, so nothing cached from the demo's snapshot is reused."""
    home = tmp_path_factory.mktemp("paged_home")
    shutil.copytree(Path(built["home"]) / "published", home / "published")
    con = duckdb.connect(str(home / "published" / "tracker.duckdb"))
    try:
        con.execute(f"""
            CREATE TEMP TABLE padding AS
            SELECT printf('R-PAD-%05d', i) AS submission_ref, o.organisation_code, o.name AS organisation_name,
                   CASE WHEN i % 50 = 0 THEN '{FORMULA_FILE}' ELSE printf('return-%05d.csv', i) END AS file_name,
                   'web' AS channel, CASE WHEN i % 50 = 0 THEN '{FORMULA_SENDER}' ELSE 'someone@example.com' END
                   AS sender, FALSE AS is_illustrative,
                   TIMESTAMP '2025-10-01 09:00' + to_minutes(i // 2) AS received_at,
                   CASE WHEN i % 4 = 0 THEN '2025-26 Q1' ELSE '2025-26 Q2' END AS reporting_quarter,
                   CASE WHEN i % 10 = 0 THEN 'rejected' WHEN i % 7 = 0 THEN 'duplicate' ELSE 'accepted' END AS status,
                   CASE WHEN i % 50 = 0 THEN '{FORMULA_SUMMARY}' ELSE 'Accepted: figures counted.' END AS summary
            FROM range({PADDING}) r(i)
            JOIN (SELECT organisation_code, any_value(name) AS name FROM staging.organisations GROUP BY 1) o
              ON o.organisation_code = CASE i % 3 WHEN 0 THEN 'D10' WHEN 1 THEN 'D16' ELSE 'D9' END""")
        con.execute("""
            INSERT INTO marts.return_submissions BY NAME
            SELECT * EXCLUDE (sender), 'Department' AS department_name, (status = 'rejected')::INTEGER AS problem_count,
                   0 AS warning_count, TRUE AS is_current, FALSE AS is_superseded FROM padding""")
        con.execute(f"""
            INSERT INTO marts.return_outcomes BY NAME
            SELECT *, FALSE AS after_reporting_date,
                   CASE WHEN status = 'rejected' THEN [{{'row_number': 2, 'column_letter': 'L',
                        'column_name': 'pay_services_live', 'message': 'Give a whole number.'}}]
                        ELSE [] END::{PROBLEMS} AS problems
            FROM padding""")
    finally:
        con.close()
    manifest = home / "published" / "manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"version": "paged-returns"}))
    return home


@pytest.fixture(scope="module")
def published(home):
    con = duckdb.connect(str(home / "published" / "tracker.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture()
def access_file(tmp_path, monkeypatch):
    path = tmp_path / "access.yaml"
    path.write_text("people:\n  - email: analyst@example.com\n    role: central analyst\n"
                    "  - email: dwp@example.com\n    role: department submitter\n    organisations: [D10]\n")
    monkeypatch.setenv("TRACKER_ACCESS_FILE", str(path))


@pytest.fixture()
def offered(monkeypatch) -> dict:
    """What each download button is given (file name -> data), passed on to the real st.download_button."""
    given, real = {}, st.download_button

    def record(label, data, *args, **kwargs):
        given[kwargs.get("file_name")] = data
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", record)
    return given


@pytest.fixture()
def full_reads(monkeypatch) -> list:
    """Each time a returns list is read whole (``limit=None``), by which function."""
    reads = []
    for name in ("return_submissions", "return_outcomes"):
        real = getattr(snapshot, name)

        def spy(*args, real=real, name=name, **kwargs):
            if "limit" in kwargs and kwargs["limit"] is None:
                reads.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(snapshot, name, spy)
    return reads


@pytest.fixture()
def page(home, monkeypatch, access_file):
    monkeypatch.setenv("TRACKER_HOME", str(home))
    monkeypatch.delenv("TRACKER_DEMO_SIGN_IN", raising=False)

    def run(name: str, email: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        if email:
            signed_in(at, email)
        at.run()
        at.switch_page(f"app_pages/{name}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        return at

    return run


def newest_first(published, where: str = "TRUE", params: tuple = (), mart: str = "return_submissions") -> list:
    return [r for (r,) in published.execute(f"SELECT submission_ref FROM marts.{mart} WHERE {where} "
                                            "ORDER BY received_at DESC, submission_ref DESC", list(params)).fetchall()]


def status_line(published, where: str = "TRUE", params: tuple = ()) -> list[str]:
    """How the page must write each status's count over every return the condition chooses."""
    counts = published.execute(f"SELECT status, count(*) FROM marts.return_submissions WHERE {where} GROUP BY 1",
                               list(params)).fetchall()
    return [f"{status_text(status)}</strong> {number(n)}" for status, n in counts]


def listed(at: AppTest, what: str) -> pd.DataFrame:
    """The page's table of returns (the one named ``what``)."""
    [table] = [d.value for d in at.dataframe if d.proto.alt == what]
    return table


def markup(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def page_choice(at: AppTest, key: str):
    [chooser] = [s for s in at.selectbox if s.key and s.key.startswith(f"{key}-page-")]
    return chooser


def downloaded(offered: dict, file_name: str) -> list[dict[str, str]]:
    """Press the download: build the CSV the button holds, and read it as a spreadsheet would."""
    data = offered[file_name]
    assert callable(data), "the whole list is built only when the download is asked for"
    text = data().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def heading(name: str) -> str:
    return column(name).label


# ---------------------------------------------------------------- the Returns page
def test_counts_are_over_every_return_and_the_page_is_the_newest(page, published, full_reads):
    at = page("returns", "analyst@example.com")
    total = published.execute("SELECT count(*) FROM marts.return_submissions").fetchone()[0]
    assert total > 2 * snapshot.PAGE_SIZE
    line = [m.value for m in at.markdown if "tag-green" in m.value and "✓ accepted</strong>" in m.value]
    assert line and all(count in line[-1] for count in status_line(published))
    assert f"The newest {snapshot.PAGE_SIZE} of {number(total)} returns received, newest first." in [
        c.value for c in at.caption]
    shown = listed(at, "Every return received: this page")
    assert list(shown["submission_ref"]) == newest_first(published)[:snapshot.PAGE_SIZE]
    # the rejected returns are counted over every return too, the newest 20 shown in full to CDDO
    rejected = published.execute("SELECT count(*) FROM marts.return_submissions WHERE status = 'rejected'"
                                 ).fetchone()[0]
    assert f"**{number(rejected)} returns rejected.**" in markup(at)
    assert f"The newest 20 of the {number(rejected)} you may see, in full" in "\n".join(c.value for c in at.caption)
    assert full_reads == [], "a page view never reads the whole list"


def test_the_next_pages_show_the_next_returns(page, published):
    at = page("returns", "analyst@example.com")
    order = newest_first(published)
    chooser = page_choice(at, "received")
    assert len(chooser.options) == -(-len(order) // snapshot.PAGE_SIZE)
    chooser.select(200).run()
    assert list(listed(at, "Every return received: this page")["submission_ref"]) == order[200:400]
    assert f"Returns received 201 to 400 of {number(len(order))}, newest first." in [c.value for c in at.caption]
    last = (len(order) - 1) // snapshot.PAGE_SIZE * snapshot.PAGE_SIZE
    page_choice(at, "received").select(last).run()
    assert list(listed(at, "Every return received: this page")["submission_ref"]) == order[last:]


def test_filters_choose_the_returns_and_their_counts_in_sql(page, published):
    at = page("returns", "analyst@example.com")
    at.selectbox(key="received-organisation").select("D16").run()
    at.selectbox(key="received-quarter").select("2025-26 Q2").run()
    where, params = "organisation_code = ? AND reporting_quarter = ?", ("D16", "2025-26 Q2")
    chosen = newest_first(published, where, params)
    assert 0 < len(chosen) < snapshot.PAGE_SIZE
    assert list(listed(at, "Every return received: this page")["submission_ref"]) == chosen
    assert all(count in markup(at) for count in status_line(published, where, params))
    assert f"All {number(len(chosen))} returns received, newest first." in [c.value for c in at.caption]
    at.selectbox(key="received-status").select("rejected").run()
    rejected = newest_first(published, where + " AND status = 'rejected'", params)
    assert list(listed(at, "Every return received: this page")["submission_ref"]) == rejected


def test_the_download_has_every_return_and_no_formula(page, published, offered, full_reads):
    at = page("returns", "analyst@example.com")
    assert full_reads == []
    rows = downloaded(offered, "returns-received.csv")
    assert full_reads == ["return_submissions"]
    assert [r[heading("submission_ref")] for r in rows] == newest_first(published)
    files = [r[heading("file_name")] for r in rows]
    assert files.count("'" + FORMULA_FILE) == len(range(0, PADDING, 50)) and FORMULA_FILE not in files
    summaries = {r[heading("summary")] for r in rows}
    assert "'" + FORMULA_SUMMARY in summaries and FORMULA_SUMMARY not in summaries
    assert not [v for r in rows for v in r.values() if v[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert [b.label for b in at.get("download_button") if b.key == "download-returns-received.csv"] == [
        f"Download all {number(len(rows))} (CSV)"]


def test_the_download_follows_the_filters(page, published, offered):
    at = page("returns", "analyst@example.com")
    at.selectbox(key="received-status").select("rejected").run()
    rows = downloaded(offered, "returns-received.csv")
    assert [r[heading("submission_ref")] for r in rows] == newest_first(published, "status = 'rejected'")
    assert {r[heading("status")] for r in rows} == {status_text("rejected")}


def test_a_department_sees_only_its_own_sent_values_on_the_page_and_in_the_download(page, published, offered):
    at = page("returns", "dwp@example.com")
    shown = listed(at, "Every return received: this page")
    codes = dict(published.execute("SELECT submission_ref, organisation_code FROM marts.return_submissions"
                                   ).fetchall())
    assert len(shown) == snapshot.PAGE_SIZE and {codes[r] for r in shown["submission_ref"]} > {"D10"}
    for ref, file_name, summary in zip(shown["submission_ref"], shown["file_name"], shown["summary"], strict=True):
        assert (file_name is not None and summary is not None) == (codes[ref] == "D10"), ref
    rows = downloaded(offered, "returns-received.csv")
    assert len(rows) == len(codes)  # every return's status, to everyone
    for row in rows:
        own = codes[row[heading("submission_ref")]] == "D10"
        assert bool(row[heading("file_name")]) == own and bool(row[heading("summary")]) == own
    # the rejected returns of others are counted, never shown
    others = published.execute("SELECT count(*) FROM marts.return_submissions WHERE status = 'rejected' "
                               "AND organisation_code <> 'D10'").fetchone()[0]
    assert f"({number(others)} of these are not shown to you)" in markup(at)
    assert "R-PAD-00030" in markup(at) and "R-PAD-00010" not in markup(at)  # its own rejection, and the Home Office's


# ---------------------------------------------------------------- the Your returns page
def test_your_returns_counts_every_one_and_shows_the_newest_page(page, published, offered):
    at = page("your_returns", "analyst@example.com")
    order = newest_first(published, mart="return_outcomes")
    assert f"The newest {snapshot.PAGE_SIZE} of {number(len(order))} returns, newest first." in " ".join(
        c.value for c in at.caption)
    assert list(listed(at, "Returns received for you: this page")["submission_ref"]) == order[:snapshot.PAGE_SIZE]
    cards = [m.value for m in at.markdown if " · reference " in m.value]
    assert [ref for ref in order[:20] if any(ref in card for card in cards)] == order[:20] and len(cards) == 20
    page_choice(at, "yours").select(400).run()
    assert list(listed(at, "Returns received for you: this page")["submission_ref"]) == order[400:600]
    rows = downloaded(offered, "your-returns.csv")
    assert [r[heading("submission_ref")] for r in rows] == order
    assert {"'" + FORMULA_SENDER, "'" + FORMULA_FILE} <= {v for r in rows for v in r.values()}


def test_your_returns_for_a_department_are_its_own_only(page, published, offered):
    at = page("your_returns", "dwp@example.com")
    own = newest_first(published, "organisation_code = 'D10'", mart="return_outcomes")
    assert snapshot.PAGE_SIZE >= len(own) > 100
    assert list(listed(at, "Returns received for you: this page")["submission_ref"]) == own
    counts = published.execute("SELECT status, count(*) FROM marts.return_outcomes WHERE organisation_code = 'D10' "
                               "GROUP BY 1").fetchall()
    assert all(f"{status_text(s)}</strong> {number(n)}" in markup(at) for s, n in counts)
    assert [o for o in at.selectbox(key="yours-organisation").options if o != "every organisation"] == [
        "Department for Work and Pensions (D10)"]
    rows = downloaded(offered, "your-returns.csv")
    assert [r[heading("submission_ref")] for r in rows] == own


def test_the_data_quality_page_still_flags_illustrative_returns(page):
    at = page("data_quality")
    assert "The returns counted in this section and the next come" in markup(at)


def test_a_download_is_the_export_helpers_csv_of_the_list(home, monkeypatch):
    """What the button builds is dashboard/export.py's formula-safe CSV of exactly the rows the query returns."""
    monkeypatch.setenv("TRACKER_HOME", str(home))
    every = snapshot.return_submissions(("*",), limit=None)
    assert len(every) == int(snapshot.return_submission_counts(("*",))["returns"].sum()) > snapshot.PAGE_SIZE
    assert list(snapshot.return_submissions(("*",), limit=None, offset=snapshot.PAGE_SIZE)["submission_ref"]) == list(
        every["submission_ref"])[snapshot.PAGE_SIZE:]
    text = safe_csv(for_csv(every[["submission_ref", "file_name"]])).decode("utf-8-sig")
    assert f"'{FORMULA_FILE}".replace('"', '""') in text
