"""Fetching a platform's live public feed, safely: bounded in time and size, retried when that can help.

fetch() reads one address with httpx, streamed, and gives back its bytes exactly as served (with their
sha256 and the time they arrived), or raises FetchError with one plain sentence naming the address and
what happened. It retries, with back-off through stamina, only what may pass: a timeout, a connection
that failed, HTTP 5xx and 429; never another 4xx. Redirects are followed only to https (or to the
loopback address the tests serve from). check_format() refuses a body that is not the format the source
publishes: above all an HTML error page served with status 200.

In tests, ``stamina.set_testing(True, attempts=..., cap=True)`` makes the back-off waits instant.
No Dagster here.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import stamina
import yaml

MB = 1_000_000
DEFAULT_MAX_BYTES = 50 * MB
MAX_REDIRECTS = 5
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
USER_AGENT = "adoption-tracker (UK government common-platform adoption; public feeds only)"


class FetchError(Exception):
    """A feed that could not be fetched: ``url`` and ``problem`` (a phrase: "answered HTTP 500")."""

    def __init__(self, url: str, problem: str):
        super().__init__(f"The feed at {url} {problem}.")
        self.url = url
        self.problem = problem


@dataclass(frozen=True)
class Fetched:
    url: str  # the address asked for (a redirect's target is not kept apart)
    content: bytes  # byte for byte what the server sent (after undoing any transfer compression)
    sha256: str
    fetched_at: dt.datetime  # UTC, naive: when the whole body had arrived
    content_type: str  # as the server declared it; "" if it declared none


class _Retry(Exception):
    """A failure worth another attempt; ``problem`` says what happened, as FetchError would."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


def _allowed(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and (parts.hostname or "") in LOOPBACK)


def _megabytes(size: int) -> str:
    return f"{size / MB:g} MB"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def fetch(url: str, *, timeout_seconds: float = 20, max_bytes: int = DEFAULT_MAX_BYTES, attempts: int = 4,
          expect: str | None = None) -> Fetched:
    """The document at ``url``, or FetchError. ``expect`` ("json", "csv", "yaml") also runs check_format."""
    if not _allowed(url):
        raise FetchError(url, "is not an https address, and only https feeds are fetched")
    tried = 0
    try:
        for attempt in stamina.retry_context(on=_Retry, attempts=attempts, timeout=None,
                                             wait_initial=1.0, wait_max=30.0):
            with attempt:
                tried = attempt.num
                fetched = _fetch_once(url, timeout_seconds, max_bytes)
    except _Retry as exc:
        tries = f"{tried} attempt" + ("" if tried == 1 else "s")
        raise FetchError(url, f"{exc.problem}, {tries}") from exc
    if expect is not None:
        check_format(fetched, expect)
    return fetched


def _fetch_once(url: str, timeout_seconds: float, max_bytes: int) -> Fetched:
    started = time.monotonic()
    timed_out = _Retry(f"timed out after {_seconds(timeout_seconds)}")
    try:
        with httpx.Client(timeout=timeout_seconds, follow_redirects=False,
                          headers={"User-Agent": USER_AGENT}) as client:
            target = url
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", target) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        target = str(response.url.join(location))
                        if not _allowed(target):
                            raise FetchError(url, f"redirected to {target}, which is not an https address")
                        continue
                    _check_status(url, response)
                    content = _read_capped(url, response, max_bytes, started, timeout_seconds, timed_out)
                    return Fetched(
                        url=url,
                        content=content,
                        sha256=hashlib.sha256(content).hexdigest(),
                        fetched_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                        content_type=response.headers.get("content-type", ""),
                    )
            raise FetchError(url, f"redirected more than {MAX_REDIRECTS} times")
    except httpx.TimeoutException as exc:
        raise timed_out from exc
    except httpx.TransportError as exc:  # refused, reset, DNS, a broken connection
        raise _Retry(f"could not be reached ({type(exc).__name__}: {exc or 'no detail'})") from exc
    except httpx.HTTPError as exc:  # for example a body whose compression is broken: another try will not help
        raise FetchError(url, f"could not be read ({type(exc).__name__}: {exc})") from exc


def _check_status(url: str, response: httpx.Response) -> None:
    status = response.status_code
    if status == 200:
        return
    phrase = f"answered HTTP {status}" + (f" ({response.reason_phrase})" if response.reason_phrase else "")
    if status >= 500 or status == 429:
        raise _Retry(phrase)
    raise FetchError(url, phrase)


def _read_capped(url: str, response: httpx.Response, max_bytes: int, started: float, timeout_seconds: float,
                 timed_out: _Retry) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(url, f"is larger than {_megabytes(max_bytes)} ({_megabytes(int(declared))} declared), "
                              "so it was not read")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(url, f"is larger than {_megabytes(max_bytes)}, so reading it was stopped there")
        if time.monotonic() - started > timeout_seconds:  # a body that trickles in never ends otherwise
            raise timed_out
        chunks.append(chunk)
    return b"".join(chunks)


_NAMES = {"json": "JSON", "csv": "CSV", "yaml": "YAML"}


def check_format(fetched: Fetched, fmt: str) -> None:
    """Refuse (FetchError) a body that is not ``fmt``: an HTML page, binary, not UTF-8, cut short, empty."""
    if fmt not in _NAMES:
        raise ValueError(f"Unknown feed format {fmt!r}: expected one of {', '.join(_NAMES)}.")
    name = _NAMES[fmt]
    url = fetched.url
    content = fetched.content
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    media_type = fetched.content_type.split(";")[0].strip().lower()
    if media_type in ("text/html", "application/xhtml+xml") or head.startswith((b"<!doctype html", b"<html")) \
            or (head.startswith(b"<") and b"<html" in head):
        raise FetchError(url, f"returned an HTML page, not {name}")
    if not head:
        raise FetchError(url, f"returned an empty document, not {name}")
    if b"\x00" in content:
        raise FetchError(url, f"returned binary data, not {name}")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FetchError(url, f"returned text that is not UTF-8 (byte {exc.start}), not readable {name}") from exc
    if fmt == "json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise FetchError(url, f"returned JSON that is cut short or malformed (line {exc.lineno}, "
                                  f"column {exc.colno}: {exc.msg})") from exc
    elif fmt == "yaml":
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise FetchError(url, f"returned YAML that cannot be read ({str(exc).splitlines()[0]})") from exc
        if not isinstance(parsed, (dict, list)):
            raise FetchError(url, "returned YAML with no mapping or list in it")
    else:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        except csv.Error as exc:
            raise FetchError(url, f"returned CSV that is cut short or malformed ({exc})") from exc
        if not rows or len(rows[0]) < 2:
            raise FetchError(url, "returned CSV without a header row of columns")
