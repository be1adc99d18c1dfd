"""Returns: whose return for the current quarter is in, late or missing, and which failed validation and why?"""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from dashboard import snapshot
from dashboard.components import (
    date,
    download_on_demand,
    headline,
    html,
    illustrative_notice,
    number,
    page_header,
    problem_line,
    return_heading,
    show_frame,
    source_line,
    status_text,
    table,
)
from dashboard.returns_list import choose_filters, choose_page, shown_caption, status_counts
from dashboard.sign_in import current_viewer

REJECTED_IN_FULL = 20  # the newest rejected returns shown with their problems; every problem is in the table
RECEIVED_COLUMNS = ["submission_ref", "organisation_name", "reporting_quarter", "status", "received_at", "file_name",
                    "channel", "summary", "is_current", "is_superseded", "duplicate_of", "is_illustrative"]


def received_list(scope: tuple[str, ...], filters: snapshot.ReturnsFilter) -> pd.DataFrame:
    """Every return the filters choose, as the table shows them: the download's rows, read only when asked."""
    every = snapshot.return_submissions(scope, filters, limit=None)[RECEIVED_COLUMNS]
    return every.assign(status=every["status"].map(status_text))


page_header("Returns", "whose return for the current quarter has arrived, which are late or missing and must be "
            "chased, and which returns failed validation and why?")

viewer = current_viewer()
current = snapshot.returns_status_current_quarter(viewer.scope)
received = snapshot.return_submission_counts(viewer.scope)  # every return received, by status
illustrative_notice(received, "Every return shown here is an ILLUSTRATIVE sample",
                    some="{n} of the {total} returns received are ILLUSTRATIVE samples, marked as such in each list")

if current.empty:
    st.info("No quarter has ended yet, so no return is due.")
else:
    first = current.iloc[0]
    quarter, deadline, as_of = first["reporting_quarter"], first["deadline"], first["as_of"]
    groups = current["status"].where(~current["status"].str.startswith("rejected"), "rejected")
    counts = groups.value_counts()
    st.header(f"{quarter}: due {date(deadline)}")
    shown = ["received", "received late", "rejected", "missing"] + (["due"] if "due" in counts else [])
    for column, status in zip(st.columns(len(shown)), shown, strict=False):
        with column:
            headline(f"{status_text(status)}", str(int(counts.get(status, 0))),
                     help=f"Of {len(current)} organisations expected to return for {quarter}")
    html(f"<p>{len(current)} organisations are expected to return. Reporting date {date(as_of)}: "
         + ("the deadline has passed." if as_of > deadline else f"{(deadline - as_of).days} days to the deadline.")
         + "</p>")

    st.subheader(f"Chasing list: {int(current['needs_chasing'].sum())} organisations to chase for {quarter}")
    chasing = current[current["needs_chasing"]][["organisation_name", "organisation_code", "department_name", "status",
                                                 "deadline", "days_late", "submissions", "rejected_submissions",
                                                 "last_status", "last_summary"]]
    table(chasing.assign(status=chasing["status"].map(status_text)), f"chasing-list-{quarter.replace(' ', '-')}.csv",
          download_label="Download the chasing list (CSV)", described_by="marts.returns_status",
          alt=f"Chasing list for {quarter}", pinned=("organisation_name",))
    # marked only when some return received for this quarter (those in force among them) is a sample
    in_quarter = snapshot.return_submission_counts(viewer.scope, snapshot.ReturnsFilter(quarter=quarter))
    source_line("Departments' returns received by the tracker, against data/returns/schedule.yaml", as_of,
                illustrative=bool(in_quarter["is_illustrative"].eq(True).any()))
    st.markdown("**Every expected organisation this quarter**")
    everyone = current[["organisation_name", "organisation_code", "department_name", "status", "received_at",
                        "submission_ref", "days_late"]]
    table(everyone.assign(status=everyone["status"].map(status_text)), "returns-current-quarter.csv",
          described_by="marts.returns_status", alt=f"Every organisation expected to return for {quarter}",
          pinned=("organisation_name",))

st.header("Returns that failed validation")
rejected = received[received["status"] == "rejected"]
rejected_count, private = int(rejected["returns"].sum()), int(rejected["not_shown"].sum())
if not rejected_count:
    st.success("✓ No return has failed validation.")
else:
    st.markdown(f"**{number(rejected_count)} {'return' if rejected_count == 1 else 'returns'} rejected.** Each "
                "problem says which row and column, the value sent, and how to put it right"
                + (f". What was sent is shown only to the organisation that sent it and to CDDO: sign in to see "
                   f"your own ({number(private)} of these are not shown to you)." if private else "."))
    visible = snapshot.return_submissions(viewer.scope, snapshot.ReturnsFilter(status="rejected", values_shown=True),
                                          limit=REJECTED_IN_FULL)
    problems = snapshot.return_problems(viewer.scope)
    if rejected_count - private > len(visible):
        st.caption(f"The newest {len(visible)} of the {number(rejected_count - private)} you may see, in full; every "
                   "problem is in the table below, and every rejected return under \"Every return received\" (choose "
                   "the status \"rejected\").")
    for _, submission in visible.iterrows():
        with st.container(border=True):
            # everything a sender controls (file name, values in messages) is shown as text, never as markup
            html(f"<p>{return_heading(submission)}</p>")
            mine = problems[problems["submission_ref"] == submission["submission_ref"]]
            html("<ul>" + "".join(f"<li>{problem_line(p)}</li>" for _, p in mine.iterrows()) + "</ul>")
    shown = problems.rename(columns={"value": "value_sent"})[
        ["submission_ref", "organisation_name", "reporting_quarter", "file_name", "received_at", "row_number",
         "column_letter", "column_name", "value_sent", "rule", "message", "is_current"]]
    st.markdown("**Every problem found**")
    table(shown, "return-problems.csv", described_by="marts.return_problems", alt="Every problem found in a return")

st.header("Every return received")
chosen = choose_filters(snapshot.return_submission_choices(), "received")
chosen_counts = (received if chosen == snapshot.EVERY_RETURN
                 else snapshot.return_submission_counts(viewer.scope, chosen))
total = int(chosen_counts["returns"].sum())
if not total:
    st.info("No return received matches these choices." if chosen != snapshot.EVERY_RETURN
            else "No return has been received yet.")
else:
    status_counts(chosen_counts)
    start = choose_page(total, chosen, "received")
    page = snapshot.return_submissions(viewer.scope, chosen, offset=start)
    st.caption(shown_caption(start, len(page), total, "returns received"))
    show_frame(page[RECEIVED_COLUMNS].assign(status=page["status"].map(status_text)),
               alt="Every return received: this page", described_by="marts.return_submissions")
    download_on_demand(partial(received_list, viewer.scope, chosen), "returns-received.csv",
                       f"Download all {number(total)} (CSV)")
