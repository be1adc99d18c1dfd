"""What the dashboard's accessibility checks accept, in one place: only failures in markup that Streamlit itself
generates, each named by the axe-core rule and the Streamlit element it is found in, with the reason.

tests/test_dashboard_browser.py runs axe-core (WCAG 2.2 A and AA rules) on every page and fails on any violation
that is not listed here, so an entry cannot hide a fault in the project's own markup or colours: a violation is
accepted only where every element it names is inside the listed Streamlit element. The README's "Accessibility
statement" lists the same items (a test checks it names each rule and element).
"""

from __future__ import annotations

from dataclasses import dataclass

# the WCAG 2.2 levels A and AA, as axe-core tags its rules
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")


@dataclass(frozen=True)
class KnownIssue:
    rule: str  # the axe-core rule id
    within: str  # a CSS selector: every failing element must be this element or inside it
    where: str  # in words
    why: str  # why it remains


KNOWN_ISSUES = (
    KnownIssue(
        rule="list", within='[data-testid="stSidebarNav"]', where="the page navigation in the sidebar",
        why="Streamlit's navigation puts each section of links in a <div> directly inside its <ul>, so the list "
            "holds elements other than list items (WCAG 1.3.1). Screen readers still read every link and its "
            "section heading; the markup is Streamlit's own and cannot be changed from the app."),
    KnownIssue(
        rule="listitem", within='[data-testid="stSidebarNav"]', where="the page navigation in the sidebar",
        why="The same navigation's links are <li> elements whose parent is that <div>, not the list (WCAG 1.3.1)."),
)
