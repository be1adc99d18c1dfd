"""Send a return: choose the organisation and quarter, download the template, upload, fix, check, confirm.

Follows the GOV.UK Design System's question pages, error summary, check answers and confirmation patterns.
What may be done is decided by dashboard/submission.py from the signed-in identity at every step.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from checks.return_contract import COLUMNS, MAX_FILE_BYTES, NUMBER, NUMBER_DECIMAL_PLACES, Quarter, open_quarters
from checks.return_templates import csv_template, xlsx_template
from dashboard import snapshot, submission
from dashboard.components import escape, html, is_blank, number, plain
from dashboard.formatting import uk_timestamp
from dashboard.govuk import error_summary, inset, panel, summary_list
from dashboard.receipt_sending import receipt_line, send_receipt
from dashboard.sign_in import submission_gate
from tracker import settings


def answer(value: object, kind: str) -> str:
    """An answer as the check page shows it: text as plain text, FTE to its decimals (412.5), counts whole."""
    if is_blank(value):
        return "–"
    if kind == "text":
        return plain(value)
    if kind == NUMBER:
        shown = number(value, NUMBER_DECIMAL_PLACES)
        return shown.rstrip("0").rstrip(".") if "." in shown else shown
    return number(value)


STATE = "send_return"

st.title("Send a return")
viewer = submission_gate()
if viewer is None:
    st.stop()
if not viewer.may_submit:
    st.error("Your role lets you read everything in the tracker but not send returns: each department sends its "
             "own. The Returns page and Your returns show what has been received.")
    st.stop()

journey = st.session_state.get(STATE)
if not journey or journey.get("identity") != viewer.identity:  # a new person starts afresh
    journey = st.session_state[STATE] = {"identity": viewer.identity, "step": "choose"}
names = snapshot.organisation_names()
# The reporting date every other page shows: the published snapshot's (a later run may have published as of
# another date than this server was started with); the server's own setting, or today, before anything is published.
try:
    as_of = dt.date.fromisoformat(snapshot.snapshot_info().as_of)
except (snapshot.SnapshotMissing, ValueError):
    as_of = settings.as_of_date()


def go(step: str, **changes) -> None:
    journey.update(step=step, **changes)
    st.rerun()


def organisation_label(code: str) -> str:
    return f"{names.get(code, 'unknown organisation')} ({code})"


def refused(err: submission.NotAllowed) -> None:
    html(error_summary([("refusal", escape(str(err)))]))
    html(f'<p id="refusal" class="govuk-error-message">{escape(str(err))}</p>')


# ------------------------------------------------------------------ 1. which organisation and quarter
if journey["step"] == "choose":
    st.markdown("Send your organisation's quarterly return on its adoption of the common platforms. It takes a few "
                "minutes: choose the organisation and quarter, fill in the template, upload it and check it.")
    if viewer.on_behalf:
        expected = snapshot.expected_submitters()
        choices = expected + sorted(set(names) - set(expected), key=lambda c: names[c])
        html(inset("You are an administrator: send a return only when a department asks you to, and say why. "
                   "The reason is recorded with the return."))
    else:
        choices = sorted(viewer.organisations, key=lambda c: names.get(c, c))
    quarters = list(reversed(open_quarters(as_of)))
    due = Quarter.containing(as_of).previous().label
    with st.form("choose"):
        organisation = st.selectbox("Which organisation is the return for?", choices,
                                    index=choices.index(journey["organisation"])
                                    if journey.get("organisation") in choices else 0,
                                    format_func=organisation_label)
        wanted = journey.get("quarter") or due
        quarter = st.selectbox("Which quarter is it for?", quarters,
                               index=quarters.index(wanted) if wanted in quarters else 0,
                               help="The financial-year quarter the figures are for.")
        reason = st.text_area("Why are you sending it on the department's behalf?", value=journey.get("reason", ""),
                              max_chars=submission.MAX_REASON_CHARACTERS,
                              help="For example: who asked, and when.") if viewer.on_behalf else ""
        chosen = st.form_submit_button("Continue", type="primary")
    if chosen:
        try:
            submission.authorise(viewer, organisation)
            if viewer.on_behalf and not reason.strip():
                raise submission.NotAllowed("Say why you are sending this return on the department's behalf.")
        except submission.NotAllowed as err:
            refused(err)
        else:
            go("upload", organisation=organisation, quarter=quarter, reason=reason, checked=None)

# ------------------------------------------------------------------ 2. the template and the upload
elif journey["step"] == "upload":
    code, quarter = journey["organisation"], journey["quarter"]
    html(f"<p><strong>Organisation:</strong> {plain(organisation_label(code))}<br>"
         f"<strong>Quarter:</strong> {escape(quarter)}</p>")
    if st.button("Change the organisation or quarter"):
        go("choose")
    st.subheader("1. Fill in the template")
    st.markdown("Download the template with your organisation and quarter already filled in, fill in row 2, and "
                "save it as Excel (.xlsx) or CSV UTF-8.")
    left, right = st.columns(2)
    with left:
        st.download_button("Download the Excel template", xlsx_template(sorted(names.items()), as_of, code, quarter),
                           file_name=f"return_{code}_{quarter.replace(' ', '_')}.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    with right:
        st.download_button("Download the CSV template", csv_template(code, quarter).encode("utf-8-sig"),
                           file_name=f"return_{code}_{quarter.replace(' ', '_')}.csv", mime="text/csv")
    st.subheader("2. Upload it")
    checked = journey.get("checked")
    if checked is not None and checked.problems:
        html(error_summary([(f"problem-{i}", plain(p.describe())) for i, p in enumerate(checked.problems, 1)]))
    uploaded = st.file_uploader(f"Upload the return (CSV or .xlsx, up to {MAX_FILE_BYTES // 1_048_576} MB)",
                                type=list(submission.ACCEPTED_TYPES),
                                max_upload_size=MAX_FILE_BYTES // 1_048_576)
    if checked is not None and checked.problems:
        html(f"<p><strong>Problems in {plain(checked.file_name)}</strong>: fix each one in the file, save it and "
             "upload it again.</p>")
        html("".join(f'<p id="problem-{i}" class="govuk-problem">{plain(p.describe())}</p>'
                     for i, p in enumerate(checked.problems, 1)))
    if st.button("Check the file", type="primary", disabled=uploaded is None):
        try:
            checked = submission.check_upload(viewer, code, quarter, uploaded.name, uploaded.getvalue(), names, as_of)
        except submission.NotAllowed as err:
            refused(err)
        else:
            go("upload" if checked.problems else "check", checked=checked)

# ------------------------------------------------------------------ 3. check your answers
elif journey["step"] == "check":
    checked: submission.Checked = journey["checked"]
    code = checked.organisation_code
    st.subheader("Check your return before sending it")
    last = snapshot.last_accepted_return(code, viewer.scope)
    previous = last.iloc[0].to_dict() if not last.empty else {}
    before = (f"Last accepted return ({escape(previous['reporting_quarter'])}, received "
              f"{uk_timestamp(previous['received_at'])}"
              + (", an ILLUSTRATIVE sample" if previous.get("is_illustrative") else "") + ")"
              if previous else "Last accepted return: none")
    figures = checked.figures
    rows = [("Organisation", plain(organisation_label(code)), ""), ("Quarter", escape(checked.quarter), ""),
            ("File", plain(checked.file_name), "")]
    changes = 0
    for column in COLUMNS[2:]:
        now, then = figures.get(column.name), previous.get(column.name)
        shown_now = answer(now, column.kind)
        shown_then = "" if not previous else answer(then, column.kind)
        if previous and str(shown_now) != str(shown_then):
            changes += 1
            shown_now = f'<span class="changed">{shown_now} (changed)</span>'
        rows.append((escape(column.label), shown_now, shown_then))
    html(summary_list(rows, ("Question", "This return", before)))
    if previous:
        st.markdown(f"**{changes} {'answer differs' if changes == 1 else 'answers differ'}** from the last accepted "
                    "return.")
    for warning in checked.warnings:
        html(inset(f"<strong>Check:</strong> {plain(warning.describe())}"))
    html("<p>By sending this return you confirm the figures are correct to the best of your knowledge.</p>")
    send, back = st.columns([1, 3])
    if back.button("Change the file"):
        go("upload", checked=None)
    if send.button("Confirm and send", type="primary"):
        try:
            stored = submission.send(viewer, checked, settings.tracker_home(), journey.get("reason", ""))
        except submission.NotAllowed as err:
            refused(err)
        else:
            go("done", reference=stored.reference, receipt=send_receipt(viewer, stored, organisation_label(code)))

# ------------------------------------------------------------------ 4. confirmation
else:
    html(panel("Return sent", f"Your reference number<br><strong>{escape(journey['reference'])}</strong>"))
    html(f"<p>{receipt_line(journey.get('receipt'))}</p>")
    st.subheader("What happens next")
    st.markdown("The tracker checks your return against the return contract, usually within a few minutes. "
                "The **Your returns** page then shows whether it was accepted, or what to fix if it was not. "
                "Quote your reference number if you contact CDDO about this return.")
    st.page_link("app_pages/your_returns.py", label="See your returns")
    if st.button("Send another return"):
        st.session_state[STATE] = {"identity": viewer.identity, "step": "choose"}
        st.rerun()
