"""The returns inbox: where returns arrive as files, and the archive they move to once processed.

Layout under TRACKER_HOME/returns/ (the two folders are named in tracker/settings.py):
    inbox/<ORGANISATION CODE>/<received>__<name>            the file, byte for byte as sent
    inbox/<ORGANISATION CODE>/<received>__<name>.json       who sent it, how, and its reference
    archive/<ORGANISATION CODE>/<received>__<name>(.json)   the same pair once processed

The folder is the submitter: ``tracker submit --organisation D10`` and the
upload page write only into that organisation's folder. A file dropped into a
folder by hand is taken as sent by that folder's organisation, through
"inbox folder". Files are written under a hidden temporary name and renamed
into place, so a reader never sees half a file. Dagster-free: the command line
and the dashboard's upload page use it too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tracker.settings import returns_archive_dir as archive_dir
from tracker.settings import returns_inbox_dir as inbox_dir

ORGANISATION_FOLDER = re.compile(r"^[A-Z0-9]{1,16}$")
SIDECAR = ".json"


@dataclass(frozen=True)
class InboxFile:
    path: Path
    organisation_code: str
    original_name: str
    channel: str
    is_illustrative: bool
    received_at: dt.datetime
    reference: str

    def read(self) -> bytes:
        return self.path.read_bytes()


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def file_hash(path: Path) -> str:
    """sha256 of a file, read in chunks (a file dropped in the inbox may be large)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def submission_reference(organisation_code: str, stored_name: str, sha256: str) -> str:
    """A short reference a department can quote: the same arrival always gets the same one."""
    digest = hashlib.sha256(f"{organisation_code}/{stored_name}|{sha256}".encode()).hexdigest()
    return f"R-{digest[:10].upper()}"


def safe_name(name: str) -> str:
    """The sender's file name without any folder part or characters a file system may not like."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "return"
    return cleaned[-120:]


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def deliver(home: Path, content: bytes, original_name: str, organisation_code: str, channel: str,
            is_illustrative: bool = False, now: dt.datetime | None = None) -> InboxFile:
    """Put a return in the organisation's inbox folder, exactly as sent. Returns what was stored."""
    if not ORGANISATION_FOLDER.match(organisation_code):
        raise ValueError(f"'{organisation_code}' is not an organisation code (letters and digits, like D10).")
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    folder = inbox_dir(home) / organisation_code
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{now:%Y%m%dT%H%M%S%fZ}__{safe_name(original_name)}"
    sha = content_hash(content)
    reference = submission_reference(organisation_code, stored, sha)
    sidecar = {"organisation_code": organisation_code, "original_name": original_name, "channel": channel,
               "is_illustrative": is_illustrative, "received_at": now.isoformat(), "reference": reference,
               "sha256": sha}
    _write_atomically(folder / (stored + SIDECAR), json.dumps(sidecar, indent=2).encode())
    _write_atomically(folder / stored, content)
    return InboxFile(folder / stored, organisation_code, original_name, channel, is_illustrative, now, reference)


def pending(home: Path) -> list[InboxFile]:
    """Every file waiting in the inbox, oldest first (hidden and half-written files are skipped)."""
    found = []
    for folder in sorted(p for p in inbox_dir(home).glob("*") if p.is_dir()):
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.name.endswith(SIDECAR) or not path.is_file():
                continue
            found.append(describe(path))
    return sorted(found, key=lambda f: (f.received_at, f.path.name))


def inbox_file(home: Path, path: str | Path) -> InboxFile | None:
    """The inbox file at ``path`` if it is still waiting (it may already have been processed)."""
    path = Path(path)
    inside = inbox_dir(home).resolve() in path.resolve().parents
    return describe(path) if inside and path.is_file() else None


def describe(path: Path) -> InboxFile:
    folder = path.parent.name
    sidecar_path = path.with_name(path.name + SIDECAR)
    received = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None)
    sidecar: dict = {}
    if sidecar_path.is_file():
        try:
            sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            sidecar = {}
    if sidecar.get("received_at"):
        received = dt.datetime.fromisoformat(sidecar["received_at"])
    reference = sidecar.get("reference") or submission_reference(folder, path.name, file_hash(path))
    return InboxFile(path, folder, sidecar.get("original_name") or path.name,
                     sidecar.get("channel") or "inbox folder", bool(sidecar.get("is_illustrative")), received,
                     reference)


def archive(home: Path, file: InboxFile) -> Path:
    """Move a processed file (and its sidecar) out of the inbox; never overwrites an archived file."""
    folder = archive_dir(home) / file.path.parent.name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file.path.name
    counter = 1
    while target.exists():
        target = folder / f"{file.path.name}.{counter}"
        counter += 1
    sidecar = file.path.with_name(file.path.name + SIDECAR)
    if sidecar.exists():
        os.replace(sidecar, target.with_name(target.name + SIDECAR))
    os.replace(file.path, target)
    return target


def archived_hashes(home: Path) -> set[str]:
    """sha256 of every archived return, from the sidecars (for not re-sending the demo's samples)."""
    hashes = set()
    for sidecar in archive_dir(home).glob(f"*/*{SIDECAR}"):
        try:
            hashes.add(json.loads(sidecar.read_text(encoding="utf-8")).get("sha256"))
        except (ValueError, OSError):
            continue
    return hashes
