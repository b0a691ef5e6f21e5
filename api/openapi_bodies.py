"""OpenAPI for request bodies that refuse fields they do not declare.

Every JSON request body of the API is a msgspec Struct with
``forbid_unknown_fields=True``, so a body with a field it does not name is
422. Litestar's schema of a Struct leaves ``additionalProperties`` out, which
in JSON Schema means any extra field is allowed: a client reading the
document would expect such a body to be accepted. :func:`close_request_bodies`
writes ``additionalProperties: false`` into the schema of each request body
once the app's document is built, so the document states the rule the server
enforces. It walks Litestar's public document object rather than hooking
into how Litestar generates it.
"""

from __future__ import annotations

from collections.abc import Iterator

from litestar.openapi.spec import OpenAPI, Operation, Reference, Schema

METHODS = ("put", "post", "patch", "delete")
JSON = "application/json"


def _body_schemas(document: OpenAPI) -> Iterator[Schema | Reference]:
    """The schema of each operation's JSON request body."""
    for item in (document.paths or {}).values():
        for method in METHODS:
            operation: Operation | None = getattr(item, method)
            body = operation.request_body if operation else None
            if body is None or isinstance(body, Reference):
                continue
            media = body.content.get(JSON)
            if media is not None and media.schema is not None:
                yield media.schema


def close_request_bodies(document: OpenAPI) -> None:
    """Sets ``additionalProperties: false`` on every JSON request body's schema."""
    components = document.components
    schemas = (components.schemas if components else None) or {}
    for found in _body_schemas(document):
        if isinstance(found, Reference):
            target = schemas.get(found.ref.rsplit("/", 1)[-1])
            if target is None:
                continue
            found = target
        if (found.type is not None and str(found.type) == "object") or found.properties:
            found.additional_properties = False
