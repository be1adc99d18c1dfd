"""A private PostgreSQL server (Debian's package, .ci/install-postgresql), started in a temporary folder.

Used by ``tracker bench`` to build the marts on PostgreSQL (bench/postgres_marts.py) and by the tests that need a
real server (tests/conftest.py's ``postgres`` fixture), so it lives with the bench, which must not import tests/.

``initdb`` and ``postgres`` refuse to run as root, so as root they run as the
``postgres`` user. The server listens on 127.0.0.1 only, on a free port, with
trust authentication for the one role it creates, and fsync off (a throwaway
server: nothing in it needs to survive a power cut). ``stop`` deletes it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROLE = "tracker"
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

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database on this server; returns its URL."""
        subprocess.run([str(bin_dir() / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE, name],
                       check=True, capture_output=True, text=True)
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(_as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
                                        "stop"]), capture_output=True, text=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> PostgresServer:
    """Start a new server in a fresh temporary folder; the caller stops it."""
    folder = Path(tempfile.mkdtemp(prefix="tracker-pg-"))  # not under pytest's 0700 tree: the server user reads it
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    run = dict(check=True, capture_output=True, text=True)
    subprocess.run(_as_server_user([str(bin_dir() / "initdb"), "-D", str(folder / "data"), "-U", ROLE, "-A", "trust",
                                    "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]), **run)
    port = _free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " \
              "-c full_page_writes=off -c max_connections=100"
    subprocess.run(_as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(folder / "data"), "-o", options,
                                    "-l", str(folder / "server.log"), "-w", "-t", "60", "start"]), **run)
    return PostgresServer(folder, port)


def postgres_target(url: str) -> dict[str, str]:
    """The environment that points the dbt profile's postgres output (assets/dbt/profiles.yml) at a database."""
    parts = urlparse(url)
    return {"TRACKER_DBT_TARGET": "postgres", "TRACKER_POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "TRACKER_POSTGRES_PORT": str(parts.port or 5432), "TRACKER_POSTGRES_USER": parts.username or "",
            "TRACKER_POSTGRES_PASSWORD": parts.password or "", "TRACKER_POSTGRES_DBNAME": parts.path.lstrip("/")}
