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
    result = dg.materialize(everything(), selection=ingest_returns_job.selection, resources=make_resources(home))
    assert result.success
    return home


def test_the_returns_page_shows_sender_text_as_text(hostile_home, monkeypatch):
    from dashboard.components import plain

    monkeypatch.setenv("TRACKER_HOME", str(hostile_home))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/returns.py").run()
    assert not at.exception and not at.error
    markup = "\n".join(m.value for m in at.markdown)
    assert plain("<img src=x onerror=alert(1)>") in markup  # the file name and the value are on the page...
    assert "<img" not in markup and "onerror=alert" not in markup.replace(plain("onerror=alert"), "")
    assert not re.search(r"\]\(http", markup)  # ...and no Markdown link can form from them
    assert "http://evil" not in markup  # nor an autolinked address


def test_plain_leaves_nothing_markup_can_read():
    from dashboard.components import plain

    shown = plain(HOSTILE + " **bold** `code` # heading | table ~strike~ \\ !")
    bare = re.sub(r"&(#\d+|[a-z]+);", "", shown)  # what is left outside the character references
    assert not set(bare) & set("<>\"'[]()*_`#|~\\!:&"), bare
