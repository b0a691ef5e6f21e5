"""Problem ``type`` URIs lead to a page that explains the problem."""

from __future__ import annotations

import ast
from pathlib import Path

from api.problem_types import CATALOGUE
from ledger import errors
from tests.api.conftest import Api

API = Path(__file__).parents[2] / "api"


def _raised_api_kinds() -> set[str]:
    """Every kind literal passed to ``ApiProblem(...)`` in the api package."""
    kinds: set[str] = set()
    for source in API.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "ApiProblem"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
            ):
                kinds.add(node.args[1].value)
    return kinds


def test_every_kind_the_api_raises_is_described() -> None:
    raised = _raised_api_kinds()
    assert "projection-behind" in raised
    assert raised <= CATALOGUE.keys()


def test_every_ledger_refusal_is_described_by_its_docstring() -> None:
    found = CATALOGUE["reason-required"]
    assert (found.status, found.description) == (
        422,
        errors.ReasonRequired.__doc__,
    )
    assert CATALOGUE["stale-version"].status == 412
    assert CATALOGUE["tool-not-found"].status == 404
    assert CATALOGUE["tool-retired"].status == 409


def test_a_problem_type_uri_dereferences_to_its_page(api: Api) -> None:
    # given a refused request's problem type
    refused = api.client.get("/api/tools/no-such-tool")
    assert refused.status_code == 404
    problem_type = refused.json()["type"]
    assert problem_type == "/problems/tool-not-found"
    # when it is followed, a page explains it
    page = api.client.get(problem_type)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "Tool not found" in page.text
    assert "No tool is registered under that slug." in page.text
    assert "HTTP 404" in page.text


def test_http_level_problem_types_have_pages(api: Api) -> None:
    unauthorized = api.client.post("/api/tools", json={})
    assert unauthorized.status_code == 401
    page = api.client.get(unauthorized.json()["type"])
    assert page.status_code == 200
    assert "Unauthorized" in page.text


def test_an_unknown_problem_type_is_a_404_page(api: Api) -> None:
    page = api.client.get("/problems/no-such-problem")
    assert page.status_code == 404
    assert "no-such-problem" in page.text
