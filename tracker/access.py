"""Who may do what: the access file read, and every decision about a signed-in person made from their claims.

The decisions are plain functions of the identity provider's claims and the access file, so they are tested
without a browser and the pages only ask them. One access file (``tracker.settings.access_file()``) lists each
person by email or by the provider's subject, with a role and, for a department submitter, the organisations
they may submit for. Anyone not in the file is refused. The file holds people's addresses, so it is kept out of
the repository; ``data/returns/access.example.yaml`` shows the format with illustrative identities.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SUBMITTER, ANALYST, ADMINISTRATOR = "department submitter", "central analyst", "administrator"
ROLES = (SUBMITTER, ANALYST, ADMINISTRATOR)
ORGANISATION_CODE = re.compile(r"^[A-Z0-9]{1,16}$")
ACCESS_FILE_LIMIT = 1_048_576


class AccessFileError(ValueError):
    """The access file cannot be used: the message says where and how to fix it."""


@dataclass(frozen=True)
class Person:
    """One entry of the access file."""

    role: str
    email: str | None = None  # compared case-insensitively
    subject: str | None = None  # the provider's `sub` claim, compared exactly
    organisations: frozenset[str] = frozenset()
    name: str | None = None


@dataclass(frozen=True)
class AccessList:
    people: tuple[Person, ...] = ()
    source: str = ""  # where it was read from, for messages


@dataclass(frozen=True)
class Viewer:
    """The person using the dashboard, and what the access file allows them. Not signed in: ``role`` is None."""

    signed_in: bool = False
    identity: str = ""  # what names them in records: their email, else their subject
    display_name: str = ""
    role: str | None = None
    organisations: frozenset[str] = field(default_factory=frozenset)
    refusal: str | None = None  # why a signed-in person is refused (not in the access file)

    @property
    def sees_everything(self) -> bool:
        return self.role in (ANALYST, ADMINISTRATOR)

    @property
    def may_submit(self) -> bool:
        return self.role in (SUBMITTER, ADMINISTRATOR)

    def may_submit_for(self, organisation_code: str) -> bool:
        """A submitter only for their own organisations; an administrator for any (on a department's request)."""
        if self.role == ADMINISTRATOR:
            return bool(ORGANISATION_CODE.match(organisation_code or ""))
        return self.role == SUBMITTER and organisation_code in self.organisations

    def sees_values_of(self, organisation_code: str) -> bool:
        """Whether the values an organisation sent (problems, notes, file names) may be shown to this person."""
        return self.sees_everything or (self.role == SUBMITTER and organisation_code in self.organisations)

    @property
    def scope(self) -> tuple[str, ...]:
        """The organisations whose sent values this person may see, as a cache key: ("*",) for all, () for none."""
        if self.sees_everything:
            return ("*",)
        return tuple(sorted(self.organisations)) if self.role == SUBMITTER else ()

    @property
    def on_behalf(self) -> bool:
        """An administrator submits for a department only when it asks, and says why."""
        return self.role == ADMINISTRATOR


NOBODY = Viewer()


def read_access_file(path: Path) -> AccessList:
    """The access file, checked entry by entry; AccessFileError says which entry is wrong and how."""
    shown = path.name
    try:
        with open(path, "rb") as handle:
            text = handle.read(ACCESS_FILE_LIMIT + 1)
    except FileNotFoundError:
        raise AccessFileError(f"There is no access file at {shown}: nobody can sign in until an administrator "
                              "writes one (see data/returns/access.example.yaml).") from None
    except OSError:
        raise AccessFileError(f"The access file {shown} cannot be read.") from None
    if len(text) > ACCESS_FILE_LIMIT:
        raise AccessFileError(f"The access file {shown} is larger than 1 MB; it lists people, one short entry each.")
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise AccessFileError(f"The access file {shown} is not valid YAML"
                              + (f" (near line {line + 1})" if line is not None else "") + ".") from None
    entries = document.get("people") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise AccessFileError(f"The access file {shown} must have a list called 'people'.")
    people = [_person(entry, number, shown) for number, entry in enumerate(entries, start=1)]
    return AccessList(tuple(people), shown)


def _person(entry: object, number: int, shown: str) -> Person:
    where = f"Entry {number} of the access file {shown}"
    if not isinstance(entry, dict):
        raise AccessFileError(f"{where} is not a set of keys (email or subject, role, organisations).")
    unknown = sorted(set(entry) - {"email", "subject", "role", "organisations", "name"})
    if unknown:
        raise AccessFileError(f"{where} has keys the tracker does not know: {', '.join(map(str, unknown))}.")
    email, subject = entry.get("email"), entry.get("subject")
    if not (isinstance(email, str) and "@" in email) and not (isinstance(subject, str) and subject.strip()):
        raise AccessFileError(f"{where} needs an email address or a subject (the sign-in provider's id for them).")
    role = entry.get("role")
    if role not in ROLES:
        raise AccessFileError(f"{where} has role {role!r}; the role must be one of: {', '.join(ROLES)}.")
    organisations = entry.get("organisations") or []
    if not isinstance(organisations, list) or not all(
            isinstance(code, str) and ORGANISATION_CODE.match(code.strip().upper()) for code in organisations):
        raise AccessFileError(f"{where}: organisations must be a list of GOV.UK organisation codes, like [D10].")
    if role == SUBMITTER and not organisations:
        raise AccessFileError(f"{where} is a department submitter with no organisations: list the organisation "
                              "codes they submit for.")
    if role != SUBMITTER and organisations:
        raise AccessFileError(f"{where} is a {role}, who is not limited to organisations: remove its organisations.")
    name = entry.get("name")
    return Person(role=role, email=email.strip().lower() if isinstance(email, str) else None,
                  subject=subject.strip() if isinstance(subject, str) else None,
                  organisations=frozenset(code.strip().upper() for code in organisations),
                  name=str(name) if name is not None else None)


def viewer_for(claims: Mapping[str, object] | None, access: AccessList) -> Viewer:
    """What a signed-in person may do, from their claims: matched by subject, or by an email the provider has
    not said is unverified. Not signed in (no claims): NOBODY. Signed in but not listed: refused."""
    if not claims:
        return NOBODY
    subject = str(claims.get("sub") or "").strip()
    email = str(claims.get("email") or "").strip().lower()
    email_usable = bool(email) and claims.get("email_verified") is not False
    match = next((p for p in access.people if p.subject and subject and p.subject == subject), None)
    if match is None and email_usable:
        match = next((p for p in access.people if p.email and p.email == email), None)
    identity = email if email_usable else subject
    shown = str(claims.get("name") or "") or identity
    if match is None:
        return Viewer(signed_in=True, identity=identity, display_name=shown,
                      refusal="You are signed in, but you are not on the tracker's list of people who may use "
                              "these pages. If you send your department's returns, ask CDDO to add you.")
    return Viewer(signed_in=True, identity=identity or match.email or match.subject or "",
                  display_name=match.name or shown, role=match.role, organisations=match.organisations)
