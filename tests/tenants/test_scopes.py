"""API key scopes: read for reading, write for changing, messages for sending; each allows exactly its routes."""

from __future__ import annotations

import re
import uuid

import pytest
from rest_framework.test import APIClient

from tests.factories import make_api_key
from tests.tenants.test_structure import _company_patterns

pytestmark = pytest.mark.django_db
WRITE_METHODS = ("post", "put", "patch", "delete")


def _api_routes() -> list[str]:
    """Every /api/v1/ route, with any id filled by a fresh UUID (permissions are checked before lookups)."""
    routes = [route for route in _company_patterns() if route.startswith("api/v1/")]
    paths = {"/" + re.sub(r"<(?:\w+:)?\w+>", str(uuid.uuid4()), route).lstrip("^").rstrip("$") for route in routes}
    return sorted(path for path in paths if "(?P" not in path and "\\" not in path and "*" not in path)


def _client(company, scopes: list[str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company, scopes=scopes).secret}")
    return client


def _is_messages_route(path: str) -> bool:
    return path.startswith("/api/v1/messages")


def test_the_sweep_covers_the_api():
    paths = _api_routes()
    assert len(paths) >= 20, paths
    assert any(_is_messages_route(path) for path in paths)


def test_read_only_key_reads_and_changes_nothing(company_a):
    client = _client(company_a, ["read"])
    for path in _api_routes():
        assert client.get(path).status_code != 403, path
        for method in WRITE_METHODS:
            response = getattr(client, method)(path, {}, format="json")
            assert response.status_code == 403, f"{method.upper()} {path} gave {response.status_code}"
            assert "'write'" in response.json()["detail"] or "'messages'" in response.json()["detail"]


def test_write_only_key_cannot_read(company_a):
    client = _client(company_a, ["write"])
    for path in _api_routes():
        response = client.get(path)
        assert response.status_code == 403, f"GET {path} gave {response.status_code}"
        assert "'read'" in response.json()["detail"]


def test_sending_needs_the_messages_scope_and_nothing_else_accepts_it(company_a):
    writer = _client(company_a, ["read", "write"])
    sender = _client(company_a, ["messages"])
    for path in _api_routes():
        for method in WRITE_METHODS:
            as_writer = getattr(writer, method)(path, {}, format="json").status_code
            as_sender = getattr(sender, method)(path, {}, format="json").status_code
            if _is_messages_route(path):
                assert (as_writer, as_sender != 403) == (403, True), f"{method.upper()} {path}"
            else:
                assert (as_writer != 403, as_sender) == (True, 403), f"{method.upper()} {path}"
