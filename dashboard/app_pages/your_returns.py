"""Your returns: what happened to each return your organisation sent (received, accepted, or rejected with what
to fix), whatever the reporting date. Outcomes come from the published snapshot; returns not yet checked, from the
inbox."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from dashboard import snapshot
from dashboard.components import (
    download_on_demand,
    escape,
    html,
    illustrative_notice,
    is_blank,
    number,
    plain,
    problem_line,
    return_heading,
    show_frame,
    status_tag,
    status_text,
)
from dashboard.formatting import uk_timestamp
from dashboard.returns_list import choose_filters, choose_page, shown_caption, status_counts
from dashboard.sign_in import submission_gate
from tracker import settings
from tracker.return_inbox import pending

IN_FULL = 20  # the newest returns of the page shown with what happened to them; all of the page in the table
OUTCOME_COLUMNS = ["submission_ref", "organisation_name", "reporting_quarter", "status", "received_at", "file_name",
                   "channel", "sender", "summary", "after_reporting_date"]


def outcome_card(sent: pd.Series) -> None:
    """One return and what happened to it: what to fix if rejected, else its summary."""
    with st.container(border=True):
        html(f"<p>{return_heading(sent)}</p>")
        problems = sent["problems"]
        if sent["status"] == "rejected" and problems is not None and len(problems):
            html("<p>What to fix:</p><ul>" + "".join(f"<li>{problem_line(p)}</li>" for p in problems) + "</ul>")
        elif not is_blank(sent["summary"]):
            html(f"<p>{plain(sent['summary'])}</p>")
        if sent["after_reporting_date"]:
            st.caption("Received after the tracker's reporting date: checked now, and counted in the figures "
                       "once the reporting date reaches it.")


def outcome_list(scope: tuple[str, ...], filters: snapshot.ReturnsFilter) -> pd.DataFrame:
    """Every return the filters choose, as the table shows them: the download's rows, read only when asked."""
    every = snapshot.return_outcomes(scope, filters, limit=None)[OUTCOME_COLUMNS]
    return every.assign(status=every["status"].map(status_text))


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

everything = snapshot.return_outcome_counts(viewer.scope)
if everything.empty and not waiting:
    st.info("No return has been received yet.")
elif not everything.empty:
    st.subheader("Checked")
    illustrative_notice(everything, "Returns marked ILLUSTRATIVE here are samples")
    chosen = choose_filters(snapshot.return_outcome_choices(viewer.scope), "yours")
    counts = everything if chosen == snapshot.EVERY_RETURN else snapshot.return_outcome_counts(viewer.scope, chosen)
    total = int(counts["returns"].sum())
    if not total:
        st.info("No return matches these choices.")
    else:
        status_counts(counts)
        start = choose_page(total, chosen, "yours")
        outcomes = snapshot.return_outcomes(viewer.scope, chosen, offset=start)
        st.caption(shown_caption(start, len(outcomes), total, "returns")
                   + (f" The first {IN_FULL} are shown in full, then all {number(len(outcomes))} in the table."
                      if len(outcomes) > IN_FULL else ""))
        for _, sent in outcomes.head(IN_FULL).iterrows():
            outcome_card(sent)
        show_frame(outcomes[OUTCOME_COLUMNS].assign(status=outcomes["status"].map(status_text)),
                   described_by="marts.return_outcomes", alt="Returns received for you: this page")
        download_on_demand(partial(outcome_list, viewer.scope, chosen), "your-returns.csv",
                           f"Download all {number(total)} (CSV)")
