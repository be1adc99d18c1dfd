"""A run costs what is new (issue 17): a source whose inputs are unchanged is not parsed or written again, and a
file unchanged on disk is not hashed again; anything that differs builds the source as before."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.forms import forms_files, forms_metrics
from tests.conftest import make_resources
from tracker.code_version import code_sha256
from tracker.warehouse import RACY_NS, file_on_disk, remember_hashes, remembered_hashes

FORMS = [forms_files, forms_metrics]


def _run(instance, home: Path, data: Path, as_of: str = "2026-01-31") -> dg.ExecuteInJobResult:
    return dg.materialize(FORMS, resources=make_resources(home, data, as_of), instance=instance)


def _notes(result) -> dict[str, str | None]:
    """Each staging table's 'inputs' note in this run (None: built from its files)."""
    notes = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        key = materialization.asset_key.to_user_string()
        if key.startswith(("staging/", "quarantine/", "meta/")):
            note = materialization.metadata.get("inputs")
            notes[key] = note.value if note is not None else None
    return notes


def _rows(home: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture()
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_an_unchanged_source_is_kept_and_confirmed_not_rebuilt(instance, tmp_path, data_copy):
    home = tmp_path / "home"
    first = _run(instance, home, data_copy)
    assert set(_notes(first).values()) == {None}  # built from its files
    table = _rows(home, "SELECT * FROM staging.forms_metrics ORDER BY ALL")
    build = _rows(home, "SELECT built_at, built_by_run, inputs_sha256 FROM meta.forms_build")[0]
    assert build[1] == first.run_id and len(build[2]) == 64

    second = _run(instance, home, data_copy)
    notes = _notes(second)
    assert set(notes) == {"staging/forms_metrics", "quarantine/forms_feed_problems", "meta/forms_build"}
    assert all(note and note.startswith("unchanged") and first.run_id[:8] in note for note in notes.values())
    assert _rows(home, "SELECT * FROM staging.forms_metrics ORDER BY ALL") == table
    again = _rows(home, "SELECT built_at, built_by_run, inputs_sha256 FROM meta.forms_build")[0]
    # confirmed current by this run (so the source is not reported stale), from the same inputs
    assert again[1] == second.run_id and again[0] > build[0] and again[2] == build[2]
    # the row counts shown in Dagster are carried over, not lost
    counts = [e.step_materialization_data.materialization.metadata.get("dagster/row_count")
              for e in second.get_asset_materialization_events()
              if e.step_materialization_data.materialization.asset_key.path == ["staging", "forms_metrics"]]
    assert counts and counts[0].value == len(table)


def test_a_changed_file_a_new_file_or_another_reporting_date_builds_the_source(instance, tmp_path, data_copy):
    home = tmp_path / "home"
    _run(instance, home, data_copy)
    snapshots = sorted((data_copy / "forms" / "snapshots").iterdir())
    newest = snapshots[-1]
    before = _rows(home, "SELECT count(*) FROM staging.forms_metrics")[0][0]

    newest.rename(newest.with_name("2099-01-01_00000000.yml.bak"))  # a version gone from the listing
    assert set(_notes(_run(instance, home, data_copy)).values()) == {None}
    assert _rows(home, "SELECT count(*) FROM staging.forms_metrics")[0][0] == before - 1

    newest.with_name("2099-01-01_00000000.yml.bak").rename(newest)  # back, as it was
    assert set(_notes(_run(instance, home, data_copy)).values()) == {None}
    assert _rows(home, "SELECT count(*) FROM staging.forms_metrics")[0][0] == before
    assert all(_notes(_run(instance, home, data_copy)).values())  # and now unchanged

    assert set(_notes(_run(instance, home, data_copy, as_of="2025-06-30")).values()) == {None}
    (data_copy / "organisation_aliases.yaml").write_text(
        (data_copy / "organisation_aliases.yaml").read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    assert set(_notes(_run(instance, home, data_copy, as_of="2025-06-30")).values()) == {None}


def test_a_dropped_table_or_a_forgotten_history_builds_the_source(instance, tmp_path, data_copy):
    home = tmp_path / "home"
    _run(instance, home, data_copy)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("DROP TABLE staging.forms_metrics")
    assert set(_notes(_run(instance, home, data_copy)).values()) == {None}
    assert _rows(home, "SELECT count(*) FROM staging.forms_metrics")[0][0] > 0
    with dg.instance_for_test() as other:  # a Dagster instance that never saw the tables built
        assert set(_notes(_run(other, home, data_copy)).values()) == {None}


def test_a_file_that_surprised_the_parser_is_tried_again_next_run(instance, tmp_path, data_copy):
    import assets.forms as forms

    home = tmp_path / "home"
    real = forms.parse_forms_file
    calls = []

    def flaky(file):
        calls.append(file.name)
        if len(calls) == 1:
            raise MemoryError("passing")
        return real(file)

    reader = _reader_of(forms_metrics)
    object.__setattr__(reader, "parse", flaky)
    try:
        _run(instance, home, data_copy)
        assert _rows(home, "SELECT inputs_sha256 FROM meta.forms_build") == [(None,)]
        assert _rows(home, "SELECT count(*) FROM quarantine.forms_feed_problems")[0][0] == 1
        calls.clear()
        calls.append("already failed once")
        assert set(_notes(_run(instance, home, data_copy)).values()) == {None}  # tried again, not kept
        assert _rows(home, "SELECT count(*) FROM quarantine.forms_feed_problems")[0][0] == 0
    finally:
        object.__setattr__(reader, "parse", real)


def _reader_of(asset: dg.AssetsDefinition):
    """The FeedReader a staging asset closes over."""
    from assets.staging import FeedReader

    fn = asset.op.compute_fn.decorated_fn
    return next(c.cell_contents for c in fn.__closure__ if isinstance(c.cell_contents, FeedReader))


def test_the_code_fingerprint_moves_with_any_python_file_of_the_code(tmp_path, monkeypatch):
    import tracker.code_version as code_version

    assert {f.name for f in code_version.CODE_FOLDERS} == {"assets", "checks", "tracker"}
    folder = tmp_path / "assets"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "parser.py").write_text("A = 1\n")
    monkeypatch.setattr(code_version, "CODE_FOLDERS", (folder,))
    fingerprints = []
    for change in (lambda: None, lambda: (folder / "notes.md").write_text("not code"),
                   lambda: (folder / "deep" / "parser.py").write_text("A = 2\n")):
        change()
        code_sha256.cache_clear()
        fingerprints.append(code_sha256())
    code_sha256.cache_clear()
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]


def _remember(tmp_path, path: Path):
    """Hash a file and read back what a run would remember of it."""
    con = duckdb.connect(str(tmp_path / "hashes.duckdb"))
    remember_hashes(con, "pay", [file_on_disk(path)])
    remembered = remembered_hashes(con, "pay")
    con.close()
    return remembered


def _as_if_hashed_long_ago(remembered: dict) -> dict:
    return {p: (stat, sha, hashed_at + 10 * RACY_NS) for p, (stat, sha, hashed_at) in remembered.items()}


def test_an_unchanged_file_is_not_hashed_again(tmp_path, monkeypatch):
    path = tmp_path / "snapshot.json"
    path.write_bytes(b'{"a": 1}')
    remembered = _remember(tmp_path, path)
    assert remembered[str(path)][1] == file_on_disk(path).sha256
    # hashed just now: a second write in the same tick could leave the times as they were, so it is hashed again
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    file_on_disk(path, remembered)
    assert opened == [path]
    opened.clear()
    trusted = file_on_disk(path, _as_if_hashed_long_ago(remembered))
    assert opened == [] and trusted.sha256 == remembered[str(path)][1]


def test_a_file_changed_in_place_is_hashed_again_even_with_its_old_size_and_time(tmp_path):
    path = tmp_path / "snapshot.json"
    path.write_bytes(b'{"a": 1}')
    stat = path.stat()
    remembered = _as_if_hashed_long_ago(_remember(tmp_path, path))
    time.sleep(0.01)
    path.write_bytes(b'{"a": 2}')  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and its modification time put back
    again = file_on_disk(path, remembered)
    assert again.sha256 != remembered[str(path)][1]
    assert again.sha256 == file_on_disk(path).sha256
    replaced = tmp_path / "other.json"
    replaced.write_bytes(b'{"a": 3}')
    os.replace(replaced, path)  # a new file under the old name
    assert file_on_disk(path, remembered).sha256 == file_on_disk(path).sha256 != remembered[str(path)][1]


def _contract_check(home: Path, as_of: str = "2026-01-31") -> dg.AssetCheckResult:
    from checks.return_checks import department_returns_meet_contract

    resources = make_resources(home, as_of=as_of)
    return department_returns_meet_contract(settings=resources["settings"], warehouse=resources["warehouse"])


def test_the_contract_check_checks_the_returns_not_yet_checked(built, tmp_path):
    import shutil

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(built["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("DROP TABLE IF EXISTS meta.department_returns_passed_contract")
        total = con.execute("SELECT count(*) FROM staging.department_returns").fetchone()[0]
    assert total >= 5
    first = _contract_check(home)
    assert first.passed and first.metadata["returns checked"].value == total
    second = _contract_check(home)
    assert second.passed and second.metadata["returns checked"].value == 0
    assert second.metadata["returns passed before, unchanged"].value == total
    # another reporting date: every return is checked again
    assert _contract_check(home, as_of="2026-02-28").metadata["returns checked"].value == total

    # a row changed in the warehouse (as a bug or a hand edit would): its return is checked again, and fails
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        ref = con.execute("SELECT submission_ref FROM staging.department_returns ORDER BY submission_ref "
                          "LIMIT 1").fetchone()[0]
        rows_of_ref = con.execute("SELECT count(*) FROM staging.department_returns WHERE submission_ref = ?",
                                  [ref]).fetchone()[0]
        con.execute("UPDATE staging.department_returns SET pay_services_live = -5 WHERE submission_ref = ?", [ref])
    changed = _contract_check(home, as_of="2026-02-28")
    assert not changed.passed and changed.metadata["returns checked"].value == rows_of_ref
    assert changed.metadata["problems"].value >= 1
    again = _contract_check(home, as_of="2026-02-28")  # a failure is never remembered as passed
    assert not again.passed and again.metadata["returns checked"].value == rows_of_ref


def test_a_run_killed_after_writing_never_leaves_the_tables_passing_for_older_inputs(instance, tmp_path, data_copy,
                                                                                   monkeypatch):
    import assets.staging as staging

    home = tmp_path / "home"
    _run(instance, home, data_copy)
    as_built = _rows(home, "SELECT * FROM staging.forms_metrics ORDER BY ALL")
    newest = sorted((data_copy / "forms" / "snapshots").iterdir())[-1]
    aside = newest.with_name("kept-aside.txt")
    newest.rename(aside)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the tables were written, before their inputs are recorded

    monkeypatch.setattr(staging, "record_build", killed)
    with pytest.raises(BaseException):  # noqa: B017 - whatever Dagster makes of the interrupt
        _run(instance, home, data_copy)
    monkeypatch.undo()
    assert len(_rows(home, "SELECT * FROM staging.forms_metrics")) == len(as_built) - 1  # the new tables stand
    aside.rename(newest)  # the files as they were when the inputs were last recorded
    assert set(_notes(_run(instance, home, data_copy)).values()) == {None}  # built, not kept
    assert _rows(home, "SELECT * FROM staging.forms_metrics ORDER BY ALL") == as_built


def test_the_skills_name_mapping_is_kept_while_skills_and_the_register_are_unchanged(instance, tmp_path, data_copy):
    from assets.organisations import organisations, organisations_files
    from assets.skills import skills_files, skills_name_mapping, skills_staging

    home = tmp_path / "home"
    graph = [organisations_files, organisations, skills_files, skills_staging, skills_name_mapping]

    def run():
        result = dg.materialize(graph, resources=make_resources(home, data_copy), instance=instance)
        events = [e.step_materialization_data.materialization for e in result.get_asset_materialization_events()]
        mapping = next(m for m in events if m.asset_key.path == ["staging", "skills_name_mapping"])
        note = mapping.metadata.get("inputs")
        return note.value if note else None, mapping.metadata["names mapped to a department of today"].value

    first = run()
    mapped = _rows(home, "SELECT * FROM staging.skills_name_mapping ORDER BY ALL")
    assert first[0] is None and first[1] > 0 and mapped
    second = run()
    assert second[0].startswith("unchanged") and second[1] == first[1]
    assert _rows(home, "SELECT * FROM staging.skills_name_mapping ORDER BY ALL") == mapped
    names = data_copy / "skills" / "department_names.yaml"
    names.write_text(names.read_text(encoding="utf-8") + "\n# reviewed\n", encoding="utf-8")
    assert run()[0] is None  # a settings file of the mapping changed: mapped again
