"""Two engines, one rule list: the native evaluator and Great Expectations find the same failures.

Every file the returns tests already use (the hostile files, the contract's
cases, the shipped samples) and a set of generated frames that make every
rule fail at least once go through both engines; the findings, as (rule, row,
column), must be the same sets. GX is run once, over all of them stacked into
one frame (each file keeps its own rows apart: ``return_file``), so the suite
is built once and the test stays well under a minute.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest
import yaml

from checks.return_contract import (
    BARRIERS,
    COLUMN_NAMES,
    COLUMNS,
    COUNT,
    KEY_COLUMNS,
    NUMBER,
    VERSION_COLUMNS,
    version_flags,
)
from checks.return_rules import (
    A_AT_LEAST_B,
    A_EQUALS_B,
    BETWEEN,
    COMPOUND_UNIQUE,
    EQUALS_TRUE,
    IN_SET,
    KINDS,
    LENGTH_AT_MOST,
    NOT_NULL,
    NOT_REGEX,
    REGEX,
    RETURN_FILE,
    Finding,
    Rule,
    contract_rules,
    evaluate,
    rule_frame,
)
from checks.return_validation import validate_return
from tests.conftest import DATA
from tests.returns_helpers import AS_OF, KNOWN, VALID, VERSION_1_HEADER, csv_bytes, row, xlsx_bytes
from tests.test_return_contract import CELL_CASES
from tests.test_return_contract_versions import SKILLS_CASES
from tests.test_return_hostile import HOSTILE

SAMPLES = DATA / "returns" / "samples"
LENIENT = [
    ("quarter with a slash", {"reporting_quarter": "2025/26 Q3"}),
    ("quarter first", {"reporting_quarter": "Q3 2025-26", "pay_transactions": "425,000.00"}),
    ("four-digit years, not yet open", {"reporting_quarter": "2026-2027 Q2"}),
    ("en dash and spaces", {"reporting_quarter": " 2025\u201326  q4 ", "pay_services_planned": "-"}),
    ("comma style above the limit", {"pay_services_live": "21.00", "pay_services_planned": "-"}),
    ("accounting zero in Verify", {"verify_services_in_scope": "-", "verify_services_live": " - "}),
    ("negative with commas", {"forms_total": "-1,000.00"}),
    ("hundreds of digits", {"pay_transactions": "9" * 400}),
]
PARITY_KNOWN = KNOWN | {"EA199"}  # every organisation the samples are from
RULES = contract_rules(PARITY_KNOWN, AS_OF)
SPACING = 10_000  # stacked row label = case number * SPACING + the row's own label


def file_cases() -> list[tuple[str, pd.DataFrame]]:
    """(id, rule frame) for every file the returns tests use that can be read far enough to apply the rules."""
    files = [(f"hostile: {label}", name, content, None) for label, name, content, *_ in HOSTILE]
    files += [(f"contract: {rule}", "return.csv", csv_bytes(row(**changes)), None)
              for rule, changes, *_ in CELL_CASES]
    files += [(f"skills: {label}", "return.csv", csv_bytes(row(**changes)), None)
              for label, changes, *_ in SKILLS_CASES]
    files += [("version 1 template", "return.csv", csv_bytes(VALID, header=VERSION_1_HEADER), None),
              ("version 1 template, Excel", "return.xlsx", xlsx_bytes(VALID, header=VERSION_1_HEADER), None)]
    files += [("contract: submitter", "return.csv", csv_bytes(VALID), "EA73"),
              ("contract: duplicate rows", "return.csv", csv_bytes(VALID, VALID), None),
              ("contract: extra values", "return.csv", csv_bytes(VALID).rstrip(b"\r\n") + b",stray\r\n", None)]
    # Lenient input: normalised before the rules, so both engines judge "2025-26 Q3" and 410000.
    files += [(f"lenient: {label}", "return.csv", csv_bytes(row(**changes)), None) for label, changes in LENIENT]
    manifest = yaml.safe_load((SAMPLES / "samples.yaml").read_text(encoding="utf-8"))["samples"]
    files += [(f"sample: {s['file']} from {s['organisation']}", s["file"], (SAMPLES / s["file"]).read_bytes(),
               s["organisation"]) for s in manifest]
    cases = []
    for label, name, content, submitter in files:
        report = validate_return(content, name, PARITY_KNOWN, AS_OF, submitter=submitter)
        if report.checked is not None:
            cases.append((label, report.checked))
    return cases


# --- Generated frames --------------------------------------------------------------------------------------


def typed(version: int = 2, **changes) -> dict:
    """VALID as the parser types it (counts as whole numbers, blanks as None), with changes already typed; a
    version 1 return has no skills section (None, not reported)."""
    kinds = {COUNT: int, NUMBER: float}
    values = {c.name: (None if VALID[c.name] == "" or c.since > version else kinds.get(c.kind, str)(VALID[c.name]))
              for c in COLUMNS}
    return values | version_flags(version) | changes


def frame(*records: dict, submitter: str | None = None) -> pd.DataFrame:
    typed_rows = pd.DataFrame(list(records), index=range(2, len(records) + 2),
                              columns=[*COLUMN_NAMES, *VERSION_COLUMNS])
    return rule_frame(typed_rows, submitted_by=submitter)


WITH_VERIFY = {"verify_services_in_scope": 4, "verify_services_live": 2, "verify_services_planned": 1,
               "verify_transactions": 10, "reporting_quarter": "2023-24 Q4"}


def breaking(rule: Rule) -> pd.DataFrame:
    """A frame in which ``rule`` fails (others may too): one change to the valid return, or two rows."""
    column = rule.columns[0]
    if rule.kind == NOT_NULL:
        return frame(typed(**{column: None}))
    if rule.kind == BETWEEN:
        low = rule.params.get("min_value")
        return frame(typed(**{column: low - 1 if low is not None else rule.params["max_value"] + 1}))
    if rule.kind == IN_SET:
        unknown = {"organisation_code": "XX1", "reporting_quarter": "2026-27 Q1"}.get(column, "lack of unicorns")
        return frame(typed(**{column: unknown}))
    if rule.kind == REGEX:
        return frame(typed(**{column: "Q3 2025"}))
    if rule.kind == NOT_REGEX:
        return frame(typed(**{column: "=SUM(A1)"}))
    if rule.kind == LENGTH_AT_MOST:
        return frame(typed(**{column: "x" * (rule.params["max_value"] + 1)}))
    if rule.kind == A_EQUALS_B:
        return frame(typed(), submitter="EA73")
    if rule.kind == COMPOUND_UNIQUE:
        return frame(typed(), typed())
    if rule.kind == A_AT_LEAST_B:
        meta, base = rule.meta, typed(**WITH_VERIFY)
        headroom = base[meta["limit"]] - (base[meta["minus"]] if meta["minus"] else 0)
        return frame(base | {rule.column: headroom + 1})
    if rule.kind == EQUALS_TRUE:
        if rule.rule == "paired":
            return frame(typed(**{rule.meta["other"]: 3}))
        if rule.rule == "transactions_missing":
            return frame(typed(**{rule.column: None, rule.meta["live"]: 5}))
        if rule.rule in ("required", "required_number", "required_text"):  # a skills column, in a version 2 return
            return frame(typed(**{rule.column: None}))
        if rule.rule == "choice_alone":
            others = [c for c in rule.meta["columns"] if c != rule.column]
            return frame(typed(**{rule.column: "none", others[0]: "funding", others[1]: None}))
        if rule.rule == "choice_repeated":
            return frame(typed(**{rule.column: "funding", rule.meta["earlier"][-1]: "funding"}))
        if rule.rule == "choice_in_order":
            return frame(typed(**{rule.column: "funding", rule.meta["other"]: None}))
        if rule.rule == "choice_other_unexplained":
            return frame(typed(**{rule.column: "other", rule.meta["note"]: None}))
        return frame(typed(verify_services_in_scope=2, verify_services_live=0, verify_services_planned=0))
    raise AssertionError(f"no way to break a {rule.kind} rule")


# Values the parser can produce, and a few at and past the edges, for the random frames.
POOLS = {
    "organisation_code": ["D10", "EA73", "EA199", "XX1", "D1O", None],
    "reporting_quarter": ["2025-26 Q3", "2023-24 Q4", "2016-17 Q1", "2015-16 Q4", "2026-27 Q1", "2025-26 Q5",
                          "2025-27 Q1", "Q3 2025", "2025-26  Q3", None],
    "count": [0, 1, 3, 5, 12, 45, 420, 1_000_000, 1_000_001, -1, -420, None],
    "transactions": [0, 44000, 10_000_000_000, 10_000_000_001, -4, None],
    "ddat_staff_fte": [0.0, 0.5, 412.5, 100_000.0, 100_000.01, -0.01, -3.0, None],
    "barrier": [*BARRIERS, "Funding", "fundng", "", None, None, None],
    "skills_version": [1, 2],
    "blockers_note": ["Waiting for a supplier.", "=1+1", "+44 20", "-", "@risk", "\tindented", "\rcarriage",
                      "x" * 1000, "x" * 1001, "é" * 1001, "two lines\n=not a formula", "", None],
}


def random_frames(count: int, seed: int = 20260131) -> list[tuple[str, pd.DataFrame]]:
    """Returns of one to four rows, each cell kept or redrawn from the pools; some rows repeated, some keyless."""
    rng = random.Random(seed)
    frames = []
    for number in range(count):
        records = []
        for _ in range(rng.randint(1, 4)):
            record = typed(version=rng.choice(POOLS["skills_version"]))
            for name in COLUMN_NAMES:
                if rng.random() < 0.2:
                    pool = POOLS.get(name) or POOLS["barrier" if name.startswith("main_barrier_") else
                                                    "transactions" if name.endswith("_transactions") else "count"]
                    record[name] = rng.choice(pool)
            if rng.random() < 0.1:
                record |= dict.fromkeys(KEY_COLUMNS)
            records.append(record)
            if rng.random() < 0.25:
                records.append(dict(record))  # the same row again: a duplicate
        frames.append((f"random frame {number}", frame(*records, submitter=rng.choice([None, "D10", "EA73"]))))
    return frames


def generated_cases() -> list[tuple[str, pd.DataFrame]]:
    targeted = [(f"breaks {rule.rule} at {rule.column}", breaking(rule)) for rule in RULES]
    return targeted + random_frames(60)


# --- Both engines, once ------------------------------------------------------------------------------------


def stacked(cases: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """All the cases' rule frames in one, each row relabelled and each case a file of its own."""
    parts = []
    for number, (_, checked) in enumerate(cases, start=1):
        part = checked.copy()
        part.index = [number * SPACING + int(label) for label in checked.index]
        part[RETURN_FILE] = part[RETURN_FILE].where(part[RETURN_FILE].isna(), f"case {number}")
        parts.append(part)
    return pd.concat(parts)


def by_case(findings: list[Finding], cases) -> dict[str, set[Finding]]:
    found = {label: set() for label, _ in cases}
    for f in findings:
        label = cases[f.row // SPACING - 1][0]
        found[label].add(Finding(f.rule, f.row % SPACING, f.column))
    return found


@pytest.fixture(scope="module")
def parity() -> dict:
    from checks.return_gx import run_suite

    files, generated = file_cases(), generated_cases()
    cases = files + generated
    everything = stacked(cases)
    gx_run = run_suite(everything, PARITY_KNOWN, AS_OF)
    return {
        "files": files, "generated": generated, "cases": cases, "frame": everything,
        "gx": by_case(gx_run.findings, cases),
        "native": by_case(evaluate(RULES, everything), cases),
        "native alone": {label: set(evaluate(RULES, checked)) for label, checked in cases},
    }


def test_both_engines_find_the_same_failures(parity):
    differences = {
        label: {"GX only": sorted(parity["gx"][label] - parity["native"][label]),
                "native only": sorted(parity["native"][label] - parity["gx"][label])}
        for label, _ in parity["cases"] if parity["gx"][label] != parity["native"][label]
    }
    assert differences == {}


def test_stacking_the_frames_changes_nothing(parity):
    """Each case's findings in the stacked frame are the ones it has alone: the stacking is faithful."""
    assert parity["native"] == parity["native alone"]


def test_every_rule_fails_somewhere_and_every_kind_is_used(parity):
    failed = {(f.rule, f.column) for found in parity["gx"].values() for f in found}
    assert {rule.key for rule in RULES} - failed == set()
    assert {rule.kind for rule in RULES} == set(KINDS)


def test_the_set_is_big_enough(parity):
    samples = [label for label, _ in parity["files"] if label.startswith("sample: ")]
    assert len(samples) == len(list(Path(SAMPLES).glob("ILLUSTRATIVE_*"))) + 1  # one sample is sent twice
    assert len(parity["files"]) >= 40 and len(parity["generated"]) >= len(RULES) + 60
    assert sum(bool(found) for found in parity["gx"].values()) >= 150  # most cases fail something
    assert len(parity["frame"]) >= 250
