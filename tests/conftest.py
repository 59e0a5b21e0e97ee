"""The world every test starts in: two companies (A with an owner and an agent, B with its own owner)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from tenants.models import Role
from tenants.scoping import current_company
from tests.factories import make_api_key, make_company, make_member

pytest_plugins = []


def pytest_configure(config):
    """Give each xdist worker its own Redis database (tests/settings.py is imported before the worker id exists)."""
    worker = getattr(config, "workerinput", {}).get("workerid")
    if not worker:
        return
    import os

    from django.conf import settings

    from tests.settings import redis_settings

    for name, value in redis_settings(worker).items():
        setattr(settings, name, value)
    os.environ["REDIS_URL"] = settings.REDIS_URL  # subprocesses (browser tests' server) inherit it
    from config.celery import app

    app.conf.broker_url = settings.CELERY_BROKER_URL


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each xdist worker has its own Redis database (tests/settings.py): clearing it touches nobody else."""
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _site_language():
    """Each test starts in the site's language: a request made by a pt-BR user activates pt-BR in this thread
    (LocaleMiddleware never deactivates), and code a later test calls outside a request would speak it."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _no_company_context_leaks():
    assert current_company() is None, "a company context was active before the test"
    yield
    assert current_company() is None, "the test (or the code it ran) left a company context active"


@pytest.fixture
def company_a(db):
    return make_company(name="Alpha Foods", slug="alpha")


@pytest.fixture
def company_b(db):
    return make_company(name="Bravo Parts", slug="bravo")


@pytest.fixture
def owner_a(company_a):
    return make_member(company=company_a, role=Role.OWNER, email="alice@alpha.test", first_name="Alice").user


@pytest.fixture
def member_a(company_a):
    """An agent of company A: can work, cannot manage."""
    return make_member(company=company_a, role=Role.AGENT, email="adam@alpha.test").user


@pytest.fixture
def owner_b(company_b):
    """Charlie, owner of company B: the stranger to everything of A."""
    return make_member(company=company_b, role=Role.OWNER, email="charlie@bravo.test").user


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="tenants.backends.UsernameOrEmailBackend")
    return client


@pytest.fixture
def client_a(owner_a):
    return _logged_in(owner_a)


@pytest.fixture
def agent_client_a(member_a):
    return _logged_in(member_a)


@pytest.fixture
def client_b(owner_b):
    return _logged_in(owner_b)


@pytest.fixture
def api_key_a(company_a):
    return make_api_key(company=company_a)


@pytest.fixture
def api_key_b(company_b):
    return make_api_key(company=company_b)


@pytest.fixture
def api_a(api_key_a) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_a.secret}")
    return client


@pytest.fixture
def api_b(api_key_b) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_b.secret}")
    return client
