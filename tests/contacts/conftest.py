"""Contacts tests: instances inserted directly (no gateway call) and small contact/tag factories."""

from __future__ import annotations

import pytest

from instances.models import Instance
from tenants.scoping import company_scope
from tests.factories import make_contact, make_instance, make_tag

# Re-exported for modules that still import them from here.
__all__ = ["make_contact", "make_instance", "make_tag"]


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
