"""Benchmark: how long each dashboard page takes to render on the published snapshot.

Not a test (timing goals live here, not in unit tests). Run after `tracker demo`:

    python3 -m uv run python tests/benchmark_dashboard.py [rounds]

For each page it reports the first render on a fresh cache (every query goes to DuckDB) and the
median of later renders (queries served from the cache), as Streamlit's AppTest runs the script.
The goal is under one second per page on the shipped data.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")
from streamlit.testing.v1 import AppTest  # noqa: E402  (after the log level is set)

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGES = ["overview", "pay", "notify", "one_login", "forms", "data_sharing", "departments", "department", "returns",
         "data_quality"]
GOAL_SECONDS = 1.0


def main(rounds: int = 5) -> int:
    import streamlit as st

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["department"] = "D9"  # the department page shows one department, as when opened from the table
    at.run()  # imports and the first connection, not counted
    print(f"{'page':<14} {'fresh cache':>12} {'cached (median)':>16}")
    slow = []
    for page in PAGES:
        st.cache_data.clear()
        started = time.perf_counter()
        at.switch_page(f"app_pages/{page}.py").run()
        fresh = time.perf_counter() - started
        assert not at.exception, at.exception
        cached = []
        for _ in range(rounds):
            started = time.perf_counter()
            at.run()
            cached.append(time.perf_counter() - started)
        median = statistics.median(cached)
        print(f"{page:<14} {fresh:>11.2f}s {median:>15.2f}s")
        if fresh > GOAL_SECONDS:
            slow.append(page)
    print("every page under a second" if not slow else f"over a second on a fresh cache: {', '.join(slow)}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
