"""A create form whose answer shows a secret once is not created twice when the browser sends it again (a reload
of that answer resends the POST): the form's one-time token is claimed first (tenants/once.py)."""

from __future__ import annotations

import re

import pytest

from integrations.models import BotPlatform, WebhookEndpoint
from tenants.models import ApiKey
from tenants.scoping import company_scope
from tests.factories import make_instance

pytestmark = pytest.mark.django_db
TOKEN = re.compile(r'name="form_once" value="([A-Za-z0-9_-]+)"')


def token_of(page) -> str:
    assert page.status_code == 200
    return TOKEN.search(page.content.decode()).group(1)


def test_an_api_key_form_sent_again_creates_nothing_and_says_why(client_a, client_b, company_a, company_b):
    url = f"/c/{company_a.slug}/settings/api-keys/"
    form = {"name": "ERP-Alfa-7", "scopes": ["read"], "form_once": token_of(client_a.get(url))}
    first = client_a.post(url, form)
    assert first.status_code == 200 and 'id="new-api-key-secret"' in first.content.decode()
    again = client_a.post(url, form, follow=True)  # the reload
    assert 'id="new-api-key-secret"' not in again.content.decode()
    assert "That form had already been sent" in again.content.decode()
    assert ApiKey.all_companies.filter(company=company_a, name="ERP-Alfa-7").count() == 1
    # A new form (a new token) creates a new key; company B's page knows nothing of A's.
    assert client_a.post(url, {**form, "form_once": token_of(client_a.get(url))}).status_code == 200
    assert ApiKey.all_companies.filter(company=company_a, name="ERP-Alfa-7").count() == 2
    assert "ERP-Alfa-7" not in client_b.get(f"/c/{company_b.slug}/settings/api-keys/").content.decode()


def test_a_form_with_errors_is_answered_with_a_new_token(client_a, company_a):
    url = f"/c/{company_a.slug}/settings/api-keys/"
    token = token_of(client_a.get(url))
    refused = client_a.post(url, {"name": "", "scopes": ["read"], "form_once": token})
    assert refused.status_code == 400 and TOKEN.search(refused.content.decode()).group(1) != token
    # The token of a refused form was not spent: nothing was created with it.
    assert client_a.post(url, {"name": "ERP-Alfa-7", "scopes": ["read"], "form_once": token}).status_code == 200
    assert ApiKey.all_companies.filter(company=company_a).count() == 1


def test_a_webhook_endpoint_form_sent_again_creates_one_endpoint(client_a, company_a, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    url = f"/c/{company_a.slug}/settings/webhooks/"
    form = {"url": "http://127.0.0.1:9/hook", "event_types": ["message.received"], "is_active": "on",
            "form_once": token_of(client_a.get(url))}
    assert client_a.post(url, form).status_code == 200
    again = client_a.post(url, form, follow=True)
    assert "That form had already been sent" in again.content.decode()
    assert WebhookEndpoint.all_companies.filter(company=company_a, url=form["url"]).count() == 1


def test_a_bot_platform_form_sent_again_creates_one_platform(client_a, client_b, company_a, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    instance = make_instance(company=company_a)
    page = f"/c/{company_a.slug}/instances/{instance.public_id}/"
    form = {"slug": "vendas-bot", "callback_url": "http://127.0.0.1:9/bot",
            "form_once": token_of(client_a.get(page))}
    url = f"{page}platforms/"
    assert client_a.post(url, form).status_code == 200
    again = client_a.post(url, form, follow=True)
    assert "That form had already been sent" in again.content.decode()
    with company_scope(company_a):
        assert BotPlatform.objects.filter(slug="vendas-bot").count() == 1
    assert client_b.post(url, {**form, "form_once": "x" * 24}).status_code == 404  # A's instance, B's owner
