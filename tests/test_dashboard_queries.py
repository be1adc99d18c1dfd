"""The dashboard's queries live in one place: dashboard/snapshot.py. Pages, components and sections
hold no SQL, and every public query function there runs on the snapshot published from the shipped data."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pandas as pd
import pytest

from dashboard import snapshot

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard"
DATA_ACCESS = DASHBOARD / "snapshot.py"
SCHEMAS = ("marts", "staging", "meta", "raw", "audit", "quarantine", "main")
SQL = [
    re.compile(r"\bSELECT\b"),  # case-sensitive: the keyword as SQL is written, not "Select a column" in prose
    re.compile(rf"\b(?:FROM|JOIN)\s+(?:{'|'.join(SCHEMAS)})\.\w", re.IGNORECASE),
]
NOT_QUERIES = {"published_dir", "snapshot_path", "snapshot_info"}  # where the snapshot is, and its version
ARGUMENTS = {"platform": "GOV.UK Pay", "measure": "live services", "department_code": "D9",
             "metric": "pay_live_services", "table": "marts.sources", "organisation_code": "D10",
             "scope": ("*",)}  # a central analyst's scope: everything
ARGUMENTS_FOR = {"definition_notes": {"metric": "apis_published"},  # the measure whose source changed definition
                 # a successor of split bodies: its rows are BEIS's and DCMS's, under their old names, never divided
                 "department_digital_capacity": {"department_code": "D1381",
                                                 "department_name": "Department for Science, Innovation and "
                                                                    "Technology"}}
# Empty on the shipped data, rightly: tests/test_cli.py and tests/test_bad_feeds.py fill it with a bad file.
EMPTY_ON_SHIPPED_DATA = {"feed_problems": "every shipped file is readable",
                         "alerts": "a build from the shipped data raises no alert (tests/test_alerts.py raises them)",
                         "notify_live_by_department": "the Notify feed is fetched only on its schedule, never offline "
                                                      "(tests/test_feed_pipeline.py fetches one)"}


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring constants: they describe code (and may name a mart) but never run."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def sql_in(source: str) -> list[tuple[int, str]]:
    """Every string constant in the source (f-strings' literal parts included, docstrings left out) that
    looks like SQL, with its line number."""
    tree = ast.parse(source)
    skip = docstrings(tree)
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                  and any(pattern.search(node.value) for pattern in SQL))


def private_access(source: str) -> list[tuple[int, str]]:
    """Imports of the snapshot module's private names (its query runner, cache or connection) and any
    .execute() call: the ways round the named functions."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "dashboard.snapshot":
            found += [(node.lineno, f"imports {a.name}") for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and (
                node.attr == "execute" or (node.attr.startswith("_") and isinstance(node.value, ast.Name)
                                           and node.value.id == "snapshot" and not node.attr.startswith("__"))):
            found.append((node.lineno, node.attr))
    return sorted(found)


def dashboard_files() -> list[Path]:
    files = sorted(p for p in DASHBOARD.rglob("*.py") if p != DATA_ACCESS)
    assert len(files) >= 15, files  # the pages, components, sections, charts, export and the app
    return files


def query_functions() -> list[str]:
    return [name for name, function in inspect.getmembers(snapshot, inspect.isfunction)
            if function.__module__ == snapshot.__name__ and not name.startswith("_") and name not in NOT_QUERIES]


# ---------------------------------------------------------------- the checker itself can fail
def test_the_checker_finds_a_query_in_a_page():
    page = '''"""A page that reads from marts.platform_headlines (a docstring may name a mart)."""
import streamlit as st
from dashboard.snapshot import _query, platform_headlines

frame = query("SELECT * FROM marts.platform_headlines WHERE platform = ?", "GOV.UK Pay")
late = query(f"select value from staging.pay_snapshots where date > '{st.session_state.day}'")
joined = "SELECT h.metric, s.origin FROM marts.platform_headlines h " "JOIN marts.sources s USING (source)"
st.caption("Select a column heading to sort.")
st.markdown("marts.platform_headlines and marts.sources in the published snapshot")
rows = con.execute("PRAGMA version")
'''
    assert [line for line, _ in sql_in(page)] == [5, 6, 7]
    assert private_access(page) == [(3, "imports _query"), (10, "execute")]
    assert sql_in('st.caption("Select a column heading to sort. Figures from GOV.UK Pay.")') == []
    assert sql_in('def f():\n    """The figures from marts.sources."""\n') == []
    assert private_access("from dashboard import snapshot\nframe = snapshot._cached_query('v', 'sql', ())") == [
        (2, "_cached_query")]


# ---------------------------------------------------------------- the rule holds
def test_no_sql_outside_the_data_access_module():
    found = {str(p.relative_to(DASHBOARD.parent)): sql_in(p.read_text(encoding="utf-8")) for p in dashboard_files()}
    assert {path: hits for path, hits in found.items() if hits} == {}
    assert sql_in(DATA_ACCESS.read_text(encoding="utf-8")), "the checker sees the queries where they belong"


def test_no_way_round_the_named_functions():
    found = {str(p.relative_to(DASHBOARD.parent)): private_access(p.read_text(encoding="utf-8"))
             for p in dashboard_files()}
    assert {path: hits for path, hits in found.items() if hits} == {}


# ---------------------------------------------------------------- every query runs on the published snapshot
def test_the_data_access_functions_are_found():
    names = query_functions()
    assert len(names) >= 30, names
    assert {"target_progress", "platform_headlines", "department_league", "department_organisations",
            "returns_status_current_quarter"} <= set(names)
    assert "query" not in names, "the raw query runner is private"


@pytest.mark.parametrize("name", query_functions())
def test_every_query_function_runs_on_the_published_snapshot(name, built, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(built["home"]))
    function = getattr(snapshot, name)
    parameters = inspect.signature(function).parameters.values()
    required = [p.name for p in parameters if p.default is inspect.Parameter.empty]
    samples = ARGUMENTS_FOR.get(name, ARGUMENTS)
    assert set(required) <= set(samples), f"{name} needs a sample argument for {set(required) - set(samples)}"
    result = function(**{p: samples[p] for p in required})
    if isinstance(result, pd.DataFrame):
        assert result.empty == (name in EMPTY_ON_SHIPPED_DATA), \
            f"{name}({', '.join(required)}) returned {len(result)} rows on the shipped data"
    elif isinstance(result, list | dict):
        assert result, f"{name} returned nothing on the shipped data"
    else:
        assert not pd.isna(result), f"{name} returned no value on the shipped data"


def test_a_platform_history_can_leave_out_one_metric(built, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(built["home"]))
    every = snapshot.platform_history("GOV.UK Forms")
    without = snapshot.platform_history("GOV.UK Forms", leave_out_metric="forms_submissions_cumulative")
    assert "submissions since launch" in set(every["measure"])
    assert "submissions since launch" not in set(without["measure"])
    assert len(without) == (every["measure"] != "submissions since launch").sum()
