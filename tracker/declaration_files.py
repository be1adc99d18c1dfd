"""The declarations in the data folder: the YAML an operator writes (organisation aliases, targets, the returns
schedule, the live feeds, the skills figures' department names), read one way. A fault is said in words, naming
the file and the line, never as the parser's own message or a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SCHEDULE_FILE = Path("returns") / "schedule.yaml"  # when returns are due, who must send them, when to remind


class DeclarationError(ValueError):
    """A declaration file that cannot be used: what is wrong and where, for the person who keeps it."""


def read_declaration(path: Path, shown: str, *, missing_ok: bool = False) -> dict[str, Any]:
    """The document at ``path`` (called ``shown`` in messages, like data/targets.yaml): a mapping of sections, {}
    for an empty file, or for a missing one when ``missing_ok``."""
    try:
        content = Path(path).read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise DeclarationError(f"{shown} is missing: put it back (git has it).") from None
    except OSError as err:
        raise DeclarationError(f"{shown} cannot be read ({err.strerror or type(err).__name__}).") from None
    return parse_declaration(content, shown)


def parse_declaration(content: bytes, shown: str) -> dict[str, Any]:
    """A declaration's bytes as read (see ``read_declaration``)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DeclarationError(f"{shown} is not UTF-8 text: save it as UTF-8.") from None
    import yaml  # here: a process that never reads a declaration need not import it

    try:
        # libyaml's safe loader where PyYAML has it: the same documents, some five times faster (a national
        # register's generated alias file took 0.18 s)
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None)
        raise DeclarationError(f"{shown} is not valid YAML{at}" + (f" ({problem})" if problem else "")
                               + ": correct it.") from None
    except ValueError:  # YAML reads 2023-13-45 as a date and fails to make it
        raise DeclarationError(f"{shown} has a date that does not exist: correct it.") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise DeclarationError(f"{shown} must be sections written 'name: value', not a {_kind(document)}.")
    return document


def section(document: dict[str, Any], key: str, shown: str, kind: type = dict) -> Any:
    """A section of a declaration, empty when absent; a section of another kind is said in words."""
    value = document.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise DeclarationError(f"{shown}: {key} must be {'a list' if kind is list else 'sections of name: value'}, "
                               f"not a {_kind(value)}.")
    return value


def _kind(value: object) -> str:
    kinds = {list: "list", dict: "set of names and values", str: "piece of text", int: "number", float: "number",
             bool: "yes/no value"}
    return kinds.get(type(value), type(value).__name__)


def read_schedule(data_dir: Path) -> dict[str, Any]:
    """data/returns/schedule.yaml, read by the returns' assets and by the reminders."""
    return read_declaration(Path(data_dir) / SCHEDULE_FILE, f"data/{SCHEDULE_FILE.as_posix()}")
