"""The returns inbox: where returns arrive as files, and the archive they move to once processed.

Layout under TRACKER_HOME/returns/ (the two folders are named in tracker/settings.py):
    inbox/<ORGANISATION CODE>/<received>__<name>            the file, byte for byte as sent
    inbox/<ORGANISATION CODE>/<received>__<name>.json       who sent it, how, and its reference (the sidecar)
    archive/<ORGANISATION CODE>/<received>__<name>(.json)   the same pair once processed

The folder is the submitter: ``tracker submit --organisation D10`` and the
upload page write only into that organisation's folder. A file dropped into a
folder by hand is taken as sent by that folder's organisation, through
"inbox folder", with no sender. Files are written under a hidden temporary name,
flushed to disk and renamed into place (the sidecar first, then the file), so
neither a reader nor a machine restart ever leaves half a file under its real
name. Dagster-free: the command line and the dashboard's upload page use it too.

The sidecar holds organisation_code, original_name, channel, is_illustrative,
received_at, reference and sha256 (all required), and sender, on_behalf_reason
and reporting_quarter (the quarter the sender declared): each a string or null,
and absent from sidecars written before they were kept.

Only regular files directly in an organisation's folder are read, once, without
following links (O_NOFOLLOW) and no further than the size limit. Anything else
found in the inbox (a link, a pipe or device, a folder inside a folder, a hidden
file, a file outside any organisation's folder, a folder that is not an
organisation code) and any file whose sidecar is not the JSON the tracker wrote
is listed with a ``refusal``: recorded, and moved to the archive as it is,
never read. A file whose bytes no longer match its sidecar's sha256 was changed
after it was submitted, and is refused too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from tracker.durable import PARTIAL, sync_file, sync_file_system, sync_folder, write_atomically
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
    sha256: str | None = None  # what the sidecar says was submitted (None: dropped in by hand)
    refusal: str | None = None  # why the entry is refused without its content being read
    sender: str | None = None  # who sent it, as the sidecar says (None: not said, or dropped in by hand)
    on_behalf_reason: str | None = None  # why someone else sent it for the organisation (None: not said)
    declared_quarter: str | None = None  # the quarter the sender said it is for (None: not said)

    def read(self, limit: int | None = None) -> bytes:
        """The file's bytes, read once without following a link; see ``read_regular_file``."""
        return read_regular_file(self.path, limit)


class InboxEntryRefused(ValueError):
    """An inbox entry that is not a regular file of its own (a link, a device, a folder...): not read."""


def too_large(size: int, limit: int) -> str:
    """Why a file over the size limit is refused, in bytes as well: 2,097,153 bytes is '2.0 MB' like the limit."""
    return (f"The file is {size / 1_048_576:.1f} MB ({size:,} bytes); the limit is {limit / 1_048_576:g} MB "
            f"({limit:,} bytes). A return is one row of figures: start again from the template.")


class InboxFileTooLarge(InboxEntryRefused):
    def __init__(self, size: int, limit: int):
        super().__init__(too_large(size, limit))
        self.size = size


READ_CHUNK = 1 << 16
SIDECAR_LIMIT = 64 * 1024  # what tracker submit writes is a few hundred bytes
HASH_PATTERN = re.compile(r"^[0-9a-f]{64}$")
REFERENCE_PATTERN = re.compile(r"^R-[0-9A-F]{10}$")
ORPHAN_SIDECAR_SECONDS = 600
OPTIONAL_SIDECAR_KEYS = ("sender", "on_behalf_reason", "reporting_quarter")  # a string or null; may be absent
NO_ORGANISATION = "(none)"  # the sender recorded for an entry that is not in an organisation's folder
REFUSED_FOLDER = "_refused"  # the archive folder for entries that are not in an organisation's folder


def printable(text: str, limit: int = 120) -> str:
    """A name or value as it can be shown and stored: control characters and undecodable bytes as escapes."""
    if text.isprintable() and len(text) <= limit:  # most are: nothing to escape (a lone surrogate is not printable)
        return text
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _kind(mode: int) -> str | None:
    """What an entry is, when it is not a regular file (None when it is)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a link (shortcut) to another file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "not a regular file"


def read_regular_file(path: Path | str, limit: int | None = None) -> bytes:
    """Read a regular file once, never following a link nor waiting on a pipe; at most ``limit`` bytes.

    Raises InboxEntryRefused for anything but a regular file, InboxFileTooLarge past the limit (without
    reading the rest), and OSError when it cannot be opened (FileNotFoundError: taken by another run).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            raise InboxEntryRefused(_kind(stat.S_IFLNK)) from None
        raise
    try:
        info = os.fstat(fd)
        kind = _kind(info.st_mode)
        if kind:
            raise InboxEntryRefused(kind)
        if limit is not None and info.st_size > limit:
            raise InboxFileTooLarge(info.st_size, limit)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, READ_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if limit is not None and total > limit:  # grew while being read
                raise InboxFileTooLarge(max(total, os.fstat(fd).st_size), limit)
            chunks.append(chunk)
            if len(chunk) < READ_CHUNK:  # a regular file reads short only at its end: no need to ask again
                break
        return b"".join(chunks)
    finally:
        os.close(fd)


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def file_hash(path: Path) -> str:
    """sha256 of a regular file, read in chunks without following a link; for any other entry (a link, a
    pipe, a folder), a hash of where and what it is, so that it still has a key of its own and is never read."""
    info = os.lstat(path)
    if stat.S_ISREG(info.st_mode):
        try:
            return content_hash(read_regular_file(path))
        except InboxEntryRefused:
            info = os.lstat(path)  # replaced by something else since: key it as that
    return _identity_hash(Path(path), info)


def _identity_hash(path: Path, info: os.stat_result) -> str:
    identity = f"not read|{path.parent.name}/{path.name}|{info.st_mode}|{info.st_ino}|{info.st_mtime_ns}"
    return hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()


def arrival_key(file: InboxFile) -> str:
    """What makes an arrival new, without reading it: its sender, its reference and what the sidecar says it is
    (or, for a file dropped in by hand, where and when it landed). The same bytes from another organisation, or
    sent again after a rejection, are new arrivals; the same arrival seen on two ticks is not."""
    try:
        what = file.sha256 or _identity_hash(file.path, os.lstat(file.path))
    except OSError:
        what = "gone"
    arrival = f"{file.organisation_code}|{file.reference}|{what}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(arrival).hexdigest()


def submission_reference(organisation_code: str, stored_name: str, sha256: str) -> str:
    """A short reference a department can quote: the same arrival always gets the same one."""
    arrival = f"{organisation_code}/{stored_name}|{sha256}".encode("utf-8", "surrogateescape")
    digest = hashlib.sha256(arrival).hexdigest()
    return f"R-{digest[:10].upper()}"


def safe_name(name: str) -> str:
    """The sender's file name without any folder part or characters a file system may not like."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "return"
    return cleaned[-120:]


def deliver(home: Path, content: bytes, original_name: str, organisation_code: str, channel: str,
            is_illustrative: bool = False, now: dt.datetime | None = None, *, sender: str | None = None,
            on_behalf_reason: str | None = None, reporting_quarter: str | None = None) -> InboxFile:
    """Put a return in the organisation's inbox folder, exactly as sent. Returns what was stored.

    ``sender`` says who sent it (the signed-in person, or the operating-system user who ran tracker submit),
    ``on_behalf_reason`` why they sent it for the organisation when they are not from it, and
    ``reporting_quarter`` the quarter they said it is for; each is kept in the sidecar (null when not given).
    The sidecar is written first and the file renamed into place after it, so a file is never seen without it.
    """
    for key, value in (("sender", sender), ("on_behalf_reason", on_behalf_reason),
                       ("reporting_quarter", reporting_quarter)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{key} must be a string or None, not {type(value).__name__}.")
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
               "sha256": sha, "sender": sender, "on_behalf_reason": on_behalf_reason,
               "reporting_quarter": reporting_quarter}
    write_atomically(folder / (stored + SIDECAR), json.dumps(sidecar, indent=2).encode())
    write_atomically(folder / stored, content)
    return InboxFile(folder / stored, organisation_code, original_name, channel, is_illustrative, now, reference,
                     sender=sender, on_behalf_reason=on_behalf_reason, declared_quarter=reporting_quarter)


def pending(home: Path) -> list[InboxFile]:
    """Every entry waiting in the inbox, oldest first; none of them is read here.

    Regular files directly in an organisation's folder are returns. Everything else found there or at the
    top of the inbox (links, pipes, devices, folders within folders, hidden files, a folder that is not an
    organisation code, a file outside any organisation's folder) is listed refused, to be recorded and moved
    to the archive without being read. Sidecars go with their file; a file still being written by ``deliver``
    (a hidden ``.partial``) is left alone.
    """
    root = inbox_dir(home)
    found: list[InboxFile | None] = []
    for entry in _entries(root):
        try:
            info = entry.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(info.st_mode) and ORGANISATION_FOLDER.match(entry.name):
            inside = _scanned(entry)
            listed = {inner.name for inner in inside}  # what was there a moment ago spares a look a file
            for inner in inside:
                if _beside_in_listing(inner.name, listed):
                    continue  # a sidecar with its file: known from the names alone
                path = Path(inner.path)
                if not (_is_sidecar(path, listed) or _being_written(path)):
                    found.append(_listed(inner, path, root, entry.name, listed))
        else:
            found.append(_described(entry, root))
    return sorted((f for f in found if f is not None), key=lambda f: (f.received_at, f.path.name))


def _described(path: Path, root: Path, listed: Collection[str] = ()) -> InboxFile | None:
    try:
        return describe(path, root, listed)
    except FileNotFoundError:  # taken by a run between listing and looking
        return None


def _listed(entry: os.DirEntry, path: Path, root: Path, folder: str, listed: Collection[str]) -> InboxFile | None:
    """An entry of an organisation's own folder (not a link: ``pending`` looked). The usual one, a regular file
    by the listing with its sidecar beside it, is described from its sidecar alone: no look at the file itself,
    whose bytes are read without following a link when it is taken, and refused then if it has become anything
    else. Anything else is described in full (``describe``)."""
    if not entry.name.startswith(".") and entry.name + SIDECAR in listed and entry.is_file(follow_symlinks=False):
        sidecar, problem = _sidecar(path, folder, listed)
        if sidecar and problem is None:
            return _sent(path, folder, sidecar)
    return _described(path, root, listed)


def _entries(folder: Path) -> list[Path]:
    """The entries of a folder in name order (the same as the paths' order, in one folder)."""
    return [Path(entry.path) for entry in _scanned(folder)]


def _scanned(folder: Path) -> list[os.DirEntry]:
    try:  # sorting names rather than paths
        return sorted(os.scandir(folder), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_sidecar(path: Path, listed: Collection[str] = ()) -> bool:
    """A sidecar goes with its file. One with no file beside it for longer than ``deliver`` takes to write the
    file (it writes the sidecar first) is not a sidecar but a stray .json, taken (and refused) like any file.
    ``listed``: the names in the folder a moment ago; a file among them was beside it, so is not looked for."""
    if not path.name.endswith(SIDECAR):
        return False
    if _file_beside(path, listed):
        return True
    try:
        return path.lstat().st_mtime > dt.datetime.now(dt.UTC).timestamp() - ORPHAN_SIDECAR_SECONDS
    except FileNotFoundError:
        return True


def _file_beside(sidecar: Path, listed: Collection[str] = ()) -> bool:
    """Whether the sidecar's file is there: among the names ``listed`` a moment ago, else on disk now."""
    return _beside_in_listing(sidecar.name, listed) or os.path.lexists(sidecar.with_name(sidecar.name[: -len(SIDECAR)]))


def _beside_in_listing(name: str, listed: Collection[str]) -> bool:
    """Whether ``name`` is a sidecar's whose file is among the names ``listed`` in its folder."""
    return name.endswith(SIDECAR) and name[: -len(SIDECAR)] in listed


def _being_written(path: Path) -> bool:
    """A file ``deliver`` is still writing (a hidden partial file); one that has gone since the listing is left
    to ``describe``, which says so."""
    if not (path.name.startswith(".") and path.name.endswith(PARTIAL)):
        return False
    try:
        info = path.lstat()
    except FileNotFoundError:
        return True
    return stat.S_ISREG(info.st_mode)


def inbox_file(home: Path, path: str | Path) -> InboxFile | None:
    """The inbox entry at ``path`` if it is still waiting (it may already have been processed).

    Judged by where the name is, not where a link points: nothing is resolved or read here.
    """
    root = Path(os.path.normpath(os.path.abspath(inbox_dir(home))))
    path = Path(os.path.normpath(os.path.abspath(path)))
    if root not in path.parents or path.name.endswith(SIDECAR) or not os.path.lexists(path):
        return None
    if path.parent == root and path.is_dir() and not path.is_symlink() and ORGANISATION_FOLDER.match(path.name):
        return None  # an organisation's folder itself
    return _described(path, root)


def describe(path: Path, root: Path | None = None, listed: Collection[str] = ()) -> InboxFile:
    """What is known about an inbox entry without reading it: who sent it, when, and whether it is refused.

    ``root`` is the inbox folder (the entry's grandparent when not given); ``listed``, the names in its folder a
    moment ago (a sidecar among them is read without first looking for it). Raises FileNotFoundError when the
    entry has gone (taken by another run).
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent.parent
    info = path.lstat()
    parts = path.relative_to(root).parts if root in path.parents else (path.name,)
    in_place = len(parts) == 2 and bool(ORGANISATION_FOLDER.match(parts[0])) and not (root / parts[0]).is_symlink()
    folder = parts[0] if len(parts) >= 2 and ORGANISATION_FOLDER.match(parts[0]) else NO_ORGANISATION
    name = printable(path.name)
    received = dt.datetime.fromtimestamp(info.st_mtime, dt.UTC).replace(tzinfo=None)
    provisional = submission_reference(folder, path.name, _identity_hash(path, info))
    refusal = None
    kind = _kind(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        refusal = (f"'{name}' was not read: it is {kind}. Only a file saved in the organisation's inbox folder "
                   "is taken; send the return file itself.")
    elif len(parts) == 1 and stat.S_ISDIR(info.st_mode):
        refusal = (f"'{name}' was not read: its name is not an organisation code (capital letters and digits, like "
                   "D10), so it is not an organisation's folder. Send returns with tracker submit or the upload page.")
    elif not in_place:
        where = (f"it is in a folder inside {folder}'s folder" if folder != NO_ORGANISATION and len(parts) > 2
                 else "it is not in an organisation's folder (returns/inbox/<organisation code>/)")
        refusal = f"'{name}' was not read: {where}. Send the return with tracker submit or the upload page."
    elif kind:
        refusal = (f"'{name}' was not read: it is {kind}. Only a file saved in the organisation's inbox folder "
                   "is taken; send the return file itself.")
    elif path.name.startswith("."):
        refusal = (f"'{name}' was not read: it is a hidden file (its name starts with a dot). Send the return "
                   "under its own name.")
    sidecar, problem = ({}, None) if refusal else _sidecar(path, folder, listed)
    if problem:
        refusal = (f"'{name}' was not read: {problem} Send the return again with tracker submit or the upload "
                   "page.")
    if refusal or not sidecar:
        return InboxFile(path, folder, name, "inbox folder", False, received, provisional, None, refusal)
    return _sent(path, folder, sidecar)


def _sent(path: Path, folder: str, sidecar: dict) -> InboxFile:
    """An entry sent with the tracker's sidecar, checked (``_sidecar``): who sent it, when and what."""
    return InboxFile(path, folder, printable(sidecar["original_name"]), printable(sidecar["channel"], 80),
                     sidecar["is_illustrative"], sidecar["received_at"], sidecar["reference"], sidecar["sha256"],
                     sender=_printable_or_none(sidecar.get("sender"), 200),
                     on_behalf_reason=_printable_or_none(sidecar.get("on_behalf_reason"), 500),
                     declared_quarter=_printable_or_none(sidecar.get("reporting_quarter"), 40))


def _printable_or_none(text: str | None, limit: int) -> str | None:
    return None if text is None else printable(text, limit)


def _sidecar(path: Path, folder: str, listed: Collection[str] = ()) -> tuple[dict, str | None]:
    """The file's sidecar, checked: ({}, None) when there is none; (fields, None); or ({}, what is wrong)."""
    sidecar_name, sidecar_path = path.name + SIDECAR, _sidecar_beside(path)
    if sidecar_name not in listed and not os.path.lexists(sidecar_path):
        return {}, None
    what = f"its sidecar {printable(sidecar_name)} (who sent it and when)"
    try:
        doc = json.loads(read_regular_file(sidecar_path, SIDECAR_LIMIT).decode("utf-8"))
    except InboxFileTooLarge:
        return {}, f"{what} is far larger than the tracker writes."
    except InboxEntryRefused as err:
        return {}, f"{what} is {err}."
    except OSError:
        return {}, f"{what} could not be opened."
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested beyond reason
        return {}, f"{what} is not valid JSON."
    if not isinstance(doc, dict):
        return {}, f"{what} is not the JSON object the tracker writes."
    wrong = []
    for key, kind in (("organisation_code", str), ("original_name", str), ("channel", str),
                      ("is_illustrative", bool), ("received_at", str), ("reference", str), ("sha256", str)):
        if not isinstance(doc.get(key), kind):
            wrong.append(key)
    for key in OPTIONAL_SIDECAR_KEYS:  # absent from sidecars written before they were kept
        if doc.get(key) is not None and not isinstance(doc[key], str):
            wrong.append(key)
    if wrong:
        return {}, f"{what} lacks or mistypes {', '.join(wrong)}."
    if doc["organisation_code"] != folder:
        return {}, f"{what} names {printable(doc['organisation_code'], 20)}, not the folder's {folder}."
    try:
        received = dt.datetime.fromisoformat(doc["received_at"])
    except ValueError:
        return {}, f"{what} has a received_at that is not a date and time."
    if received.tzinfo is not None:
        received = received.astimezone(dt.UTC).replace(tzinfo=None)
    if not HASH_PATTERN.match(doc["sha256"]) or doc["reference"] != submission_reference(folder, path.name,
                                                                                         doc["sha256"]):
        return {}, f"{what} does not match the file it sits beside (its reference or sha256 is not the tracker's)."
    return doc | {"received_at": received}, None


def archive_target(home: Path, file: InboxFile) -> Path:
    """Where an entry will be archived: its own name in the organisation's archive folder, or the first free
    ``<name>.<n>`` (an archived file is never overwritten). Chosen before the entry is recorded, so the record
    says where it goes and a run killed half way through the move finishes it there, never in a second place.
    Many entries recorded together choose theirs with ``ArchivePlaces``."""
    folder = _archive_folder(home, file)
    return folder / _free_name(file.path.name, lambda name: os.path.lexists(folder / name))


class ArchivePlaces:
    """``archive_target`` for the many entries of one run: each archive folder is listed once, and every place
    chosen is remembered, instead of asking twice a file whether a name is taken. The run holds the home, so
    nothing else adds a name meanwhile; a place found taken all the same when the entry is moved is chosen again
    there (``_put_in_archive``)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._taken: dict[Path, set[str]] = {}  # archive folder -> the names in it and the names chosen
        self._folders: dict[str, Path] = {}  # organisation code -> its archive folder

    def choose(self, file: InboxFile) -> Path:
        folder = self._folders.get(file.organisation_code)
        if folder is None:
            folder = self._folders[file.organisation_code] = _archive_folder(self.home, file)
        taken = self._names(folder)
        name = _free_name(file.path.name, taken.__contains__)
        taken.add(name)
        return folder / name

    def claim(self, path: Path) -> None:
        """A place an earlier run recorded for an entry this run moves there."""
        self._names(path.parent).add(path.name)

    def _names(self, folder: Path) -> set[str]:
        if folder not in self._taken:
            try:
                self._taken[folder] = set(os.listdir(folder))
            except FileNotFoundError:
                self._taken[folder] = set()
        return self._taken[folder]


def _archive_folder(home: Path, file: InboxFile) -> Path:
    code = file.organisation_code
    return archive_dir(home) / (code if ORGANISATION_FOLDER.match(code) else REFUSED_FOLDER)


def _free_name(name: str, taken: Callable[[str], bool]) -> str:
    """``name``, or the first ``<name>.<n>``, such that neither it nor its sidecar's name is ``taken``."""
    chosen, counter = name, 1
    while taken(chosen) or taken(chosen + SIDECAR):
        chosen = f"{name}.{counter}"
        counter += 1
    return chosen


@dataclass
class Archiving:
    """A processed entry to move out of the inbox: the bytes read and judged (``content``; None for an entry
    refused unread) and where its record says it goes (``target``); then where it went, or why it could not go."""

    file: InboxFile
    content: bytes | None = None
    target: Path | None = None
    archived: Path | None = None
    error: OSError | None = None


def archive_all(home: Path, entries: list[Archiving], made: set[str] | None = None) -> None:
    """Move processed entries (and their sidecars) out of the inbox; never overwrites an archived file.

    With ``content``, exactly those bytes are archived and the inbox file removed: the entry given the archive's
    name too, if it still holds them (``_linked_holding``), or else a copy of them written; without, the entry
    itself is moved as it is (a link stays a link, a folder a folder), never read. ``target`` is where the record
    says it goes (``archive_target``; chosen here when None). Each step can be repeated, so a run killed between
    two of them is finished by the next: the bytes are put at the target (kept if an earlier run put exactly them
    there), the inbox entry removed, then the sidecar moved (a sidecar left behind is finished by
    ``finish_archiving``). The entry leaves the inbox before its sidecar, so a file is never in the inbox without
    the sidecar that gives it its reference.

    Each step is taken for all the entries before the next: every archived name, and its bytes, is flushed to disk
    (``_flush_archived``) before any inbox name goes. The removals and the sidecars' moves after that are not
    flushed (three flushes a file were most of the time archiving took): if a crash undoes them, the next run finds
    the entry or its sidecar in the inbox, recorded, and finishes the move to the same place. An entry that cannot
    be moved gets its error, and the others go on.

    ``made``: the archive folders already made (or found), kept by the caller across its calls, and added to: one
    mkdir a folder for a whole intake, not one a folder each chunk (a national intake's 40,000 took 2 s).
    """
    made = set() if made is None else made
    for entry in entries:
        try:
            entry.archived = _put_in_archive(home, entry.file, entry.content, entry.target, made)
        except OSError as err:
            entry.error = err
    _flush_archived([entry for entry in entries if entry.error is None])
    for entry in [entry for entry in entries if entry.error is None]:
        try:
            _leave_inbox(entry.file, entry.archived, entry.content is not None)
        except OSError as err:
            entry.error = err


def _flush_archived(placed: list[Archiving]) -> None:
    """Every archived name, and the bytes under it, on disk: each file system the archive folders are on in one
    call where it can be (a flush a file and a folder was most of the time archiving took), else each file, then
    each folder."""
    folders = {_folder_of(entry.archived) for entry in placed}
    if not folders or _sync_file_systems(folders):
        return
    for entry in placed:
        if entry.content is not None:  # an entry refused unread, moved as it is, is never opened: its folder's
            try:  # flush keeps its new name
                sync_file(entry.archived)
            except OSError as err:  # kept in the inbox, with its error: the next run moves it
                entry.error = err
    for folder in folders:
        sync_folder(folder)


def _sidecar_beside(path: Path | str) -> str:
    """The name of a file's sidecar, beside it, as text: ``with_name`` makes and parses a new path, for each of a
    national intake's 61,000 files, three times."""
    return os.fspath(path) + SIDECAR


def _folder_of(path: Path | str) -> str:
    """The folder a path is in, as text: ``path.parent`` makes and parses a new path, for each of a national
    intake's 61,000 files, twice."""
    return os.path.dirname(path) or os.curdir


def _sync_file_systems(folders: set[str]) -> bool:
    """One ``syncfs`` for each file system the folders are on; False if a folder or a file system could not be."""
    devices: dict[int, str] = {}
    for folder in folders:
        try:
            devices.setdefault(os.stat(folder).st_dev, folder)
        except OSError:
            return False
    return all(sync_file_system(folder) for folder in devices.values())


def _put_in_archive(home: Path, file: InboxFile, content: bytes | None, target: Path | None,
                    made: set[str]) -> Path:
    if target is None:
        target = archive_target(home, file)
    folder = _folder_of(target)
    if folder not in made:
        os.makedirs(folder, exist_ok=True)
        made.add(folder)
    if content is not None:
        # The usual case first: nothing at the target yet, the inbox entry given its name. Only if that fails is
        # the target looked at: exactly these bytes, put there by an earlier, killed run, are kept; anything else
        # there is never overwritten.
        if not (_linked_holding(file.path, target, content) or _holds(target, content)):
            target.parent.mkdir(parents=True, exist_ok=True)  # in case it was removed since the intake made it
            if os.path.lexists(target):
                target = archive_target(home, file)
            if not _linked_holding(file.path, target, content):
                write_atomically(target, content)
    elif os.path.lexists(file.path):
        if os.path.lexists(target):
            target = archive_target(home, file)
        try:
            os.replace(file.path, target)
        except FileNotFoundError:  # its folder removed since the intake made it (else the entry has gone: raised)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(file.path, target)
    return target


def _leave_inbox(file: InboxFile, target: Path, read: bool) -> None:
    """The inbox's name for an entry put in the archive removed, then its sidecar moved beside it."""
    if read:
        try:
            os.unlink(file.path)
        except FileNotFoundError:
            pass
    beside = _sidecar_beside(target)
    if not os.path.lexists(beside):  # moved without asking first whether it is there: none (an entry dropped in
        with contextlib.suppress(FileNotFoundError):  # by hand) or gone (a run killed after moving it) is no error
            os.replace(_sidecar_beside(file.path), beside)


def _linked_holding(entry: Path, target: Path, content: bytes) -> bool:
    """Give the inbox entry the archive's name too, if it still holds exactly ``content`` (flushed to disk with the
    others archived with it, ``_flush_archived``).

    A second name for bytes already on disk, not a copy of them: writing a copy out took about a millisecond a
    file, most of the time a large build spent archiving. False, with nothing left at ``target``, whenever the
    copy must be written instead: the entry changed since it was read; is not a regular file of its own (a link,
    or a file with other names outside the inbox); could be changed later by someone else (another user's, or
    writable by others: dropped in by hand); is on another file system; or cannot be linked or read.
    """
    try:
        os.link(entry, target, follow_symlinks=False)  # fails if anything is at target: never overwrites
    except OSError:
        return False
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags)
        try:
            info = os.fstat(fd)
            held = (stat.S_ISREG(info.st_mode) and info.st_nlink == 2 and info.st_uid == os.geteuid()
                    and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and info.st_size == len(content)
                    and _read_all(fd, len(content)) == content)
        finally:
            os.close(fd)
    except OSError:
        held = False
    if not held:
        with contextlib.suppress(OSError):
            os.unlink(target)
    return held


def _read_all(fd: int, size: int) -> bytes:
    chunks, total = [], 0
    while total < size:
        chunk = os.read(fd, min(READ_CHUNK, size - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _holds(path: Path, content: bytes) -> bool:
    """Whether ``path`` is a regular file of exactly ``content`` (written there by an earlier, killed run)."""
    try:
        return read_regular_file(path, len(content)) == content
    except (OSError, InboxEntryRefused):
        return False


def left_sidecars(home: Path) -> list[tuple[Path, str | None]]:
    """Sidecars in organisations' inbox folders whose file has gone, with the reference each names (None when
    it names none): what a run killed between moving a file and its sidecar leaves."""
    found = []
    for folder in _entries(inbox_dir(home)):
        if not (folder.is_dir() and not folder.is_symlink() and ORGANISATION_FOLDER.match(folder.name)):
            continue
        inside = _scanned(folder)  # names first: a path made for each of a national inbox's entries took 0.6 s
        listed = {entry.name for entry in inside}
        for scanned in inside:
            if not scanned.name.endswith(SIDECAR) or _beside_in_listing(scanned.name, listed):
                continue
            entry = Path(scanned.path)
            if _file_beside(entry, listed):
                continue
            try:
                doc = json.loads(read_regular_file(entry, SIDECAR_LIMIT).decode("utf-8"))
                reference = doc.get("reference") if isinstance(doc, dict) else None
            except (OSError, InboxEntryRefused, ValueError, RecursionError):
                reference = None
            found.append((entry, reference if isinstance(reference, str) else None))
    return found


def finish_archiving(sidecar: Path, archived: Path) -> bool:
    """Move a sidecar left in the inbox beside its file in the archive (``archived``); False when that file is
    not there or already has a sidecar (then the sidecar is left as it is)."""
    beside = _sidecar_beside(archived)
    if not os.path.lexists(archived) or os.path.lexists(beside):
        return False
    os.replace(sidecar, beside)
    sync_folder(_folder_of(beside))
    return True


def archived_hashes(home: Path) -> set[str]:
    """sha256 of every archived return, from the sidecars (for not re-sending the demo's samples)."""
    hashes = set()
    for sidecar in archive_dir(home).glob(f"*/*{SIDECAR}"):
        try:
            hashes.add(json.loads(read_regular_file(sidecar, SIDECAR_LIMIT)).get("sha256"))
        except (ValueError, OSError, AttributeError, RecursionError):
            continue
    return hashes
