"""Records appended to a warehouse table as Arrow (``tracker.warehouse.insert_records``): the rows a frame of
Python objects gave, whatever the records hold, in the table's own column order."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from tracker.warehouse import insert_records

TABLE = ("CREATE TABLE t (ref VARCHAR, n INTEGER, seen_at TIMESTAMP, flag BOOLEAN, doc JSON, note VARCHAR, "
         "blob BLOB)")


def _by_frame(records: list[dict]) -> list[tuple]:
    con = duckdb.connect()
    con.execute(TABLE)
    frame = pd.DataFrame(records, dtype=object)[["ref", "n", "seen_at", "flag", "doc", "note", "blob"]]
    con.register("_rows", frame)
    con.execute("INSERT INTO t SELECT * FROM _rows")
    return con.execute("SELECT * FROM t ORDER BY ref").fetchall()


def _by_records(records: list[dict]) -> list[tuple]:
    con = duckdb.connect()
    con.execute(TABLE)
    insert_records(con, "t", records)
    return con.execute("SELECT * FROM t ORDER BY ref").fetchall()


def _record(ref: str, **changes) -> dict:
    # keys in another order than the table's, and one the table does not have
    return {"note": None, "doc": '{"a": [1, 2]}', "extra": "not a column", "blob": b"\x00\x01", "flag": True,
            "seen_at": dt.datetime(2026, 3, 31, 23, 30), "n": 3, "ref": ref} | changes


@pytest.mark.parametrize("records", [
    [_record("a"), _record("b", n=None, note="é ünïcode ✓", flag=False, doc="[]")],
    [_record("a", note=None), _record("b", note=None)],  # a column with no value in any record
    [_record("a", n=1), _record("b", n="2")],  # a column of two kinds: Arrow cannot type it, the frame can
], ids=["usual", "all empty", "mixed kinds"])
def test_the_rows_a_frame_of_objects_gave(records):
    rows = _by_records(records)
    assert len(rows) == len(records) and rows == _by_frame(records)


def test_text_neither_can_encode_is_refused_as_the_frame_refused_it():
    records = [_record("a", note="lone \udcff surrogate")]
    for insert in (_by_frame, _by_records):
        with pytest.raises(duckdb.InvalidInputException, match="surrogate"):
            insert(records)


def test_a_record_without_a_column_of_the_table_is_refused():
    with pytest.raises(KeyError):
        _by_records([{"ref": "a"}])
