"""A return run stopped at any step of recording and archiving is finished by the next run, once (issue 16).

tests/test_crash.py kills real runs at random moments; this stops the ingestion deterministically at each step that
touches the inbox or the archive (linking or writing the archived copy, removing the inbox file, moving a sidecar,
moving an unread entry), and between recording a return and checking it with Great Expectations, then runs it again
and requires what one uninterrupted run gives: each arrival recorded once, archived once beside its sidecar where
its record says, nothing left in the inbox, and every accepted return checked.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ingest, query
from tests.returns_helpers import csv_bytes, row
from tracker import return_inbox
from tracker.return_inbox import SIDECAR, archive_dir, deliver, inbox_dir


class Stopped(BaseException):
    """The process stopping where it stands: not an Exception, so the ingestion cannot catch and record it."""


def fill_inbox(home: Path) -> None:
    """A valid return, a rejected one, a file dropped in by hand, and a link refused without being read."""
    at = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
    deliver(home, csv_bytes(row()), "valid.csv", "D10", "tracker submit", now=at)
    deliver(home, csv_bytes(row(organisation_code="EA73", pay_services_live="99")), "rejected.csv", "EA73",
            "tracker submit", now=at + dt.timedelta(minutes=1))
    folder = inbox_dir(home) / "D16"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "by_hand.csv").write_bytes(csv_bytes(row(organisation_code="D16")))
    os.symlink("/etc/hostname", folder / "link.csv")


def stop_at(monkeypatch, home: Path, step: int) -> list[str]:
    """Make the ``step``-th move in the returns folders (or the Great Expectations check, counted as one) stop
    the process; returns the list the steps taken are appended to."""
    taken: list[str] = []
    returns = str(home / "returns")

    def counted(name, real):
        def move(*args, **kwargs):
            if any(str(a).startswith(returns) for a in args[:2]):
                if len(taken) == step:
                    raise Stopped(f"{name} {args[0]}")
                taken.append(f"{name} {Path(args[0]).name}")
            return real(*args, **kwargs)
        return move

    monkeypatch.setattr(return_inbox, "write_atomically", counted("write", return_inbox.write_atomically))
    monkeypatch.setattr(return_inbox.os, "link", counted("link", os.link))
    monkeypatch.setattr(return_inbox.os, "replace", counted("replace", os.replace))
    monkeypatch.setattr(return_inbox.os, "unlink", counted("unlink", os.unlink))
    import assets.returns

    real_gx = assets.returns.validate_accepted_with_gx

    def gx(*args, **kwargs):
        if len(taken) == step:
            raise Stopped("before Great Expectations")
        taken.append("great expectations")
        return real_gx(*args, **kwargs)

    monkeypatch.setattr(assets.returns, "validate_accepted_with_gx", gx)
    return taken


def outcome(home: Path) -> dict:
    recorded = query(home, "SELECT file_name, organisation_code, status, archived_as, gx_result IS NOT NULL "
                           "FROM audit.return_submissions ORDER BY file_name")
    archived = sorted(str(p.relative_to(home)) for p in archive_dir(home).rglob("*") if os.path.lexists(p)
                      and not p.is_dir())
    left = sorted(str(p.relative_to(home)) for p in inbox_dir(home).rglob("*") if not p.is_dir() or p.is_symlink())
    return {"recorded": recorded, "archived": archived, "left in the inbox": left}


@pytest.fixture()
def uninterrupted(returns_home, tmp_path) -> dict:
    home = tmp_path / "uninterrupted"
    shutil.copytree(returns_home, home)
    fill_inbox(home)
    ingest(home)
    return outcome(home)


def test_stopped_at_each_step_the_next_run_finishes_it_once(returns_home, tmp_path, monkeypatch, uninterrupted):
    assert [(r[0], r[2]) for r in uninterrupted["recorded"]] == [
        ("by_hand.csv", "accepted"), ("link.csv", "rejected"), ("rejected.csv", "rejected"), ("valid.csv", "accepted")]
    assert uninterrupted["left in the inbox"] == []
    step, stopped_at = 0, []
    while True:
        home = tmp_path / f"stopped_{step}"
        shutil.copytree(returns_home, home)
        fill_inbox(home)
        with monkeypatch.context() as patched:
            taken = stop_at(patched, home, step)
            result = ingest(home, raise_on_error=False)  # Dagster fails the step where it stopped
        if result.success:  # no step left to stop at
            assert len(taken) == step
            break
        assert len(taken) == step, "the run failed before the step it was to stop at"
        stopped_at.append(step)
        again = ingest(home, raise_on_error=False)
        assert again.success
        found = outcome(home)
        where = f"stopped after {taken[-3:]}"
        assert found["left in the inbox"] == [], where
        assert [r[:3] for r in found["recorded"]] == [r[:3] for r in uninterrupted["recorded"]], where
        assert found["archived"] == uninterrupted["archived"], where  # once each, under the same names
        for name, _, status, archived_as, checked in found["recorded"]:
            assert (home / archived_as).exists() or (home / archived_as).is_symlink(), (where, name)
            assert status != "accepted" or checked, (where, name, "never checked by Great Expectations")
        assert {p.name for p in archive_dir(home).rglob(f"*{SIDECAR}")} == {
            p.rsplit("/", 1)[-1] for p in uninterrupted["archived"] if p.endswith(SIDECAR)}, where
        step += 1
    assert len(stopped_at) >= 9  # 3 moves for each file read, 2 for the link, one before Great Expectations
