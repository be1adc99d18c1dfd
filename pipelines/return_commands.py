"""`tracker validate`, `tracker submit` and `tracker template`: the returns side of the command line.

None of these imports Dagster (nor Great Expectations): a department analyst can
check a return on a laptop with only the project installed, in about a second.
With nothing published yet, the organisation codes come from the shipped data
through tracker/organisation_register.py, which is Dagster-free too.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import stat
from pathlib import Path

import yaml

from checks.return_contract import MAX_FILE_BYTES
from tracker import settings
from tracker.return_inbox import archived_hashes, content_hash, deliver, printable, too_large

SAMPLES_DIR = Path("returns") / "samples"
SAMPLES_MANIFEST = "samples.yaml"
ILLUSTRATIVE_CHANNEL = "illustrative sample (demo)"
SUBMIT_CHANNEL = "tracker submit"
UNKNOWN_OS_USER = "unknown operating-system user"


def command_line_sender() -> str:
    """Who ran ``tracker submit``, as recorded with the return: the operating-system user (the account on the
    machine, not a verified person), or that it could not be told."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001  no login name and no USER/LOGNAME/LNAME/USERNAME (OSError, KeyError)
        return f"{UNKNOWN_OS_USER} (tracker submit)"
    user = printable(user, 80).strip() if user else ""
    return f"{user} (operating-system user, tracker submit)" if user else f"{UNKNOWN_OS_USER} (tracker submit)"


def known_organisations() -> dict[str, str]:
    """GOV.UK organisation codes and names: from the published snapshot, or else from the shipped data."""
    snapshot = settings.snapshot_path()
    if snapshot.exists():
        import duckdb  # here, not at the top: with nothing published, validate never needs it

        try:
            with duckdb.connect(str(snapshot), read_only=True) as con:
                return dict(con.execute("SELECT organisation_code, name FROM staging.organisations "
                                        "WHERE organisation_code IS NOT NULL").fetchall())
        except duckdb.Error:
            pass  # being replaced or locked: read the shipped data instead
    from tracker.organisation_register import ORGANISATIONS_TABLE, organisation_tables
    from tracker.warehouse import read_source_files

    data = settings.data_dir()
    frames = organisation_tables(read_source_files(data / "organisations", "*"), data)
    organisations = frames[ORGANISATIONS_TABLE].dropna(subset=["organisation_code"])
    return dict(zip(organisations["organisation_code"], organisations["name"], strict=True))


def _read(path: str) -> tuple[bytes, str] | None:
    """The file's bytes, read once and no further than the size limit; None (having said why) if it cannot be."""
    shown = printable(path, 200)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        print(f"tracker: there is no file at {shown}.")
        return None
    except OSError as err:
        print(f"tracker: {shown} cannot be opened ({printable(err.strerror or 'unreadable')}).")
        return None
    name = printable(Path(path).name)
    if not stat.S_ISREG(info.st_mode):
        print(f"tracker: {shown} is not a file (it is a folder, a device or a pipe). Name the return file itself.")
        return None
    try:
        with open(path, "rb") as handle:
            content = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        print(f"tracker: {shown} cannot be read ({printable(err.strerror or 'unreadable')}).")
        return None
    if len(content) > MAX_FILE_BYTES:
        size = max(info.st_size, len(content))
        refusal = too_large(size, MAX_FILE_BYTES)
        print(f"{name}: {refusal[0].lower()}{refusal[1:]}")
        return None
    return content, name


def validate(path: str, organisation: str | None = None) -> int:
    """Exit 0 if the return is valid; otherwise list each problem and exit 1. Never a traceback: anything
    unexpected while checking is said in one plain sentence naming the file (exit 1)."""
    try:
        return _validate(path, organisation)
    except Exception:  # noqa: BLE001  the boundary a department analyst sees
        print(f"{printable(Path(path).name)}: the tracker could not check this file: it met a problem it did not "
              "expect while reading it. Save the return again from the template (as .xlsx or CSV UTF-8) and check "
              "it again; if the same happens, send the file to CDDO.")
        return 1


def _validate(path: str, organisation: str | None = None) -> int:
    read = _read(path)
    if read is None:
        return 1
    content, name = read
    from checks.return_validation import REJECTED, validate_return

    organisations = known_organisations()
    if organisation and organisation.strip().upper() not in organisations:
        print(_unknown_sender(organisation, "Nothing was checked."))
        return 2
    report = validate_return(content, name, organisations, settings.as_of_date(),
                             submitter=organisation.upper() if organisation else None)
    return 1 if _said(report, name, organisations, "Fix each one and check the file again") == REJECTED else 0


def _said(report, name: str, organisations: dict[str, str], then: str) -> str:
    """Print what checking the return found, as `tracker validate` shows it; its status."""
    from checks.return_validation import REJECTED

    code, quarter = report.key
    if report.status == REJECTED:
        count = len(report.problems)
        print(f"{name}: there {'is a problem' if count == 1 else f'are {count} problems'} with this return. "
              f"{then}:")
        for problem in report.problems:
            print(f"  - {problem.describe()}")
    else:
        print(f"{name}: the return is valid: {organisations.get(code, code)} ({code}), {quarter}.")
        from checks.return_contract import earlier_version_note

        if report.version is not None and earlier_version_note(report.version):
            print(f"  note: {earlier_version_note(report.version)}")
    for warning in report.warnings:
        print(f"  warning: {warning.describe()}")
    return report.status


def _unknown_sender(organisation: str, outcome: str) -> str:
    return (f"tracker: '{printable(organisation, 40)}' is not a GOV.UK organisation code the tracker knows (like "
            f"D10). {outcome}")


def submit(path: str, organisation: str) -> int:
    """Check a return as the upload page does and, when it can be accepted, put it in the organisation's inbox
    folder; say what happens next. A return with problems is not sent: the problems are listed, as by
    `tracker validate`, and nothing is delivered (exit 1)."""
    code = organisation.strip().upper()
    organisations = known_organisations()
    if code not in organisations:
        print(_unknown_sender(organisation, "Nothing was submitted."))
        return 2
    read = _read(path)
    if read is None:
        return 1
    content, name = read
    from checks.return_validation import REJECTED, validate_return

    try:
        report = validate_return(content, name, organisations, settings.as_of_date(), submitter=code)
    except Exception:  # noqa: BLE001  the boundary a department analyst sees: the run will judge it instead
        print(f"{name}: the tracker could not check it here; it is sent, and the run will check it.")
        report = None
    if report is not None and _said(report, name, organisations,
                                    "Nothing was submitted: fix each one and submit it again") == REJECTED:
        return 1
    stored = deliver(settings.tracker_home(), content, name, code, channel=SUBMIT_CHANNEL,
                     sender=command_line_sender())
    print(f"Return received for {organisations[code]} ({code}). Your reference is {stored.reference}.")
    print(f"  Kept in {stored.path}")
    print("What happens next: the tracker checks it against the return contract within a minute if the pipeline "
          "is running (`dagster dev`), or on the next `tracker run`. It is then accepted, accepted with warnings, "
          "or rejected with the reason; `tracker returns` shows which.")
    return 0


def template(folder: str) -> int:
    from checks.return_templates import write_templates

    organisations = sorted(known_organisations().items())
    for path in write_templates(Path(folder), organisations, settings.as_of_date()):
        print(f"Wrote {path}")
    return 0


def deliver_samples(home: Path, data_dir: Path) -> list[str]:
    """Put the shipped illustrative returns in the inbox (once: not if already received)."""
    manifest_path = data_dir / SAMPLES_DIR / SAMPLES_MANIFEST
    if not manifest_path.exists():
        return []
    already = archived_hashes(home)
    delivered = []
    for sample in yaml.safe_load(manifest_path.read_text(encoding="utf-8"))["samples"]:
        content = (manifest_path.parent / sample["file"]).read_bytes()
        if content_hash(content) in already:  # the demo was run before
            continue
        received = dt.datetime.fromisoformat(str(sample["received_at"]))
        deliver(home, content, sample["file"], sample["organisation"], ILLUSTRATIVE_CHANNEL,
                is_illustrative=True, now=received.replace(tzinfo=dt.UTC))
        delivered.append(f"{sample['file']} ({sample['organisation']}): {sample['shows']}")
    return delivered


def status_lines() -> list[str]:
    """The returns as published: one line per submission, newest first."""
    snapshot = settings.snapshot_path()
    if not snapshot.exists():
        return ["Nothing has been published yet. Run `tracker run` first."]
    import duckdb

    with duckdb.connect(str(snapshot), read_only=True) as con:
        rows = con.execute("SELECT submission_ref, organisation_code, reporting_quarter, status, is_superseded, "
                           "summary, is_illustrative FROM marts.return_submissions "
                           "ORDER BY received_at DESC").fetchall()
    return [f"{ref} {org} {quarter or '(quarter unreadable)'}: {status}"
            f"{' (superseded by a later return)' if superseded else ''}"
            f"{' [ILLUSTRATIVE]' if sample else ''}. {summary}"
            for ref, org, quarter, status, superseded, summary, sample in rows] or ["No returns received yet."]
