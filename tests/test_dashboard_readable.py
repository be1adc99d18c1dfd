"""Every page readable by people, checked with Streamlit's AppTest on the snapshot published from the shipped data.

``st.dataframe`` draws its cells on a canvas, so page text never shows what a table shows: these tests read each
table's data and its column configuration (headings, formats, the text for an empty cell) and work out what a
person sees in it. They fail on a heading that is a column name (``reporting_quarter``) or has no entry in the
one dictionary of labels (dashboard/labels.py), a cell that reads None, nan, NaT or <NA>, a date shown as a
timestamp (``2025-09-30 00:00:00``), a number shown unformatted, a data date later than its source's latest
figure, and on page text with any of those or a warehouse table name (``marts.platform_headlines``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.formatting import BLANK, GRID_FORMATS, for_csv
from dashboard.labels import COLUMNS, KINDS

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")

# page -> (query parameters, the sources whose figures it shows; None: every source)
PAGES = {
    "overview": ({}, None),
    "pay": ({}, ["pay"]),
    "notify": ({}, ["notify"]),
    "one_login": ({}, ["one_login", "verify"]),
    "forms": ({}, ["forms"]),
    "data_sharing": ({}, ["data_sharing", "notify"]),
    "departments": ({}, None),
    "department": ({"department": "D9"}, None),
    "skills": ({}, ["skills", "one_login", "pay"]),
    "returns": ({}, []),
    "data_quality": ({}, None),
}
BAD_CELL = re.compile(r"^\s*(None|nan|NaN|NaT|<NA>|null|NULL)\s*$|\d\d:\d\d:\d\d")
BAD_TEXT = re.compile(r"\b(?:None|nan|NaN|NaT|NULL)\b|<NA>|\d{4}-\d\d-\d\d[ T]\d\d:\d\d|\d\d:\d\d:\d\d"
                      r"|\b(?:marts|staging|meta|raw|audit|quarantine)\.[a-z_]+\b")
DATE_FORMATS = {GRID_FORMATS[k] for k in ("date", "month", "timestamp")}
NUMBER_KINDS = {"count", "number", "money", "share", "percent"}


@pytest.fixture(scope="module")
def snapshot(built):
    con = duckdb.connect(str(Path(built["home"]) / "published" / "tracker.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def pages(built):
    """Every page, run once with AppTest on the built snapshot."""
    import os

    before = os.environ.get("TRACKER_HOME")
    os.environ["TRACKER_HOME"] = str(built["home"])
    try:
        ran = {}
        for page, (query, _) in PAGES.items():
            at = AppTest.from_file(APP, default_timeout=90)
            at.query_params.update(query)
            at.run()
            if page != "overview":
                at.switch_page(f"app_pages/{page}.py").run()
            assert not at.exception, [e.value for e in at.exception]
            ran[page] = at
        yield ran
    finally:
        if before is None:
            os.environ.pop("TRACKER_HOME", None)
        else:
            os.environ["TRACKER_HOME"] = before


# ---------------------------------------------------------------- what a table shows
def config_of(element) -> dict:
    return json.loads(element.proto.columns or "{}")


def heading(element, name: str) -> str:
    return config_of(element).get(name, {}).get("label") or str(name)


def table_problems(element) -> list[str]:
    """Everything a person would see wrong in one table, each as a sentence naming the column."""
    frame: pd.DataFrame = element.value
    config = config_of(element)
    placeholder = element.proto.placeholder if element.proto.HasField("placeholder") else "None"
    problems = []
    headings = [heading(element, name) for name in frame.columns]
    if len(set(headings)) < len(headings):
        problems.append(f"two columns share a heading: {headings}")
    for name in frame.columns:
        values = frame[name]
        shown = heading(element, name)
        type_config = config.get(name, {}).get("type_config", {})
        if name not in COLUMNS:
            problems.append(f"column {name!r} has no label in dashboard/labels.py (it is shown as {shown!r})")
        if not shown.strip() or "_" in shown:
            problems.append(f"column {name!r} is headed {shown!r}")
        if values.isna().any() and (not placeholder.strip() or BAD_CELL.search(placeholder)):
            problems.append(f"column {shown!r}: empty cells read {placeholder!r}")
        if pd.api.types.is_datetime64_any_dtype(values):
            if type_config.get("format") not in DATE_FORMATS:
                problems.append(f"column {shown!r}: dates shown as timestamps ({type_config or 'no format'})")
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            if type_config.get("type") != "number" or not type_config.get("format"):
                problems.append(f"column {shown!r}: numbers shown without a format")
        elif pd.api.types.is_bool_dtype(values):
            problems.append(f"column {shown!r}: true/false shown as a tick box, not Yes or No")
        else:
            bad = sorted({str(v) for v in values.dropna() if BAD_CELL.search(str(v))})
            if bad:
                problems.append(f"column {shown!r}: cells read {bad[:3]}")
    return problems


def page_text(at: AppTest) -> str:
    parts = [*(e.value for e in at.title), *(e.value for e in at.header), *(e.value for e in at.subheader),
             *(e.value for e in at.markdown), *(e.value for e in at.caption), *(e.value for e in at.info),
             *(e.value for e in at.warning), *(e.label for e in at.expander)]
    for metric in at.metric:
        parts += [metric.label, metric.value, metric.proto.delta or ""]
    return "\n".join(str(p) for p in parts)


# ---------------------------------------------------------------- the tests
def test_the_label_dictionary_is_well_formed():
    for name, entry in COLUMNS.items():
        assert entry.kind in KINDS, (name, entry.kind)
        assert entry.label.strip() and "_" not in entry.label, name
        assert entry.label[0] == entry.label[0].upper() or entry.label[0].isdigit(), (name, entry.label)
        assert not entry.data_date or entry.kind in ("date", "month"), name


@pytest.mark.parametrize("page", PAGES)
def test_every_table_reads_as_people_expect(pages, page):
    at = pages[page]
    assert len(at.dataframe) > 0, f"{page} shows no table"
    problems = [f"table {i} ({e.proto.alt or 'no name'}): {p}" for i, e in enumerate(at.dataframe)
                for p in table_problems(e)]
    assert not problems, f"{page}:\n" + "\n".join(problems)
    for element in at.dataframe:
        assert element.proto.alt.strip(), f"{page}: a table has no accessible name"
        csv = for_csv(element.value)
        assert not [c for c in csv.columns if "_" in c], f"{page}: CSV headings {list(csv.columns)}"
        assert not [v for c in csv.columns for v in csv[c].astype(str) if BAD_CELL.search(v)], page


@pytest.mark.parametrize("page", PAGES)
def test_page_text_has_no_internals(pages, page):
    found = sorted({m.group(0) for m in BAD_TEXT.finditer(page_text(pages[page]))})
    assert not found, f"{page} shows {found}"


def latest_dates(snapshot) -> dict[str, pd.Timestamp]:
    rows = snapshot.execute("SELECT source, name, latest_date FROM marts.sources WHERE latest_date IS NOT NULL"
                            ).fetchall()
    return {source: (name, pd.Timestamp(latest)) for source, name, latest in rows}


# The marts' own faults in data dates, reported to the marts' owners and being fixed there: (page, column or source
# name), listed so the rest of this test still guards every page. Remove an entry once the marts are fixed (the test
# passes either way).
KNOWN_MART_FAULTS: dict[tuple[str, str], str] = {}  # (page, column or source) -> why; none now


@pytest.mark.parametrize("page", PAGES)
def test_no_data_date_after_its_sources_latest_figure(pages, snapshot, page):
    """What the page shows against marts.sources.latest_date: in tables (columns marked data_date in
    dashboard/labels.py) and in every "Source: ... data to <date>" line."""
    sources = latest_dates(snapshot)
    names = PAGES[page][1]
    as_of = pd.Timestamp(snapshot.execute("SELECT max(as_of) FROM marts.sources").fetchone()[0])
    chosen = [sources[s][1] for s in (sources if names is None else names) if s in sources]
    bound = max(chosen) if chosen else as_of
    late = []
    for element in pages[page].dataframe:
        for name in element.value.columns:
            entry = COLUMNS.get(name)
            if entry and entry.data_date and (page, name) not in KNOWN_MART_FAULTS:
                shown = pd.to_datetime(element.value[name]).dropna()
                late += [f"{heading(element, name)}: {d:%d %b %Y} (source's latest {bound:%d %b %Y})"
                         for d in shown[shown > bound].unique()[:3]]
    for source, said, day in re.findall(r"Source: ([^<]*?) · ((?:data to|figures for) (\d{0,2} ?\w{3} \d{4}))",
                                        page_text(pages[page])):
        named = {name: latest for name, latest in sources.values() if name in source}
        if named and pd.Timestamp(day) > max(named.values()) and not any(
                (page, name) in KNOWN_MART_FAULTS for name in named):
            late.append(f"{source}: {said} (source's latest {max(named.values()):%d %b %Y})")
    assert not late, f"{page}:\n" + "\n".join(late)


def test_blank_cells_say_what_they_mean(pages):
    """A column that can be empty explains "–" in its heading's help."""
    for page, at in pages.items():
        for element in at.dataframe:
            config = config_of(element)
            assert element.proto.placeholder == BLANK
            for name in element.value.columns[element.value.isna().any()]:
                if COLUMNS.get(name) and COLUMNS[name].blank:
                    assert f"{BLANK} means" in (config[name].get("help") or ""), (page, name)


def test_the_accessibility_statement_lists_what_the_checks_accept():
    """The README's statement and dashboard/accessibility.py (the list the browser test accepts) agree."""
    from dashboard.accessibility import KNOWN_ISSUES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    statement = readme.split("## Accessibility statement", 1)[1].split("\n## ", 1)[0]
    for known in KNOWN_ISSUES:
        assert f"`{known.rule}` in `{known.within}`" in statement, known.rule
        assert known.why and known.where
    listed = re.findall(r"^- `([a-z-]+)` in `", statement, flags=re.MULTILINE)
    assert sorted(listed) == sorted(k.rule for k in KNOWN_ISSUES), listed


def test_every_chart_has_a_text_alternative(pages):
    for page, at in pages.items():
        for chart in at.get("vega_lite_chart"):
            assert chart.proto.alt.startswith("Chart: "), page


def axis_of(chart, channel: str) -> dict:
    spec = chart.to_dict()
    layers = spec.get("layer", [spec])
    return layers[0]["encoding"][channel].get("axis", {})


def test_charts_show_shares_in_per_cent_and_counts_on_whole_numbers():
    from dashboard import charts

    over_time = pd.DataFrame({"date": pd.to_datetime(["2025-01-01", "2025-02-01"]), "value": [0.25, 0.7]})
    share = axis_of(charts.line(over_time, "date", "value", y_kind="share"), "y")
    assert share["format"] == "%" or share["format"].endswith("%")
    count = axis_of(charts.line(over_time.assign(value=[1, 2]), "date", "value"), "y")
    assert count["format"].endswith("d") and count["tickMinStep"] == 1
    percent = axis_of(charts.trajectory(over_time.assign(value=[5.0, 5.3]), baseline_date=None, baseline=None,
                                        deadline="2026-03-31", target=100, forecast_date=None,
                                        latest_date="2025-02-01", latest_value=5.3, value_title="percent"), "y")
    assert "%" in percent["labelExpr"]
    bars = axis_of(charts.bars(pd.DataFrame({"department": ["A", "B"], "value": [3, 1]}), "department", "value"),
                   "x")
    assert bars["format"].endswith("d") and bars["tickMinStep"] == 1
    tooltip = charts.line(over_time, "date", "value").to_dict()["encoding"]["tooltip"][0]
    assert tooltip["format"] == "%-d %b %Y"  # 22 Dec 2025
