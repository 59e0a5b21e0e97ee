"""Plain factory functions. Each tenant-owned factory *requires* a company: none invents a second tenant."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from tenants import services
from tenants.models import Company, Membership, Role, User

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
