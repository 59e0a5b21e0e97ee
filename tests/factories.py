"""Plain factory functions. Each tenant-owned factory *requires* a company: none invents a second tenant."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from contacts import services as contact_services
from contacts.models import Contact, Tag
from instances.models import GatewayServer, Instance
from tenants import services
from tenants.models import Company, Membership, Role, User
from tenants.scoping import company_scope

_sequence = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_company(*, name: str | None = None, slug: str | None = None, **fields) -> Company:
    number = next(_sequence)
    return services.company_create(name=name or f"Company {number}", slug=slug or f"company-{number}", **fields)


def make_user(*, email: str | None = None, username: str | None = None, password: str = PASSWORD, **fields) -> User:
    number = next(_sequence)
    email = email or f"person{number}@example.com"
    return get_user_model().objects.create_user(username=username or email, email=email, password=password, **fields)


def make_member(*, company: Company, role: str = Role.AGENT, user: User | None = None, **user_fields) -> Membership:
    return services.member_add(company=company, user=user or make_user(**user_fields), role=role)


def make_api_key(*, company: Company, name: str = "ERP", scopes: list[str] | None = None) -> services.IssuedApiKey:
    return services.api_key_create(company=company, name=name, scopes=scopes)


def make_instance(*, company: Company, name: str | None = None) -> Instance:
    """An instance row of `company` on a throwaway gateway server, without talking to any gateway."""
    number = next(_sequence)
    server = GatewayServer.objects.create(name=f"server-{number}", base_url="http://127.0.0.1:9",
                                          api_key="k", hook_secret="s", hook_secret_hash=f"server-hash-{number}")
    name = name or f"line-{number}"
    with company_scope(company):
        return Instance.objects.create(company=company, server=server, name=name,
                                       gateway_name=f"{company.slug}_{name}", token="t",
                                       webhook_secret_hash=f"instance-hash-{number}")


def make_contact(*, company: Company, instance: Instance, identifier: str, **fields) -> Contact:
    with company_scope(company):
        return contact_services.contact_create(company=company, instance=instance, identifier=identifier, **fields)


def make_tag(*, company: Company, name: str, color: str = "#1a7f37") -> Tag:
    with company_scope(company):
        return contact_services.tag_create(company=company, name=name, color=color)


def make_platform(*, company: Company, instance: Instance, slug: str) -> None:
    """A bot platform of the instance (its callback on the discard port: nothing is delivered in these tests)."""
    from integrations import bots

    with company_scope(company):
        bots.platform_create(company=company, instance=instance, slug=slug, callback_url="http://127.0.0.1:9/bot")
