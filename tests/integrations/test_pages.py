"""Settings pages /c/<slug>/settings/webhooks/: owners and admins only; another company's ids are 404 and change
nothing (no delivery created)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone
from standardwebhooks import Webhook

from integrations import services, tasks
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tenants.scoping import company_scope


def base(company) -> str:
    return f"/c/{company.slug}/settings/webhooks/"


def endpoints(company) -> list[WebhookEndpoint]:
    with company_scope(company):
        return list(WebhookEndpoint.objects.order_by("pk"))


@pytest.mark.django_db
def test_create_shows_the_secret_once_and_lists_the_endpoint(client_a, company_a, receiver):
    response = client_a.post(base(company_a), {"url": receiver.url, "description": "ERP",
                                               "event_types": ["message.received", "contact.created"],
                                               "is_active": "on"})
    assert response.status_code == 200
    [endpoint] = endpoints(company_a)
    assert endpoint.event_types == ["message.received", "contact.created"] and endpoint.is_active
    assert endpoint.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    page = client_a.get(base(company_a)).content.decode()
    assert receiver.url in page and endpoint.secret not in page
    assert client_a.get(f"/c/{company_a.slug}/settings/").content.decode().count(base(company_a)) == 1


@pytest.mark.django_db
def test_the_event_list_is_in_the_person_s_language(client_a, company_a, client_b):
    """The events to tick are described in pt-BR for a pt-BR page (they were frozen in English at import)."""
    content = client_a.get(base(company_a), HTTP_ACCEPT_LANGUAGE="pt-br").content
    assert "message.received: Chegou uma mensagem de um cliente" in content.decode()
    content = client_a.get(base(company_a), HTTP_ACCEPT_LANGUAGE="en").content
    assert "message.received: A customer&#x27;s message arrived" in content.decode()
    assert client_b.get(base(company_a)).status_code == 404


def test_private_address_is_refused_by_the_form(settings, client_a, company_a):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    response = client_a.post(base(company_a), {"url": "http://10.0.0.5/hook", "is_active": "on"})
    assert response.status_code == 400 and "public addresses" in response.content.decode()
    assert endpoints(company_a) == []


@pytest.mark.django_db
def test_agents_get_403(agent_client_a, company_a, endpoint_a):
    endpoint = endpoint_a.endpoint
    assert agent_client_a.get(base(company_a)).status_code == 403
    assert agent_client_a.get(f"{base(company_a)}{endpoint.public_id}/").status_code == 403
    assert agent_client_a.post(f"{base(company_a)}{endpoint.public_id}/delete/").status_code == 403
    assert len(endpoints(company_a)) == 1


@pytest.mark.django_db
def test_edit_rotate_test_replay_delete(client_a, company_a, endpoint_a, receiver):
    endpoint = endpoint_a.endpoint
    url = f"{base(company_a)}{endpoint.public_id}/"
    response = client_a.post(url, {"url": receiver.url, "description": "Bot", "event_types": ["contact.updated"]})
    assert response.status_code == 302
    [endpoint] = endpoints(company_a)
    assert (endpoint.description, endpoint.event_types, endpoint.is_active) == ("Bot", ["contact.updated"], False)
    client_a.post(url, {"url": receiver.url, "description": "Bot", "is_active": "on"})
    response = client_a.post(url + "rotate/")
    [endpoint] = endpoints(company_a)
    assert endpoint.secret in response.content.decode() and endpoint.previous_secret == endpoint_a.secret
    with TestCase.captureOnCommitCallbacks(execute=False):
        assert client_a.post(url + "test/").status_code == 302
    with company_scope(company_a):
        delivery = WebhookDelivery.objects.get()
    assert tasks.deliver_webhook.apply(args=[company_a.pk, delivery.pk]).get() == "succeeded"
    Webhook(endpoint.secret).verify(receiver.requests[0].body, receiver.requests[0].headers)
    page = client_a.get(url).content.decode()
    assert "webhook.test" in page and delivery.event.event_id in page and f"delivery-{delivery.public_id}" in page
    partial = client_a.get(url + "deliveries/", headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith("<section") and delivery.event.event_id in partial
    assert client_a.post(f"{url}deliveries/{delivery.public_id}/replay/").status_code == 302
    with company_scope(company_a):
        delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert client_a.get(url + "delete/").status_code == 200
    assert client_a.post(url + "delete/").status_code == 302
    assert endpoints(company_a) == []


@pytest.mark.django_db
def test_a_replay_of_a_delivery_being_sent_says_so_and_changes_nothing(client_a, client_b, company_a, company_b,
                                                                       endpoint_a):
    endpoint = endpoint_a.endpoint
    with company_scope(company_a), TestCase.captureOnCommitCallbacks(execute=False):
        delivery = services.endpoint_send_test(company=company_a, endpoint=endpoint)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() + timedelta(seconds=60))
    replay = f"{base(company_a)}{endpoint.public_id}/deliveries/{delivery.public_id}/replay/"
    response = client_a.post(replay, follow=True, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert "Esta entrega está sendo enviada agora: reenvie-a quando" in response.content.decode()
    assert client_b.post(f"{base(company_b)}{endpoint.public_id}/deliveries/{delivery.public_id}/replay/"
                         ).status_code == 404
    with company_scope(company_a):
        delivery.refresh_from_db()
    assert delivery.lease_until is not None and delivery.attempts == 0


@pytest.mark.django_db
def test_the_log_refreshes_quickly_while_a_test_event_awaits_its_first_attempt(client_a, client_b, company_a,
                                                                               endpoint_a, receiver):
    """"Send test event" said "it appears in the log below", and there it stayed "Pending" for up to 30 s after it
    had been delivered, with nothing telling the person to reload."""
    url = f"{base(company_a)}{endpoint_a.endpoint.public_id}/"
    assert 'data-refresh-every="30s"' in client_a.get(url).content.decode()  # nothing awaited: the slow timer
    with TestCase.captureOnCommitCallbacks(execute=False):
        client_a.post(url + "test/")
    page = client_a.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in page and 'data-refresh-every="2s"' in page
    partial = client_a.get(url + "deliveries/", headers={"HX-Request": "true"}).content.decode()
    assert 'data-refresh-every="2s"' in partial
    with company_scope(company_a):
        delivery = WebhookDelivery.objects.get()
    assert tasks.deliver_webhook.apply(args=[company_a.pk, delivery.pk]).get() == "succeeded"
    partial = client_a.get(url + "deliveries/", headers={"HX-Request": "true"}).content.decode()
    assert 'data-refresh-every="30s"' in partial and "Succeeded" in partial  # its outcome is shown: slow again
    assert client_b.get(url + "deliveries/").status_code == 404


@pytest.mark.django_db
def test_delivery_log_query_count_does_not_grow_with_rows(client_a, company_a, endpoint_a,
                                                         django_assert_max_num_queries):
    with company_scope(company_a):
        for _ in range(5):
            services.event_emit(company=company_a, event_type="contact.created", payload={})
    with django_assert_max_num_queries(12):
        assert client_a.get(f"{base(company_a)}{endpoint_a.endpoint.public_id}/").status_code == 200


@pytest.mark.django_db
def test_another_companys_endpoint_is_404_and_nothing_changes(client_b, company_a, endpoint_a, receiver):
    endpoint = endpoint_a.endpoint
    with company_scope(company_a):
        delivery = WebhookDelivery.objects.create(company=company_a, endpoint=endpoint, status="failed",
                                                  event=WebhookEvent.objects.create(
                                                      company=company_a, event_id="evt_x", type="contact.created",
                                                      payload={}))
    url = f"{base(company_a)}{endpoint.public_id}/"
    before = (endpoints(company_a), endpoint.secret)
    for path in ("", "deliveries/", "delete/"):
        assert client_b.get(url + path).status_code == 404
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        for path in ("", "rotate/", "test/", "delete/", f"deliveries/{delivery.public_id}/replay/"):
            assert client_b.post(url + path, {"url": "https://evil.example/"}).status_code == 404
        # company B's own prefix with A's ids is a 404 too
        bravo = f"/c/bravo/settings/webhooks/{endpoint.public_id}/"
        assert client_b.post(bravo + "test/").status_code == 404
        assert client_b.post(f"{bravo}deliveries/{delivery.public_id}/replay/").status_code == 404
    assert callbacks == []
    [after] = endpoints(company_a)
    assert (after.url, after.secret, after.is_active) == (endpoint.url, endpoint.secret, True)
    assert before[0][0].secret == after.secret
    with company_scope(company_a):
        assert WebhookDelivery.objects.count() == 1
        assert WebhookDelivery.objects.get().status == "failed"
    assert receiver.requests == []


def deliver_one_event(company, receiver, *, answer: int) -> str:
    """Emit one event to the company's endpoint and run its first attempt, the receiver answering `answer`."""
    receiver.statuses = [answer]
    with company_scope(company):
        services.event_emit(company=company, event_type="contact.created", payload={})
        delivery = WebhookDelivery.objects.get()
    return tasks.deliver_webhook.apply(args=[company.pk, delivery.pk]).get()


@pytest.mark.django_db
def test_a_failed_attempt_is_stored_in_english_and_shown_in_each_readers_language(
        client_a, client_b, company_a, endpoint_a, receiver):
    """The worker writes the failure with no reader's language known; each page shows it in its own."""
    endpoint = endpoint_a.endpoint
    assert deliver_one_event(company_a, receiver, answer=503) == "retrying"
    with company_scope(company_a):
        endpoint.refresh_from_db()
    assert endpoint.last_error == "HTTP 503 from the receiver."  # the API's words, whatever the language
    url = f"{base(company_a)}{endpoint.public_id}/"
    for page in (url, base(company_a)):
        portuguese = client_a.get(page, HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
        assert "HTTP 503 do receptor." in portuguese and "from the receiver" not in portuguese
        assert "HTTP 503 from the receiver." in client_a.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert client_b.get(url, HTTP_ACCEPT_LANGUAGE="pt-br").status_code == 404


@pytest.mark.django_db
def test_a_disabled_endpoints_reason_reads_in_portuguese(client_a, company_a, endpoint_a, receiver):
    endpoint = endpoint_a.endpoint
    assert deliver_one_event(company_a, receiver, answer=410) == "gone"
    page = client_a.get(f"{base(company_a)}{endpoint.public_id}/", HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "O receptor respondeu 410 Gone: pediu para pararmos." in page
    assert "HTTP 410 do receptor." in page
