"""Great Expectations in the pipeline: the suite as GX means it, and its result kept where it is used."""

from __future__ import annotations

import json

import duckdb

from checks.return_contract import MESSAGES, WARNINGS
from checks.return_rules import WARNING, contract_rules
from tests.conftest import ingest, query
from tests.returns_helpers import AS_OF, KNOWN, VALID, csv_bytes, row
from tests.test_contract_passes import contract_check_without_passes
from tests.test_return_marts import check_result
from tests.test_return_parity import frame, typed
from tracker.return_inbox import deliver

GX = "great expectations: "


def materialisation(result, table: str) -> dict:
    event = next(e for e in result.get_asset_materialization_events()
                 if e.asset_key.to_user_string() == table.replace(".", "/"))
    return event.materialization.metadata


def test_one_expectation_per_rule_with_gx_severity_and_the_suite_built_once():
    from great_expectations.expectations.metadata_types import FailureSeverity

    from checks.return_gx import _context, contract_expectations, validation_definition

    rules = contract_rules(KNOWN, AS_OF)
    expectations = contract_expectations(KNOWN, AS_OF)
    assert len(expectations) == len(rules)
    for rule, expectation in zip(rules, expectations, strict=True):
        assert expectation.meta == {"rule": rule.rule, "column": rule.column}  # only which rule: nothing decided
        assert expectation.severity == (FailureSeverity.WARNING if rule.severity == WARNING
                                        else FailureSeverity.CRITICAL)
        assert rule.rule in (WARNINGS if rule.severity == WARNING else MESSAGES)
    first = validation_definition(KNOWN, AS_OF)
    assert validation_definition(set(KNOWN), AS_OF) is first  # cached by its inputs, however they are passed
    assert len(first.suite.expectations) == len(rules)
    context, _ = _context()
    assert context.config.analytics_enabled is False
    assert context.progress_bars["globally"] is False and context.progress_bars["metric_calculations"] is False


def test_ingestion_keeps_what_gx_found_beside_each_accepted_return(returns_home):
    clean = deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test")
    warned = deliver(returns_home, csv_bytes(row(organisation_code="EA73", pay_transactions="")), "ea73.csv", "EA73",
                     "test")
    rejected = deliver(returns_home, csv_bytes(row(pay_services_live="99")), "bad.csv", "D10", "test")
    result = ingest(returns_home)
    assert result.success
    kept = {ref: json.loads(gx) if gx else None for ref, gx in query(
        returns_home, "SELECT submission_ref, gx_result FROM audit.return_submissions")}
    assert kept[rejected.reference] is None  # the gate rejected it: its rows never reach GX
    expectations = len(contract_rules(KNOWN, AS_OF))
    assert kept[clean.reference]["evaluated"] == kept[clean.reference]["passed"] >= expectations
    assert kept[clean.reference]["failed"] == [] and kept[clean.reference]["agrees_with_native"] is True
    assert kept[warned.reference]["failed"] == [{"expectation": "expect_column_values_to_be_in_set",
                                                 "rule": "transactions_missing", "column": "pay_transactions",
                                                 "severity": "warning"}]
    assert kept[warned.reference]["passed"] == kept[warned.reference]["evaluated"] - 1
    metadata = materialisation(result, "audit.return_submissions")
    assert metadata[GX + "returns validated"].value == 2
    assert metadata[GX + "expectations failed"].value == 1
    assert "transactions_missing, pay_transactions, warning): 1 row(s)" in metadata[GX + "failed expectations"].value
    assert metadata[GX + "disagreements with the native evaluator"].value == 0


def test_a_disagreement_is_logged_and_the_gate_stands(returns_home, monkeypatch, caplog):
    import checks.return_gx as return_gx

    monkeypatch.setattr(return_gx, "evaluate", lambda rules, frame: [])  # a native evaluator that finds nothing
    sent = deliver(returns_home, csv_bytes(row(pay_transactions="")), "d10.csv", "D10", "test")
    result = ingest(returns_home)
    assert result.success
    assert query(returns_home, "SELECT status FROM audit.return_submissions") == [("accepted with warnings",)]
    (gx,), = query(returns_home, "SELECT gx_result FROM audit.return_submissions")
    assert json.loads(gx)["agrees_with_native"] is False
    assert materialisation(result, "audit.return_submissions")[GX + "disagreements with the native evaluator"
                                                                ].value == 1
    assert any("BUG: Great Expectations and the native evaluator" in r.getMessage() and sent.reference in
               r.getMessage() for r in caplog.records)


def test_gx_failing_to_run_does_not_undo_the_gate(returns_home, monkeypatch):
    import checks.return_gx as return_gx

    def broken(*args, **kwargs):
        raise ValueError("no such metric")

    monkeypatch.setattr(return_gx, "run_suite", broken)
    deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test")
    result = ingest(returns_home)
    assert result.success
    assert query(returns_home, "SELECT status, gx_result->>'error' FROM audit.return_submissions") == [
        ("accepted", "no such metric")]
    assert materialisation(result, "audit.return_submissions")[GX[:-2]].value == "could not run: no such metric"


def test_an_audit_table_from_before_gets_the_new_columns(returns_home):
    from assets.returns import DDL

    con = duckdb.connect(str(returns_home / "warehouse.duckdb"))
    before = (", gx_result JSON, normalisations JSON,\n        sender VARCHAR, on_behalf_reason VARCHAR, "
              "contract_version INTEGER")
    assert before in DDL[1]
    con.execute(DDL[1].replace(before, ""))  # the table as it was made before
    con.execute("INSERT INTO audit.return_submissions VALUES ('R-old', 'x', 'old.csv', 'D10', 'test', false, "
                "TIMESTAMP '2025-10-01', TIMESTAMP '2025-10-01', 'D10', '2025-26 Q2', 'accepted', 0, 0, 'Accepted.', "
                "'[]', NULL, NULL)")
    con.close()
    deliver(returns_home, csv_bytes(VALID), "d10.csv", "D10", "test", sender="someone", on_behalf_reason="why")
    assert ingest(returns_home).success
    kept = dict(query(returns_home, "SELECT submission_ref, gx_result IS NOT NULL AND normalisations IS NOT NULL "
                                    "FROM audit.return_submissions"))
    assert kept.pop("R-old") is False and list(kept.values()) == [True]
    senders = query(returns_home, "SELECT submission_ref = 'R-old', sender, on_behalf_reason "
                                  "FROM audit.return_submissions ORDER BY 1")
    assert senders == [(False, "someone", "why"), (True, None, None)]
    versions = query(returns_home, "SELECT submission_ref = 'R-old', contract_version FROM audit.return_submissions "
                                   "ORDER BY 1")
    assert versions == [(False, 2), (True, 1)]  # read by the previous code: version 1, the only one then


def test_the_samples_gx_results_agree_with_the_gate(built, warehouse):
    kept = {(name, status): json.loads(gx) if gx else None for name, status, gx in warehouse.execute(
        "SELECT file_name, status, gx_result FROM audit.return_submissions").fetchall()}
    for (name, status), gx in kept.items():
        if status in ("accepted", "accepted with warnings"):
            assert gx["agrees_with_native"] is True, name
            assert all(f["severity"] == "warning" for f in gx["failed"]), name
        else:
            assert gx is None, name
    warned = kept[("ILLUSTRATIVE_EA73_2025-26_Q2.csv", "accepted with warnings")]
    assert [(f["rule"], f["column"]) for f in warned["failed"]] == [("transactions_missing", "one_login_transactions")]


def test_the_blocking_check_reports_the_gx_result(built, tmp_path):
    check = check_result(built, "department_returns_meet_contract")
    # the run's returns passed the suite on arrival: the check did not validate them again
    assert check.passed and check.metadata["returns checked"].value == 0
    assert check.metadata["returns passed before, unchanged"].value == 7
    metadata = contract_check_without_passes(built["home"], tmp_path).metadata
    assert metadata["returns checked"].value == 7 and metadata["problems"].value == 0
    assert metadata["expectations evaluated"].value >= len(contract_rules(KNOWN, AS_OF))
    assert metadata["expectations failed"].value >= 1  # warnings: transactions left blank
    assert "(transactions_missing, one_login_transactions, warning)" in metadata["failed expectations"].value


def test_a_national_register_is_cut_to_the_codes_validated_and_finds_the_same_failures():
    """GX copies an expectation's value set each time it reads it: the suite carries only the known codes the frame
    holds, which must find exactly what the whole register finds, including a frame with no known code at all."""
    from checks.return_gx import known_in_frame, run_suite
    from checks.return_rules import evaluate

    register = KNOWN | {f"N{i:05d}" for i in range(40_000)}
    for codes in (["D10", "ZZ99", "N00007", None], ["ZZ99", "zz98"]):
        checked = frame(*(typed(organisation_code=code) for code in codes))
        assert known_in_frame(checked, register) == frozenset(c for c in codes if c in register)
        run = run_suite(checked, register, AS_OF)
        found = sorted(f for f in run.findings if f.rule == "organisation_known")
        native = sorted(f for f in evaluate(contract_rules(register, AS_OF), checked) if f.rule == "organisation_known")
        assert found == native
        assert [f.row for f in found] == [i for i, c in enumerate(codes, start=2) if c and c not in register]


def test_failed_expectations_listed_again_match_one_pass_listing_every_row():
    """GX is asked first only whether each expectation holds, then for the rows of the ones that failed: each
    outcome, each failure's rows and counts, and what is kept per row are those of one pass listing everything."""
    from checks.return_gx import GxRun, known_in_frame, run_suite, validation_definition
    from tests.test_return_parity import RULES, breaking
    from tests.test_return_parity import stacked as stacked_cases

    chosen = [RULES[0], next(r for r in RULES if r.severity == WARNING), next(r for r in RULES if len(r.columns) > 1)]
    cases = [(rule.rule, breaking(rule)) for rule in chosen] + [("clean", frame(typed()))]
    checked = stacked_cases(cases)
    run = run_suite(checked, KNOWN, AS_OF)
    whole = validation_definition(known_in_frame(checked, KNOWN), AS_OF).run(
        batch_parameters={"dataframe": checked.reset_index(drop=True)}, result_format={"result_format": "COMPLETE"})
    outcomes = [(dict(o.expectation_config.meta), o.success) for o in run.result.results]
    assert outcomes == [(dict(o.expectation_config.meta), o.success) for o in whole.results]
    failed = [o for o in run.result.results if not o.success]
    assert 3 <= len(failed) < len(outcomes)  # some failed, most held: the second pass is a part of the suite
    for mine, theirs in zip(run.result.results, whole.results, strict=True):
        if not mine.success:
            for key in ("unexpected_count", "unexpected_index_list", "element_count"):
                assert mine.result[key] == theirs.result[key]
    assert run.evaluated == whole.statistics["evaluated_expectations"]
    assert run.failed_lines() == GxRun(whole, checked.index, 0.0).failed_lines()
    assert sorted(run.failed_rows) == sorted({int(checked.index[i]) for o in whole.results if not o.success
                                              for i in o.result["unexpected_index_list"]})
