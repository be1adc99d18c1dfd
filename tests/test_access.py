"""Who may do what, decided from the sign-in claims and the access file alone (no browser)."""

from __future__ import annotations

import pytest

from tracker import settings
from tracker.access import (
    ADMINISTRATOR,
    ANALYST,
    NOBODY,
    SUBMITTER,
    AccessFileError,
    read_access_file,
    viewer_for,
)

ACCESS = """
people:
  - email: Returns@DWP.example.com
    role: department submitter
    organisations: [d10]
  - subject: "sub-moj-1"
    role: department submitter
    organisations: [D18, EA73]
  - email: analyst@example.com
    role: central analyst
  - email: admin@example.com
    role: administrator
"""


@pytest.fixture
def access(tmp_path):
    path = tmp_path / "access.yaml"
    path.write_text(ACCESS, encoding="utf-8")
    return read_access_file(path)


def test_a_submitter_may_submit_only_for_their_own_organisations(access):
    viewer = viewer_for({"email": "returns@dwp.example.com", "email_verified": True, "sub": "x"}, access)
    assert viewer.role == SUBMITTER and viewer.organisations == {"D10"}
    assert viewer.may_submit_for("D10")
    for other in ("D16", "D18", "d10", "", "D10 ", "../D10", "*"):
        assert not viewer.may_submit_for(other), other
    assert viewer.sees_values_of("D10") and not viewer.sees_values_of("D16")
    assert viewer.scope == ("D10",) and not viewer.sees_everything and not viewer.on_behalf


def test_a_subject_matches_before_an_email_and_never_changes_hands(access):
    viewer = viewer_for({"sub": "sub-moj-1", "email": "analyst@example.com"}, access)
    assert viewer.role == SUBMITTER and viewer.organisations == {"D18", "EA73"}


def test_an_email_the_provider_says_is_unverified_is_not_trusted(access):
    viewer = viewer_for({"sub": "someone", "email": "admin@example.com", "email_verified": False}, access)
    assert viewer.role is None and viewer.refusal and not viewer.may_submit


def test_an_analyst_sees_everything_and_submits_nothing(access):
    viewer = viewer_for({"email": "analyst@example.com"}, access)
    assert viewer.role == ANALYST and viewer.sees_everything and viewer.scope == ("*",)
    assert not viewer.may_submit and not viewer.may_submit_for("D10")


def test_an_administrator_submits_for_anyone_on_request_and_sees_everything(access):
    viewer = viewer_for({"email": "ADMIN@example.com"}, access)
    assert viewer.role == ADMINISTRATOR and viewer.on_behalf and viewer.sees_everything
    assert viewer.may_submit_for("D16") and not viewer.may_submit_for("not a code")


def test_someone_not_in_the_file_is_refused_and_nobody_signed_in_sees_no_values(access):
    stranger = viewer_for({"email": "someone@elsewhere.example", "sub": "abc"}, access)
    assert stranger.signed_in and stranger.role is None and "not on the tracker's list" in stranger.refusal
    assert stranger.scope == () and not stranger.may_submit_for("D10")
    assert viewer_for(None, access) == NOBODY and viewer_for({}, access) == NOBODY
    assert NOBODY.scope == () and not NOBODY.sees_values_of("D10")


@pytest.mark.parametrize("text, says", [
    ("people: [", "not valid YAML"),
    ("{}", "a list called 'people'"),
    ("people:\n  - role: central analyst\n", "email address or a subject"),
    ("people:\n  - email: a@example.com\n    role: boss\n", "role must be one of"),
    ("people:\n  - email: a@example.com\n    role: department submitter\n", "no organisations"),
    ("people:\n  - email: a@example.com\n    role: department submitter\n    organisations: [D10/../x]\n",
     "organisation codes"),
    ("people:\n  - email: a@example.com\n    role: central analyst\n    organisations: [D10]\n",
     "not limited to organisations"),
    ("people:\n  - email: a@example.com\n    role: central analyst\n    password: x\n", "does not know"),
    ("people:\n  - just a string\n", "not a set of keys"),
])
def test_a_wrong_access_file_says_which_entry_and_how_to_fix_it(tmp_path, text, says):
    path = tmp_path / "access.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AccessFileError, match=says):
        read_access_file(path)


def test_a_missing_access_file_refuses_with_a_plain_sentence(tmp_path):
    with pytest.raises(AccessFileError, match="no access file"):
        read_access_file(tmp_path / "absent.yaml")


def test_the_shipped_example_is_valid_and_illustrative():
    access = read_access_file(settings.PROJECT_DIR / "data" / settings.DEMO_ACCESS_FILE)
    assert {p.role for p in access.people} == {SUBMITTER, ANALYST, ADMINISTRATOR}
    assert all(p.email.endswith("@example.com") for p in access.people)  # never a real address
    assert all("ILLUSTRATIVE" in (p.name or "") for p in access.people)


def test_the_demo_switch_is_explicit(monkeypatch, tmp_path):
    monkeypatch.delenv("TRACKER_ACCESS_FILE", raising=False)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    for value in ("", "1", "yes", "true", "of"):
        monkeypatch.setenv("TRACKER_DEMO_SIGN_IN", value)
        assert not settings.demo_sign_in(), value
        assert settings.access_file() == tmp_path.resolve() / "access.yaml"
    monkeypatch.setenv("TRACKER_DEMO_SIGN_IN", " ON ")
    assert settings.demo_sign_in() and settings.access_file().name == "access.example.yaml"
    monkeypatch.setenv("TRACKER_ACCESS_FILE", str(tmp_path / "mine.yaml"))
    assert settings.access_file() == (tmp_path / "mine.yaml").resolve()
