"""Your returns: what happened to each return your organisation sent (received, accepted, or rejected with what
to fix), whatever the reporting date. Outcomes come from the published snapshot; returns not yet checked, from the
inbox."""

from __future__ import annotations

import streamlit as st

from dashboard import snapshot
from dashboard.components import (
    date,
    escape,
    html,
    illustrative_notice,
    is_blank,
    plain,
    problem_line,
    status_tag,
    status_text,
    table,
)
from dashboard.formatting import uk_timestamp
from dashboard.sign_in import submission_gate
from tracker import settings
from tracker.return_inbox import pending

st.title("Your returns")
viewer = submission_gate()
if viewer is None:
    st.stop()

everyone = viewer.sees_everything
mine = set(viewer.organisations)
st.markdown("What happened to every return received for " + ("any organisation (your role sees them all)"
                                                           if everyone else "your organisations") + ", newest first.")

waiting = [f for f in pending(settings.tracker_home())
           if f.refusal is None and (everyone or f.organisation_code in mine)]
if waiting:
    st.subheader("Received, waiting to be checked")
    for file in waiting:
        html(f"<p>{status_tag('received')} {escape(file.organisation_code)} · "
             f"{plain(file.declared_quarter or 'quarter to be read from the file')} · {plain(file.original_name)} · "
             f"received {uk_timestamp(file.received_at)} · reference {plain(file.reference)}</p>")
    st.caption("The tracker checks each return within a few minutes while its pipeline runs.")

outcomes = snapshot.return_outcomes(viewer.scope)
if outcomes.empty and not waiting:
    st.info("No return has been received yet.")
elif not outcomes.empty:
    st.subheader("Checked")
    illustrative_notice(outcomes, "Returns marked ILLUSTRATIVE here are samples")
    for _, sent in outcomes.head(20).iterrows():
        name = sent["organisation_code"] if is_blank(sent["organisation_name"]) else sent["organisation_name"]
        with st.container(border=True):
            html(f"<p>{status_tag(sent['status'])} <strong>{plain(name)}</strong> · "
                 f"{plain(sent['reporting_quarter'] or 'quarter unreadable')} · {plain(sent['file_name'])} · received "
                 f"{date(sent['received_at'])} · reference {plain(sent['submission_ref'])}"
                 + (' <strong class="tag tag-orange">ILLUSTRATIVE sample</strong>' if sent["is_illustrative"] else "")
                 + "</p>")
            problems = sent["problems"]
            if sent["status"] == "rejected" and problems is not None and len(problems):
                html("<p>What to fix:</p><ul>" + "".join(f"<li>{problem_line(p)}</li>" for p in problems) + "</ul>")
            elif not is_blank(sent["summary"]):
                html(f"<p>{plain(sent['summary'])}</p>")
            if sent["after_reporting_date"]:
                st.caption("Received after the tracker's reporting date: checked now, and counted in the figures "
                           "once the reporting date reaches it.")
    table(outcomes[["submission_ref", "organisation_name", "reporting_quarter", "status", "received_at", "file_name",
                    "channel", "sender", "summary", "after_reporting_date"]].assign(
        status=outcomes["status"].map(status_text)),
        "your-returns.csv", described_by="marts.return_outcomes", alt="Every return received for you")
