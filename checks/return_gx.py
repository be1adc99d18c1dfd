"""Great Expectations over the contract: the suite translated from the rule list, built once a process.

Each rule of ``checks/return_rules.py`` becomes one expectation (``expectation_for``),
with GX's own ``severity`` (critical for the contract's errors, warning for its
warnings) and the rule's name and column in ``meta``, which is how a failure is
traced back to its rule and message. Nothing about the rules is decided here.

The pipeline uses it where a second engine earns its seconds: over the accepted
rows of an ingestion run, as one frame (``validate_accepted``), and over the
warehouse's figures in the blocking asset check (``validate_rows``). A single
return is checked by the native evaluator instead (``checks/return_rules.py``),
which finds the same failures without importing GX.

The context is GX's ephemeral one with usage analytics and progress bars off;
the suite and its validation definition are built once per process for each set
of inputs (the known organisations among the codes validated, reporting date) and
the whole validation result is kept and handed back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cache

import pandas as pd

from checks.return_contract import CODE, COLUMNS
from checks.return_gx_process import CheckedReturns
from checks.return_rules import (
    A_AT_LEAST_B,
    A_EQUALS_B,
    BETWEEN,
    COMPOUND_UNIQUE,
    EQUALS_TRUE,
    IN_SET,
    LENGTH_AT_MOST,
    NOT_NULL,
    NOT_REGEX,
    REGEX,
    WARNING,
    Finding,
    Rule,
    contract_rules,
    evaluate,
    rule_frame,
)
from checks.return_validation import Problem, problems_for, typed_rows

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # read when GX starts: no usage analytics, ever
import great_expectations as gx  # noqa: E402  (after the environment above)
import great_expectations.expectations as gxe  # noqa: E402
from great_expectations.core.expectation_validation_result import (  # noqa: E402
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: E402

log = logging.getLogger(__name__)
SUITE = "department_return"
ENGINE = f"great_expectations {gx.__version__}"


def expectation_for(rule: Rule) -> gxe.Expectation:
    """The one expectation that checks ``rule``: a straight translation of its kind, columns and parameters."""
    common = {
        "meta": {"rule": rule.rule, "column": rule.column},
        "severity": FailureSeverity.WARNING if rule.severity == WARNING else FailureSeverity.CRITICAL,
    }
    column, params = rule.columns[0], rule.params
    if rule.kind == NOT_NULL:
        return gxe.ExpectColumnValuesToNotBeNull(column=column, **common)
    if rule.kind == BETWEEN:
        return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=params.get("min_value"),
                                                 max_value=params.get("max_value"), **common)
    if rule.kind == IN_SET:
        return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(params["value_set"]), **common)
    if rule.kind == REGEX:
        return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=params["regex"], **common)
    if rule.kind == NOT_REGEX:
        return gxe.ExpectColumnValuesToNotMatchRegex(column=column, regex=params["regex"], **common)
    if rule.kind == LENGTH_AT_MOST:
        return gxe.ExpectColumnValueLengthsToBeBetween(column=column, max_value=params["max_value"], **common)
    if rule.kind == A_AT_LEAST_B:
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=column, column_B=rule.columns[1], or_equal=True,
                                                           ignore_row_if="either_value_is_missing", **common)
    if rule.kind == A_EQUALS_B:
        return gxe.ExpectColumnPairValuesToBeEqual(column_A=column, column_B=rule.columns[1],
                                                   ignore_row_if="either_value_is_missing", **common)
    if rule.kind == COMPOUND_UNIQUE:
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(rule.columns),
                                                   ignore_row_if="all_values_are_missing", **common)
    if rule.kind == EQUALS_TRUE:
        return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[True], **common)
    raise ValueError(f"no Great Expectations expectation for a {rule.kind} rule")


def contract_expectations(known_organisations: Collection[str], as_of: dt.date) -> list[gxe.Expectation]:
    """The suite's expectations: one per rule of the contract, in the rules' order."""
    return [expectation_for(rule) for rule in contract_rules(known_organisations, as_of)]


@cache
def _context():
    """GX's ephemeral context, once a process: analytics and progress bars off; one pandas frame asset."""
    context = gx.get_context(mode="ephemeral")
    context.enable_analytics(False)
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas("department_returns").add_dataframe_asset("rule_frame")
    return context, asset.add_batch_definition_whole_dataframe("whole_frame")


def validation_definition(known_organisations: Collection[str], as_of: dt.date) -> gx.ValidationDefinition:
    """The suite and its validation definition for these inputs, built the first time they are asked for."""
    return _validation_definition(frozenset(known_organisations), as_of)


@cache  # by the codes validated: a run's process sees one or two sets, and never builds a suite twice for one
def _validation_definition(known_organisations: frozenset[str], as_of: dt.date,
                           only: tuple[str, ...] | None = None) -> gx.ValidationDefinition:
    """``only``: the (rule, column) pairs whose expectations the suite holds, when not all of them."""
    context, batch_definition = _context()
    digest = hashlib.sha256("\n".join(sorted(known_organisations)).encode()).hexdigest()[:12]
    name = f"{SUITE} as of {as_of.isoformat()} for {len(known_organisations)} organisations ({digest})"
    expectations = contract_expectations(known_organisations, as_of)
    if only is not None:
        name += f", only {hashlib.sha256(repr(only).encode()).hexdigest()[:12]}"
        expectations = [e for e in expectations if (e.meta["rule"], e.meta["column"]) in only]
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    return context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_definition, suite=suite))


@dataclass
class GxRun:
    """One validation of a rule frame with the suite: GX's result, kept whole, and what it comes to."""

    result: ExpectationSuiteValidationResult
    rows: pd.Index  # the rule frame's row labels, in the order GX saw them
    seconds: float
    findings: list[Finding] = field(default_factory=list)
    failed_rows: dict[int, list[ExpectationValidationResult]] = field(default_factory=dict)

    @property
    def suite(self) -> str:
        return self.result.suite_name

    @property
    def evaluated(self) -> int:
        return self.result.statistics["evaluated_expectations"]

    @property
    def failed(self) -> list[ExpectationValidationResult]:
        return [outcome for outcome in self.result.results if not outcome.success]

    @property
    def passed(self) -> bool:
        """No expectation of critical severity failed (warnings may have)."""
        return self.result.get_max_severity_failure() != FailureSeverity.CRITICAL

    def row_summary(self, row: int) -> dict:
        """What GX said about one row: a compact, JSON-ready record to keep beside the return."""
        failed = [_describe(outcome) for outcome in self.failed_rows.get(row, [])]
        return {"engine": ENGINE, "suite": self.suite, "evaluated": self.evaluated,
                "passed": self.evaluated - len(failed), "failed": failed}

    def failed_lines(self) -> list[str]:
        """One line per failed expectation: which, for which rule and column, how severe, on how many rows."""
        return [f"{d['expectation']} ({d['rule']}, {d['column']}, {d['severity']}): "
                f"{outcome.result.get('unexpected_count', 0)} row(s)"
                for outcome, d in ((o, _describe(o)) for o in self.failed)]


def _describe(outcome: ExpectationValidationResult) -> dict:
    config = outcome.expectation_config
    return {"expectation": config.type, "rule": config.meta["rule"], "column": config.meta["column"],
            "severity": FailureSeverity(config.severity).value}


def known_in_frame(checked: pd.DataFrame, known_organisations: Collection[str]) -> frozenset[str]:
    """The known organisations among the codes a rule frame holds.

    For these rows "a code in the register" and "a code in this part of the register" are the same test, and GX
    copies an expectation's value set every time it reads the expectation's configuration (some 150 times a
    validation): with a national register of 40,000 codes, validating 100 returns took 4.3 s rather than 0.9 s."""
    present: set[str] = set()
    for column in (c.name for c in COLUMNS if c.kind == CODE):
        present.update(checked[column].dropna().astype(str))
    return frozenset(known_organisations).intersection(present)


def run_suite(checked: pd.DataFrame, known_organisations: Collection[str], as_of: dt.date) -> GxRun:
    """Validate a rule frame (``checks/return_rules.rule_frame``) with the contract's suite, its register cut to
    the codes the frame holds (``known_in_frame``)."""
    known = known_in_frame(checked, known_organisations)
    frame = checked.reset_index(drop=True)
    started = time.perf_counter()
    result = validation_definition(known, as_of).run(batch_parameters={"dataframe": frame},
                                                     result_format={"result_format": "BOOLEAN_ONLY"})
    # Which expectations fail first, then only those again for the rows each fails on: a national intake's
    # 58,000 accepted returns took 4.0 to 4.4 s with every expectation listing its rows, 1.4 s without.
    failed = tuple(_rule_key(outcome) for outcome in result.results if not outcome.success)
    if failed:
        again = {_rule_key(outcome): outcome for outcome in _validation_definition(known, as_of, failed).run(
            batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"}).results}
        result.results = [o if o.success else again.get(_rule_key(o), o) for o in result.results]
    run = GxRun(result, checked.index, time.perf_counter() - started)
    rules = {rule.key: rule for rule in contract_rules(known_organisations, as_of)}
    failures: dict[tuple[str, str], list[int]] = {}
    for outcome in result.results:
        meta = outcome.expectation_config.meta
        info = outcome.exception_info or {}
        raised = [info] if "raised_exception" in info else [i for i in info.values() if isinstance(i, dict)]
        if any(i.get("raised_exception") for i in raised):
            message = next(i.get("exception_message") for i in raised if i.get("raised_exception"))
            raise RuntimeError(f"validation rule {meta.get('rule')} could not run: {message}")
        if outcome.success:
            continue
        rows = []
        for position in outcome.result.get("unexpected_index_list") or []:  # positions in the frame GX was given
            label = int(checked.index[int(position if isinstance(position, int) else position["index"])])
            rows.append(label)
            run.failed_rows.setdefault(label, []).append(outcome)
        failures[_rule_key(outcome)] = rows
    # In the rules' order, rows in the frame's order: the native evaluator's order too.
    run.findings = [Finding(rule.rule, int(row), rule.column) for key, rule in rules.items()
                    for row in sorted(failures.get(key, []), key=checked.index.get_loc)]
    return run


def _rule_key(outcome: ExpectationValidationResult) -> tuple[str, str]:
    meta = outcome.expectation_config.meta
    return meta["rule"], meta["column"]


def validate_rows(frame: pd.DataFrame, known_organisations: Collection[str], as_of: dt.date
                  ) -> tuple[list[Problem], GxRun]:
    """Re-check typed rows already in the warehouse with the suite (the blocking asset check), as one frame."""
    framed, raw = typed_rows(frame)
    checked = rule_frame(framed)
    run = run_suite(checked, known_organisations, as_of)
    problems, _ = problems_for(run.findings, contract_rules(known_organisations, as_of), checked, raw)
    return problems, run


@dataclass
class AcceptedValidation:
    """GX over the rows a run accepted, one frame; per return, what GX found and whether the gate agrees."""

    run: GxRun | None
    per_return: dict[str, dict]  # submission reference -> row summary (JSON-ready)
    disagreements: list[str]  # submission references where GX and the native evaluator found different failures
    error: str | None = None

    def lines(self) -> list[str]:
        return self.run.failed_lines() if self.run else []

    def passed_references(self) -> list[str]:
        """The returns no expectation of critical severity failed for (none when GX could not run)."""
        if self.error or self.run is None or not self.run.passed:  # a critical failure anywhere: none is vouched for
            return []
        critical = FailureSeverity.CRITICAL.value
        return [reference for reference, result in self.per_return.items()
                if all(failed["severity"] != critical for failed in result["failed"])]

    def checked(self) -> CheckedReturns:
        """The same as plain data, for the process that asked (``checks/return_gx_process.py``)."""
        run = self.run
        return CheckedReturns(self.per_return, self.disagreements, self.passed_references(), self.error,
                              run.evaluated if run else 0, run.seconds if run else 0.0, self.lines())


def validate_accepted(accepted: pd.DataFrame, known_organisations: Collection[str],
                      as_of: dt.date) -> AcceptedValidation:
    """GX over the accepted returns of a run as ONE frame: a row per return, its typed columns, and
    ``_reference`` (the submission reference) and ``_sender`` (the organisation that sent it).

    The native evaluator already accepted each of these files and that stands: GX is the second engine over
    the same rules, so any difference between the two is a bug in one of them, logged loudly and recorded
    beside the return (``agrees_with_native``), never a reason to undo the gate's decision.
    """
    references = accepted["_reference"].tolist()
    senders = accepted["_sender"].tolist()
    typed = accepted.drop(columns=["_reference", "_sender"]).reset_index(drop=True)
    checked = rule_frame(typed, submitted_by=senders, return_file=references)
    try:
        run = run_suite(checked, known_organisations, as_of)
    except Exception as err:  # GX failing to run is a bug too, and the gate has decided: record it, say it loudly
        log.exception("Great Expectations could not validate the accepted returns")
        return AcceptedValidation(None, {ref: {"engine": ENGINE, "error": str(err)} for ref in references}, [],
                                  str(err))
    native = evaluate(contract_rules(known_organisations, as_of), checked)
    by_row_gx, by_row_native = defaultdict(set), defaultdict(set)
    for found in run.findings:
        by_row_gx[found.row].add(found)
    for found in native:
        by_row_native[found.row].add(found)
    per_return, disagreements = {}, []
    for row, ref in zip(checked.index, references, strict=True):  # an accepted return is one row (MAX_DATA_ROWS)
        agrees = by_row_gx[row] == by_row_native[row]
        if not agrees:
            disagreements.append(ref)
            log.error(f"BUG: Great Expectations and the native evaluator disagree on return {ref}: GX found "
                      f"{sorted(by_row_gx[row])}, the native evaluator {sorted(by_row_native[row])}. The native "
                      "result stands for accepting or rejecting the return.")
        per_return[ref] = run.row_summary(row) | {"agrees_with_native": agrees}
    return AcceptedValidation(run, per_return, disagreements)
