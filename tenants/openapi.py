"""OpenAPI post-processing: every API error is described as what it is, application/problem+json (RFC 9457).

drf-spectacular knows the success bodies from the serializers; the errors come from the exception handler
(tenants/problems.py), which no view declares. This hook adds, to every /api/v1/ operation, the errors any
request can meet (401 without a valid key, 403 for a missing scope or a suspended company, 429 over the
rate limit), 400 where the request carries input, 404 where the path names an object or the list has pages,
415 where there is a body; and gives every 4xx/5xx response the Problem schema. Schemathesis
(tests/api/test_schemathesis.py) holds the running API to this document.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

from tenants.authentication import PageLimitPagination

PROBLEM = "application/problem+json"
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An error (RFC 9457). 400s add `errors`: field name → messages.",
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string", "description": "The HTTP status phrase."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "errors": {"type": "object", "additionalProperties": True,
                   "description": "On 400: each invalid field (or `non_field_errors`) with its messages."},
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,  # some problems add members, e.g. `limit` or the existing contact's `id`
}
COMMON = {
    "401": "No API key, or an invalid or revoked one.",
    "403": "The API key lacks the scope this operation needs, or the company is suspended.",
    "429": "Too many requests for this API key; see Retry-After.",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
METHODS = ("get", "put", "post", "patch", "delete")
# A query filter taking an id, where an empty value means "no filter" (as drf-spectacular writes blank-able
# formatted serializer fields).
UUID_OR_EMPTY = {"oneOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 0}]}


def problem_responses(result: dict, generator, request, public) -> dict:
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method in METHODS:
                _describe_errors(operation)
    return result


def _describe_errors(operation: dict) -> None:
    responses = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    expected = dict(COMMON)
    if operation.get("requestBody") or any(parameter["in"] == "query" for parameter in parameters):
        expected["400"] = "Invalid input; `errors` names each field."
    if operation.get("requestBody"):
        expected["415"] = "A body in a media type this operation does not take."
    names = {parameter["name"] for parameter in parameters if parameter["in"] == "query"}
    if any(parameter["in"] == "path" for parameter in parameters):
        expected["404"] = "Unknown id (another company's ids look the same)."
    elif "page" in names:
        expected["404"] = "A page past the last one."
    for status, description in expected.items():
        responses.setdefault(status, {"description": description})
    for status, response in responses.items():
        if status[:1] in ("4", "5"):
            response["content"] = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            if status in ("429", "503"):
                response.setdefault("headers", {}).update(RETRY_AFTER)


# --- examples -----------------------------------------------------------------------------------------
# Every request body and 2xx response of the API carries an example (tests/api/test_openapi_examples.py holds
# each to its schema). A list's example is written whole, with the envelope its paginator really returns.

API_URL = "https://recado.example.com/api/v1"


class ListExample(OpenApiExample):
    """A list response's example given whole: a page envelope, or a bare array for an unpaged list.

    drf-spectacular wraps every example of a list view itself (in a placeholder page, `http://api.example.org/
    accounts/?page=4`, or in an array when unpaged), so a whole value would be wrapped twice: this value is
    set once and kept."""

    def __setattr__(self, name: str, value) -> None:
        if name == "value" and "value" in self.__dict__:
            return
        super().__setattr__(name, value)


def page_example(item: dict, path: str, *, name: str = "Page", count: int = 57) -> ListExample:
    """PageLimitPagination's first page: `count`, `next` (none when it all fits), `previous` and `results`
    (one item shown)."""
    more = count > PageLimitPagination.page_size
    return ListExample(name, response_only=True, value={
        "count": count, "next": f"{API_URL}{path}?page=2" if more else None, "previous": None, "results": [item]})


def cursor_example(item: dict, path: str, cursor: str, *, name: str = "Page") -> ListExample:
    """NewestFirst's first page: `next` (with an opaque cursor), `previous` and `results`; no count."""
    return ListExample(name, response_only=True, value={
        "next": f"{API_URL}{path}?cursor={cursor}", "previous": None, "results": [item]})
