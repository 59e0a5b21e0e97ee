"""The REST API skeleton: key auth, problem+json errors, throttling, the schema."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tenants import services
from tenants.models import ApiKey
from tenants.scoping import company_scope

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"].startswith("https://")
    return body


def test_bearer_header_authenticates_to_the_keys_company(api_a, company_a):
    body = api_a.get("/api/v1/me").json()
    assert body["company"] == {
        "id": str(company_a.public_id), "name": "Alpha Foods", "slug": "alpha",
        "max_instances": company_a.max_instances, "max_members": company_a.max_members,
    }
    assert body["api_key"]["prefix"].startswith("rk_")


def test_apikey_header_authenticates_too(api_key_b, company_b):
    client = APIClient()
    response = client.get("/api/v1/me", HTTP_APIKEY=api_key_b.secret)
    assert response.status_code == 200
    assert response.json()["company"]["slug"] == company_b.slug


def test_each_key_sees_only_its_company(api_a, api_b):
    assert api_a.get("/api/v1/me").json()["company"]["slug"] == "alpha"
    assert api_b.get("/api/v1/me").json()["company"]["slug"] == "bravo"


def test_missing_key_is_401_problem():
    body = _problem(APIClient().get("/api/v1/me"), 401)
    assert "API key" in body["detail"]


def test_unknown_key_is_401_problem():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer rk_nothere_abc")
    _problem(client.get("/api/v1/me"), 401)


def test_malformed_authorization_header_is_401(api_key_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_a.secret}")
    _problem(client.get("/api/v1/me"), 401)


def test_revoked_key_is_401(api_a, api_key_a, company_a):
    services.api_key_revoke(company=company_a, api_key=api_key_a.api_key)
    body = _problem(api_a.get("/api/v1/me"), 401)
    assert "revoked" in body["detail"]


def test_suspended_company_key_is_403(api_a, company_a, api_b):
    services.company_suspend(company=company_a, reason="unpaid")
    body = _problem(api_a.get("/api/v1/me"), 403)
    assert "suspended" in body["detail"]
    assert api_b.get("/api/v1/me").status_code == 200


def test_key_use_is_recorded(api_a, api_key_a, company_a):
    api_a.get("/api/v1/me")
    with company_scope(company_a):
        assert ApiKey.objects.get(pk=api_key_a.api_key.pk).last_used_at is not None


def test_secret_is_stored_hashed(api_key_a, company_a):
    with company_scope(company_a):
        stored = ApiKey.objects.get(pk=api_key_a.api_key.pk)
    assert api_key_a.secret not in stored.secret_hash
    assert api_key_a.secret.startswith(stored.prefix)


def test_missing_scope_is_403_naming_it(company_a):
    issued = services.api_key_create(company=company_a, name="writer only", scopes=["write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    body = _problem(client.get("/api/v1/me"), 403)
    assert "'read'" in body["detail"]


def test_unknown_route_is_404_problem(api_a):
    _problem(api_a.get("/api/v1/nothing-here"), 404)


def test_wrong_method_is_405_problem(api_a):
    _problem(api_a.delete("/api/v1/me"), 405)


@pytest.mark.urls("tests.tenants.api_urls")
def test_unsupported_media_type_is_415_problem(api_a):
    _problem(api_a.post("/echo", data="<x/>", content_type="application/xml"), 415)


@pytest.mark.urls("tests.tenants.api_urls")
def test_validation_error_is_400_with_field_errors(api_a):
    body = _problem(api_a.post("/echo", {"name": ""}, format="json"), 400)
    assert body["errors"]["name"]
    assert body["type"].endswith("/validation-error")
    assert "name" in body["detail"]


@pytest.mark.urls("tests.tenants.api_urls")
def test_conflict_is_409_problem_with_extra_members(api_a):
    body = _problem(api_a.post("/echo", {"name": "taken"}, format="json"), 409)
    assert body["existing_id"] == "123"


@pytest.mark.urls("tests.tenants.api_urls")
def test_echo_view_sees_its_company(api_a, api_b):
    assert api_a.post("/echo", {"name": "x"}, format="json").json() == {"name": "x", "company": "alpha"}
    assert api_b.post("/echo", {"name": "x"}, format="json").json() == {"name": "x", "company": "bravo"}


def test_throttling_gives_429_with_retry_after(api_a, settings):
    from rest_framework.settings import api_settings

    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "2/min"}}):
        api_settings.reload()
        from tenants.authentication import ApiKeyRateThrottle

        ApiKeyRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        try:
            assert api_a.get("/api/v1/me").status_code == 200
            assert api_a.get("/api/v1/me").status_code == 200
            response = api_a.get("/api/v1/me")
        finally:
            ApiKeyRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    api_settings.reload()
    body = _problem(response, 429)
    assert int(response["Retry-After"]) > 0
    assert "throttled" in body["type"]


def test_throttle_budget_is_per_key(api_a, api_b, settings):
    from tenants.authentication import ApiKeyRateThrottle

    ApiKeyRateThrottle.THROTTLE_RATES = {"api_key": "1/min"}
    try:
        assert api_a.get("/api/v1/me").status_code == 200
        assert api_a.get("/api/v1/me").status_code == 429
        assert api_b.get("/api/v1/me").status_code == 200
    finally:
        ApiKeyRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]


def test_server_error_is_500_problem_without_internals(api_a, monkeypatch):
    from tenants import api

    def explode(self, request):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(api.MeView, "get", explode)
    client = api_a
    client.raise_request_exception = False
    response = client.get("/api/v1/me")
    body = _problem(response, 500)
    assert "hunter2" not in response.content.decode()
    assert "internals" not in body["detail"]


def test_schema_generates_without_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_schema_and_docs_are_public(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/me" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_viewset_cannot_override_get_queryset():
    from tenants.api import TenantViewSet

    with pytest.raises(TypeError, match="get_queryset"):
        type("Bad", (TenantViewSet,), {"get_queryset": lambda self: None})
    with pytest.raises(TypeError, match="class-level queryset"):
        type("AlsoBad", (TenantViewSet,), {"queryset": object()})


def test_unknown_api_route_is_problem_json_even_in_debug(api_a, settings):
    settings.DEBUG = True
    _problem(api_a.get("/api/v1/instances//state"), 404)


def test_unknown_api_route_is_problem_json_for_writes_too():
    """A POST to no route gets the problem+json 404, not Django's HTML CSRF page (no CSRF on the API)."""
    client = APIClient(enforce_csrf_checks=True)
    for method in ("post", "put", "patch", "delete"):
        _problem(getattr(client, method)("/api/v1/conversations/not-an-id/reopen"), 404)


def test_schema_describes_every_error_as_problem_json(client):
    schema = client.get("/api/schema/?format=json").json()
    assert set(schema["components"]["schemas"]["Problem"]["required"]) == {"type", "title", "status", "detail"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"401", "403", "429"} <= set(responses), f"{method.upper()} {path}"
            if "{" in path:
                assert "404" in responses, f"{method.upper()} {path}"
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == [PROBLEM], f"{method.upper()} {path} {status}"
            assert set(operation.get("requestBody", {}).get("content", {})) <= {"application/json"}


def test_docs_page_loads_everything_from_this_site_under_the_csp(client):
    """Swagger UI from a CDN was refused by our CSP (and unreachable offline): /api/docs/ was a blank page."""
    from django.contrib.staticfiles import finders

    response = client.get("/api/docs/")
    html = response.content.decode()
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    nonce = nonce.group(1) if nonce else "(none in the policy)"
    assert "cdn.jsdelivr.net" not in html and "https://" not in html
    for tag in re.findall(r"<(?:script|style)\b[^>]*>", html):
        assert 'src="/static/' in tag or f'nonce="{nonce}"' in tag, tag
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert len(assets) >= 3 and all(finders.find(asset) for asset in assets), assets
