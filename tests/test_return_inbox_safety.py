"""Only regular files that belong to the inbox are read; nothing in the inbox can fail a run or block another file.

Each entry below is put in the inbox beside a valid return, and one ingestion run takes them all: the valid
return lands, each odd entry is recorded as rejected with a plain reason, without its target or content
being read, and is moved to the archive as it is.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
from dataclasses import replace as dataclass_replace
from pathlib import Path

import pytest

from checks.return_contract import MAX_FILE_BYTES
from tests.conftest import ingest, query
from tests.returns_helpers import VALID, csv_bytes, row
from tracker.return_inbox import (
    SIDECAR,
    Archiving,
    InboxFile,
    archive_all,
    archive_dir,
    deliver,
    describe,
    inbox_dir,
    pending,
    read_regular_file,
)

GOOD = csv_bytes(VALID)
SECRET = b"root:x:0:0:SECRET-LINE-NOT-TO-BE-SHOWN\n"


def statuses(home) -> dict[str, tuple[str, str, str]]:
    rows = query(home, "SELECT file_name, organisation_code, status, summary FROM audit.return_submissions")
    # a refused file is recorded under its name in the inbox (its sidecar, which names it, was not trusted)
    return {name.split("__")[-1]: (org, status, summary) for name, org, status, summary in rows}


def everything_recorded(home) -> str:
    """Every text the warehouse keeps about the run, to look for what must never have been read."""
    rows = query(home, "SELECT * FROM audit.return_submissions") + query(home, "SELECT * FROM "
                                                                        "quarantine.return_problems")
    return repr(rows)


def test_links_pipes_folders_hidden_and_stray_files_are_refused_unread(returns_home, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "passwd"
    secret.write_bytes(SECRET)
    valid_elsewhere = outside / "valid.csv"
    valid_elsewhere.write_bytes(GOOD)
    good = deliver(returns_home, GOOD, "q3.csv", "D10", "test")
    d10 = inbox_dir(returns_home) / "D10"
    ea73 = inbox_dir(returns_home) / "EA73"
    ea73.mkdir()
    (d10 / "passwd.csv").symlink_to(secret)
    (d10 / "elsewhere.csv").symlink_to(valid_elsewhere)
    (ea73 / "inside.csv").symlink_to(good.path)  # a link to another file in the inbox
    (d10 / "dangling.csv").symlink_to(outside / "nothing-here.csv")
    os.mkfifo(d10 / "pipe.csv")
    (d10 / "sub").mkdir()
    (d10 / "sub" / "nested.csv").write_bytes(GOOD)
    (d10 / ".hidden.csv").write_bytes(GOOD)
    (d10 / ".being-written.csv.partial").write_bytes(GOOD[:10])  # deliver's temporary name: left alone
    (inbox_dir(returns_home) / "loose.csv").write_bytes(GOOD)  # not in any organisation's folder
    (inbox_dir(returns_home) / "d10").mkdir()  # not an organisation code
    (inbox_dir(returns_home) / "d10" / "lower.csv").write_bytes(GOOD)
    (inbox_dir(returns_home) / "EA74").symlink_to(outside)  # an organisation's folder that is a link

    assert ingest(returns_home).success
    seen = statuses(returns_home)
    assert seen.pop("q3.csv")[1] == "accepted"
    expected = {"passwd.csv": "link", "elsewhere.csv": "link", "inside.csv": "link", "dangling.csv": "link",
                "pipe.csv": "pipe", "sub": "folder", ".hidden.csv": "hidden", "loose.csv": "organisation's folder",
                "d10": "organisation's folder", "EA74": "link"}
    assert set(seen) == set(expected)
    for name, words in expected.items():
        org, status, summary = seen[name]
        assert status == "rejected" and words in summary and "was not read" in summary, (name, summary)
    assert seen["inside.csv"][0] == "EA73" and seen["loose.csv"][0] == "(none)"
    assert "SECRET" not in everything_recorded(returns_home)
    assert query(returns_home, "SELECT count(*) FROM raw.return_files") == [(1,)]  # only the valid return's bytes
    assert query(returns_home, "SELECT submission_ref FROM staging.department_returns") == [(good.reference,)]
    assert secret.read_bytes() == SECRET and valid_elsewhere.read_bytes() == GOOD  # the targets untouched
    archived = archive_dir(returns_home)
    assert (archived / "D10" / "passwd.csv").is_symlink()  # moved as it is, never read
    assert (archived / "_refused" / "EA74").is_symlink()
    left = sorted(p.name for p in inbox_dir(returns_home).rglob("*") if not p.is_dir())
    assert left == [".being-written.csv.partial"]


def test_a_sidecar_that_is_not_the_trackers_json_refuses_its_file_only(returns_home):
    good = deliver(returns_home, GOOD, "q3.csv", "D10", "test")
    bad_sidecars = {
        "not-json": b"{not json",
        "a-list": b"[1, 2, 3]",
        "not-utf8": b"\xff\xfe{}",
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "huge-number": b'{"received_at": ' + b"9" * 5000 + b"}",
        "wrong-types": json.dumps({"organisation_code": "EA73", "original_name": 5, "channel": None,
                                   "is_illustrative": "yes", "received_at": [], "reference": 1,
                                   "sha256": {}}).encode(),
        "bad-date": None, "other-org": None, "forged-reference": None, "aware-date": None,
    }
    sent = {}
    for label, content in bad_sidecars.items():
        stored = deliver(returns_home, csv_bytes(row(organisation_code="EA73")), f"{label}.csv", "EA73", "test")
        sidecar = stored.path.with_name(stored.path.name + ".json")
        doc = json.loads(sidecar.read_text())
        if label == "bad-date":
            content = json.dumps(doc | {"received_at": "yesterday"}).encode()
        elif label == "other-org":
            content = json.dumps(doc | {"organisation_code": "D10"}).encode()
        elif label == "forged-reference":
            content = json.dumps(doc | {"reference": good.reference}).encode()
        elif label == "aware-date":  # a time zone written in: accepted, converted to UTC
            content = json.dumps(doc | {"received_at": "2026-01-20T10:00:00+01:00"}).encode()
        sidecar.write_bytes(content)
        sent[f"{label}.csv"] = stored
    assert ingest(returns_home).success
    seen = statuses(returns_home)
    assert seen["q3.csv"][1] == "accepted"
    assert seen["aware-date.csv"][1] == "accepted"
    assert query(returns_home, "SELECT received_at::VARCHAR FROM audit.return_submissions WHERE file_name = "
                 "'aware-date.csv'") == [("2026-01-20 09:00:00",)]
    for name in sent:
        if name != "aware-date.csv":
            org, status, summary = seen[name]
            assert status == "rejected" and "sidecar" in summary and "Traceback" not in summary, (name, summary)
    assert query(returns_home, "SELECT count(*) FROM audit.return_submissions") == [(len(sent) + 1,)]
    assert not any(p for p in inbox_dir(returns_home).rglob("*") if p.is_file())


def test_a_sidecar_that_is_a_link_is_not_followed(returns_home, tmp_path):
    stored = deliver(returns_home, GOOD, "q3.csv", "D10", "test")
    sidecar = stored.path.with_name(stored.path.name + ".json")
    real = tmp_path / "real.json"
    real.write_bytes(sidecar.read_bytes())
    sidecar.unlink()
    sidecar.symlink_to(real)
    assert describe(stored.path).refusal and "link" in describe(stored.path).refusal
    assert ingest(returns_home).success
    assert statuses(returns_home)["q3.csv"][1] == "rejected"


def test_a_file_replaced_after_submission_is_detected(returns_home):
    stored = deliver(returns_home, GOOD, "q3.csv", "D10", "test")
    stored.path.write_bytes(csv_bytes(row(pay_services_live="9")))  # changed in the inbox after it arrived
    assert ingest(returns_home).success
    org, status, summary = statuses(returns_home)["q3.csv"]
    assert status == "rejected" and "changed after it was received" in summary
    assert query(returns_home, "SELECT count(*) FROM staging.department_returns") == [(0,)]
    # the bytes judged are the bytes kept, in the warehouse and in the archive
    kept, = query(returns_home, "SELECT content FROM raw.return_files")
    archived = next(p for p in (archive_dir(returns_home) / "D10").iterdir() if not p.name.endswith(".json"))
    assert bytes(kept[0]) == archived.read_bytes() == csv_bytes(row(pay_services_live="9"))


def test_an_oversized_file_is_not_read_past_the_limit(returns_home, monkeypatch):
    import tracker.return_inbox as inbox

    too_big = GOOD + b" " * (MAX_FILE_BYTES + 1 - len(GOOD))
    stored = deliver(returns_home, too_big, "big.csv", "D10", "test")
    reads = []
    real_read = os.read
    monkeypatch.setattr(inbox.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    assert ingest(returns_home).success
    assert sum(reads) <= MAX_FILE_BYTES + 1  # stopped at the limit (in fact, never started: its size says)
    org, status, summary = statuses(returns_home)["big.csv"]
    assert status == "rejected" and "the limit is 2 MB" in summary
    assert query(returns_home, "SELECT count(*) FROM raw.return_files") == [(0,)]
    archived = archive_dir(returns_home) / "D10" / stored.path.name
    assert archived.stat().st_size == len(too_big)  # nothing lost: moved whole to the archive


def test_read_regular_file_stops_at_the_limit_for_a_growing_file(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"x" * 100)
    assert read_regular_file(path, 100) == b"x" * 100
    with pytest.raises(ValueError, match="the limit is"):
        read_regular_file(path, 99)
    link = tmp_path / "link.csv"
    link.symlink_to(path)
    with pytest.raises(ValueError, match="link"):
        read_regular_file(link)


def test_a_name_that_is_not_text_is_recorded_printably(returns_home):
    folder = inbox_dir(returns_home) / "D10"
    folder.mkdir(parents=True)
    odd = os.fsdecode(b"q3-\xff\x1b[31m.csv")
    (folder / odd).write_bytes(GOOD)
    assert ingest(returns_home).success
    (name, status), = query(returns_home, "SELECT file_name, status FROM audit.return_submissions")
    assert status == "accepted" and "\x1b" not in name and "\\x1b" in name


def test_an_unexpected_error_checking_one_file_is_its_rejection_and_the_batch_goes_on(returns_home, monkeypatch):
    from checks.return_validation import ReturnJudge

    first = deliver(returns_home, csv_bytes(row(organisation_code="EA73")), "boom.csv", "EA73", "test")
    second = deliver(returns_home, GOOD, "q3.csv", "D10", "test")
    real = ReturnJudge.__call__

    def flaky(judge, content, name, *args, **kwargs):
        if name == "boom.csv":
            raise KeyError("sheet1.xml")  # what a damaged workbook did inside openpyxl's iter_rows
        return real(judge, content, name, *args, **kwargs)

    monkeypatch.setattr(ReturnJudge, "__call__", flaky)
    assert ingest(returns_home).success
    seen = statuses(returns_home)
    org, status, summary = seen["boom.csv"]
    assert status == "rejected" and "could not be checked" in summary and first.reference in summary
    assert "KeyError" not in summary and "sheet1.xml" not in summary
    assert seen["q3.csv"][1] == "accepted"
    assert query(returns_home, "SELECT submission_ref FROM staging.department_returns") == [(second.reference,)]
    assert query(returns_home, "SELECT rule FROM quarantine.return_problems") == [("could_not_check",)]


def test_the_sensor_keys_a_link_without_reading_it(returns_home, tmp_path):
    from tests.test_return_ingestion import tick

    secret = tmp_path / "passwd"
    secret.write_bytes(SECRET)
    folder = inbox_dir(returns_home) / "D10"
    folder.mkdir(parents=True)
    (folder / "passwd.csv").symlink_to(secret)
    (folder / "other.csv").symlink_to(secret)
    [request], _ = tick(returns_home)  # one run for the tick's batch...
    files = request.run_config["ops"]["department_returns"]["config"]["files"]
    assert len(files) == 2  # ...in which each link has a key of its own, and is not read to get it
    assert ingest(returns_home, files).success
    assert [s for _, s, _ in statuses(returns_home).values()] == ["rejected", "rejected"]
    assert not pending(returns_home)


def test_pending_lists_without_reading_any_return(returns_home, monkeypatch):
    import tracker.return_inbox as inbox

    deliver(returns_home, GOOD, "q3.csv", "D10", "test")
    (inbox_dir(returns_home) / "D10" / "by-hand.csv").write_bytes(GOOD)
    real = inbox.read_regular_file

    def only_sidecars(path, limit=None):
        assert str(path).endswith(".json"), f"{path} read while listing"
        return real(path, limit)

    monkeypatch.setattr(inbox, "read_regular_file", only_sidecars)
    assert {f.path.name.split("__")[-1] for f in pending(returns_home)} == {"q3.csv", "by-hand.csv"}


def test_a_stray_json_with_no_file_is_taken_once_deliver_has_had_time(returns_home):
    folder = inbox_dir(returns_home) / "D10"
    folder.mkdir(parents=True)
    fresh = folder / "fresh.csv.json"  # deliver writes the sidecar first: its file may be a moment behind
    fresh.write_bytes(b"{}")
    old = folder / "notes.json"
    old.write_bytes(b'{"a": 1}')
    os.utime(old, (0, 0))
    assert [f.path.name for f in pending(returns_home)] == ["notes.json"]
    assert ingest(returns_home).success
    assert statuses(returns_home)["notes.json"][1] == "rejected"
    assert fresh.exists()


def test_an_unreadable_rejection_is_put_right_by_a_later_accepted_return(returns_home):
    from checks.return_checks import RETURN_RULES

    deliver(returns_home, b"\x00\x01 not a return", "first.csv", "D10", "test")
    (inbox_dir(returns_home) / "stray.csv").write_bytes(GOOD)  # no organisation: stays to be looked at
    assert ingest(returns_home).success
    rule = next(r for r in RETURN_RULES if r.name == "rejected_returns_put_right")
    assert sorted(o for _, o, *_ in query(returns_home, rule.sql)) == ["(none)", "D10"]
    deliver(returns_home, GOOD, "q3.csv", "D10", "test")
    assert ingest(returns_home).success
    assert [o for _, o, *_ in query(returns_home, rule.sql)] == ["(none)"]


def test_who_sent_it_is_kept_from_the_sidecar_to_the_audit_record(returns_home):
    """The sender, the reason they sent it on the department's behalf and the quarter they declared are in the
    sidecar (always, null when not given) and read back printable; the audit record carries the sender and
    reason. A sidecar from before these were kept is still accepted; a file dropped in by hand has no sender;
    a sender that is not text refuses its file."""
    sent = deliver(returns_home, GOOD, "q3.csv", "D10", "upload page", sender="Ada Lovelace <ada@dwp.gov.uk>",
                   on_behalf_reason="The DWP analyst is on leave;\nsent by CDDO\x1b[31m",
                   reporting_quarter="2025-26 Q3")
    doc = json.loads(sent.path.with_name(sent.path.name + ".json").read_text())
    assert (doc["sender"], doc["reporting_quarter"]) == ("Ada Lovelace <ada@dwp.gov.uk>", "2025-26 Q3")
    read_back = describe(sent.path)
    assert read_back.refusal is None and read_back.declared_quarter == "2025-26 Q3"
    assert read_back.on_behalf_reason == "The DWP analyst is on leave;\\nsent by CDDO\\x1b[31m"
    plain = deliver(returns_home, csv_bytes(row(organisation_code="EA73")), "plain.csv", "EA73", "test")
    plain_doc = json.loads(plain.path.with_name(plain.path.name + ".json").read_text())
    assert {k: plain_doc[k] for k in ("sender", "on_behalf_reason", "reporting_quarter")} == dict.fromkeys(
        ("sender", "on_behalf_reason", "reporting_quarter"))
    old = deliver(returns_home, csv_bytes(row(organisation_code="D12")), "old.csv", "D12", "test", sender="x")
    old_sidecar = old.path.with_name(old.path.name + ".json")
    old_sidecar.write_text(json.dumps({k: v for k, v in json.loads(old_sidecar.read_text()).items()
                                       if k not in ("sender", "on_behalf_reason", "reporting_quarter")}))
    assert describe(old.path).refusal is None and describe(old.path).sender is None
    odd = deliver(returns_home, csv_bytes(row(organisation_code="D16")), "odd.csv", "D16", "test", sender="y")
    odd_sidecar = odd.path.with_name(odd.path.name + ".json")
    odd_sidecar.write_text(json.dumps(json.loads(odd_sidecar.read_text()) | {"sender": 7}))
    assert "mistypes sender" in describe(odd.path).refusal
    by_hand = inbox_dir(returns_home) / "D9" / "by-hand.csv"
    by_hand.parent.mkdir()
    by_hand.write_bytes(csv_bytes(row(organisation_code="D9")))
    with pytest.raises(TypeError):
        deliver(returns_home, GOOD, "q3.csv", "D10", "test", sender=["not", "text"])
    assert ingest(returns_home).success
    kept = {name.split("__")[-1]: rest for name, *rest in query(
        returns_home, "SELECT file_name, status, sender, on_behalf_reason FROM audit.return_submissions")}
    assert kept["q3.csv"] == ["accepted", "Ada Lovelace <ada@dwp.gov.uk>",
                              "The DWP analyst is on leave;\\nsent by CDDO\\x1b[31m"]
    assert kept["plain.csv"][1:] == kept["old.csv"][1:] == kept["by-hand.csv"][1:] == [None, None]
    assert kept["odd.csv"][:2] == ["rejected", None]


def test_the_sidecar_then_the_file_are_each_flushed_to_disk_before_their_rename(returns_home, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        what = os.readlink(f"/proc/self/fd/{fd}")
        calls.append(("fsync", "folder" if os.path.isdir(what) else os.path.basename(what)))
        real_fsync(fd)

    def replace(source, target):
        calls.append(("rename", os.path.basename(source), os.path.basename(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    stored = deliver(returns_home, GOOD, "q3.csv", "D10", "test")
    name = stored.path.name
    assert calls == [("fsync", f".{name}.json.partial"), ("rename", f".{name}.json.partial", f"{name}.json"),
                     ("fsync", "folder"),
                     ("fsync", f".{name}.partial"), ("rename", f".{name}.partial", name), ("fsync", "folder")]
    assert stored.path.read_bytes() == GOOD and not list(stored.path.parent.glob(".*"))


def archive(home, entry: InboxFile, content: bytes):
    """One entry archived on its own: where it went, or its error raised."""
    [move] = moves = [Archiving(entry, content)]
    archive_all(home, moves)
    if move.error is not None:
        raise move.error
    return move.archived


def _inbox_entry(home, content: bytes = GOOD, name: str = "q3.csv", code: str = "D10") -> InboxFile:
    folder = inbox_dir(home) / code
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    (folder / f"{name}{SIDECAR}").write_text('{"reference": "R-00000000A1"}')
    return InboxFile(folder / name, code, name, "test", False, dt.datetime(2026, 1, 1), "R-00000000A1")


def _record_flushes(monkeypatch, calls: list, whole_file_system: bool) -> None:
    """Each link, flush and removal into ``calls``; the archive's file system flushed in one call, or (as where
    there is no such call) each file and folder flushed."""
    import tracker.return_inbox as inbox

    real_fsync, real_link, real_unlink, real_syncfs = os.fsync, os.link, os.unlink, inbox.sync_file_system

    def fsync(fd):
        what = os.readlink(f"/proc/self/fd/{fd}")
        calls.append(("fsync", "folder" if os.path.isdir(what) else what.split("/")[-3]))  # returns/<which>/D10/...
        real_fsync(fd)

    def syncfs(path):
        calls.append(("syncfs", os.path.basename(os.path.dirname(path))))
        return real_syncfs(path) if whole_file_system else False

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(inbox, "sync_file_system", syncfs)
    monkeypatch.setattr(os, "link", lambda *a, **k: (calls.append(("link",)), real_link(*a, **k))[1])
    monkeypatch.setattr(os, "unlink", lambda path, **k: (calls.append(("unlink", os.path.basename(path))),
                                                          real_unlink(path, **k))[1])


@pytest.mark.parametrize("whole_file_system", [True, False])
def test_a_judged_file_is_archived_under_a_second_name_not_copied(tmp_path, monkeypatch, whole_file_system):
    entry = _inbox_entry(tmp_path)
    entry.path.chmod(0o644)  # as deliver writes it under the usual umask: only its owner may change it
    inode = entry.path.stat().st_ino
    calls = []
    _record_flushes(monkeypatch, calls, whole_file_system)
    archived = archive(tmp_path, entry, GOOD)
    assert archived.read_bytes() == GOOD and not os.path.lexists(entry.path)
    assert (archived.stat().st_ino, archived.stat().st_nlink) == (inode, 1)  # the same bytes on disk, one name
    # the archived name and its bytes are on disk before the inbox's name goes
    flushed = [("syncfs", "archive")] if whole_file_system else [
        ("syncfs", "archive"), ("fsync", "archive"), ("fsync", "folder")]
    assert calls[:len(flushed) + 2] == [("link",), *flushed, ("unlink", "q3.csv")]


@pytest.mark.parametrize("change", ["bytes changed", "now a link", "another name outside the inbox",
                                    "writable by others"])
def test_an_entry_that_changed_or_has_other_names_is_archived_as_a_copy_of_the_bytes_judged(tmp_path, change):
    entry = _inbox_entry(tmp_path)
    outside = tmp_path / "elsewhere.csv"
    if change == "bytes changed":
        entry.path.write_bytes(b"changed after it was read and judged")
    elif change == "now a link":
        outside.write_bytes(b"someone else's file")
        entry.path.unlink()
        entry.path.symlink_to(outside)
    elif change == "writable by others":
        entry.path.chmod(0o666)
    else:
        os.link(entry.path, outside)
    archived = archive(tmp_path, entry, GOOD)
    umask = os.umask(0o022)
    os.umask(umask)
    assert archived.stat().st_mode & 0o777 == 0o666 & ~umask  # the archive's own file, as the tracker writes files
    assert archived.read_bytes() == GOOD and not archived.is_symlink() and archived.stat().st_nlink == 1
    assert not os.path.lexists(entry.path)
    assert sorted(p.name for p in archived.parent.iterdir()) == [archived.name, f"{archived.name}{SIDECAR}"]
    if change == "another name outside the inbox":
        with open(outside, "r+b") as other:  # rewritten in place through its other name: the archive is apart
            other.write(b"X" * len(GOOD))
        assert archived.read_bytes() == GOOD


def test_where_the_entry_cannot_be_linked_its_bytes_are_written(tmp_path, monkeypatch):
    entry = _inbox_entry(tmp_path)
    inode = entry.path.stat().st_ino

    def other_file_system(*_args, **_kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", other_file_system)
    archived = archive(tmp_path, entry, GOOD)
    assert archived.read_bytes() == GOOD and archived.stat().st_ino != inode and not os.path.lexists(entry.path)


@pytest.mark.parametrize("whole_file_system", [True, False])
def test_entries_archived_together_are_all_on_disk_before_any_leaves_the_inbox(tmp_path, monkeypatch,
                                                                                 whole_file_system):
    """Each step for every entry before the next, flushed once (or, without a flush of the whole file system,
    each file, then each folder once); one entry that cannot go keeps its error and its place in the inbox, and
    the others go on."""
    entries = [_inbox_entry(tmp_path, name=f"q{i}.csv", code=code) for i, code in enumerate(["D10", "D10", "EA73"])]
    (tmp_path / "blocked").write_text("a file where the archive's folder would be")
    moves = [Archiving(entry, GOOD) for entry in entries]
    moves[1].target = tmp_path / "blocked" / "q1.csv"
    calls = []
    _record_flushes(monkeypatch, calls, whole_file_system)
    archive_all(tmp_path, moves)
    assert isinstance(moves[1].error, OSError) and moves[1].archived is None
    assert entries[1].path.read_bytes() == GOOD and os.path.lexists(f"{entries[1].path}{SIDECAR}")  # left as it was
    for move in (moves[0], moves[2]):
        assert move.error is None and move.archived.read_bytes() == GOOD and not os.path.lexists(move.file.path)
        assert os.path.lexists(f"{move.archived}{SIDECAR}") and not os.path.lexists(f"{move.file.path}{SIDECAR}")
    flushed = [("syncfs", "archive")] if whole_file_system else [
        ("syncfs", "archive"), ("fsync", "archive"), ("fsync", "archive"),  # both archived files
        ("fsync", "folder"), ("fsync", "folder")]  # their two archive folders, once each
    assert calls == [("link",), ("link",), *flushed,  # both put in the archive and flushed
                     ("unlink", "q0.csv"), ("unlink", "q2.csv")]  # only then do they leave the inbox


def test_each_file_system_the_archive_folders_are_on_is_flushed_once(tmp_path, monkeypatch):
    """Folders on one file system: one flush; a folder on another (a memory file system here): one more; a folder
    that cannot be looked at: no whole file system flush at all, so each file and folder is flushed instead."""
    import tempfile

    import tracker.return_inbox as inbox

    flushed = []
    monkeypatch.setattr(inbox, "sync_file_system", lambda folder: flushed.append(folder) or True)
    here = [tmp_path / "D10", tmp_path / "EA73"]
    for folder in here:
        folder.mkdir()
    assert inbox._sync_file_systems(set(here)) and len(flushed) == 1
    with tempfile.TemporaryDirectory(dir="/dev/shm") as elsewhere:
        assert os.stat(elsewhere).st_dev != tmp_path.stat().st_dev
        flushed.clear()
        assert inbox._sync_file_systems({*here, Path(elsewhere)}) and len(flushed) == 2
    flushed.clear()
    assert not inbox._sync_file_systems({*here, tmp_path / "gone"}) and flushed == []


def test_the_inbox_is_listed_without_asking_the_disk_what_the_listing_shows(tmp_path, monkeypatch):
    """A folder's listing says which files have sidecars and which sidecars have files: the disk is asked only
    where it does not (a file dropped in without one, a sidecar whose file has gone)."""
    from tracker.return_inbox import left_sidecars

    home = tmp_path / "home"
    sent = [deliver(home, csv_bytes(row(organisation_code=code)), f"q{n}.csv", code, "test", sender="a@b.gov.uk")
            for n, code in enumerate(["D10", "D10", "D16", "EA73"])]
    dropped = inbox_dir(home) / "D10" / "dropped.csv"
    dropped.write_bytes(GOOD)  # put straight in the folder: no sidecar
    orphan = inbox_dir(home) / "D16" / ("gone.csv" + SIDECAR)
    orphan.write_text(json.dumps({"reference": "R-GONE"}))
    os.utime(orphan, (0, 0))  # long past: a stray file, not a sidecar being written
    asked = []
    real = os.path.lexists
    monkeypatch.setattr(os.path, "lexists", lambda path: asked.append(Path(path).name) or real(path))
    listed = {f.path.name: f for f in pending(home)}
    assert set(listed) == {*(s.path.name for s in sent), "dropped.csv", orphan.name}
    assert all(listed[s.path.name].sender == "a@b.gov.uk" and listed[s.path.name].refusal is None for s in sent)
    assert listed["dropped.csv"].sender is None and listed[orphan.name].sender is None  # each taken as a file
    assert sorted(asked) == sorted(["dropped.csv" + SIDECAR, "gone.csv", orphan.name + SIDECAR])
    asked.clear()
    assert left_sidecars(home) == [(orphan, "R-GONE")]
    assert asked == ["gone.csv"]


def test_a_sent_file_is_listed_from_its_sidecar_without_a_look_at_the_file(tmp_path, monkeypatch):
    """The usual entry, a regular file with the tracker's sidecar beside it, is described from the folder's
    listing and its sidecar alone, and comes to exactly what ``describe`` says of it."""
    home = tmp_path / "home"
    sent = [deliver(home, csv_bytes(row(organisation_code=code)), f"q{n}.csv", code, "test", sender="a@b.gov.uk")
            for n, code in enumerate(["D10", "D10", "D16"])]
    looked = []
    real = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: looked.append(Path(path).name) or real(path, *a, **k))
    listed = pending(home)
    assert not {s.path.name for s in sent} & set(looked)
    monkeypatch.setattr(os, "stat", real)
    assert listed == [describe(s.path) for s in sent]


def test_an_entry_beside_a_sidecar_that_is_not_a_sent_file_is_described_in_full(tmp_path):
    """Beside a sidecar of its name, a link, a folder, a pipe, a hidden file or a file whose sidecar is wrong is
    listed as ``describe`` says: refused unread, never taken for the file the sidecar describes."""
    home = tmp_path / "home"
    good = deliver(home, GOOD, "good.csv", "D10", "test")
    folder = good.path.parent
    sidecar = json.loads(Path(f"{good.path}{SIDECAR}").read_text())
    outside = tmp_path / "outside.csv"
    outside.write_bytes(GOOD)
    (folder / "link.csv").symlink_to(outside)
    (folder / "folder.csv").mkdir()
    os.mkfifo(folder / "pipe.csv")
    (folder / ".hidden.csv").write_bytes(GOOD)
    (folder / "wrong.csv").write_bytes(GOOD)  # the sidecar of another file: its reference does not match
    for name in ["link.csv", "folder.csv", "pipe.csv", ".hidden.csv", "wrong.csv"]:
        (folder / f"{name}{SIDECAR}").write_text(json.dumps(sidecar))
    listed = {f.path.name: f for f in pending(home)}
    assert set(listed) == {good.path.name, "link.csv", "folder.csv", "pipe.csv", ".hidden.csv", "wrong.csv"}
    for name, entry in listed.items():
        assert entry == describe(folder / name)
        assert (entry.refusal is None) == (name == good.path.name), (name, entry.refusal)
    assert "link" in listed["link.csv"].refusal and "folder" in listed["folder.csv"].refusal
    assert "pipe" in listed["pipe.csv"].refusal and "hidden" in listed[".hidden.csv"].refusal
    assert "does not match" in listed["wrong.csv"].refusal


@pytest.mark.parametrize("text", ["plain.csv", "café £5", "", "a" * 119, "a" * 120, "a" * 121, "tab\there",
                                  "new\nline", "\x1b[31mred", "bad\udcffbyte", "zero\u200bwidth", "rtl\u202egpj.exe",
                                  "\u00a0nbsp", "emoji \U0001f600"])
def test_printable_takes_its_short_way_only_where_nothing_changes(text):
    """A name with nothing to escape and within the limit is returned as it is; anything else as before."""
    from tracker.return_inbox import printable

    escaped = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    expected = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in escaped)
    expected = expected if len(expected) <= 120 else expected[:119] + "…"
    assert printable(text) == expected
    assert printable(text).isprintable()


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536 + 7])
def test_a_file_is_read_whole_and_a_short_read_ends_it(tmp_path, monkeypatch, size):
    """Every byte, whatever the size against the read's chunk; a file that fits in one chunk takes one read."""
    from tracker import return_inbox

    content = os.urandom(size)
    path = tmp_path / "return.csv"
    path.write_bytes(content)
    reads = []
    real = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or real(fd, n))
    assert read_regular_file(path) == content
    assert read_regular_file(path, size) == content
    assert len(reads) == 2 * (size // return_inbox.READ_CHUNK + 1)
    if size:
        with pytest.raises(return_inbox.InboxFileTooLarge):
            read_regular_file(path, size - 1)


def test_archive_folders_are_made_once_across_calls_and_again_if_removed_meanwhile(tmp_path, monkeypatch):
    """An intake archives chunk after chunk with one set of folders made: one mkdir a folder, not one a chunk; and
    a folder removed between two chunks is made again, the entry archived all the same."""
    made_calls = []
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        made_calls.append(self.name)
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    made: set[Path] = set()
    first = [Archiving(_inbox_entry(tmp_path, name=f"a{i}.csv"), GOOD) for i in range(3)]
    archive_all(tmp_path, first, made)
    second = [Archiving(_inbox_entry(tmp_path, name=f"b{i}.csv"), GOOD) for i in range(3)]
    made_calls.clear()
    archive_all(tmp_path, second, made)
    assert made_calls == [] and all(m.error is None and m.archived.read_bytes() == GOOD for m in first + second)
    shutil.rmtree(first[0].archived.parent)  # someone removes the organisation's archive folder
    third = Archiving(_inbox_entry(tmp_path, name="c.csv"), GOOD)
    archive_all(tmp_path, [third], made)
    assert third.error is None and third.archived.read_bytes() == GOOD and not os.path.lexists(third.file.path)
    assert os.path.lexists(f"{third.archived}{SIDECAR}")


@pytest.mark.parametrize("sent", [True, False])
def test_an_entry_whose_sidecar_has_gone_is_archived_without_error(tmp_path, sent):
    """A sidecar read when the entry was listed is moved without asking first: gone meanwhile (a run killed after
    moving it), the entry is archived all the same. An entry dropped in by hand has none to move."""
    entry = _inbox_entry(tmp_path)
    if sent:
        entry = dataclass_replace(entry, sha256="0" * 64)
    os.unlink(f"{entry.path}{SIDECAR}")
    assert archive(tmp_path, entry, GOOD).read_bytes() == GOOD
    assert not os.listdir(entry.path.parent)


def test_an_entry_refused_unread_is_archived_when_its_folder_was_removed_since_the_intake_made_it(tmp_path):
    """The folders an intake made are not asked after again: an entry moved unread into one removed meanwhile makes
    it again, as an entry whose bytes were read does."""
    made: set[Path] = set()
    first = Archiving(_inbox_entry(tmp_path, name="a.csv"), GOOD)
    archive_all(tmp_path, [first], made)
    shutil.rmtree(first.archived.parent)
    refused = Archiving(_inbox_entry(tmp_path, name="b.csv"))
    archive_all(tmp_path, [refused], made)
    assert refused.error is None and refused.archived.read_bytes() == GOOD
    assert not os.path.lexists(refused.file.path) and os.path.lexists(f"{refused.archived}{SIDECAR}")
