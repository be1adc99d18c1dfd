"""A private PostgreSQL server (Debian's package, .ci/install-postgresql), started in a temporary folder.

Used by ``tracker bench`` to build the marts on PostgreSQL (bench/postgres_marts.py) and by the tests that need a
real server (tests/conftest.py's ``postgres`` fixture), so it lives with the bench, which must not import tests/.

``initdb`` and ``postgres`` refuse to run as root, so as root they run as the
``postgres`` user. The server listens on 127.0.0.1 only, on a free port, with
trust authentication for the one role it creates, and fsync off (a throwaway
server: nothing in it needs to survive a power cut). ``stop`` deletes it.

``pg_ctl`` starts the server as a daemon, so a bench or a test run killed before its ``stop`` (SIGTERM, SIGKILL,
a CI timeout) would leave it running, holding its memory and its folder. A small watchdog process started with it
(``_watch``) stops and deletes it once the process that started it has gone, however it went.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROLE = "tracker"
WATCH = "--stop-when-orphaned"  # the watchdog's command line: python -m bench.postgres_server WATCH FOLDER
NOT_INSTALLED = "PostgreSQL is not installed: run `sh .ci/install-postgresql`"
INITDB_GLOB = "/usr/lib/postgresql/*/bin/initdb"  # Debian puts the server's programs here, not on PATH


def installed() -> bool:
    """Whether Debian's PostgreSQL server is installed (a bench without it reports its figures as n/a)."""
    return bool(glob.glob(INITDB_GLOB))


def bin_dir() -> Path:
    """Where the server's programs are: the newest installed major version."""
    found = sorted(glob.glob(INITDB_GLOB), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError(f"{NOT_INSTALLED} (Debian's package).")
    return Path(found[-1]).parent


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    folder: Path
    port: int
    watchdog: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database on this server; returns its URL."""
        subprocess.run([str(bin_dir() / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE, name],
                       check=True, capture_output=True, text=True)
        return self.url(name)

    def stop(self) -> None:
        _stop_server(self.folder)
        if self.watchdog is not None:  # its pipe closed, it finds nothing left to stop and ends
            self.watchdog.stdin.close()
            try:
                self.watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:  # the pipe held open by a process forked from this one: not needed
                self.watchdog.kill()
                self.watchdog.wait()


def _stop_server(folder: Path) -> None:
    if (folder / "data").exists():
        subprocess.run(_as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast",
                                        "stop"]), capture_output=True, text=True)
    shutil.rmtree(folder, ignore_errors=True)


def _watch(folder: Path) -> subprocess.Popen:
    """The watchdog: it reads a pipe whose only writer is this process, and the end of it, which comes when this
    process closes it (``stop``) or is gone (whatever killed it), stops the server and deletes its folder. In a
    session of its own, so that the Ctrl-C that ends the bench does not end it first."""
    return subprocess.Popen([sys.executable, "-m", "bench.postgres_server", WATCH, str(folder)],
                            stdin=subprocess.PIPE, start_new_session=True, cwd=Path(__file__).resolve().parent.parent)


def start() -> PostgresServer:
    """Start a new server in a fresh temporary folder; the caller stops it."""
    folder = Path(tempfile.mkdtemp(prefix="tracker-pg-"))  # not under pytest's 0700 tree: the server user reads it
    # the watchdog first: whatever happens from here, neither the server nor its folder outlives this process
    server = PostgresServer(folder, _free_port(), _watch(folder))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        run = dict(check=True, capture_output=True, text=True)
        subprocess.run(_as_server_user([str(bin_dir() / "initdb"), "-D", str(folder / "data"), "-U", ROLE, "-A",
                                        "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]), **run)
        options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off " \
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        subprocess.run(_as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(folder / "data"), "-o", options,
                                        "-l", str(folder / "server.log"), "-w", "-t", "60", "start"]), **run)
    except BaseException:
        server.stop()
        raise
    return server


def postgres_target(url: str) -> dict[str, str]:
    """The environment that points the dbt profile's postgres output (assets/dbt/profiles.yml) at a database."""
    parts = urlparse(url)
    return {"TRACKER_DBT_TARGET": "postgres", "TRACKER_POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "TRACKER_POSTGRES_PORT": str(parts.port or 5432), "TRACKER_POSTGRES_USER": parts.username or "",
            "TRACKER_POSTGRES_PASSWORD": parts.password or "", "TRACKER_POSTGRES_DBNAME": parts.path.lstrip("/")}


def _watchdog_main(folder: Path) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while sys.stdin.buffer.read(1 << 12):  # nothing is ever written: this returns b"" at the pipe's end
        pass
    _stop_server(folder)


if __name__ == "__main__" and sys.argv[1:2] == [WATCH]:
    _watchdog_main(Path(sys.argv[2]))
