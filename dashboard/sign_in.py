"""Who is using the dashboard: signed in through OpenID Connect (``st.login``), or, in the explicit local demo
mode only, one of the illustrative identities picked from the sidebar.

Every decision about what a person may see or do is made by ``tracker.access`` from their claims; this module
only finds the claims. Production sign-in is configured in the secrets file's ``[auth]`` section (see
``.streamlit/secrets.example.toml``). Without it, the submission pages refuse to run unless TRACKER_DEMO_SIGN_IN
is "on", and then every screen says the sign-in is a demonstration.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import streamlit as st

from dashboard.components import html, plain
from tracker import settings
from tracker.access import NOBODY, AccessFileError, AccessList, Viewer, read_access_file, viewer_for

log = logging.getLogger(__name__)
DEMO_CHOICE = "demo_identity"
NOT_SIGNED_IN = "Not signed in"
REQUIRED_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def _auth_section() -> Mapping:
    try:
        section = st.secrets.get("auth")
    except Exception:  # noqa: BLE001  no secrets file, or one Streamlit cannot parse: no provider
        return {}
    return section if isinstance(section, Mapping) else {}


def provider() -> str | None:
    """The configured sign-in provider: "" for the flat [auth] form, a name for [auth.<name>], None for none."""
    section = _auth_section()
    if all(section.get(key) for key in REQUIRED_PROVIDER_KEYS):
        return ""
    named = [name for name, value in section.items()
             if isinstance(value, Mapping) and all(value.get(key) for key in REQUIRED_PROVIDER_KEYS)]
    return named[0] if named else None


def demo_mode() -> bool:
    """The demo's picked identities stand in for sign-in only when switched on and no provider is configured."""
    return settings.demo_sign_in() and provider() is None


def access_list() -> AccessList:
    """Read on every use (a small file), so a change of access takes effect at once."""
    return read_access_file(settings.access_file())


def _claims() -> dict | None:
    if provider() is not None:
        try:
            if st.user.is_logged_in:
                return dict(st.user.to_dict())
        except Exception:  # noqa: BLE001  an unreadable login cookie counts as not signed in
            log.warning("The sign-in cookie could not be read; treated as not signed in.")
        return None
    if demo_mode():
        chosen = st.session_state.get(DEMO_CHOICE)
        if chosen and chosen != NOT_SIGNED_IN:
            return {"email": chosen, "email_verified": True, "sub": f"demo:{chosen}"}
    return None


def current_viewer() -> Viewer:
    """The person using this session and what they may do. An unusable access file refuses everyone signed in,
    with its reason (the public pages still show everything that is not a department's own values)."""
    claims = _claims()
    if not claims:
        return NOBODY
    try:
        access = access_list()
    except AccessFileError as err:
        return Viewer(signed_in=True, identity=str(claims.get("email") or claims.get("sub") or ""),
                      refusal=f"Nobody can use these pages just now: {err} Ask a tracker administrator.")
    return viewer_for(claims, access)


def sidebar() -> Viewer:
    """The sidebar's sign-in block on every page; returns who is using the session."""
    if demo_mode():
        st.sidebar.markdown("**DEMO sign-in** (no identity provider is configured; illustrative identities)")
        try:
            people = [p.email for p in access_list().people if p.email]
        except AccessFileError as err:
            st.sidebar.error(str(err))
            people = []
        st.sidebar.selectbox("Act as", [NOT_SIGNED_IN, *people], key=DEMO_CHOICE)
    viewer = current_viewer()
    if viewer.signed_in:
        with st.sidebar:
            html(f"<p>Signed in as {plain(viewer.display_name or viewer.identity)}"
                 + (f" ({viewer.role})" if viewer.role else "") + "</p>")
        if provider() is not None and st.sidebar.button("Sign out"):
            st.logout()
    elif provider() is not None and st.sidebar.button("Sign in to send a return"):
        st.login(provider() or None)
    return viewer
def submission_gate() -> Viewer | None:
    """The submission pages' door: the viewer when they may use the pages; otherwise the page says why (no sign-in
    provider and no demo switch, not signed in, or not on the access list) and None is returned."""
    if provider() is None and not settings.demo_sign_in():
        st.error("Sending returns needs sign-in, and no sign-in provider is configured, so these pages are switched "
                 "off. An administrator configures one in the secrets file (see .streamlit/secrets.example.toml); "
                 "for a local demonstration only, start the tracker with TRACKER_DEMO_SIGN_IN=on.")
        return None
    viewer = current_viewer()
    if not viewer.signed_in:
        if provider() is None:
            st.info("Choose an ILLUSTRATIVE identity under 'Act as' in the sidebar to try sending a return.")
        else:
            st.info("Sign in to send your organisation's return or see its returns.")
            if st.button("Sign in", type="primary"):
                st.login(provider() or None)
        return None
    if viewer.refusal:
        st.error(viewer.refusal)
        return None
    return viewer
