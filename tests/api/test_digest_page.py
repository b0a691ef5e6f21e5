"""A week's digest over HTTP: the page, the JSON, and the mail's two forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import msgspec
import pytest
from litestar.testing import TestClient

from api import create_app
from api.web.digest_render import render_html, render_text, subject
from ledger.application import Ledger
from ledger.weeks import Week
from projections.digest_queries import Digest
from tests.api.helpers import ledger_settings, settings_for
from tests.api.test_browser_security import InlineCode
from tests.digest_weeks import HOSTILE, store, three_weeks
from tests.stores import Store

SITE = "https://verdicts.example"
UNSUBSCRIBE = "%%UNSUBSCRIBE-LINK%%"


@pytest.fixture
def client(event_store: Store) -> Iterator[TestClient]:  # type: ignore[type-arg]
    """The app over the three weeks' log, published at :data:`SITE`."""
    home = event_store.settings.home
    ledger = Ledger(ledger_settings(home))
    try:
        store(ledger, three_weeks())
    finally:
        ledger.close()
    with TestClient(app=create_app(settings_for(home, public_url=SITE))) as client:
        yield client


class Links(HTMLParser):
    """Every ``href`` of a page, and whether it has a script or style of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        if tag in ("script", "style") or "style" in found:
            self.inline.append(tag)


def _links(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def _digest_links(html: str) -> list[str]:
    return [href for href in _links(html).hrefs if href.startswith(SITE)]


W48_LINKS = [
    f"{SITE}/compare/beta/gamma",
    f"{SITE}/tools/beta",
    f"{SITE}/tools/gamma",
    f"{SITE}/tools/alpha",
    f"{SITE}/tools/alpha",
    f"{SITE}/tools/beta",
    f"{SITE}/tools/gamma",
]
"""W48's items in order: one comparison, three verdicts, three swings."""


def test_the_page_shows_the_week_with_absolute_links_in_the_site_layout(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    page = client.get("/digests/2026-W48")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    html = page.text
    assert "Week 2026-W48: 23\u201329 November 2026" in html
    assert 'class="site-header"' in html  # base.html's layout
    links = _digest_links(html)
    assert links[: len(W48_LINKS)] == W48_LINKS
    assert f"{SITE}/digests/2026-W47" in links  # the week before
    assert "Panel: 100% ship of 2 verdicts before the week" in html
    assert "Community: 100% \u2192 40% ship (\u221260 points; 3 votes this week" in html
    # Every linked page exists.
    for href in dict.fromkeys(W48_LINKS):
        assert client.get(href.removeprefix(SITE)).status_code == 200


def test_a_hostile_tool_name_is_text_on_the_page_and_in_the_mail(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    page = client.get("/digests/2026-W48").text
    digest = _json_digest(client, "2026-W48")
    mail = render_html(digest, SITE, UNSUBSCRIBE)
    for html in (page, mail):
        assert HOSTILE not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html
        assert "Beta or &lt;the other&gt;?" in html
    assert _links(mail).inline == []
    assert "<script" not in page.split("</main>")[0].split('<main id="main"')[1]
    # The text form shows it as written.
    assert HOSTILE in render_text(digest, SITE)


def test_the_page_keeps_to_the_content_security_policy(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    page = client.get("/digests/2026-W48")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    found = InlineCode(page.text)
    assert found.problems == []
    assert all(src.startswith("/static/") for src in found.scripts)


def _json_digest(client: TestClient, week: str) -> Digest:  # type: ignore[type-arg]
    answer = client.get(f"/api/digests/{week}")
    assert answer.status_code == 200, answer.text
    return msgspec.json.decode(answer.content, type=Digest)


def test_the_json_is_the_digest_as_data(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    answer = client.get("/api/digests/2026-W48")
    assert answer.status_code == 200
    found = answer.json()
    assert found["week"] == "2026-W48"
    assert found["start"].startswith("2026-11-23T00:00:00")
    assert [(c["a"], c["b"]) for c in found["comparisons"]] == [("beta", "gamma")]
    assert [v["tool"] for v in found["verdicts"]] == ["beta", "gamma", "alpha"]
    alpha = found["verdicts"][2]
    assert (alpha["before"]["ship"], alpha["after"]["skip"]) == (2, 1)
    assert [(s["tool"], s["swing"]) for s in found["swings"]] == [
        ("alpha", -60.0),
        ("beta", 20.0),
        ("gamma", -20.0),
    ]


@pytest.mark.parametrize(
    ("week", "kind"),
    [
        ("2026-W54", "invalid-week"),
        ("2026-W00", "invalid-week"),
        ("2026-48", "validation-failed"),
        ("W48", "validation-failed"),
        ("2026-W48x", "validation-failed"),
    ],
)
def test_a_bad_week_is_a_problem_and_a_page_that_says_so(
    client: TestClient,  # type: ignore[type-arg]
    week: str,
    kind: str,
) -> None:
    answer = client.get(f"/api/digests/{week}")
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"] == f"/problems/{kind}"
    assert week in str(problem)
    page = client.get(f"/digests/{week}")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "not an ISO week" in page.text or "numbered 01 to 53" in page.text


def test_a_week_to_come_has_no_digest(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    coming = Week.last_complete().next().next().label
    answer = client.get(f"/api/digests/{coming}")
    assert answer.status_code == 404
    assert answer.json()["type"] == "/problems/week-not-begun"
    assert client.get(f"/digests/{coming}").status_code == 404


def test_digests_leads_to_the_latest_complete_week(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    answer = client.get("/digests", follow_redirects=False)
    assert answer.status_code in (301, 302, 303, 307, 308)
    assert answer.headers["location"] == f"/digests/{Week.last_complete().label}"


def test_a_quiet_week_says_so_in_every_form(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    digest = _json_digest(client, "2026-W46")
    assert digest.quiet
    text = render_text(digest, SITE)
    assert "A quiet week" in text
    assert "A quiet week" in render_html(digest, SITE)
    assert "A quiet week" in client.get("/digests/2026-W46").text
    assert subject(digest).endswith("2026-W46: a quiet week")


def test_the_mail_forms_carry_every_link_and_the_unsubscribe_link_once(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    digest = _json_digest(client, "2026-W48")
    html = render_html(digest, SITE, UNSUBSCRIBE)
    text = render_text(digest, SITE, UNSUBSCRIBE)
    assert _links(html).hrefs[: len(W48_LINKS)] == W48_LINKS
    assert re.findall(rf"{re.escape(SITE)}/\S+", text)[: len(W48_LINKS)] == W48_LINKS
    for form in (html, text):
        assert form.count(UNSUBSCRIBE) == 1
        assert f"{SITE}/digests/2026-W48" in form
    assert f'href="{UNSUBSCRIBE}"' in html
    assert "Unsubscribe" not in render_text(digest, SITE)
    assert UNSUBSCRIBE not in render_html(digest, SITE)
    assert subject(digest) == (
        "Verdict Ledger weekly digest, 2026-W48: 1 new comparison, "
        "3 verdicts changed, 3 community swings"
    )


def test_links_stay_under_a_site_url_with_a_path() -> None:
    digest = Digest(
        week="2026-W48",
        start=Week.parse("2026-W48").start,
        end=Week.parse("2026-W48").end,
        complete=True,
        position=0,
        comparisons=[],
        verdicts=[],
        swings=[],
    )
    text = render_text(digest, "https://example.org/ledger/")
    assert "https://example.org/ledger/digests/2026-W48" in text
