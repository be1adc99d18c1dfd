"""Every declaration file in the data folder, broken each way a person can break it: one sentence naming the file
and what to do, never the parser's own words or a Python error (tracker/declaration_files.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assets.targets import load_published_figures, load_targets
from tests.conftest import DATA
from tracker.declaration_files import DeclarationError, read_schedule
from tracker.feeds import load_feeds
from tracker.organisation_names import load_aliases
from tracker.reminders import reminder_days_before_deadline
from tracker.skills import load_department_names

READERS = {  # file in the data folder -> how the tracker reads it
    "organisation_aliases.yaml": load_aliases,
    "returns/schedule.yaml": read_schedule,
    "targets.yaml": load_targets,
    "feeds.yaml": lambda data: load_feeds(data / "feeds.yaml"),
    "skills/department_names.yaml": load_department_names,
}
BROKEN = {
    "not UTF-8": (b"\x89PNG\r\n\x1a\n\xff\xfe", "is not UTF-8 text: save it as UTF-8."),
    "not YAML": (b"names:\n  a: [1,\n b: }\n", "is not valid YAML at line 3"),
    "a list": (b"- just\n- a list\n", "must be sections written 'name: value', not a list."),
    "text": (b"just some words\n", "must be sections written 'name: value', not a piece of text."),
    "a date that does not exist": (b"when: 2023-02-30\n", "has a date that does not exist"),
}
PYTHON_WORDS = ("codec", "object has no attribute", "while parsing", "Traceback", "NoneType", "'str'", "'list'")


@pytest.fixture()
def data(tmp_path) -> Path:
    copy = tmp_path / "data"
    for name in READERS:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / name, copy / name)
    return copy


@pytest.mark.parametrize("name", READERS)
def test_the_shipped_declarations_read(data, name):
    READERS[name](data)


@pytest.mark.parametrize("fault", BROKEN)
@pytest.mark.parametrize("name", READERS)
def test_a_broken_declaration_is_said_in_words(data, name, fault):
    content, said = BROKEN[fault]
    (data / name).write_bytes(content)
    with pytest.raises(DeclarationError) as raised:
        READERS[name](data)
    message = str(raised.value)
    assert message.startswith(f"data/{name}") and said in message, message
    assert not any(word in message for word in PYTHON_WORDS), message


@pytest.mark.parametrize("name, content, said", [
    ("organisation_aliases.yaml", b"names: [a, b]\n", "names must be sections of name: value, not a list"),
    ("organisation_aliases.yaml", b"name_patterns:\n  '(unclosed': some-slug\n", "'(unclosed' is not a regular"),
    ("organisation_aliases.yaml", b"one_login:\n  clients: words\n", "one_login: clients must be sections"),
    ("skills/department_names.yaml", b"closed_on:\n  a-slug: soon\n", "closed_on for a-slug is not a date"),
    ("targets.yaml", b"targets: {a: b}\n", "targets must be a list, not a set of names and values"),
    ("targets.yaml", b"targets:\n  - just words\n", "entry 1 of targets must be fields"),
    ("targets.yaml", b"measures: [a]\n", "measures must be sections of name: value, not a list"),
])
def test_a_section_of_the_wrong_shape_is_named(data, name, content, said):
    (data / name).write_bytes(content)
    with pytest.raises(DeclarationError, match=f"data/{name}") as raised:
        READERS[name](data)
    assert said in str(raised.value)


def test_the_schedule_and_targets_keep_their_own_checks(data):
    (data / "returns" / "schedule.yaml").write_bytes(b"reminder_days_before_deadline: soon\n")
    with pytest.raises(ValueError, match="reminder_days_before_deadline: a whole number of days"):
        reminder_days_before_deadline(data)
    (data / "targets.yaml").write_bytes(b"published_figures:\n  - id: x\n")
    with pytest.raises(ValueError, match="published figure 1 \\(x\\) has no"):
        load_published_figures(data)
