"""A rule check (checks/platform_checks.py ``Rule``) counts every row breaking its rule and shows the first few, in
the rule's own order, without fetching the rest (240,000 implausible changes at national size)."""

from __future__ import annotations

import duckdb

from checks.platform_checks import RULES, SAMPLE_ROWS, WARN, Rule, check_from_rule
from tests.conftest import make_resources


def test_every_breaking_row_is_counted_and_the_first_are_shown_in_the_rules_order(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA staging")
        con.execute("CREATE TABLE staging.figures AS SELECT i AS figure FROM range(1, 1001) t(i)")
    resources = make_resources(tmp_path)
    rule = Rule(("staging", "figures"), "figures_small", "Every figure is at most 100.",
                "SELECT figure FROM staging.figures WHERE figure > 100 ORDER BY figure DESC", WARN)
    result = check_from_rule(rule)(settings=resources["settings"], warehouse=resources["warehouse"])
    assert not result.passed and result.severity == WARN and result.description == rule.description
    assert result.metadata["rows breaking the rule"].value == 900
    shown = [line.strip("| ").strip() for line in result.metadata["examples"].value.splitlines()[2:]]
    assert shown == [str(f) for f in range(1000, 1000 - SAMPLE_ROWS, -1)]

    kept = check_from_rule(Rule(("staging", "figures"), "figures_positive", "Every figure is above 0.",
                                "SELECT figure FROM staging.figures WHERE figure <= 0"))(
        settings=resources["settings"], warehouse=resources["warehouse"])
    assert kept.passed and kept.metadata["rows breaking the rule"].value == 0 and "examples" not in kept.metadata


def test_a_body_expected_to_send_returns_that_the_register_closed_or_dropped_is_named(tmp_path):
    """A newer register closing HMRC, or no longer listing a code, would move its figures without a word."""
    rule = next(r for r in RULES if r.name == "expected_submitters_open_in_register")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA staging")
        con.execute("CREATE TABLE staging.organisations (organisation_code VARCHAR, name VARCHAR, status VARCHAR)")
        con.execute("CREATE TABLE staging.return_expected_submitters AS "
                    "SELECT * FROM (VALUES ('D10'), ('D25'), ('D999')) t(organisation_code)")
        assert con.execute(rule.sql).fetchall() == []  # a register never read: its own check says so
        con.execute("INSERT INTO staging.organisations VALUES ('D10', 'Department for Education', 'live'), "
                    "('D25', 'HM Revenue & Customs', 'closed')")
        named = sorted(con.execute(rule.sql).fetchall())
    assert named == [("D25", "HM Revenue & Customs", "closed"), ("D999", None, None)]
    assert rule.severity == WARN
