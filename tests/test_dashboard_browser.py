"""The dashboard in a real browser: `streamlit run` on localhost, driven by Playwright in Debian's
headless Chromium (installed by .ci/run; no browser is downloaded).

Every page must show real figures from the snapshot, no error, no horizontal scrolling at 1280
pixels, and no axe-core violation of WCAG 2.2 A or AA other than those dashboard/accessibility.py
lists (Streamlit's own markup); a full-page screenshot of each is saved under tests/screenshots/
(git-ignored). At 390 pixels wide every page opens on its own content (the sidebar collapsed), with
charts inside the screen; at 1280 the league table's key measures show without scrolling sideways.
Then the pipeline publishes a new snapshot while the dashboard is serving, and neither side may fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from axe_playwright_python.sync_playwright import Axe

from dashboard.accessibility import KNOWN_ISSUES, WCAG_TAGS
from dashboard.components import number
from pipelines.cli import streamlit_command
from tests.conftest import AS_OF

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# As the machine's probe starts it: without the background-networking flags Chromium keeps calling out.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
WIDTH = 1280
NARROW = 390  # a phone held upright
AXE = Axe()  # axe-core, bundled with the package: nothing is downloaded

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def home(built, tmp_path_factory) -> Path:
    """A private copy of the demo's warehouse and snapshot, so publishing here disturbs no other test."""
    home = tmp_path_factory.mktemp("served_home")
    shutil.copy(Path(built["home"]) / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copytree(Path(built["home"]) / "published", home / "published")
    return home


@pytest.fixture(scope="module")
def server(home):
    port = free_port()
    log = (home / "streamlit.log").open("w")
    env = {**os.environ, "TRACKER_HOME": str(home)}
    process = subprocess.Popen(streamlit_command(port, "127.0.0.1"), stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((home / "streamlit.log").read_text()) from None
            time.sleep(0.5)
    yield {"url": url, "log": home / "streamlit.log"}
    process.terminate()
    process.wait(timeout=20)
    log.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def expected_figures(home: Path) -> dict[str, str]:
    """For each page, a figure it must show, read from the snapshot it serves."""
    con = duckdb.connect(str(home / "published" / "tracker.duckdb"), read_only=True)
    try:
        def headline(metric):
            return number(con.execute("SELECT latest_value FROM marts.platform_headlines WHERE metric = ?",
                                      [metric]).fetchone()[0])

        departments = con.execute("SELECT count(*) FROM marts.department_league").fetchone()[0]
        chase = con.execute("SELECT count(*) FROM marts.returns_status WHERE is_current_quarter AND needs_chasing"
                            ).fetchone()[0]
        passed = con.execute("SELECT count(*) FROM meta.check_results WHERE outcome = 'passed'").fetchone()[0]
        skills_share = con.execute("SELECT arg_max(ddat_share_pct, as_at) FROM marts.digital_capacity_national"
                                   ).fetchone()[0]
        return {
            "/": headline("pay_live_services"),
            "/pay": f"to {headline('pay_live_services')} between",
            "/notify": headline("notify_agreements_signed"),
            "/one-login": f"{headline('one_login_services_onboarded')} services onboarded by",
            "/forms": headline("forms_live_forms"),
            "/data-sharing": f"{headline('apis_published')} APIs in the cross-government catalogue",
            "/departments": f"{departments} of {departments} departments",
            "/department?department=D9": "Department for Transport",
            "/skills": f"{skills_share:.2f}%",
            "/returns": f"Chasing list: {chase} organisations to chase",
            "/data-quality": f"{passed}",  # the count of passed checks beside its tag
        }
    finally:
        con.close()


def open_page(page, url: str, figure: str) -> None:
    page.goto(url)
    page.get_by_text("What this page answers").first.wait_for(timeout=60_000)
    page.get_by_text(figure).first.wait_for(timeout=30_000)


def settle(page) -> None:
    """Wait until the script has finished and nothing is faded as stale (a faded element fails contrast)."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')"
                           " && !document.querySelector('[data-stale=true]')", timeout=60_000)
    page.wait_for_timeout(300)


def accessibility_problems(page) -> list[str]:
    """axe-core's WCAG 2.2 A and AA violations on the page as it is now, less those dashboard/accessibility.py
    accepts: a violation is accepted only where each element it names is inside the Streamlit element listed."""
    results = AXE.run(page, options={"runOnly": {"type": "tag", "values": list(WCAG_TAGS)},
                                     "resultTypes": ["violations"]}).response
    problems = []
    for violation in results["violations"]:
        within = [known.within for known in KNOWN_ISSUES if known.rule == violation["id"]]
        for node in violation["nodes"]:
            accepted = bool(within) and len(node["target"]) == 1 and page.evaluate(
                "([target, within]) => { const e = document.querySelector(target);"
                " return !!e && within.some(s => e.closest(s) !== null); }", [node["target"][0], within])
            if not accepted:
                problems.append(f"{violation['id']} ({violation['impact']}): {violation['help']}; "
                                f"{node['target']}: {node['html'][:160]}")
    return problems


def open_every_expander(page) -> None:
    """Open each table view, so the checks see the tables too."""
    for summary in page.locator('[data-testid="stExpander"] summary').all():
        summary.click()
    settle(page)


def horizontal_overflow(page) -> int:
    return page.evaluate("""Math.max(...Array.from(document.querySelectorAll(
        'html, body, [data-testid=stApp], [data-testid=stAppViewContainer], [data-testid=stMain]'))
        .map(e => e.scrollWidth - e.clientWidth))""")


def full_screenshot(page, path: Path) -> None:
    """Streamlit scrolls an inner pane, so grow the window to the content before a full-page screenshot."""
    page.wait_for_load_state("networkidle")
    height = page.evaluate("Math.max(...Array.from(document.querySelectorAll('*')).map(e => e.scrollHeight))")
    page.set_viewport_size({"width": WIDTH, "height": min(int(height), 20_000)})
    page.wait_for_timeout(800)  # let charts redraw at the new size
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": WIDTH, "height": 900})


def test_every_page_in_chromium(server, home, page):
    SCREENSHOTS.mkdir(exist_ok=True)
    inaccessible = {}
    for path, figure in expected_figures(home).items():
        open_page(page, server["url"] + path, figure)
        assert page.locator('[data-testid="stException"]').count() == 0, path
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0, path
        assert horizontal_overflow(page) <= 0, f"{path} scrolls sideways at {WIDTH} pixels"
        settle(page)
        inaccessible[path] = accessibility_problems(page)
        open_every_expander(page)
        inaccessible[path] += [f"with the table views open: {p}" for p in accessibility_problems(page)]
        name = path.strip("/").split("?")[0] or "overview"
        full_screenshot(page, SCREENSHOTS / f"{name}.png")
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 20_000
    found = {path: problems for path, problems in inaccessible.items() if problems}
    assert not found, "axe-core violations not in dashboard/accessibility.py:\n" + "\n".join(
        f"{path}: {p}" for path, problems in found.items() for p in problems)


def test_narrow_screen_opens_on_the_page_itself(server, home, browser):
    """At 390 pixels the sidebar starts collapsed, the page's heading is on screen and uncovered, nothing
    scrolls sideways, every chart fits the screen, and axe-core finds nothing new."""
    context = browser.new_context(viewport={"width": NARROW, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    problems = []
    try:
        for path, figure in expected_figures(home).items():
            open_page(page, server["url"] + path, figure)
            settle(page)
            state = page.evaluate("""() => {
                const sidebar = document.querySelector('[data-testid=stSidebar]').getBoundingClientRect();
                const heading = document.querySelector('h1');
                const box = heading.getBoundingClientRect();
                const atCentre = document.elementFromPoint(box.left + Math.min(box.width, 120) / 2,
                                                           box.top + box.height / 2);
                const charts = Array.from(document.querySelectorAll('[data-testid=stVegaLiteChart]'))
                    .map(chart => chart.querySelector('svg, canvas'))
                    .filter(drawn => drawn).map(drawn => drawn.getBoundingClientRect())
                    .map(r => [Math.round(r.left), Math.round(r.right), Math.round(r.width)]);
                return {sidebarRight: sidebar.right, sidebarWidth: sidebar.width, top: box.top,
                        bottom: box.bottom, covered: atCentre === null || !heading.contains(atCentre), charts};
            }""")
            if state["sidebarRight"] > 0 and state["sidebarWidth"] > 0:
                problems.append(f"{path}: the sidebar is open on first load")
            if not (0 <= state["top"] and state["bottom"] <= 844) or state["covered"]:
                problems.append(f"{path}: the page's heading is off screen or covered: {state}")
            if horizontal_overflow(page) > 0:
                problems.append(f"{path}: scrolls sideways at {NARROW} pixels")
            problems += [f"{path}: a chart is clipped ({left} to {right} px)" for left, right, width in state["charts"]
                         if left < 0 or right > NARROW or width < 200]
            problems += [f"{path} at {NARROW} px: {p}" for p in accessibility_problems(page)]
            name = path.strip("/").split("?")[0] or "overview"
            page.screenshot(path=str(SCREENSHOTS / f"narrow-{name}.png"))
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_league_table_key_measures_show_at_1280_pixels(server, home, page):
    """The grid draws only the columns on screen (and lists them in its accessible table): each key measure is
    there, and so is the column after them, so none of them is cut off at the right."""
    open_page(page, server["url"] + "/departments", expected_figures(home)["/departments"])
    settle(page)
    # the grid lists its columns in its accessible table once drawn, which on a busy machine can come after the
    # script has settled
    cells = page.locator('[data-testid="stDataFrame"]').first.locator("th")
    cells.first.wait_for(state="attached", timeout=30_000)
    headings = cells.all_inner_texts()
    key = ["Department", "Platforms (of 4)", "Pay services", "One Login", "APIs", "Adoption rate", "Own return",
           "To chase"]
    assert headings[:len(key)] == key and len(headings) > len(key), headings


def test_status_is_never_colour_alone(server, home, page):
    open_page(page, server["url"] + "/", expected_figures(home)["/"])
    settle(page)  # the page before may still be on screen: wait until this one has finished drawing
    tags = page.locator("strong.tag")
    tags.first.wait_for(timeout=30_000)
    assert tags.count() > 10
    for text in tags.all_inner_texts():
        assert text.strip()[0] in "✓✗!?–…■I", text  # a symbol, then a word


def test_the_whole_list_of_returns_downloads_when_asked(server, home, page):
    """The Returns page's download is built by the server only when the button is pressed (Streamlit's deferred
    download, in a thread of its own): the file holds every return received, and nothing a viewer not signed in
    may not see."""
    import csv
    import io

    con = duckdb.connect(str(home / "published" / "tracker.duckdb"), read_only=True)
    try:
        refs = [r for (r,) in con.execute("SELECT submission_ref FROM marts.return_submissions "
                                          "ORDER BY received_at DESC, submission_ref DESC").fetchall()]
    finally:
        con.close()
    open_page(page, server["url"] + "/returns", expected_figures(home)["/returns"])
    settle(page)
    button = page.get_by_role("button", name=f"Download all {number(len(refs))} (CSV)")
    with page.expect_download(timeout=60_000) as pressed:
        button.click()
    download = pressed.value
    assert download.suggested_filename == "returns-received.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_bytes().decode("utf-8-sig"), newline="")))
    assert [r["Reference"] for r in rows] == refs
    assert not [r for r in rows if r["File"] or r["What happened"]]  # sent values: not to someone not signed in
    assert {r["Status"][:1] for r in rows} <= set("✓✗!■")


PUBLISH_AGAIN = """
import sys, time
from pathlib import Path
import dagster as dg
from pipelines.definitions import defs
from tracker import settings

job = defs.resolve_job_def("refresh_all")
for _ in range(int(sys.argv[1])):
    if (settings.dagster_home() / "dagster.yaml").exists():  # the home's own instance: its latest check results
        instance = dg.DagsterInstance.get()
    else:
        instance = dg.DagsterInstance.ephemeral()
    with instance:
        result = job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("published_snapshot")],
                                        raise_on_error=False)
    if not result.success:
        sys.exit("publication failed")
    print(result.asset_materializations_for_node("published_snapshot")[0].metadata["version"].value, flush=True)
    time.sleep(2)
"""


def test_pages_and_a_reader_keep_reading_through_three_publications(server, home, page, monkeypatch):
    """The publish step runs three times (each swapping a new snapshot in and changing the manifest's version)
    while the browser keeps loading pages and a reader opens the snapshot in a tight loop exactly as the dashboard
    does (dashboard/snapshot.py: the manifest's version, then a short-lived read-only connection, retried briefly
    on a lock): no error on either side, and the reader read every version published."""
    import threading

    from dashboard import snapshot

    monkeypatch.setenv("TRACKER_HOME", str(home))
    before = snapshot.snapshot_info().version
    reads, errors, seen, stop = [0], [], set(), threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                named = snapshot.snapshot_info().version
                con = snapshot._connect()
                try:
                    [(version,)] = con.execute("SELECT version FROM meta.snapshot").fetchall()
                    con.execute("SELECT count(*), sum(latest_value) FROM marts.platform_headlines").fetchall()
                    con.execute("SELECT count(*) FROM marts.returns_status").fetchall()
                finally:
                    con.close()
                seen.add(version)
                seen.add(named)
                reads[0] += 1
            except Exception as err:  # noqa: BLE001  every failure is counted, and the test fails on any
                errors.append(f"{type(err).__name__}: {err}")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    env = {**os.environ, "TRACKER_HOME": str(home), "TRACKER_AS_OF": AS_OF, "DAGSTER_HOME": str(home / "dagster")}
    publisher = subprocess.Popen([sys.executable, "-c", PUBLISH_AGAIN, "3"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
    figures = expected_figures(home)
    loads = 0
    try:
        while publisher.poll() is None or loads < 3:
            for path in ("/", "/returns", "/pay"):
                open_page(page, server["url"] + path, figures[path])
                assert page.locator('[data-testid="stException"]').count() == 0
                assert page.locator('[data-testid="stAlertContentError"]').count() == 0
                loads += 1
    finally:
        stop.set()
        reader.join(timeout=30)
        published, problems = publisher.communicate(timeout=300)
    versions = published.split()
    print(f"\n{len(versions)} publications, {loads} page loads, {reads[0]} reads by the reader, {len(errors)} errors")
    assert publisher.returncode == 0, problems
    assert len(set(versions)) == 3 and before not in versions
    assert json.loads((home / "published" / "manifest.json").read_text())["version"] == versions[-1]
    assert errors == [], errors[:5]
    assert set(versions) <= seen, "the reader did not read every publication"
    open_page(page, server["url"] + "/", figures["/"])
    page.get_by_text(f"Snapshot {versions[-1]}").first.wait_for(timeout=30_000)
    log = server["log"].read_text()
    assert "Traceback" not in log and "Error" not in log, log
