"""Access: every write endpoint against every kind of credential.

The write endpoints are read from the app's own routes (every POST, PUT,
PATCH and DELETE), with the role each needs from its guard, so a new route
is covered as soon as it exists: :data:`REQUESTS` must say how to make a
request of it that its role would get a 2xx for, or the run stops and names
it. Each credential (none, malformed ones, an unknown token, a wrong
secret, a revoked and an expired admin token, and a live token of every
role) sends that request. The answer must be 401 for a credential that is
not a live token, 403 for a live one whose role may not do it (or a
reviewer writing as another), and a 2xx otherwise; and a refused request
must change nothing: not the log, not the token store.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from api import create_app
from api.security import ACTS_AS
from api.subscriber_links import SubscriberLinks
from ledger.application import Ledger
from ledger.auth import ROLES
from ledger.context import Context
from ledger.settings import Settings
from ledger.sqlite_tokens import TokenStore
from tests.api.helpers import PAIR, make_home, settings_for

WRITES = ("POST", "PUT", "PATCH", "DELETE")
EDITORIAL = "/editor"
"""The editorial pages' forms take a signed-in session, never a bearer token;
``tests/pages/test_csrf.py`` sends each of them every kind of forged post."""
HANDLE = "builder"
"""The reviewer whose reviews the review endpoints write."""
SETUP = Context(actor="admin:access", request_id="access-setup")


@dataclass(frozen=True)
class Credential:
    """What a request carries in ``Authorization``, and who that is.

    Attributes:
        name: What kind of credential it is.
        header: The header's value; None sends none.
        role: The role of a live token; None for anything that is not one.
        reviewer: A reviewer token's handle.
    """

    name: str
    header: str | None
    role: str | None = None
    reviewer: str | None = None


@dataclass(frozen=True)
class Operation:
    """A write endpoint: its method, path template and the role it needs."""

    method: str
    path: str
    role: str | None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Request:
    """A concrete request of an operation."""

    path: str
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None


def operations(app: Litestar) -> list[Operation]:
    """Every write route of ``app`` but the editorial forms, with its guard's role."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = _template(route.path)
        if path.startswith(EDITORIAL):
            continue
        for method, entry in route.route_handler_map.items():
            if method not in WRITES:
                continue
            handler = entry[0] if isinstance(entry, tuple) else entry
            roles = [
                guard.__name__.removeprefix("requires_")
                for guard in handler.resolve_guards()
                if guard.__name__.startswith("requires_")
            ]
            found.append(Operation(method, path, roles[0] if roles else None))
    return sorted(found, key=lambda op: op.key)


def _template(path: str) -> str:
    """``/api/tools/{slug:str}`` as OpenAPI writes it: ``/api/tools/{slug}``."""
    parts = []
    for part in path.split("/"):
        if part.startswith("{") and ":" in part:
            part = part.split(":", 1)[0] + "}"
        parts.append(part)
    return "/".join(parts)


class Kit:
    """What requests are prepared with: the ledger, its tokens, a counter."""

    def __init__(self, home: Path, client: TestClient[Litestar]) -> None:
        self.home = home
        self.client = client
        settings = Settings(home=home)
        self.ledger = Ledger(settings)
        self.tokens = TokenStore(settings.auth_path, settings.server_secret())
        self.counter = itertools.count(1)
        self.voter = f"Bearer {self.tokens.create('voter')}"
        self.links = SubscriberLinks(settings.server_secret(), "http://testserver")
        self.caller = Credential("none", None)
        """Who the request being prepared is for."""

    def n(self) -> int:
        return next(self.counter)

    def state(self) -> tuple[int, int, int]:
        """What a refused request must not change: the log, the token store."""
        issued = self.tokens.page(0, 1_000_000)
        revoked = sum(info.revoked_at is not None for info in issued)
        return self.ledger.head_position(), len(issued), revoked

    def vote(self, path: str, body: dict[str, str]) -> None:
        """Casts a vote to retract: the caller's, if it is a voter."""
        voter = self.caller.header if self.caller.role == "voter" else None
        answer = self.client.put(
            path, json=body, headers={"Authorization": voter or self.voter}
        )
        assert answer.is_success, answer.text

    def close(self) -> None:
        self.tokens.close()
        self.ledger.close()


def _register(kit: Kit) -> str:
    slug = f"access-{kit.n()}"
    fields = {"name": slug.title(), "vendor": "V", "category": "C"}
    kit.ledger.register_tool(SETUP, slug, fields)
    return slug


def _live_review(kit: Kit) -> Request:
    kit.ledger.put_review(
        Context(actor=f"reviewer:{HANDLE}", request_id="access-setup"),
        "mistral-medium-3",
        HANDLE,
        verdict="ship",
        rationale=f"Still good, take {kit.n()}.",
        reason="looked again",
    )
    return Request(
        f"/api/tools/mistral-medium-3/reviews/{HANDLE}", params={"reason": "gone"}
    )


def _comparison(kit: Kit) -> Request:
    return Request(
        "/api/comparisons",
        {"a": _register(kit), "b": _register(kit), "question": "Which one?"},
    )


def _retract_tool_vote(kit: Kit) -> Request:
    kit.vote("/api/tools/code-llama-4/vote", {"choice": "ship"})
    return Request("/api/tools/code-llama-4/vote")


def _retract_pick(kit: Kit) -> Request:
    kit.vote(PAIR + "/vote", {"pick": "code-llama-4"})
    return Request(PAIR + "/vote")


def _retire_tool(kit: Kit) -> Request:
    return Request(f"/api/tools/{_register(kit)}/retire", {"reason": "gone"})


def _reinstate_tool(kit: Kit) -> Request:
    slug = _register(kit)
    kit.ledger.retire_tool(SETUP, slug, reason="gone")
    return Request(f"/api/tools/{slug}/reinstate", {"reason": "back"})


def _enroll(kit: Kit) -> str:
    handle = f"panel-{kit.n()}"
    kit.ledger.enroll_reviewer(SETUP, handle, name="P", lens="buyer")
    return handle


def _edit_reviewer(kit: Kit) -> Request:
    return Request(
        f"/api/reviewers/{_enroll(kit)}", {"name": "Renamed", "reason": "asked"}
    )


def _retire_reviewer(kit: Kit) -> Request:
    return Request(f"/api/reviewers/{_enroll(kit)}/retire", {"reason": "left"})


def _retire_comparison(kit: Kit) -> Request:
    a, b = _register(kit), _register(kit)
    kit.ledger.publish_comparison(SETUP, a, b, question="Which one?")
    return Request(f"/api/comparisons/{a}/{b}/retire", {"reason": "stale"})


def _erase(kit: Kit) -> Request:
    person = f"reviewer:{_enroll(kit)}"
    return Request("/api/erasures", {"person": person, "reason": "asked"})


def _address(kit: Kit) -> str:
    return f"reader-{kit.n()}@example.org"


def _subscription(kit: Kit) -> UUID:
    """A new pending subscription, as a reader's request leaves it."""
    address = _address(kit)
    subscription_id = kit.ledger.subscription_id(address)
    ctx = Context(actor=f"subscriber:{subscription_id}", request_id="access-setup")
    kit.ledger.subscribe(ctx, address)
    return subscription_id


def _confirm(kit: Kit) -> Request:
    token = kit.links.confirm_token(_subscription(kit))
    return Request("/api/subscriptions/confirm", {"token": token})


def _unsubscribe(kit: Kit) -> Request:
    token = kit.links.unsubscribe_token(_subscription(kit))
    return Request("/api/subscriptions/unsubscribe", {"token": token})


def _confirm_form(kit: Kit) -> Request:
    token = kit.links.confirm_token(_subscription(kit))
    return Request("/subscriptions/confirm", form={"token": token})


def _unsubscribe_form(kit: Kit) -> Request:
    token = kit.links.unsubscribe_token(_subscription(kit))
    return Request(
        "/subscriptions/unsubscribe",
        params={"token": token},
        form={"List-Unsubscribe": "One-Click"},
    )


def _revoke(kit: Kit) -> Request:
    _, info = kit.tokens.issue("voter")
    return Request(f"/api/tokens/{info.id}")


REQUESTS: dict[str, Callable[[Kit], Request]] = {
    "POST /api/tools": lambda kit: Request(
        "/api/tools",
        {"slug": f"new-{kit.n()}", "name": "New", "vendor": "V", "category": "C"},
    ),
    "PATCH /api/tools/{slug}": lambda kit: Request(
        "/api/tools/code-llama-4", {"tagline": f"Edit {kit.n()}", "reason": "news"}
    ),
    "PUT /api/tools/{slug}/reviews/{handle}": lambda kit: Request(
        f"/api/tools/code-llama-4/reviews/{HANDLE}",
        {"verdict": "ship", "rationale": f"Take {kit.n()}.", "reason": "again"},
    ),
    "DELETE /api/tools/{slug}/reviews/{handle}": _live_review,
    "POST /api/tools/{slug}/retire": _retire_tool,
    "POST /api/tools/{slug}/reinstate": _reinstate_tool,
    "PATCH /api/reviewers/{handle}": _edit_reviewer,
    "POST /api/reviewers/{handle}/retire": _retire_reviewer,
    "PATCH /api/comparisons/{a}/{b}": lambda kit: Request(
        PAIR, {"question": f"Which one, take {kit.n()}?", "reason": "sharper"}
    ),
    "POST /api/comparisons/{a}/{b}/retire": _retire_comparison,
    "POST /api/reviewers": lambda kit: Request(
        "/api/reviewers", {"handle": f"rev-{kit.n()}", "name": "R", "lens": "buyer"}
    ),
    "POST /api/comparisons": _comparison,
    "PUT /api/tools/{slug}/vote": lambda kit: Request(
        "/api/tools/code-llama-4/vote", {"choice": ("ship", "skip")[kit.n() % 2]}
    ),
    "DELETE /api/tools/{slug}/vote": _retract_tool_vote,
    "PUT /api/comparisons/{a}/{b}/vote": lambda kit: Request(
        PAIR + "/vote",
        {"pick": ("code-llama-4", "mistral-medium-3")[kit.n() % 2]},
    ),
    "DELETE /api/comparisons/{a}/{b}/vote": _retract_pick,
    "POST /api/voters": lambda _: Request("/api/voters"),
    "POST /api/tokens": lambda _: Request("/api/tokens", {"role": "voter"}),
    "DELETE /api/tokens/{token_id}": _revoke,
    "POST /api/erasures": _erase,
    "POST /api/subscriptions": lambda kit: Request(
        "/api/subscriptions", {"address": _address(kit)}
    ),
    "POST /api/subscriptions/confirm": _confirm,
    "POST /api/subscriptions/unsubscribe": _unsubscribe,
    "POST /subscriptions": lambda kit: Request(
        "/subscriptions", form={"address": _address(kit)}
    ),
    "POST /subscriptions/confirm": _confirm_form,
    "POST /subscriptions/unsubscribe": _unsubscribe_form,
}
"""How to make a request of each write endpoint that its role gets a 2xx for."""


def credentials(home: Path) -> list[Credential]:
    """Every kind of credential, the live ones issued in ``home``'s token store."""
    settings = Settings(home=home)
    store = TokenStore(settings.auth_path, settings.server_secret())
    try:
        live = []
        for role in ROLES:
            reviewer = HANDLE if role == "reviewer" else None
            live.append(
                Credential(
                    role, f"Bearer {store.create(role, reviewer)}", role, reviewer
                )
            )
        other = store.create("reviewer", "skeptic")
        live.append(
            Credential(
                "reviewer of another handle", f"Bearer {other}", "reviewer", "skeptic"
            )
        )
        revoked, info = store.issue("admin")
        store.revoke(info.id)
        expired, _ = store.issue(
            "admin",
            expires_in=timedelta(minutes=5),
            now=datetime.now(UTC) - timedelta(hours=1),
        )
        admin = store.create("admin")
        admin_id = admin.split("_")[1]
    finally:
        store.close()
    refused = [
        Credential("none", None),
        Credential("empty", ""),
        Credential("scheme only", "Bearer"),
        Credential("another scheme", "Basic YWRtaW46YWRtaW4="),
        Credential("not a token", "Bearer not-a-token"),
        Credential("token without a secret", f"Bearer vl_{admin_id}"),
        Credential("unknown token", "Bearer vl_000000000000_" + "A" * 43),
        Credential("wrong secret", f"Bearer vl_{admin_id}_" + "B" * 43),
        Credential("revoked admin", f"Bearer {revoked}"),
        Credential("expired admin", f"Bearer {expired}"),
    ]
    return refused + live


def expected(operation: Operation, credential: Credential) -> int | None:
    """401 or 403 for a refusal; None where a 2xx is due."""
    if operation.role is None:
        return None
    if credential.role is None:
        return 401
    if credential.role not in ACTS_AS[operation.role]:
        return 403
    writes_as = operation.role == "reviewer" and "{handle}" in operation.path
    if writes_as and credential.reviewer != HANDLE:
        return 403
    return None


@dataclass
class Access:
    """Every (operation, credential) answer that was not the one due."""

    operations: list[str] = field(default_factory=list)
    requests: int = 0
    refused: int = 0
    wrong: list[tuple[str, str, int, int | None]] = field(default_factory=list)
    changed_when_refused: list[tuple[str, str]] = field(default_factory=list)
    unchanged_when_allowed: list[tuple[str, str]] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        return {
            "access_requests": float(self.requests),
            "access_refused": float(self.refused),
            "access_wrong_answers": float(len(self.wrong)),
            "access_appended_when_refused": float(len(self.changed_when_refused)),
        }


class MissingRequest(LookupError):
    """A write endpoint that :data:`REQUESTS` does not know how to call."""


def run(root: Path, *, rounds: int = 1) -> Access:
    """Sends each write endpoint's request with every credential, ``rounds`` times."""
    home = make_home(root)
    creds = credentials(home)
    found = Access()
    limits = {"voter_tokens_per_window": 100_000, "subscribe_per_window": 100_000}
    app = create_app(settings_for(home, **limits))
    with TestClient(app=app) as client:
        ops = operations(app)
        unknown = [op.key for op in ops if op.key not in REQUESTS]
        if unknown:
            msg = f"no request known for {', '.join(unknown)}; add it to REQUESTS"
            raise MissingRequest(msg)
        found.operations = [op.key for op in ops]
        kit = Kit(home, client)
        try:
            for _ in range(rounds):
                for op in ops:
                    for credential in creds:
                        _check(kit, op, credential, found)
        finally:
            kit.close()
    return found


def _check(kit: Kit, op: Operation, credential: Credential, found: Access) -> None:
    kit.caller = credential
    request = REQUESTS[op.key](kit)
    headers = {} if credential.header is None else {"Authorization": credential.header}
    before = kit.state()
    answer = kit.client.request(
        op.method,
        request.path,
        json=request.json,
        params=request.params,
        data=request.form,
        headers=headers,
    )
    changed = kit.state() != before
    due = expected(op, credential)
    found.requests += 1
    if due is None:
        if not answer.is_success:
            found.wrong.append((op.key, credential.name, answer.status_code, due))
        elif not changed:
            found.unchanged_when_allowed.append((op.key, credential.name))
        return
    found.refused += 1
    if answer.status_code != due or not _problem(answer, due):
        found.wrong.append((op.key, credential.name, answer.status_code, due))
    if changed:
        found.changed_when_refused.append((op.key, credential.name))


def _problem(answer: httpx.Response, status: int) -> bool:
    """Whether a refusal is a problem document that says how to authenticate."""
    if answer.headers.get("content-type") != "application/problem+json":
        return False
    return status != 401 or answer.headers.get("www-authenticate", "").startswith(
        "Bearer"
    )
