"""A snapshot with no figure for a platform (a reporting date before its first, or a source never read on a new
home): every page says why rather than failing, and nothing dated after the reporting date is shown."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT
from tests.test_cli import run

APP = str(PROJECT / "dashboard" / "app.py")
SIGN_IN_PAGES = {"send_return", "your_returns"}  # switched off without a sign-in provider, and said so
PAGES = sorted(p.stem for p in (PROJECT / "dashboard" / "app_pages").glob("*.py") if p.stem not in SIGN_IN_PAGES)


@pytest.fixture(scope="module")
def before_every_figure(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    result = run(["run", "--as-of", "1990-01-01"], home)
    said = result.stdout + result.stderr
    assert result.returncode in (0, 3), said  # published (the API catalogue says it had no version by then)
    assert "Published snapshot" in said and "Traceback" not in said
    return home


def render(home: Path, page: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("TRACKER_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    return at


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_a_figure(before_every_figure, monkeypatch, page):
    at = render(before_every_figure, page, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page, platform", [("pay", "GOV.UK Pay"), ("one_login", "GOV.UK One Login"),
                                            ("one_login", "GOV.UK Verify"), ("data_sharing", "Data sharing")])
def test_a_platform_without_a_figure_says_so_with_the_reporting_date(before_every_figure, monkeypatch, page,
                                                                     platform):
    at = render(before_every_figure, page, monkeypatch)
    said = " ".join(i.value for i in at.info)
    assert f"No {platform} figures were published by the reporting date, 1 Jan 1990" in said, said
    if platform == "Data sharing":  # its source had no version by then, and the notice gives the source's words
        assert "could not read Cross-government API catalogue" in said and "no catalogue version" in said


def test_nothing_is_shown_from_after_the_reporting_date(before_every_figure):
    with duckdb.connect(str(before_every_figure / "published" / "tracker.duckdb"), read_only=True) as con:
        dated = {table: con.execute(f"SELECT count(*) FROM marts.{table} WHERE {column} > DATE '1990-01-01'")
                 .fetchone()[0]
                 for table, column in [("metric_series", "date"), ("digital_capacity", "as_at"),
                                       ("digital_capacity_national", "as_at"), ("ddat_series_as_reported", "as_at"),
                                       ("skills_unmapped_names", "as_at"), ("platform_headlines", "latest_date")]}
    assert dated == dict.fromkeys(dated, 0)


def test_a_target_without_a_figure_gives_its_own_reason(before_every_figure, monkeypatch):
    """One Login's targets are measured from its registry, not from returns: the reason says so."""
    at = render(before_every_figure, "overview", monkeypatch)
    said = " ".join(m.value for m in at.markdown)
    assert "GOV.UK One Login had published no figure for it by the reporting date." in said
    assert "measured from departments' returns, and none has reported a figure yet" in said  # the returns' one
