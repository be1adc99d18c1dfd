"""The bench's private PostgreSQL server never outlives the process that started it (bench/postgres_server.py).

``pg_ctl`` starts the server as a daemon: before its watchdog, a bench killed before its ``stop`` left the server
running and its folder in /tmp. These tests start real servers (Debian's package, installed by .ci/run).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.postgres_server import start

ROOT = Path(__file__).resolve().parent.parent
STARTER = """
import signal, time
from bench.postgres_server import start
# SIGTERM ending the process, as in a bench started from a shell: a child inherits an ignored or blocked signal, and
# under the whole suite one reached here so (the starter outlived SIGTERM in a fresh-ci run)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
server = start()
print(server.folder, server.port, flush=True)
time.sleep(600)
"""


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _gone(folder: Path, port: int, within: float = 60) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not folder.exists() and not _accepts(port):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_server_whose_starter_is_killed_is_stopped_and_its_folder_deleted(how):
    starter = subprocess.Popen([sys.executable, "-c", STARTER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        folder_text, port_text = starter.stdout.readline().split()
        folder, port = Path(folder_text), int(port_text)
        assert folder.is_dir() and _accepts(port), "the server did not start"
        os.kill(starter.pid, how)  # no finally, no stop(): as a CI timeout or kill -9 ends a bench
        try:
            starter.wait(timeout=30)
        except subprocess.TimeoutExpired:
            held = [line for line in Path(f"/proc/{starter.pid}/status").read_text().splitlines()
                    if line.startswith(("SigBlk", "SigIgn", "SigCgt"))]
            pytest.fail(f"the starter outlived signal {how}: {held}")
        assert _gone(folder, port), f"the server on port {port} or its folder {folder} outlived its starter"
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()


def test_a_server_stopped_by_its_starter_leaves_nothing_and_its_watchdog_ends():
    server = start()
    assert _accepts(server.port) and (server.folder / "data").is_dir()
    server.stop()
    assert not server.folder.exists()
    assert not _accepts(server.port)
    assert server.watchdog.returncode == 0  # it ended of itself once its pipe closed, finding nothing to stop

