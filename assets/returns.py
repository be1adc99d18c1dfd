"""Department returns: from the inbox to the warehouse, each file exactly once.

For every file taken from the inbox, in arrival order, one transaction writes:
the exact bytes (``raw.return_files``, once per sha256), the receipt and its
outcome (``audit.return_submissions``, every arrival, never deleted), every
problem found (``quarantine.return_problems``) and, only for a valid return,
the organisation's figures for that quarter (``staging.department_returns``,
delete-then-insert), with the contract version it was read with
(``contract_version``: a return on an earlier template is accepted and recorded
with its sections not reported). The file then moves to the archive: exactly
the bytes that were read and judged. A duplicate means "the same return already counts": the
same organisation's identical bytes, already its return in force, are recorded
as a duplicate and change nothing. Anything else is processed on its own: the
same bytes from another organisation are judged as that organisation's return,
bytes sent again after a rejection are checked again, and an earlier return sent
again becomes the return in force again (its summary says so). A corrected file
is a new submission and, if valid, replaces the earlier figures.

Nothing in the inbox can fail the run or hold up another file: an entry that is
not a regular file of an organisation's folder (a link, a pipe, a device, a
folder, a hidden file, a stray file) or whose sidecar is not the tracker's is
refused without being read (tracker/return_inbox.py); a file over the size
limit is not read past it; and an unexpected error while checking or recording
one file is recorded as that file's rejection, in plain words.

Each file is accepted or rejected by the native evaluator of the contract's
rules (``checks/return_validation.py``), which checks the files of a run ahead
in chunks (``tracker/settings.py``, ``returns_chunk``; one file's report is the same either way), for a
large intake in a process of its own while the chunk before is recorded
(``checks/return_checking_process.py``). Then the rows the run accepted are
validated once more, all together as one frame, by Great Expectations with the
suite translated from the same rules (``checks/return_gx.py``): what it found
for each return is kept beside its audit record (``gx_result``) and summed up in
the materialisation's metadata.

All of this is ``take_inbox``. In a run of the refresh job it starts as soon as
the organisation register is in, in a thread beside the steps that do not need
the returns (``assets/returns_ahead.py``), and the step only reports its result.
"""

# No `from __future__ import annotations` here: Dagster must see ReturnInboxConfig as a class, not a string.
import datetime as dt
import functools
import itertools
import json
import os
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets import returns_ahead
from assets.raw import OWNERS
from assets.staging_shapes import empty as empty_table
from checks.contract_passes import RETURNS_TABLE
from checks.return_contract import (
    COLUMN_NAMES,
    COLUMNS,
    COUNT,
    MAX_FILE_BYTES,
    NUMBER,
    VERSION_COLUMNS,
    Quarter,
    column_letter,
    earlier_version_note,
    open_quarters,
    table_ddl,
    upgrade_ddl,
)
from checks.return_files import shown
from checks.return_gx_process import validate_accepted, validate_accepted_later
from checks.return_gx_results import record_gx_results
from checks.return_validation import REJECTED, ReturnJudge, ValidationReport
from tracker.declaration_files import SCHEDULE_FILE, DeclarationError, read_schedule
from tracker.resources import TrackerConfig
from tracker.return_inbox import (
    SIDECAR,
    ArchivePlaces,
    Archiving,
    InboxEntryRefused,
    InboxFile,
    InboxFileTooLarge,
    archive_all,
    archive_target,
    content_hash,
    file_hash,
    finish_archiving,
    inbox_file,
    left_sidecars,
    pending,
    printable,
    submission_reference,
)
from tracker.settings import RETURNS_CHUNK, returns_chunk
from tracker.warehouse import (
    connect,
    ensure_schemas,
    insert_records,
    insert_rows,
    organisation_codes,
    replace_tables,
    table_metadata,
    transaction,
)

HISTORY_TABLE = "staging.accepted_returns"
DDL = [
    """CREATE TABLE IF NOT EXISTS raw.return_files (
        sha256 VARCHAR PRIMARY KEY, size_bytes BIGINT NOT NULL, content BLOB NOT NULL,
        file_name VARCHAR NOT NULL, organisation_code VARCHAR NOT NULL, received_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audit.return_submissions (
        submission_ref VARCHAR PRIMARY KEY, sha256 VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
        organisation_code VARCHAR NOT NULL, channel VARCHAR NOT NULL, is_illustrative BOOLEAN NOT NULL,
        received_at TIMESTAMP NOT NULL, processed_at TIMESTAMP NOT NULL,
        return_organisation_code VARCHAR, reporting_quarter VARCHAR, status VARCHAR NOT NULL,
        problem_count INTEGER NOT NULL, warning_count INTEGER NOT NULL, summary VARCHAR NOT NULL,
        warnings JSON, duplicate_of VARCHAR, archived_as VARCHAR, gx_result JSON, normalisations JSON,
        sender VARCHAR, on_behalf_reason VARCHAR, contract_version INTEGER)""",
    # Tables made before these were kept: add the columns (NULL for earlier returns).
    "ALTER TABLE audit.return_submissions ADD COLUMN IF NOT EXISTS gx_result JSON",
    "ALTER TABLE audit.return_submissions ADD COLUMN IF NOT EXISTS normalisations JSON",
    "ALTER TABLE audit.return_submissions ADD COLUMN IF NOT EXISTS sender VARCHAR",
    "ALTER TABLE audit.return_submissions ADD COLUMN IF NOT EXISTS on_behalf_reason VARCHAR",
    # Every file the previous code read was read with version 1 of the contract, the only one then.
    "ALTER TABLE audit.return_submissions ADD COLUMN IF NOT EXISTS contract_version INTEGER DEFAULT 1",
    "ALTER TABLE audit.return_submissions ALTER COLUMN contract_version DROP DEFAULT",
    """CREATE TABLE IF NOT EXISTS quarantine.return_problems (
        submission_ref VARCHAR NOT NULL, row_number INTEGER, column_letter VARCHAR, column_name VARCHAR,
        value VARCHAR, rule VARCHAR NOT NULL, message VARCHAR NOT NULL, row_values JSON,
        found_at TIMESTAMP NOT NULL)""",
    table_ddl(RETURNS_TABLE, "submission_ref VARCHAR NOT NULL, received_at TIMESTAMP NOT NULL, "
                             "is_illustrative BOOLEAN NOT NULL"),
    # A table made by an earlier version of the contract gains the later columns (an ALTER: every row is kept).
    *upgrade_ddl(RETURNS_TABLE),
    # The returns history, so the marts can say which return was in force on any reporting date. A warehouse made
    # before it was kept starts it from the returns in force then.
    f"CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} AS SELECT * FROM {RETURNS_TABLE} LIMIT 0",
    *upgrade_ddl(HISTORY_TABLE),
    f"INSERT INTO {HISTORY_TABLE} BY NAME SELECT * FROM {RETURNS_TABLE} "
    f"WHERE submission_ref NOT IN (SELECT submission_ref FROM {HISTORY_TABLE})",
]
TABLES = {
    "raw.return_files": "Every return file received, byte for byte, once per sha256, with who sent it and when.",
    "audit.return_submissions": "Every arrival of a return file and its outcome (accepted, accepted with "
                                  "warnings, rejected, duplicate): the audit history, never deleted.",
    "quarantine.return_problems": "Every problem that stopped a return, with the row, column, value as sent, "
                                  "the rule and the plain-English message.",
    RETURNS_TABLE: "The figures of the last accepted return for each organisation and quarter "
                   "(columns from checks/return_contract.py), with the contract version it was read with and which "
                   "sections it reported.",
    HISTORY_TABLE: "Every accepted return's figures, never deleted: which return was in force on any date.",
}


def load_schedule(data_dir: Path) -> dict:
    try:
        doc = read_schedule(data_dir)
    except DeclarationError as err:
        raise dg.Failure(description=str(err)) from None
    days, expected = doc.get("deadline_days_after_quarter_end"), doc.get("expected_submitters") or []
    if not isinstance(days, int) or days < 0 or not expected:
        raise dg.Failure(description=f"data/{SCHEDULE_FILE} needs deadline_days_after_quarter_end (a whole number "
                         "of days) and a list of expected_submitters (organisation codes).")
    return {"deadline_days": days, "expected": [str(code).strip().upper() for code in expected]}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["staging", "return_schedule"], group_name="returns", kinds={"duckdb", "yaml"}, owners=OWNERS,
                     description="When returns are due (days after the quarter ends), from "
                     "data/returns/schedule.yaml."),
        dg.AssetSpec(["staging", "reporting_quarters"], group_name="returns", kinds={"duckdb"}, owners=OWNERS,
                     description="Every reporting quarter a return may be for, with its dates and deadline, and "
                     "which is the latest to have ended on the reporting date."),
        dg.AssetSpec(["staging", "return_expected_submitters"], group_name="returns", kinds={"duckdb", "yaml"},
                     owners=OWNERS, deps=[["staging", "organisations"]],
                     description="The organisations CDDO expects a return from each quarter, with their names "
                     "and departments."),
    ],
)
def return_schedule(context, settings: TrackerConfig, warehouse: DuckDBResource):
    schedule = load_schedule(settings.data)
    with connect(warehouse) as con:
        known = organisation_codes(con)
        if not known:  # a register never read (its source says why): the codes wait to be checked, the rest goes on
            context.log.warning(f"data/{SCHEDULE_FILE}: the organisation codes cannot be checked until the "
                                "organisation register has been read.")
        unknown = [c for c in schedule["expected"] if known and c not in known]
        if unknown:
            raise dg.Failure(description=f"data/{SCHEDULE_FILE} lists organisation codes GOV.UK does not have: "
                             f"{', '.join(unknown)}. Correct them; nothing was written.")
        tables = {
            "staging.return_schedule": pd.DataFrame([{"deadline_days_after_quarter_end": schedule["deadline_days"]}]),
            "staging.reporting_quarters": reporting_quarters(settings.as_of_date(), schedule["deadline_days"]),
            "staging.return_expected_submitters": pd.DataFrame({"organisation_code": schedule["expected"]}),
        }
        written = list(tables)
        if tables["staging.reporting_quarters"].empty:  # a reporting date before the first quarter kept
            empty_table(con, "staging.reporting_quarters")
            del tables["staging.reporting_quarters"]
        replace_tables(con, tables)
        for table in written:
            yield dg.MaterializeResult(asset_key=table.split("."), metadata=table_metadata(con, table))


def reporting_quarters(as_of: dt.date, deadline_days: int) -> pd.DataFrame:
    """Every quarter from the first the tracker keeps to the one containing ``as_of``."""
    latest_ended = Quarter.containing(as_of).previous()
    rows = []
    for index, label in enumerate(open_quarters(as_of)):
        quarter = Quarter.parse(label)
        deadline = quarter.end + dt.timedelta(days=deadline_days)
        rows.append({"reporting_quarter": label, "quarter_index": index, "quarter_start": quarter.start,
                     "quarter_end": quarter.end, "deadline": deadline, "has_ended": quarter <= latest_ended,
                     "is_latest_ended": quarter == latest_ended, "deadline_passed": deadline < as_of})
    return pd.DataFrame(rows)


class ReturnInboxConfig(dg.Config):
    """Which inbox files to take: the sensor names one; empty means every file waiting."""

    files: list[str] = []


@dg.multi_asset(
    specs=[
        dg.AssetSpec(table.split("."), description=text, group_name="returns", kinds={"duckdb", "file"},
                     owners=OWNERS, deps=[["staging", "organisations"]])
        for table, text in TABLES.items()
    ],
    can_subset=False,
    # After every step that does not need the returns: in a run with the hook (assets/returns_ahead.py), the intake
    # runs beside those steps, and this one only takes its result.
    op_tags={"dagster/priority": "-1"},
)
def department_returns(context: dg.AssetExecutionContext, config: ReturnInboxConfig, settings: TrackerConfig,
                       warehouse: DuckDBResource):
    ahead = returns_ahead.taken(context.run_id)
    if ahead is not None:  # the run's hook started the intake when the register was in (assets/returns_ahead.py)
        intake = ahead.result(context.log)
    else:
        intake = take_inbox(warehouse, settings, config.files, context.log)
    for table, meta in intake.metadata.items():
        yield dg.MaterializeResult(asset_key=table.split("."), metadata=meta | intake.summary)


@dataclass
class Intake:
    """What taking in the inbox came to: each table's metadata, and the summary every one of them shows."""

    metadata: dict[str, dict]
    summary: dict


def take_inbox(warehouse: DuckDBResource, settings: TrackerConfig, requested: list[str], log,
               stop: Callable[[], bool] | None = None) -> Intake:
    """The inbox taken in: ``requested`` files (the sensor names them), or every file waiting.

    ``log`` has ``info``, ``warning`` and ``error``: the step's, or one kept until the step when the intake runs
    ahead of it. ``stop``: asked before each chunk; once true, the files not yet taken wait for the next run.
    """
    outcomes: dict[str, int] = {}
    with connect(warehouse) as con:
        ensure_schemas(con)
        for statement in DDL:
            con.execute(statement)
        finish_interrupted_archiving(con, settings.home, log)
        if requested:
            files = [f for f in (inbox_file(settings.home, p) for p in requested) if f is not None]
            if len(files) < len(requested):
                log.info("Some requested files had already been processed and archived: nothing to do for them.")
        else:
            files = pending(settings.home)
        known = organisation_codes(con)
        if not known and files:
            # a register never read (its source says why) would refuse every sender: the returns wait in the inbox
            log.warning(f"{len(files)} return files wait in the inbox: the organisation register has not been read, "
                        "so no sender can be checked yet.")
            files = []
        # Many files: the next chunk is checked against the contract in a process of its own, on the other core,
        # while this one is judged, recorded and archived (``ReturnJudge.check_later``).
        size = returns_chunk()
        judge = ReturnJudge(known, settings.as_of_date(), elsewhere=len(files) > size)

        def take(batch: list[InboxFile]) -> int:
            done = 0
            for start, chunk, taken in ingest_in_chunks(con, settings, batch, judge, log, size, stop):
                done += len(chunk)
                counts: dict[str, int] = {}
                named = []  # each file's outcome is in the warehouse; the log names the ones someone may act on
                # and counts the rest, a chunk in one line (a log line is a write to Dagster's store)
                for file, status in taken:
                    if status is None:
                        named.append(f"{file.original_name} from {file.organisation_code} had gone: another run "
                                     "took it")
                        continue
                    outcomes[status] = outcomes.get(status, 0) + 1
                    counts[status] = counts.get(status, 0) + 1
                    if not status.startswith("accepted"):
                        named.append(f"{file.reference} {file.original_name} from {file.organisation_code}: {status}")
                log.info(f"Return files {start + 1} to {start + len(chunk)} of {len(batch)}: " + ", ".join(
                    f"{n} {status}" for status, n in sorted(counts.items())) + "."
                    + "".join(f"\n  {line}" for line in named))
            if done < len(batch):
                log.warning(f"The run stopped after {done} of {len(batch)} return files: the other "
                            f"{len(batch) - done} wait in the inbox for the next run.")
            return done

        with judge:
            taken = take(files)
            if requested and taken == len(files):  # also clear copies of files already received (the sensor
                # starts no run for them)
                stored = {sha for (sha,) in con.execute("SELECT sha256 FROM raw.return_files").fetchall()}
                copies = [f for f in pending(settings.home) if f.refusal is None and _hash_or_none(f) in stored]
                taken += take(copies)
        # Every accepted return without a GX result: this run's, and any a killed run recorded but never checked.
        # Read back from the warehouse as one frame, not kept in memory a return at a time (60,000 one-row frames
        # took some 2 GB).
        gx_summary = validate_accepted_with_gx(con, log, unchecked_accepted(con), known, settings.as_of_date())
        metadata = {table: table_metadata(con, table) for table in TABLES}
    summary = {"files taken from the inbox": taken, **{f"files {k}": v for k, v in sorted(outcomes.items())},
               **gx_summary}
    return Intake(metadata, summary)


REFUSED_RULE = "not_read"  # the rule of a problem recorded for an inbox entry refused without being read
UNEXPECTED_RULE = "could_not_check"  # the rule recorded when checking or recording a file failed unexpectedly


@dataclass
class _Arrival:
    """An inbox entry as read before it is judged: its bytes (None if unread), why it is refused, its hash."""

    file: InboxFile
    content: bytes | None
    sha: str
    refusal: str | None
    rule: str


@dataclass
class _Accepted:
    """An accepted file's rows and the columns its submission adds to them, kept apart until they are written."""

    report: ValidationReport
    columns: dict  # submission_ref, received_at, is_illustrative

    def key(self, columns: dict[int, tuple] | None = None) -> tuple[str, str]:
        """(organisation, quarter) of the file's row, read where it lies: its own frame, or the batch's (a row of
        it as a Series takes fifteen times as long to make). ``columns`` keeps each frame's two key columns as
        lists, taken once for all the files of its batch (a cell at a time, a national intake's keys held
        Python's lock for about a second)."""
        rows = self.report.batch_rows
        frame, at = (rows.frame, rows.start) if rows is not None else (self.report.returns, 0)
        columns = {} if columns is None else columns
        kept = columns.get(id(frame))
        if kept is None or kept[0] is not frame:  # kept beside its frame: an id is another frame's once it has gone
            kept = columns[id(frame)] = (frame, frame["organisation_code"].tolist(),
                                         frame["reporting_quarter"].tolist())
        return kept[1][at], kept[2][at]

    def size(self) -> int:
        rows = self.report.batch_rows
        return rows.stop - rows.start if rows is not None else len(self.report.returns)

    def frame(self) -> pd.DataFrame:
        return stacked([self])


def stacked(accepted: list[_Accepted]) -> pd.DataFrame:
    """Accepted files' rows, in order, each with its submission's columns. Consecutive files of one batch are taken
    from the batch's frame in one step: ``pd.concat`` of a chunk's 500 one-row frames, done twice, took about
    as long as checking them. A file with no batch brings its own frame."""
    def batch_of(one: _Accepted) -> int:
        return id(one.report.batch_rows.frame) if one.report.batch_rows is not None else id(one)

    def rows_of(run: list[_Accepted]) -> pd.DataFrame:
        batches = [one.report.batch_rows for one in run]
        if batches[0] is None:
            return run[0].report.returns
        return batches[0].frame.take(np.concatenate([np.arange(b.start, b.stop) for b in batches]))

    rows = pd.concat([rows_of(list(run)) for _, run in itertools.groupby(accepted, key=batch_of)],
                     ignore_index=True)
    own = pd.DataFrame([one.columns for one in accepted])
    own = own.take(np.repeat(np.arange(len(accepted)), [one.size() for one in accepted]))
    return pd.concat([rows, own.reset_index(drop=True)], axis=1)


@dataclass
class _Judged:
    """What one arrival comes to: the rows to write for it, and where it is archived."""

    arrival: _Arrival
    submission: dict
    problems: list[dict]
    accepted: _Accepted | None  # the rows kept and the submission's columns (None unless accepted)
    target: Path


def _arrive(file: InboxFile) -> _Arrival | None:
    """Read an inbox entry once (None when it had gone: another run took it); what makes it refused unread."""
    content, refusal, rule = None, file.refusal, REFUSED_RULE
    if refusal is None:
        try:
            content = file.read(MAX_FILE_BYTES)
        except FileNotFoundError:
            return None
        except InboxFileTooLarge as err:
            refusal, rule = f"The file is not kept: {err}", "file"
        except InboxEntryRefused as err:  # replaced by something else since it was listed
            refusal = f"'{file.original_name}' was not read: it is {err}. Send the return file itself."
        except OSError as err:
            refusal = (f"'{file.original_name}' could not be opened ({printable(err.strerror or 'unreadable')}). "
                       "Save it again and send it.")
    sha = content_hash(content if content is not None else b"")
    if content is not None and file.sha256 is None:  # dropped in by hand: its reference comes from its bytes
        file = replace(file, reference=submission_reference(file.organisation_code, file.path.name, sha))
    if content is not None and file.sha256 is not None and file.sha256 != sha:
        refusal, rule = (f"'{file.original_name}' is not the file that was submitted: its content changed after "
                         "it was received (its sha256 differs from the one recorded on arrival). Send the return "
                         "again."), "file_changed"
    return _Arrival(file, content, sha, refusal, rule)


class _Lookups:
    """What judging a file asks of the returns already recorded: the warehouse, one query each (``ingest_file``)."""

    def __init__(self, con) -> None:
        self.con = con

    def current_with_same_bytes(self, sha: str, organisation: str) -> tuple | None:
        return _current_with_same_bytes(self.con, sha, organisation)

    def earlier_accepted(self, sha: str, organisation: str) -> str | None:
        found = self.con.execute(
            "SELECT submission_ref FROM audit.return_submissions WHERE sha256 = ? AND organisation_code = ? "
            "AND status IN ('accepted', 'accepted with warnings') ORDER BY received_at DESC LIMIT 1",
            [sha, organisation]).fetchone()
        return found[0] if found else None


def _judge_arrival(arrival: _Arrival, settings: TrackerConfig, judge: ReturnJudge, lookups: _Lookups,
                   now: dt.datetime, target: Path, log=None) -> _Judged:
    """Everything to record about one arrival: its submission row, its problems and, if accepted, its rows."""
    file, content, sha, refusal, rule = (arrival.file, arrival.content, arrival.sha, arrival.refusal, arrival.rule)
    submission = {
        "submission_ref": file.reference, "sha256": sha, "file_name": file.original_name,
        "organisation_code": file.organisation_code, "channel": file.channel,
        "is_illustrative": file.is_illustrative, "received_at": file.received_at, "processed_at": now,
        "return_organisation_code": None, "reporting_quarter": None, "problem_count": 0, "warning_count": 0,
        "warnings": "[]", "duplicate_of": None, "archived_as": _shown_path(settings.home_dir, target),
        "gx_result": None,
        "normalisations": "[]",
        # who sent it, from the sidecar (NULL for a file dropped into the inbox by hand)
        "sender": file.sender, "on_behalf_reason": file.on_behalf_reason,
        "contract_version": None,  # the version the file was read with, once its header is read
    }
    problems: list[dict] = []
    accepted = report = None
    current = None if refusal else lookups.current_with_same_bytes(sha, file.organisation_code)
    if current:
        submission |= {"status": "duplicate", "duplicate_of": current[0], "return_organisation_code": current[1],
                       "reporting_quarter": current[2], "contract_version": current[3],
                       "summary": f"The same file as {current[0]}, already {file.organisation_code}'s return in force "
                                  f"for {current[2]}: nothing changed."}
    elif refusal is None:
        try:
            report = judge(content, file.original_name, file.organisation_code)
            code, quarter = report.key
        except Exception as err:  # noqa: BLE001  the file's rejection, not the run's failure
            _log_unexpected(log, file, "checking", err)
            refusal, rule, report = _unexpected_message(file, "checked"), UNEXPECTED_RULE, None
    if refusal is not None:
        submission |= _rejection(refusal)
        problems = [_problem_row(file.reference, rule, refusal, now)]
    elif report is not None:
        submission |= {
            "status": report.status, "return_organisation_code": code, "reporting_quarter": quarter,
            "contract_version": report.version,
            "problem_count": len(report.problems), "warning_count": len(report.warnings),
            "warnings": json.dumps([w.describe() for w in report.warnings]) if report.warnings else "[]",
            # each value read leniently, as read and as understood (410,000.00 -> 410000; 2025/26 Q3 -> 2025-26 Q3)
            "normalisations": json.dumps([n.record() for n in report.normalisations]) if report.normalisations
            else "[]",
            "summary": report.problems[0].describe() if report.problems else
            f"Accepted: {code} {quarter}" + (f", with {len(report.warnings)} warning(s)." if report.warnings else "."),
        }
        if not report.problems and report.version is not None and earlier_version_note(report.version):
            submission["summary"] += f" {earlier_version_note(report.version)}"
        for problem in report.problems:
            problems.append({
                "submission_ref": file.reference, "row_number": problem.row,
                "column_letter": column_letter(COLUMN_NAMES.index(problem.column)) if problem.column else None,
                "column_name": problem.column, "rule": problem.rule,
                # shortened and printable (the exact bytes are in raw.return_files): this is published and shown
                "value": None if problem.value is None else shown(problem.value),
                "message": problem.message,
                "row_values": json.dumps(report.raw_rows.get(problem.row)) if problem.row else None,
                "found_at": now,
            })
        if report.status != REJECTED:
            accepted = _Accepted(report, {"submission_ref": file.reference, "received_at": file.received_at,
                                          "is_illustrative": file.is_illustrative})
            earlier = lookups.earlier_accepted(sha, file.organisation_code)
            if earlier:  # an earlier return sent again on purpose: say so in the audit trail
                submission["summary"] += (f" The same file as {earlier}, received earlier: its figures are the "
                                          "return in force again.")
    return _Judged(arrival, submission, problems, accepted, target)


def ingest_file(con, settings: TrackerConfig, file: InboxFile, judge: ReturnJudge,
                log=None) -> str | None:
    """Validate one inbox entry and record everything about it in one transaction; then archive it.

    Returns the outcome (None when the entry had gone: another run took it); Great Expectations reads the
    accepted returns back from the warehouse after the batch (``unchecked_accepted``). Nothing about one
    entry can stop the batch: an entry that is not a regular file of the inbox is refused unread, and any
    unexpected error while reading, checking or recording a file becomes that file's rejection, said plainly.
    Only a warehouse that cannot record even that fails the run (the file then stays in the inbox).
    """
    arrival = _arrive(file)
    if arrival is None:
        return None
    file = arrival.file
    seen = con.execute("SELECT status, archived_as FROM audit.return_submissions WHERE submission_ref = ?",
                       [file.reference]).fetchone()
    if seen:  # recorded by an earlier run that stopped before archiving: finish the move, where the record says
        status, archived_as = seen
        _archive(con, settings, [(Archiving(file, arrival.content, _recorded_path(settings.home, archived_as)),
                                  archived_as)], log)
        return status
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    target = archive_target(settings.home, file)  # recorded with the file, so a killed run's move ends there
    judged = _judge_arrival(arrival, settings, judge, _Lookups(con), now, target, log)
    submission, accepted = judged.submission, judged.accepted.frame() if judged.accepted else None
    try:
        _record(con, submission, judged.problems, accepted, arrival.content, file)
    except Exception as err:  # noqa: BLE001  the transaction rolled back: record the file as not recorded
        _log_unexpected(log, file, "recording", err)
        refusal = _unexpected_message(file, "recorded")
        submission |= _rejection(refusal) | {"return_organisation_code": None, "reporting_quarter": None,
                                             "contract_version": None, "warning_count": 0, "warnings": "[]",
                                             "duplicate_of": None}
        accepted = None
        _record(con, submission, [_problem_row(file.reference, UNEXPECTED_RULE, refusal, now)], None, None, file)
    _archive(con, settings, [(Archiving(file, arrival.content, target), submission["archived_as"])], log)
    return submission["status"]


@dataclass
class _InForce:
    """A return in force for an organisation and quarter, as judging the next one needs it."""

    reference: str
    sha: str
    sender: str
    received_at: dt.datetime
    version: int | None


class _IntakeLookups(_Lookups):
    """The answers ``_Lookups`` gives, for the files of one intake, from two queries made once for all their
    organisations, and kept up to date as each file is judged, so they are the answers the warehouse would give
    one file at a time. Made per chunk, the queries took a tenth of a national intake."""

    def __init__(self, con, organisations: Collection[str]) -> None:
        organisations = sorted(set(organisations))
        self.in_force: dict[str, dict[str, _InForce]] = {}  # organisation -> quarter -> return in force
        # (organisation, sha256) -> the quarters whose return in force the organisation sent in those bytes
        self.same_bytes: dict[tuple[str, str], dict[str, None]] = {}
        for organisation, quarter, reference, sha, sender, received, version in con.execute(
                f"SELECT r.organisation_code, r.reporting_quarter, r.submission_ref, s.sha256, s.organisation_code, "
                f"r.received_at, r.contract_version FROM {RETURNS_TABLE} r JOIN audit.return_submissions s "
                f"USING (submission_ref) WHERE r.organisation_code IN (SELECT unnest(?::VARCHAR[]))",
                [organisations]).fetchall():
            self._put(organisation, quarter, _InForce(reference, sha, sender, received, version))
        self.accepted: dict[tuple[str, str], tuple[dt.datetime, str]] = {}  # (sha, sender) -> latest accepted
        for sha, sender, received, reference in con.execute(
                "SELECT sha256, organisation_code, received_at, submission_ref FROM audit.return_submissions "
                "WHERE status IN ('accepted', 'accepted with warnings') "
                "AND organisation_code IN (SELECT unnest(?::VARCHAR[]))", [organisations]).fetchall():
            self._note_accepted(sha, sender, received, reference)
        self.seen: dict[str, tuple[str, str]] = {}  # reference -> (status, archived as) recorded by an earlier run
        self.changed: set[tuple[str, str]] = set()  # (organisation, quarter) whose return in force the chunk set
        self.key_columns: dict[int, tuple] = {}  # the chunk's batch frames' key columns (``_Accepted.key``)

    def next_chunk(self, con, arrivals: list[_Arrival]) -> None:
        """Before judging a chunk: which of its files an earlier run recorded (and stopped before archiving)."""
        self.seen = {reference: (status, archived_as) for reference, status, archived_as in con.execute(
            "SELECT submission_ref, status, archived_as FROM audit.return_submissions "
            "WHERE submission_ref IN (SELECT unnest(?::VARCHAR[]))", [[a.file.reference for a in arrivals]]
        ).fetchall()}
        self.changed = set()
        self.key_columns = {}

    def _note_accepted(self, sha: str, sender: str, received: dt.datetime, reference: str) -> None:
        latest = self.accepted.get((sha, sender))
        if latest is None or received >= latest[0]:
            self.accepted[(sha, sender)] = (received, reference)

    def _put(self, organisation: str, quarter: str, record: _InForce) -> None:
        quarters = self.in_force.setdefault(organisation, {})
        before = quarters.get(quarter)
        if before is not None and before.sender == organisation:
            self.same_bytes[(organisation, before.sha)].pop(quarter, None)
        quarters[quarter] = record
        if record.sender == organisation:
            self.same_bytes.setdefault((organisation, record.sha), {})[quarter] = None

    def current_with_same_bytes(self, sha: str, organisation: str) -> tuple | None:
        quarters = self.in_force.get(organisation, {})
        same = [(quarters[quarter].received_at, quarters[quarter].reference, quarter, quarters[quarter].version)
                for quarter in self.same_bytes.get((organisation, sha), ())]
        if not same:
            return None
        _, reference, quarter, version = max(same, key=lambda found: found[0])
        return reference, organisation, quarter, version

    def earlier_accepted(self, sha: str, organisation: str) -> str | None:
        latest = self.accepted.get((sha, organisation))
        return latest[1] if latest else None

    def judged(self, judged: _Judged) -> None:
        """An arrival of the chunk was judged: if accepted, it is an earlier return for the next, and it is in
        force for its quarter unless a return received later already is (``_replace_return``'s rule)."""
        accepted, file = judged.accepted, judged.arrival.file
        if accepted is None:
            return
        self._note_accepted(judged.arrival.sha, file.organisation_code, file.received_at, file.reference)
        organisation, quarter = accepted.key(self.key_columns)
        current = self.in_force.get(organisation, {}).get(quarter)
        if current is not None and current.received_at > file.received_at:
            return
        self._put(organisation, quarter, _InForce(file.reference, judged.arrival.sha, file.organisation_code,
                                                  file.received_at, judged.submission["contract_version"]))
        self.changed.add((organisation, quarter))

    def now_in_force(self) -> tuple[pd.DataFrame, set[str]]:
        """The (organisation, quarter) keys whose return in force the chunk changed, and the references of the
        returns now in force for them (each accepted in the chunk)."""
        keys = pd.DataFrame(sorted(self.changed), columns=["organisation_code", "reporting_quarter"])
        return keys, {self.in_force[o][q].reference for o, q in self.changed}


Taken = list[tuple[InboxFile, "str | None"]]  # each entry of a chunk, with its outcome (None: it had gone)


def ingest_in_chunks(con, settings: TrackerConfig, files: list[InboxFile], judge: ReturnJudge, log=None,
                     size: int = RETURNS_CHUNK, stop: Callable[[], bool] | None = None
                     ) -> Iterator[tuple[int, list[InboxFile], Taken]]:
    """``ingest_file`` for many entries, ``size`` at a time, with the same outcome as taking them one by one in
    order: (index of the chunk's first file, the chunk, its outcomes) once each is recorded and archived.

    Each chunk is judged against lookups kept up to date as each file is judged, and written in one transaction (a
    few statements, not a few per file); then each entry is archived, where its record says. A run killed before
    the commit leaves the chunk's entries in the inbox, unrecorded; after it, the next run finds them recorded and
    finishes their moves. If a chunk cannot be written, each of its entries is taken on its own (``ingest_file``),
    so a fault stays one file's.

    Three things overlap: each chunk is read, and handed to the judge to check (``check_later``; with a process
    of its own, on the other core), while the one before is judged and recorded; and a recorded chunk is archived
    in a thread (file system calls, which let the run's own thread go on) while the next is judged and recorded.
    One set of lookups serves every chunk, made again only after a chunk had to be taken file by file.

    ``stop``: asked before each chunk is begun; once true, no more are, and their files wait in the inbox."""
    chunks = [files[start:start + size] for start in range(0, len(files), size)]
    places = ArchivePlaces(settings.home)
    made: set[Path] = set()  # the archive folders made, for every chunk's archiving (``archive_all``)
    lookups = None
    read = _read_chunk(chunks[0], judge) if chunks else []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="return-archiving") as archiving:
        moving = None  # the chunk being archived: (its first file's index, the chunk, outcomes, moves, the job)
        for n, chunk in enumerate(chunks):
            if stop is not None and stop():  # the chunks not begun wait in the inbox: none is half taken
                break
            arrivals, read = read, _read_chunk(chunks[n + 1], judge) if n + 1 < len(chunks) else []
            if lookups is None:
                lookups = _IntakeLookups(con, [file.organisation_code for file in files[n * size:]])
            recorded = _record_read(con, settings, arrivals, judge, lookups, places, log)
            if moving is not None:
                yield _moved(con, settings, moving, log)
                moving = None
            if recorded is None:  # taken file by file: the warehouse and the archive now hold what these were not
                # told
                lookups, places = None, ArchivePlaces(settings.home)
                yield n * size, chunk, [(file, ingest_file(con, settings, file, judge, log)) for file, _ in arrivals]
                continue
            taken, moves = recorded
            moving = (n * size, chunk, taken, moves,
                      archiving.submit(archive_all, settings.home, [move for move, _ in moves], made))
        if moving is not None:
            yield _moved(con, settings, moving, log)


def _moved(con, settings: TrackerConfig, moving: tuple, log) -> tuple[int, list[InboxFile], Taken]:
    """A chunk's archiving, once done, with what it comes to in the records (``_archive``)."""
    start, chunk, taken, moves, job = moving
    job.result()  # archive_all keeps each entry's error on it, raising none
    _archived(con, settings, moves, log)
    return start, chunk, taken


def _read_chunk(files: list[InboxFile], judge: ReturnJudge) -> list[tuple[InboxFile, _Arrival | None]]:
    """Each entry read once, and the readable ones handed to the judge to check against the contract."""
    arrivals = [(file, _arrive(file)) for file in files]
    judge.check_later([(a.content, a.file.original_name, a.file.organisation_code) for _, a in arrivals
                       if a is not None and a.refusal is None])
    return arrivals


def _record_read(con, settings: TrackerConfig, arrivals: list[tuple[InboxFile, _Arrival | None]],
                 judge: ReturnJudge, lookups: _IntakeLookups, places: ArchivePlaces, log
                 ) -> tuple[Taken, list[tuple[Archiving, str | None]]] | None:
    """Entries already read, judged and recorded together: their outcomes and the moves to archive them (each
    with the path its record holds). None, with nothing recorded, if they could not be recorded together."""
    present = [a for _, a in arrivals if a is not None]
    lookups.next_chunk(con, present)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    judged: dict[str, _Judged] = {}
    for arrival in present:
        reference = arrival.file.reference
        if reference in lookups.seen:
            recorded = _recorded_path(settings.home, lookups.seen[reference][1])
            if recorded is not None:
                places.claim(recorded)
            continue
        judged[reference] = _judge_arrival(arrival, settings, judge, lookups, now, places.choose(arrival.file), log)
        lookups.judged(judged[reference])
    try:
        _record_chunk(con, list(judged.values()), lookups)
    except Exception as err:  # noqa: BLE001  rolled back: take each entry on its own
        if log is not None:
            log.warning(f"{len(judged)} return(s) could not be recorded together ({type(err).__name__}: "
                        f"{printable(str(err), 300)}): taking them one by one.")
        return None
    outcomes, moves = [], []
    for file, arrival in arrivals:
        if arrival is None:
            outcomes.append((file, None))
        elif arrival.file.reference in lookups.seen:  # recorded by a run that stopped before archiving it
            status, archived_as = lookups.seen[arrival.file.reference]
            moves.append((Archiving(arrival.file, arrival.content, _recorded_path(settings.home, archived_as)),
                          archived_as))
            outcomes.append((file, status))
        else:
            done = judged[arrival.file.reference]
            moves.append((Archiving(arrival.file, arrival.content, done.target), done.submission["archived_as"]))
            outcomes.append((file, done.submission["status"]))
    return outcomes, moves


def _record_chunk(con, judged: list[_Judged], lookups: _IntakeLookups) -> None:
    """Everything about a chunk's arrivals in one transaction: the same rows ``_record`` writes one file at a time."""
    if not judged:
        return
    stored: dict[str, dict] = {}
    for j in judged:
        a = j.arrival
        if a.content is not None and a.sha not in stored:
            stored[a.sha] = {"sha256": a.sha, "size_bytes": len(a.content), "content": a.content,
                             "file_name": a.file.original_name, "organisation_code": a.file.organisation_code,
                             "received_at": a.file.received_at}
    problems = [problem for j in judged for problem in j.problems]
    accepted = [j.accepted for j in judged if j.accepted is not None]
    keys, in_force = lookups.now_in_force()
    with transaction(con):
        if stored:
            con.register("_stored", pd.DataFrame(list(stored.values()), dtype=object))
            con.execute("INSERT OR IGNORE INTO raw.return_files SELECT sha256, size_bytes, content, file_name, "
                        "organisation_code, received_at FROM _stored")
            con.unregister("_stored")
        insert_records(con, "audit.return_submissions", [j.submission for j in judged])
        if problems:
            insert_records(con, "quarantine.return_problems", problems)
        if accepted:
            # the returns now in force are all among the chunk's accepted: their rows are stacked once, for both
            rows = stacked(accepted)
            insert_rows(con, HISTORY_TABLE, rows)
            con.register("_keys", keys)
            con.execute(f"DELETE FROM {RETURNS_TABLE} t USING _keys k WHERE t.organisation_code = k.organisation_code "
                        "AND t.reporting_quarter = k.reporting_quarter")
            con.unregister("_keys")
            insert_rows(con, RETURNS_TABLE, rows[rows["submission_ref"].isin(in_force)])


def _current_with_same_bytes(con, sha: str, organisation: str) -> tuple | None:
    """The organisation's return in force made of these same bytes, if there is one (a true duplicate)."""
    return con.execute(
        f"SELECT r.submission_ref, r.organisation_code, r.reporting_quarter, r.contract_version "
        f"FROM {RETURNS_TABLE} r "
        "JOIN audit.return_submissions s USING (submission_ref) WHERE s.sha256 = ? AND s.organisation_code = ? "
        "AND r.organisation_code = ? ORDER BY r.received_at DESC LIMIT 1", [sha, organisation, organisation]
    ).fetchone()


def _rejection(message: str) -> dict:
    return {"status": REJECTED, "problem_count": 1, "summary": f"The file: {message}"}


def _problem_row(reference: str, rule: str, message: str, now: dt.datetime) -> dict:
    return {"submission_ref": reference, "row_number": None, "column_letter": None, "column_name": None,
            "value": None, "rule": rule, "message": message, "row_values": None, "found_at": now}


def _unexpected_message(file: InboxFile, done: str) -> str:
    return (f"'{file.original_name}' could not be {done}: the tracker met a problem it did not expect with this file. "
            f"Save it again from the template and send it; if the same happens again, tell CDDO, quoting "
            f"{file.reference}.")


def _log_unexpected(log, file: InboxFile, doing: str, err: BaseException) -> None:
    if log is not None:
        log.error(f"{file.reference} {file.original_name} from {file.organisation_code}: unexpected error while "
                  f"{doing} it, recorded as a rejection: {type(err).__name__}: {printable(str(err), 300)}")


def _record(con, submission: dict, problems: list[dict], accepted: pd.DataFrame | None, content: bytes | None,
            file: InboxFile) -> None:
    with transaction(con):
        if content is not None:
            con.execute("INSERT OR IGNORE INTO raw.return_files VALUES (?, ?, ?, ?, ?, ?)",
                        [submission["sha256"], len(content), content, file.original_name, file.organisation_code,
                         file.received_at])
        insert_rows(con, "audit.return_submissions", pd.DataFrame([submission]))
        if problems:
            insert_rows(con, "quarantine.return_problems", pd.DataFrame(problems))
        if accepted is not None:
            insert_rows(con, HISTORY_TABLE, accepted)
            _replace_return(con, accepted)


def _archive(con, settings: TrackerConfig, moves: list[tuple[Archiving, str | None]], log) -> None:
    """Move entries to the archive (the bytes judged, or the unread entry itself) where their records say, each
    given with the path its record holds. A failure to move is logged and the next run finishes it, as the entry
    is already recorded. A record is corrected only if its entry had to go elsewhere (never over another file)."""
    archive_all(settings.home, [move for move, _ in moves])
    _archived(con, settings, moves, log)


def _archived(con, settings: TrackerConfig, moves: list[tuple[Archiving, str | None]], log) -> None:
    """What archiving came to, in the log and the records: an entry that could not move is logged (the next run
    moves it), and one that went elsewhere than its record says has its record corrected."""
    for move, recorded in moves:
        if isinstance(move.error, FileNotFoundError):
            continue
        if move.error is not None:
            if log is not None:
                log.warning(f"{move.file.reference} was recorded but could not be moved to the archive "
                            f"({printable(move.error.strerror or str(move.error))}): the next run moves it.")
            continue
        if move.archived is None or move.archived == move.target:  # not moved (the next run moves it), or where its
            continue  # record says (the path shown was made from it)
        shown = _shown_path(settings.home, move.archived)
        if shown != recorded:
            con.execute("UPDATE audit.return_submissions SET archived_as = ? WHERE submission_ref = ?",
                        [shown, move.file.reference])


def _shown_path(home: Path | str, path: Path) -> str:
    """Where the archive holds a file, as its record says: from the tracker's home, made printable."""
    text, under = str(path), _home_prefix(str(home))
    # the usual path (the archive is in the home) cut from its text: relative_to took a tenth of judging a chunk
    return printable(text[len(under):] if text.startswith(under) else str(path.relative_to(home)), 400)


@functools.lru_cache(maxsize=8)
def _home_prefix(home: str) -> str:
    return os.path.join(str(Path(home)), "")


def _recorded_path(home: Path, archived_as: str | None) -> Path | None:
    """The archive path a record names, when it names one exactly (a shortened or escaped name is not a path)."""
    if not archived_as:
        return None
    path = home / archived_as
    return path if _shown_path(home, path) == archived_as else None


def finish_interrupted_archiving(con, home: Path, log=None) -> int:
    """Sidecars a killed run left in the inbox after moving their file: moved beside the archived file their
    record (the submission their reference names) says. Without this, such a sidecar would later be taken for a
    stray file of its own. A sidecar no record names is left alone (a ``deliver`` under way, or a stray file).
    Returns how many were moved."""
    moved = 0
    for sidecar, reference in left_sidecars(home):
        if reference is None:
            continue
        recorded = con.execute("SELECT archived_as FROM audit.return_submissions WHERE submission_ref = ? "
                               "AND organisation_code = ?", [reference, sidecar.parent.name]).fetchone()
        path = _recorded_path(home, recorded[0]) if recorded else None
        if path is not None and path.name.startswith(sidecar.name[: -len(SIDECAR)]) and \
                finish_archiving(sidecar, path):
            moved += 1
            if log is not None:
                log.info(f"{sidecar.name}: moved beside {recorded[0]}, where a stopped run had archived its file.")
    return moved


def _hash_or_none(file: InboxFile) -> str | None:
    try:
        return file_hash(file.path)
    except OSError:
        return None


def unchecked_accepted(con) -> pd.DataFrame:
    """Accepted returns recorded without a Great Expectations result, one row each with ``_reference`` and
    ``_sender``, typed as the contract types them: the run's own, and any a killed run recorded but never
    checked (or recorded before results were kept), so every accepted return is checked once."""
    columns = ", ".join(f'h."{c}"' for c in [*COLUMN_NAMES, *VERSION_COLUMNS])
    rows = con.execute(
        f"SELECT s.submission_ref AS _reference, s.organisation_code AS _sender, {columns} "
        f"FROM audit.return_submissions s JOIN {HISTORY_TABLE} h USING (submission_ref) "
        f"WHERE s.status IN ('accepted', 'accepted with warnings') AND s.gx_result IS NULL "
        f"ORDER BY s.received_at, s.submission_ref").df()  # one query for them all, however many
    types = {**{c.name: "Int64" for c in COLUMNS if c.kind == COUNT}, **{c.name: "float64" for c in COLUMNS
                                                                         if c.kind == NUMBER}}
    return rows.astype(types)


def validate_accepted_with_gx(con, log, accepted: pd.DataFrame, known: set[str],
                              as_of: dt.date) -> dict:
    """Great Expectations over the run's accepted rows as one frame; each return's result kept beside its record
    (``checks/return_gx_results.py``).

    With a process started ahead (``tracker run``) the rows are handed to it and the run goes on: GX validates
    them on the other core while the steps between run, and the blocking contract check records its answer.
    Otherwise GX validates them here and now."""
    if accepted.empty:
        return {}
    if validate_accepted_later(accepted, known, as_of):
        log.info(f"Great Expectations is validating the {len(accepted)} accepted return(s) in its own "
                         "process; the contract check records what it finds.")
        return {"great expectations: returns handed to its process": len(accepted)}
    checked = validate_accepted(accepted, known, as_of)
    return record_gx_results(con, log, len(accepted), checked, known, as_of)


def _replace_return(con, accepted: pd.DataFrame) -> None:
    """Delete-then-insert the organisation's quarter, unless a later-received return is already there."""
    row = accepted.iloc[0]
    newer = con.execute(f"SELECT submission_ref FROM {RETURNS_TABLE} WHERE organisation_code = ? "
                        "AND reporting_quarter = ? AND received_at > ?",
                        [row["organisation_code"], row["reporting_quarter"], row["received_at"]]).fetchone()
    if newer:
        return
    con.execute(f"DELETE FROM {RETURNS_TABLE} WHERE organisation_code = ? AND reporting_quarter = ?",
                [row["organisation_code"], row["reporting_quarter"]])
    insert_rows(con, RETURNS_TABLE, accepted)
