"""The tracker's dashboard: progress against the Transformation Strategy targets.

Run with ``streamlit run dashboard/app.py`` (``tracker dashboard`` does it for
you). It reads only the published snapshot; see dashboard/snapshot.py.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import streamlit as st

from dashboard import govuk, sign_in
from dashboard.components import STYLE, date, escape, html
from dashboard.formatting import uk_timestamp
from dashboard.snapshot import SnapshotMissing, snapshot_info

PAGES = Path(__file__).parent / "app_pages"

st.set_page_config(page_title="Common platform adoption tracker",
                   layout="wide", initial_sidebar_state="auto")  # collapsed on narrow screens
html(STYLE + govuk.STYLE)

navigation = st.navigation({
    "Progress": [st.Page(PAGES / "overview.py", title="Overview", default=True)],
    "Platforms": [
        st.Page(PAGES / "pay.py", title="GOV.UK Pay", url_path="pay"),
        st.Page(PAGES / "notify.py", title="GOV.UK Notify", url_path="notify"),
        st.Page(PAGES / "one_login.py", title="GOV.UK One Login and Verify", url_path="one-login"),
        st.Page(PAGES / "forms.py", title="GOV.UK Forms", url_path="forms"),
        st.Page(PAGES / "data_sharing.py", title="Data sharing", url_path="data-sharing"),
    ],
    "Departments": [
        st.Page(PAGES / "departments.py", title="League table", url_path="departments"),
        st.Page(PAGES / "department.py", title="One department", url_path="department"),
        st.Page(PAGES / "skills.py", title="Skills and barriers", url_path="skills"),
    ],
    "Returns and trust": [
        st.Page(PAGES / "returns.py", title="Returns", url_path="returns"),
        st.Page(PAGES / "data_quality.py", title="Data quality and sources", url_path="data-quality"),
    ],
    "Send returns": [
        st.Page(PAGES / "send_return.py", title="Send a return", url_path="send-return"),
        st.Page(PAGES / "your_returns.py", title="Your returns", url_path="your-returns"),
    ],
})

html('<div class="govuk-banner">Common platform adoption tracker'
     '<span>Central Digital and Data Office · Government Transformation Strategy and Roadmap targets</span></div>')

if sign_in.demo_mode():
    html(govuk.demo_banner())  # on every screen while the demo's sign-in stands in for a real one
sign_in.sidebar()

try:
    info = snapshot_info()
    st.sidebar.markdown(f"**Reporting date:** {date(info.as_of)}"
                        + (f" ({escape(info.as_of_note)})" if info.as_of_note else "") + "  \n"
                        f"**Figures published:** {uk_timestamp(info.published_at)}  \n"
                        f"Snapshot {escape(info.version)}")
    navigation.run()
except SnapshotMissing as missing:
    st.error(str(missing))
except duckdb.Error:
    st.error("The published figures could not be read: they may come from an older version of the tracker. "
             "Run `tracker run` to publish them again, then reload this page.")
