"""A source's files parsed one by one: in the run's process, or, for a long history, in processes of their own.

A full build at national size parses 520 weekly Pay snapshots, a gigabyte of JSON, and on one core that was a
fifth of the build. A parse is a function of the file alone (``FeedReader.parse``), so the files can be parsed
in children, one a core, while the run keeps what they send back: each child reads the bytes from the raw store
itself (checked against their sha256) and hands back only the parse. The answers come in the files' order, and
each is the one the run's own process would have made; a batch a child cannot do, the run does itself
(``tracker/answering_child.py``). Children are started only when there is enough to parse to pay for their start
(about half a second each) and only for a parse the child can find by its name.
"""

from __future__ import annotations

import importlib
import logging
import os
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tracker.answering_child import AnsweringChild, serve_batches
from tracker.parsing import FeedError
from tracker.process_exit import answer_on_stdout
from tracker.raw_store import RawStoreError, kept_path, read_kept
from tracker.warehouse import ListedFile, SourceFile

ELSEWHERE_FROM_BYTES = 48 * 1024 * 1024  # less than this to parse is done in the run's process
BATCH = 5  # files a child is sent at a time
AHEAD = 4  # batches a child may have waiting: bounds the parses held, and keeps the child busy meanwhile
MOST_PROCESSES = 4
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lost:
    """The raw store no longer holds the file's bytes (said for a person): the next run keeps them again."""

    problem: str


@dataclass(frozen=True)
class Unexpected:
    """The parse raised what it did not foresee: the exception's type, and its traceback for the run's log."""

    kind: str
    details: str


def parse_one(parse: Callable[[SourceFile], Any], store: Path, source: str, file: ListedFile) -> tuple[Any, Any]:
    """(the file, with its bytes once read; what became of it): its parse, the FeedError saying why it cannot be
    read, Lost or Unexpected."""
    try:
        content = read_kept(store, source, file.name, file.sha256)
    except RawStoreError as err:
        return file, Lost(str(err))
    read = SourceFile(Path(file.name), content, file.received_at)
    try:
        return read, parse(read)
    except FeedError as err:
        return read, err
    except Exception as err:  # noqa: BLE001 - one file's surprise must never stop the source
        return read, Unexpected(type(err).__name__, traceback.format_exc())


def processes_worth_starting(parse: Callable, store: Path, source: str, files: list[ListedFile]) -> int:
    """How many children to parse ``files`` in: none when there is little to parse, one core, or a parse a child
    cannot find by its name (a closure, a lambda, a test's stand-in)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if cores < 2 or _by_name(parse) is None:
        return 0
    size = 0
    for file in files:
        try:
            size += kept_path(store, source, file.sha256).stat().st_size
        except OSError:  # lost: parse_one says so, wherever it runs
            continue
    return min(cores, MOST_PROCESSES) if size >= ELSEWHERE_FROM_BYTES else 0


def _by_name(parse: Callable) -> tuple[str, str] | None:
    """(module, name) a child finds ``parse`` by, if it can."""
    module, name = getattr(parse, "__module__", None), getattr(parse, "__qualname__", "")
    if not module or module == "__main__" or "<" in name:
        return None
    try:
        return (module, name) if _found(module, name) is parse else None
    except (ImportError, AttributeError):
        return None


def _found(module: str, name: str) -> Any:
    found = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found


def parsed_in_batches(parse: Callable[[SourceFile], Any], store: Path, source: str, files: list[ListedFile],
                      processes: int = 0) -> Iterator[list[tuple[Any, Any]]]:
    """Each file and what became of it (``parse_one``), in batches, in the files' order; in ``processes``
    children (0: in this process). A file parsed elsewhere comes back without its bytes, as its ListedFile."""
    children: list[AnsweringChild] = []
    try:
        for _ in range(processes):
            children.append(AnsweringChild("tracker.parse_processes", (*_by_name(parse), str(store), source),
                                           f"parsing {source} files"))
    except OSError as failed:  # the run parses every file itself, as it always could
        log.warning(f"A process to parse {source} files in could not be started: {failed}")
        for child in children:
            child.close()
        children = []
    if not children:
        for start in range(0, len(files), BATCH):
            yield [parse_one(parse, store, source, file) for file in files[start:start + BATCH]]
        return
    processes = len(children)
    try:
        batches = [files[start:start + BATCH] for start in range(0, len(files), BATCH)]
        sent: deque[tuple[list[ListedFile], AnsweringChild | None]] = deque()
        for number, batch in enumerate(batches):
            if len(sent) >= processes * AHEAD:
                yield _answered(parse, store, source, *sent.popleft())
            child = children[number % processes]
            sent.append((batch, child if child.send(batch) else None))
        while sent:
            yield _answered(parse, store, source, *sent.popleft())
    finally:
        for child in children:
            child.close()


def _answered(parse, store: Path, source: str, batch: list[ListedFile],
              child: AnsweringChild | None) -> list[tuple[Any, Any]]:
    answer = child.answer() if child is not None else None
    if not isinstance(answer, list) or len(answer) != len(batch):  # the child has gone or failed on it: done here
        return [parse_one(parse, store, source, file) for file in batch]
    return list(zip(batch, answer, strict=True))


def _parse_batch(first: tuple[str, str, str, str], batch: list[ListedFile]) -> list[Any]:
    module, name, store, source = first
    parse = _found(module, name)
    return [parse_one(parse, Path(store), source, file)[1] for file in batch]


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    serve_batches(requests, answers, _parse_batch)


if __name__ == "__main__":  # as the module it is, not __main__: a Lost or Unexpected sent back must unpickle
    from tracker import parse_processes

    answer_on_stdout(parse_processes.serve)
