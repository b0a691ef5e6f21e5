"""A week's digest in words: as HTML for mail and the page, and as plain text.

Both forms are made from the same lines (:func:`lines`), so a mail's two
parts and the page say the same things with the same links. Links are
absolute, under the site's address, since a mail has no page to be relative
to. The mail's HTML is a document of its own that mail clients show as it
is: no script, no stylesheet, no image, nothing fetched.

A mail is rendered once per send and the unsubscribe link filled in per
subscriber: ``unsubscribe_url`` appears once in each form, as given (in the
HTML, escaped as an attribute, which leaves a URL or a placeholder without
``&<>"'`` unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from api.web.present import pct, votes
from api.web.templating import environment
from ledger.weeks import Week
from projections.digest_queries import Digest
from projections.models import Figures

SITE_NAME = "Verdict Ledger"
MINUS = "\u2212"


@dataclass(frozen=True)
class Line:
    """One item of a digest: what it says, and the page it links to.

    Attributes:
        title: The item's name (a comparison's two tools, or a tool's).
        detail: What happened to it, in one sentence.
        url: The absolute URL of its page.
    """

    title: str
    detail: str
    url: str


@dataclass(frozen=True)
class Section:
    """A heading, its items, and how many more the digest did not list."""

    heading: str
    lines: list[Line]
    more: int = 0


def tool_url(site_url: str, slug: str) -> str:
    """The absolute URL of a tool's page."""
    return f"{site_url.rstrip('/')}/tools/{quote(slug, safe='')}"


def compare_url(site_url: str, a: str, b: str) -> str:
    """The absolute URL of a comparison's page, its tools in the order given."""
    return f"{site_url.rstrip('/')}/compare/{quote(a, safe='')}/{quote(b, safe='')}"


def digest_url(site_url: str, week: str) -> str:
    """The absolute URL of a week's digest page."""
    return f"{site_url.rstrip('/')}/digests/{quote(week, safe='')}"


def share(figures: Figures, noun: str) -> str:
    """ "67% ship of 3 verdicts", or "no verdicts" while nothing is counted."""
    if not figures.total:
        return f"no {noun}s"
    return f"{pct(figures.ship_pct)} ship of {votes(figures.total, noun)}"


def _points(swing: float) -> str:
    sign = "+" if swing > 0 else MINUS
    return f"{sign}{pct(abs(swing)).rstrip('%')} points"


def sections(digest: Digest, site_url: str) -> list[Section]:
    """The digest's sections in reading order; only those with something in them."""
    found = []
    if digest.comparisons:
        found.append(
            Section(
                "New comparisons",
                [
                    Line(
                        f"{item.a_name} vs {item.b_name}",
                        item.question + (" (since retired)" if item.retired else ""),
                        compare_url(site_url, item.a, item.b),
                    )
                    for item in digest.comparisons
                ],
                digest.more_comparisons,
            )
        )
    if digest.verdicts:
        found.append(
            Section(
                "Panel verdicts that changed",
                [
                    Line(
                        item.name,
                        f"Panel: {share(item.before, 'verdict')} before the week, "
                        f"{share(item.after, 'verdict')} after it.",
                        tool_url(site_url, item.tool),
                    )
                    for item in digest.verdicts
                ],
                digest.more_verdicts,
            )
        )
    if digest.swings:
        found.append(
            Section(
                "Biggest community swings",
                [
                    Line(
                        item.name,
                        f"Community: {pct(item.before.ship_pct)} → "
                        f"{pct(item.after.ship_pct)} ship ({_points(item.swing)}; "
                        f"{votes(item.votes)} this week, "
                        f"{votes(item.after.total)} in all).",
                        tool_url(site_url, item.tool),
                    )
                    for item in digest.swings
                ],
            )
        )
    return found


def heading(digest: Digest) -> str:
    """The week's label and its days; "(so far)" while the week runs."""
    span = Week.parse(digest.week).span
    return f"Week {digest.week}: {span}" + ("" if digest.complete else " (so far)")


def subject(digest: Digest) -> str:
    """A mail's subject: the week, and what it brought in a few words."""
    parts = []
    if digest.comparisons:
        count = len(digest.comparisons) + digest.more_comparisons
        parts.append(votes(count, "new comparison"))
    if digest.verdicts:
        count = len(digest.verdicts) + digest.more_verdicts
        parts.append(votes(count, "verdict") + " changed")
    if digest.swings:
        parts.append(votes(len(digest.swings), "community swing"))
    said = ", ".join(parts) if parts else "a quiet week"
    return f"{SITE_NAME} weekly digest, {digest.week}: {said}"


QUIET = (
    "A quiet week: no comparisons were published, no panel verdict changed "
    "and no community share swung."
)


def _context(
    digest: Digest, site_url: str, unsubscribe_url: str | None
) -> dict[str, Any]:
    return {
        "digest": digest,
        "heading": heading(digest),
        "sections": sections(digest, site_url),
        "quiet": QUIET,
        "site_name": SITE_NAME,
        "site_url": site_url.rstrip("/") + "/",
        "page_url": digest_url(site_url, digest.week),
        "unsubscribe_url": unsubscribe_url,
    }


def render_html(
    digest: Digest, site_url: str, unsubscribe_url: str | None = None
) -> str:
    """The digest as a mail's HTML document (autoescaped, self-contained)."""
    template = environment().get_template("digest_mail.html")
    return template.render(_context(digest, site_url, unsubscribe_url))


def page_context(digest: Digest, site_url: str) -> dict[str, Any]:
    """What the digest page's template (``digest.html``) is rendered with."""
    return _context(digest, site_url, None)


def render_text(
    digest: Digest, site_url: str, unsubscribe_url: str | None = None
) -> str:
    """The digest as plain text: each item with its link on the line below."""
    out = [f"{SITE_NAME} weekly digest", heading(digest), ""]
    found = sections(digest, site_url)
    if not found:
        out += [QUIET, ""]
    for section in found:
        out += [section.heading.upper(), ""]
        for line in section.lines:
            out += [f"* {line.title}", f"  {line.detail}", f"  {line.url}", ""]
        if section.more:
            out += [f"  … and {section.more} more.", ""]
    out += [
        f"This digest on the web: {digest_url(site_url, digest.week)}",
        f"Every figure is computed from the ledger's log: {site_url.rstrip('/')}/",
    ]
    if unsubscribe_url is not None:
        out += ["", f"Unsubscribe: {unsubscribe_url}"]
    return "\n".join(out) + "\n"
