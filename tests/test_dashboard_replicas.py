"""Several dashboard replicas read one published snapshot, and all move to a new publication without a restart."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import duckdb

from assets.publish import publish_snapshot
from tests.conftest import PROJECT
from tests.test_dashboard_browser import expected_figures, free_port, open_page

REPLICAS = 2


def start_replica(home, port: int) -> subprocess.Popen:
    """`tracker dashboard`, as the production service runs each replica."""
    log = (home / f"dashboard-{port}.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "dashboard", "--port", str(port)], cwd=PROJECT,
                               env={**os.environ, "TRACKER_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((home / f"dashboard-{port}.log").read_text()) from None
            time.sleep(0.5)


def test_replicas_serve_one_snapshot_and_follow_a_new_publication(built, tmp_path, browser):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(built["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copytree(built["home"] / "published", home / "published")
    ports = [free_port() for _ in range(REPLICAS)]
    replicas = [start_replica(home, port) for port in ports]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        figures = expected_figures(home)
        before = duckdb.connect(str(home / "published" / "tracker.duckdb"), read_only=True)
        first = before.execute("SELECT version FROM meta.snapshot").fetchall()[0][0]
        before.close()
        for port in ports:
            open_page(page, f"http://127.0.0.1:{port}/", figures["/"])
            page.get_by_text(f"Snapshot {first}").first.wait_for(timeout=30_000)

        with duckdb.connect(str(home / "warehouse.duckdb")) as warehouse:  # a run's last step, while they serve
            second = publish_snapshot(warehouse, home / "published", dt.date(2026, 1, 31))["version"]
        assert second != first
        for port in ports:  # each replica reads the new file on its next page load: no restart
            open_page(page, f"http://127.0.0.1:{port}/", figures["/"])
            page.get_by_text(f"Snapshot {second}").first.wait_for(timeout=30_000)
            assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        page.context.close()
        for replica in replicas:
            replica.terminate()
            replica.wait(timeout=30)
    for port in ports:
        log = (home / f"dashboard-{port}.log").read_text()
        assert "Traceback" not in log and "Error" not in log, log
