"""Contacts tests: instances inserted directly (no gateway call) and small contact/tag factories."""

from __future__ import annotations

import itertools

import pytest

from contacts import services
from contacts.models import Contact, Tag
from instances.models import GatewayServer, Instance
from tenants.models import Company
from tenants.scoping import company_scope

_sequence = itertools.count(1)


def make_instance(*, company: Company, name: str | None = None) -> Instance:
    """An instance row of `company` on a throwaway gateway server, without talking to any gateway."""
    number = next(_sequence)
    server = GatewayServer.objects.create(name=f"contacts-server-{number}", base_url="http://127.0.0.1:9",
                                          api_key="k", hook_secret="s", hook_secret_hash=f"contacts-hash-{number}")
    name = name or f"line-{number}"
    with company_scope(company):
        return Instance.objects.create(company=company, server=server, name=name,
                                       gateway_name=f"{company.slug}_{name}", token="t",
                                       webhook_secret_hash=f"contacts-instance-hash-{number}")


def make_contact(*, company: Company, instance: Instance, identifier: str, **fields) -> Contact:
    with company_scope(company):
        return services.contact_create(company=company, instance=instance, identifier=identifier, **fields)


def make_tag(*, company: Company, name: str, color: str = "#1a7f37") -> Tag:
    with company_scope(company):
        return services.tag_create(company=company, name=name, color=color)


@pytest.fixture
def instance_a(company_a) -> Instance:
    return make_instance(company=company_a, name="sales")


@pytest.fixture
def instance_b(company_b) -> Instance:
    return make_instance(company=company_b, name="sales")


@pytest.fixture
def scope_a(company_a):
    with company_scope(company_a):
        yield company_a
