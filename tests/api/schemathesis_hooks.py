"""Schemathesis hooks for the API sweep (tests/api/test_schemathesis.py loads them with SCHEMATHESIS_HOOKS).

RECADO_SWEEP_SEEDED holds the ids of the objects the test seeded; path parameters use them in about half the
cases, so every operation meets an existing object as well as unknown ids. The `problem_json_errors` check
holds every error body to RFC 9457.
"""

from __future__ import annotations

import json
import os
import re

import schemathesis
from hypothesis import strategies as st

PROBLEM_FIELDS = {"type", "title", "status", "detail"}
SEEDED = json.loads(os.environ.get("RECADO_SWEEP_SEEDED", "{}"))


def seeded_path_parameters(method: str, path: str) -> dict[str, str]:
    """The seeded ids for one operation: a DELETE of an object gets a doomed one, so the rest stay."""
    resource = path.removeprefix("/api/v1/").split("/", 1)[0]
    deletes_the_object = method.upper() == "DELETE" and path.endswith("}")  # /tags/{id}, /platforms/{slug}
    ids = SEEDED.get("doomed" if deletes_the_object and resource in SEEDED.get("doomed", {}) else "ids", {})
    values = {"id": ids.get(resource, ""), "instance_id": SEEDED.get("ids", {}).get("instances", "")}
    values["delivery_id"] = SEEDED.get("delivery", "")
    values["slug"] = SEEDED.get("doomed_platform" if deletes_the_object else "platform", "")
    return {name: value for name, value in values.items() if value and f"{{{name}}}" in path}


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    known = seeded_path_parameters(context.operation.method, context.operation.path)
    if not known or path_parameters is None:
        return st.just(path_parameters)
    return st.sampled_from([{**path_parameters, **known}, path_parameters])


# What an HTTP/1.1 field value may hold (RFC 9110: visible ASCII, obs-text, space, tab).
HTTP_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


@schemathesis.hook
def filter_headers(context, headers):
    """Only header values HTTP can carry: uvicorn refuses the rest with its own plain-text 400 before the
    app sees the request, so they test uvicorn, not Recado."""
    return not headers or all(isinstance(value, str) and HTTP_FIELD_VALUE.fullmatch(value)
                              for value in headers.values())


@schemathesis.check
def problem_json_errors(ctx, response, case):
    """Every 4xx/5xx is application/problem+json with type, title, status (the response's own) and detail."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0].strip() != "application/problem+json":
        raise AssertionError(f"{response.status_code} came as {content_type!r}, not application/problem+json")
    body = json.loads(response.content)
    missing = PROBLEM_FIELDS - set(body)
    if missing:
        raise AssertionError(f"The problem body lacks {sorted(missing)}: {body}")
    if body["status"] != response.status_code:
        raise AssertionError(f"The problem's status {body['status']} is not the response's {response.status_code}")
    if not all(isinstance(body[name], str) for name in ("type", "title", "detail")):
        raise AssertionError(f"type, title and detail must be strings: {body}")
    return True
