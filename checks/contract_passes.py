"""Which rows of the returns in force have passed the contract's Great Expectations suite, and with what.

A row's verdict depends on the row itself and on its stamp: the suite's code, the reporting date and the
organisation register. A row recorded as passed under the stamp of the moment, and unchanged since (its hash is
over every column), need not be validated again. The ingestion (assets/returns.py) records the returns its own
GX run passed, and the blocking check (checks/return_checks.py) validates the rest, so a run's new returns go
through Great Expectations once, not twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable
from importlib.metadata import version

import pandas as pd

from checks.return_contract import first_quarter
from tracker.code_version import code_sha256
from tracker.warehouse import table_exists

PASSED_TABLE = "meta.department_returns_passed_contract"  # the rows that passed, and what they were checked with
RETURNS_TABLE = "staging.department_returns"
# DuckDB's 64-bit hash of a whole row ``d`` of RETURNS_TABLE, as text: any change to any column changes it (a changed
# row taken for a passed one would need its hash to equal one of some 60,000 others: about 1 in 3 x 10^14). md5 of
# the row cast to text took 0.27 s of every run at national size, nearly all of it the cast; this takes 0.01 s. The
# column keeps its first name, row_sha256. DuckDB's hash is fixed within a version, and the stamp holds the version.
ROW_HASH = "hash(d)::VARCHAR"


def contract_stamp(known: Collection[str], as_of: dt.date) -> str:
    """What a row's verdict depends on besides the row: the suite's code and Great Expectations' version, the
    reporting date, the first quarter a return may be for (the schedule's setting), and the register."""
    digest = hashlib.sha256(f"{code_sha256()}\0{version('great_expectations')}\0{as_of.isoformat()}\0"
                            f"{first_quarter()}".encode())
    for code in sorted(known):
        digest.update(b"\0" + code.encode())
    return digest.hexdigest()


def passed_before(con, stamp: str) -> pd.DataFrame:
    """The hashes (``_row_sha256``) of the rows that passed under ``stamp``."""
    if not table_exists(con, PASSED_TABLE):
        return pd.DataFrame({"_row_sha256": pd.Series([], dtype="string")})
    return con.execute(f"SELECT DISTINCT row_sha256 AS _row_sha256 FROM {PASSED_TABLE} WHERE stamp = ?",
                       [stamp]).df()


def record_every_row_passed(con, stamp: str, returns: str) -> None:
    """Every row of ``returns`` (a relation with ``_row_sha256``) now stands passed under ``stamp``, and only
    those: called when the whole table has been found to pass."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(f"CREATE OR REPLACE TABLE {PASSED_TABLE} AS SELECT DISTINCT _row_sha256 AS row_sha256, "
                f"?::VARCHAR AS stamp FROM {returns}", [stamp])


def record_returns_passed(con, stamp: str, references: Iterable[str]) -> int:
    """The rows in force of these returns (submission references) passed under ``stamp``. Returns how many rows
    were recorded (a return no longer in force has none)."""
    frame = pd.DataFrame({"submission_ref": pd.Series(list(references), dtype="string")})
    if frame.empty:
        return 0
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(f"CREATE TABLE IF NOT EXISTS {PASSED_TABLE} (row_sha256 VARCHAR, stamp VARCHAR)")
    con.register("_passed_references", frame)
    try:
        return con.execute(
            f"INSERT INTO {PASSED_TABLE} SELECT DISTINCT {ROW_HASH}, ?::VARCHAR FROM {RETURNS_TABLE} d "
            "SEMI JOIN _passed_references USING (submission_ref)", [stamp]).fetchall()[0][0]
    finally:
        con.unregister("_passed_references")
