"""What a sender controls (a file name, a value echoed in a message) is shown as text on the dashboard, never as
HTML or Markdown: a rejected return carrying both is ingested, published, and the Returns page rendered."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import dagster as dg
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.sensors import ingest_returns_job
from tests.conftest import everything, make_resources
from tests.returns_helpers import csv_bytes, row
from tracker.return_inbox import deliver

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
HOSTILE = "<img src=x onerror=alert(1)>[click me](http://evil.example/)"


@pytest.fixture(scope="module")
def hostile_home(built, tmp_path_factory):
    import shutil

    home = tmp_path_factory.mktemp("hostile_home")
    shutil.copy(Path(built["home"]) / "warehouse.duckdb", home / "warehouse.duckdb")
    deliver(home, csv_bytes(row(pay_services_live=HOSTILE)), f"{HOSTILE}.csv", "D10", "test",
            now=dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC))  # before the reporting date the tests use
    deliver(home, b"PK\x03\x04 not a workbook at all", "unreadable.xlsx", "D10", "test",  # no quarter can be read
            now=dt.datetime(2026, 1, 21, 9, 0, tzinfo=dt.UTC))
    result = dg.materialize(everything(), selection=ingest_returns_job.selection, resources=make_resources(home))
    assert result.success
    return home


def as_analyst(home, monkeypatch, tmp_path, page: str, query: dict | None = None) -> AppTest:
    """The page as CDDO's analyst sees it (who may see what was sent), rendered without an error."""
    from tests.test_dashboard_pages import signed_in

    monkeypatch.setenv("TRACKER_HOME", str(home))
    access = tmp_path / "access.yaml"
    access.write_text("people:\n  - email: analyst@example.com\n    role: central analyst\n")
    monkeypatch.setenv("TRACKER_ACCESS_FILE", str(access))
    at = signed_in(AppTest.from_file(APP, default_timeout=60), "analyst@example.com")
    at.query_params.update(query or {})
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception and not at.error
    return at


@pytest.mark.parametrize("page, query", [("returns", {}), ("your_returns", {}), ("department", {"department": "D10"})])
def test_every_page_that_shows_sender_text_shows_it_as_text(hostile_home, monkeypatch, tmp_path, page, query):
    from dashboard.components import plain

    at = as_analyst(hostile_home, monkeypatch, tmp_path, page, query)
    markup = "\n".join(m.value for m in at.markdown)
    shown_in_tables = "\n".join(str(frame.value.to_dict()) for frame in at.dataframe)
    assert plain("<img src=x onerror=alert(1)>") in markup or "<img src=x" in shown_in_tables  # it is there...
    assert "<img" not in markup and "onerror=alert" not in markup.replace(plain("onerror=alert"), "")
    assert not re.search(r"\]\(http", markup)  # ...and no Markdown link can form from it
    assert "http://evil" not in markup  # nor an autolinked address


@pytest.mark.parametrize("page", ["returns", "your_returns"])
def test_a_return_whose_quarter_could_not_be_read_says_so(hostile_home, monkeypatch, tmp_path, page):
    at = as_analyst(hostile_home, monkeypatch, tmp_path, page)
    heading = next(m.value for m in at.markdown if "unreadable.xlsx" in m.value)
    assert "· quarter unreadable · unreadable.xlsx" in heading, heading
    assert not re.search(r"\b(None|nan|NaN|NaT)\b", heading), heading
    assert "ILLUSTRATIVE" not in heading  # a real return, not a sample
    if page == "returns":  # samples beside real returns: the notice counts them, and says no more than that
        notice = next(m.value for m in at.markdown if "ILLUSTRATIVE:" in m.value)
        assert re.search(r"\d+ of the \d+ returns received are ILLUSTRATIVE samples", notice), notice
        assert "Every return shown here" not in notice
        from dashboard.components import plain

        sample = next(m.value for m in at.markdown if plain("ILLUSTRATIVE_D16") in m.value and "rejected" in m.value)
        assert "ILLUSTRATIVE sample</strong>" in sample, sample


def test_plain_leaves_nothing_markup_can_read():
    from dashboard.components import plain

    shown = plain(HOSTILE + " **bold** `code` # heading | table ~strike~ \\ !")
    bare = re.sub(r"&(#\d+|[a-z]+);", "", shown)  # what is left outside the character references
    assert not set(bare) & set("<>\"'[]()*_`#|~\\!:&"), bare
