"""A source's files parsed in processes of their own come to what the run's own process makes of them
(tracker/parse_processes.py): the same parses, the same unreadable files and reasons, the same lost bytes and
surprises; a child that has gone changes nothing; and the children are started only where they pay."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import tracker.parse_processes as parse_processes
from assets.pay import PARSED_COUNTS, PARSED_VERSIONS, PayParseCache, build_pay_tables
from assets.staging import FeedReader, _parse_listed
from tests.parse_helpers import SLOW_AFTER_FIRST_BATCH, parse_or_surprise, parse_or_surprise_slow_after_first_batch
from tracker.parse_processes import Lost, Unexpected, parsed_in_batches, processes_worth_starting
from tracker.parsing import FeedError
from tracker.pay_snapshots import parse_pay_file
from tracker.raw_store import kept_path, store_of
from tracker.versions import VERSIONS_FILE
from tracker.warehouse import SourceFile, ensure_schemas, listed_files, store_raw_files

DATA = Path(__file__).resolve().parent.parent / "data"
SNAPSHOTS = sorted((DATA / "pay" / "snapshots").glob("*.json"))
LOG = logging.getLogger("test")


def _mixed(con) -> list:
    """Pay files of every kind, kept in the raw store: 23 snapshots, the list of versions, an empty file, one
    that is not JSON, one without its live services, a surprise, and one whose kept bytes have gone."""
    odd = [SourceFile(Path("2026-04-06_empty.json"), b""),
           SourceFile(Path("2026-04-07_not-json.json"), b"{not json"),
           SourceFile(Path("2026-04-08_no-services.json"), b'{"dateUpdated": "8 April 2026"}'),
           SourceFile(Path("2026-04-09_surprise.json"), SNAPSHOTS[0].read_bytes() + b" "),
           SourceFile(Path("2026-04-10_lost.json"), SNAPSHOTS[1].read_bytes() + b"  ")]
    files = [SourceFile(p, p.read_bytes()) for p in [*SNAPSHOTS[:23], DATA / "pay" / VERSIONS_FILE]] + odd
    store_raw_files(con, "pay", files, origin="data/pay")
    kept_path(store_of(con), "pay", odd[-1].sha256).unlink()
    return sorted(listed_files(con, "pay"), key=lambda f: f.name)


class _Recorded(parse_processes.AnsweringChild):
    """A child that keeps a list of the children started and of whether each answered its batch."""

    started: list = []
    answered: list = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _Recorded.started.append(self)

    def answer(self):
        answer = super().answer()
        _Recorded.answered.append(answer is not None)
        return answer


@pytest.fixture
def recorded(monkeypatch):
    _Recorded.started, _Recorded.answered = [], []
    monkeypatch.setattr(parse_processes, "AnsweringChild", _Recorded)
    return _Recorded


def _comparable(outcome: object) -> object:
    if isinstance(outcome, FeedError):
        return ("unreadable", outcome.file_name, outcome.problem)
    if isinstance(outcome, Unexpected):
        return ("surprise", outcome.kind, "ZeroDivisionError: a bug in the parser" in outcome.details)
    if isinstance(outcome, dict):
        return {k: v.to_pylist() if isinstance(v, pa.Table) else v for k, v in outcome.items()}
    return outcome


def _outcomes(con, listed, processes: int) -> list:
    return [(file.name, file.sha256, _comparable(outcome))
            for batch in parsed_in_batches(parse_or_surprise, store_of(con), "pay", listed, processes)
            for file, outcome in batch]


def test_files_parsed_in_other_processes_come_to_what_this_process_makes(con, recorded):
    listed = _mixed(con)
    here = _outcomes(con, listed, 0)
    assert [name for name, _sha, _o in here] == [f.name for f in listed]  # the files' order
    kinds = {name: o if isinstance(o, Lost) else o[0] if isinstance(o, tuple) else type(o).__name__
             for name, _sha, o in here}
    assert kinds["2026-04-06_empty.json"] == kinds["2026-04-07_not-json.json"] == "unreadable"
    assert kinds["2026-04-08_no-services.json"] == "unreadable"
    assert kinds["2026-04-09_surprise.json"] == "surprise"
    assert isinstance(kinds["2026-04-10_lost.json"], Lost) and "2026-04-10_lost.json" in kinds[
        "2026-04-10_lost.json"].problem
    assert sum(kind == "dict" for kind in kinds.values()) == 24  # 23 snapshots and the list of versions
    assert recorded.started == []
    for processes in (2, 3):
        recorded.answered = []
        assert _outcomes(con, listed, processes) == here
        assert recorded.answered == [True] * 6  # 29 files in batches of 5, every one answered by a child
    assert len(recorded.started) == 5



def test_children_that_have_gone_leave_their_files_to_this_process(con, recorded, caplog, monkeypatch):
    listed = _mixed(con)
    here = _outcomes(con, listed, 0)
    outcomes = []
    monkeypatch.setenv(SLOW_AFTER_FIRST_BATCH, str(os.getpid()))
    with caplog.at_level(logging.WARNING):
        for number, batch in enumerate(parsed_in_batches(parse_or_surprise_slow_after_first_batch, store_of(con),
                                                         "pay", listed, 2)):
            outcomes += [(file.name, file.sha256, _comparable(outcome)) for file, outcome in batch]
            if number == 0:  # the first batch answered; then both children are killed mid-run
                for child in recorded.started:
                    child.process.kill()
                    child.process.wait()
    assert len(recorded.started) == 2
    assert recorded.answered[0]  # what had come back before the kill is used; the rest is parsed here
    assert outcomes == here
    assert "The process parsing pay files has ended" in caplog.text


def test_a_child_gone_from_the_start_leaves_each_of_its_batches_to_this_process(con, recorded, monkeypatch, caplog):
    listed = _mixed(con)
    here = _outcomes(con, listed, 0)
    real_init = _Recorded.__init__

    def second_killed(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        if len(recorded.started) == 2:
            self.process.kill()
            self.process.wait()

    monkeypatch.setattr(_Recorded, "__init__", second_killed)
    with caplog.at_level(logging.WARNING):
        assert _outcomes(con, listed, 2) == here
    # batches go to the children in turn: the first child answered its three, the second's were never sent
    assert recorded.answered == [True] * 3
    assert "The process parsing pay files has ended" in caplog.text


def test_the_children_end_when_the_parse_is_left_early(con, recorded):
    listed = _mixed(con)
    batches = parsed_in_batches(parse_or_surprise, store_of(con), "pay", listed, 2)
    next(batches)
    batches.close()
    assert [child.process.poll() for child in recorded.started] == [0, 0]


def test_children_are_started_only_for_a_parse_found_by_name_and_enough_bytes(con, monkeypatch):
    listed = _mixed(con)
    store = store_of(con)
    assert processes_worth_starting(parse_pay_file, store, "pay", listed) == 0  # 4 MB: not worth a start
    monkeypatch.setattr(parse_processes, "ELSEWHERE_FROM_BYTES", 1)
    monkeypatch.setattr(parse_processes.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert processes_worth_starting(parse_pay_file, store, "pay", listed) == 2
    assert processes_worth_starting(parse_or_surprise, store, "pay", listed) == 2
    assert processes_worth_starting(lambda file: parse_pay_file(file), store, "pay", listed) == 0

    def closure(file):
        return parse_pay_file(file)

    assert processes_worth_starting(closure, store, "pay", listed) == 0
    assert processes_worth_starting(parse_pay_file, store, "pay", []) == 0  # nothing to parse
    monkeypatch.setattr(parse_processes.os, "sched_getaffinity", lambda _pid: set(range(16)), raising=False)
    assert processes_worth_starting(parse_pay_file, store, "pay", listed) == parse_processes.MOST_PROCESSES
    monkeypatch.setattr(parse_processes.os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert processes_worth_starting(parse_pay_file, store, "pay", listed) == 0  # one core: nothing to gain


def test_an_unreadable_file_crosses_processes_as_it_was_raised():
    err = pickle.loads(pickle.dumps(FeedError("2026-04-06_x.json", "the file is empty (0 bytes of JSON).")))
    assert (err.file_name, err.problem, str(err)) == (
        "2026-04-06_x.json", "the file is empty (0 bytes of JSON).",
        "2026-04-06_x.json: the file is empty (0 bytes of JSON).")


def _kept(con) -> dict:
    tables = [PARSED_VERSIONS, *(table for table, _column in PARSED_COUNTS.values())]
    return {t: sorted(con.execute(f"SELECT * EXCLUDE (parser) FROM {t}" if t == PARSED_VERSIONS
                                  else f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def test_staging_keeps_the_same_parses_whichever_process_made_them(tmp_path, monkeypatch, recorded):
    """Pay's staging, its files parsed here and then in two children: the same parses, problems and cache."""
    reader = FeedReader(parse=parse_or_surprise, assemble=build_pay_tables, cache=PayParseCache())
    made = []
    for processes, bytes_worth in [(0, 1 << 60), (2, 1)]:
        monkeypatch.setattr(parse_processes, "ELSEWHERE_FROM_BYTES", bytes_worth)
        monkeypatch.setattr(parse_processes.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
        con = duckdb.connect(str(tmp_path / f"warehouse-{processes}.duckdb"))
        ensure_schemas(con)
        listed = _mixed(con)
        assert processes_worth_starting(reader.parse, store_of(con), "pay", listed) == processes
        parsed, problems, surprised = _parse_listed(con, "pay", reader, LOG, listed)
        made.append(({name: _comparable(result) for name, (_file, result) in parsed.items()},
                     [(p.file_name, p.sha256, p.problem, p.consequence) for p in problems], surprised, _kept(con)))
        con.close()
    assert made[0] == made[1]
    assert len(recorded.started) == 2 and recorded.answered == [True] * 6
    parsed, problems, surprised, kept = made[0]
    assert surprised  # a surprise and a loss: the next run tries them again
    assert [p[0] for p in problems] == ["2026-04-06_empty.json", "2026-04-07_not-json.json",
                                        "2026-04-08_no-services.json", "2026-04-09_surprise.json",
                                        "2026-04-10_lost.json"]
    assert "ZeroDivisionError" in problems[3][2] and "could not be kept" not in problems[3][2]
    assert len(kept[PARSED_VERSIONS]) == 26  # 23 snapshots and the three files that cannot be read, kept once
    assert len(parsed) == 24


@pytest.mark.parametrize("module", ["tracker.pay_snapshots", "tracker.api_catalogue"])
def test_the_parses_of_long_histories_start_a_child_without_dagster(module):
    """Pay's and the API catalogue's files are the ones a national full build parses in children: each child
    imports only the parse's module, which must not bring Dagster (some 3 s a child)."""
    import subprocess
    import sys

    from assets.data_sharing import api_catalogue
    from assets.pay import pay_staging
    from tests.test_unchanged_sources import _reader_of

    parses = {_reader_of(asset).parse for asset in (pay_staging, api_catalogue)}
    assert module in {parse.__module__ for parse in parses}
    assert all(parse_processes._by_name(parse) for parse in parses)
    loaded = subprocess.run([sys.executable, "-c", f"import sys, {module}; print(sorted(m for m in sys.modules "
                             "if m.split('.')[0] in ('dagster', 'dagster_duckdb', 'assets', 'checks')))"],
                            capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    assert loaded.stdout.strip() == "[]"


def test_children_that_cannot_be_started_leave_every_file_to_this_process(con, monkeypatch, caplog):
    listed = _mixed(con)
    here = _outcomes(con, listed, 0)

    class Unstartable(parse_processes.AnsweringChild):
        def __init__(self, *args, **kwargs) -> None:
            raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(parse_processes, "AnsweringChild", Unstartable)
    with caplog.at_level(logging.WARNING):
        assert _outcomes(con, listed, 2) == here
    assert "A process to parse pay files in could not be started" in caplog.text


KILLED_RUN = """
import sys
import duckdb
import tracker.parse_processes as parse_processes
from tests.parse_helpers import parse_slowly
from tracker.raw_store import store_of
from tracker.warehouse import listed_files

started = []
class Recorded(parse_processes.AnsweringChild):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        started.append(self.process.pid)
parse_processes.AnsweringChild = Recorded
con = duckdb.connect(sys.argv[1], read_only=True)
listed = sorted(listed_files(con, "pay"), key=lambda f: f.name)
for batch in parse_processes.parsed_in_batches(parse_slowly, store_of(con), "pay", listed, 2):
    print(" ".join(map(str, started)), flush=True)
    sys.stdin.readline()  # waits here, its children parsing, until it is killed
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "zombie" not in status.read()
    except FileNotFoundError:
        return False


def test_children_end_when_the_run_is_killed_mid_parse(tmp_path):
    """A run killed by SIGKILL while its children parse leaves no process behind: each ends when its input
    closes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_schemas(con)
    _mixed(con)
    con.close()
    root = Path(__file__).resolve().parent.parent
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path / "warehouse.duckdb")], cwd=root,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": str(root)})
    children = [int(pid) for pid in run.stdout.readline().split()]
    assert len(children) == 2 and all(_alive(pid) for pid in children)  # parsing the next batches
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)
