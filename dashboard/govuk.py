"""The GOV.UK Design System patterns the upload journey uses, as markup: error summary, summary list, confirmation
panel, inset text and the demo banner. Everything passed in that a sender controls must already be ``plain()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

STYLE = """
<style>
.govuk-error-summary { border: 5px solid #d4351c; padding: 15px 20px; margin: 10px 0 25px; }
.govuk-error-summary:focus { outline: 3px solid #ffdd00; }
.govuk-error-summary h2 { margin: 0 0 10px; font-size: 1.5rem; }
.govuk-error-summary ul { margin: 0; padding-left: 0; list-style: none; }
.govuk-error-summary li { margin-bottom: 6px; }
.govuk-error-summary a { color: #d4351c; font-weight: 700; }
.govuk-error-message { color: #d4351c; font-weight: 700; }
.govuk-problem { border-left: 5px solid #d4351c; padding: 4px 12px; margin: 8px 0; }
.govuk-summary-list { display: grid; grid-template-columns: minmax(10em, 30%) 1fr minmax(8em, 25%); margin: 0 0 20px;
                      border-top: 1px solid #b1b4b6; }
.govuk-summary-list dt, .govuk-summary-list dd { margin: 0; padding: 8px 10px 8px 0;
                                                 border-bottom: 1px solid #b1b4b6; }
.govuk-summary-list dt { font-weight: 700; }
.govuk-summary-list .changed { font-weight: 700; }
.govuk-panel { background: #00703c; color: #fff; padding: 25px; text-align: center; margin-bottom: 20px; }
.govuk-panel h2 { color: #fff; font-size: 2.2rem; margin: 0 0 10px; }
.govuk-panel strong { font-size: 1.6rem; letter-spacing: 0.05em; }
.govuk-inset-text { border-left: 10px solid #b1b4b6; padding: 10px 15px; margin: 15px 0; }
.demo-banner { border-left: 10px solid #f47738; background: #fff4ed; padding: 8px 12px; margin: 0 0 12px; }
</style>
"""


def error_summary(problems: Sequence[tuple[str, str]]) -> str:
    """'There is a problem', then one link per problem to where it is described on the page: (anchor, text)."""
    items = "".join(f'<li><a href="#{anchor}">{text}</a></li>' for anchor, text in problems)
    return ('<div class="govuk-error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">'
            f'<h2 id="error-summary-title">There is a problem</h2><ul>{items}</ul></div>')


def summary_list(rows: Iterable[tuple[str, str, str]], headings: tuple[str, str, str]) -> str:
    """Check your answers: each row is (key, value, the last accepted return's value or a note)."""
    cells = "".join(f"<dt>{key}</dt><dd>{value}</dd><dd>{before}</dd>" for key, value, before in rows)
    head = "".join(f'<dd><strong>{h}</strong></dd>' if i else f"<dt>{h}</dt>" for i, h in enumerate(headings))
    return f'<dl class="govuk-summary-list">{head}{cells}</dl>'


def panel(title: str, body: str) -> str:
    return f'<div class="govuk-panel"><h2>{title}</h2><div>{body}</div></div>'


def inset(body: str) -> str:
    return f'<div class="govuk-inset-text">{body}</div>'


def demo_banner() -> str:
    return ('<div class="demo-banner" role="note"><strong>DEMO MODE:</strong> no sign-in provider is configured, so '
            "you choose an ILLUSTRATIVE identity in the sidebar instead of signing in. Anyone can act as anyone: "
            "never run a real service like this.</div>")
