"""REST API /api/v1/webhooks: CRUD, rotate, test, deliveries, replay; problem+json; foreign ids are 404 and
create no delivery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone
from standardwebhooks import Webhook

from integrations import services, tasks
from integrations.models import WebhookDelivery, WebhookEndpoint
from tenants.scoping import company_scope
from tests.factories import make_api_key


@pytest.mark.django_db
def test_crud_rotate_test_deliveries_replay(api_a, company_a, receiver):
    response = api_a.post("/api/v1/webhooks", {"url": receiver.url, "event_types": ["message.received"]},
                          format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["is_active"] is True
    endpoint_url = f"/api/v1/webhooks/{created['id']}"
    listed = api_a.get("/api/v1/webhooks").json()
    assert [item["id"] for item in listed["results"]] == [created["id"]] and "secret" not in listed["results"][0]
    assert "secret" not in api_a.get(endpoint_url).json()
    response = api_a.patch(endpoint_url, {"description": "Bot", "event_types": []}, format="json")
    assert response.status_code == 200 and response.json()["description"] == "Bot"
    rotated = api_a.post(endpoint_url + "/rotate-secret").json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_expires_at"]
    with TestCase.captureOnCommitCallbacks(execute=False):
        response = api_a.post(endpoint_url + "/test")
    assert response.status_code == 202 and response.json()["event_type"] == "webhook.test"
    with company_scope(company_a):
        delivery = WebhookDelivery.objects.get()
    assert tasks.deliver_webhook.apply(args=[company_a.pk, delivery.pk]).get() == "succeeded"
    Webhook(rotated["secret"]).verify(receiver.requests[0].body, receiver.requests[0].headers)
    Webhook(created["secret"]).verify(receiver.requests[0].body, receiver.requests[0].headers)
    log = api_a.get(endpoint_url + "/deliveries").json()["results"]
    assert log[0]["status"] == "succeeded" and log[0]["attempt_log"][0]["status_code"] == 200
    response = api_a.post(f"{endpoint_url}/deliveries/{log[0]['id']}/replay")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert api_a.delete(endpoint_url).status_code == 204
    assert api_a.get(endpoint_url).status_code == 404


@pytest.mark.django_db
def test_replaying_a_delivery_a_worker_is_sending_is_a_409(api_a, api_b, company_a, endpoint_a):
    with company_scope(company_a), TestCase.captureOnCommitCallbacks(execute=False):
        delivery = services.endpoint_send_test(company=company_a, endpoint=endpoint_a.endpoint)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() + timedelta(seconds=60))
    url = f"/api/v1/webhooks/{endpoint_a.endpoint.public_id}/deliveries/{delivery.public_id}/replay"
    response = api_a.post(url, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert response.status_code == 409 and response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "https://recado.dev/problems/delivery-being-sent"
    assert response.json()["detail"].startswith("Esta entrega está sendo enviada agora")
    assert api_b.post(url).status_code == 404  # another company's delivery
    with company_scope(company_a):
        delivery.refresh_from_db()
    assert delivery.lease_until is not None and delivery.attempts == 0  # left to the worker


@pytest.mark.django_db
def test_validation_errors_are_problem_json(settings, api_a, company_a):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    response = api_a.post("/api/v1/webhooks", {"url": "http://169.254.169.254/"}, format="json")
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert "url" in response.json()["errors"]
    response = api_a.post("/api/v1/webhooks", {"url": "https://example.com/", "event_types": ["nope"]},
                          format="json")
    assert response.status_code == 400 and "event_types" in response.json()["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://[::1]:99999/hook", "https://example.com:65536/"])
def test_a_port_past_65535_is_a_400_not_a_500(api_a, company_a, url):
    """Found probing what Schemathesis reported: URL validation lets the port through, urlsplit did not."""
    response = api_a.post("/api/v1/webhooks", {"url": url}, format="json")
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert "url" in response.json()["errors"]


@pytest.mark.django_db
def test_test_event_on_a_switched_off_endpoint_is_422(api_a, company_a, receiver):
    created = api_a.post("/api/v1/webhooks", {"url": receiver.url, "is_active": False}, format="json").json()
    response = api_a.post(f"/api/v1/webhooks/{created['id']}/test")
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"


@pytest.mark.django_db
def test_read_scope_cannot_write(company_a, receiver):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company_a, scopes=['read']).secret}")
    assert client.get("/api/v1/webhooks").status_code == 200
    assert client.post("/api/v1/webhooks", {"url": receiver.url}, format="json").status_code == 403


@pytest.mark.django_db
def test_another_companys_ids_are_404_and_nothing_changes(api_a, api_b, company_a, receiver):
    created = api_a.post("/api/v1/webhooks", {"url": receiver.url}, format="json").json()
    with TestCase.captureOnCommitCallbacks(execute=False):
        api_a.post(f"/api/v1/webhooks/{created['id']}/test")
    with company_scope(company_a):
        delivery = WebhookDelivery.objects.get()
    url = f"/api/v1/webhooks/{created['id']}"
    assert api_b.get("/api/v1/webhooks").json()["results"] == []
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        for method, path in [("get", ""), ("patch", ""), ("delete", ""), ("post", "/rotate-secret"),
                             ("post", "/test"), ("get", "/deliveries"),
                             ("post", f"/deliveries/{delivery.public_id}/replay")]:
            response = getattr(api_b, method)(url + path, {"url": "https://evil.example/"}, format="json")
            assert response.status_code == 404, (method, path)
            assert response["Content-Type"] == "application/problem+json"
    assert callbacks == []
    with company_scope(company_a):
        endpoint = WebhookEndpoint.objects.get()
        assert endpoint.url == receiver.url and endpoint.secret == created["secret"] and not endpoint.previous_secret
        assert WebhookDelivery.objects.count() == 1 and WebhookDelivery.objects.get().status == "pending"
        assert WebhookDelivery.objects.get().attempts == 0
