"""Prepared queries (tenants/prepared.py): the ORM's SQL built once, run with new values, scoped like the manager."""

from __future__ import annotations

import pytest

from contacts.models import Tag
from tenants.prepared import Prepared
from tenants.scoping import TenantScopeError, company_scope

pytestmark = pytest.mark.django_db

BY_NAME = Prepared(lambda p: Tag.objects.filter(name=p.name).order_by().values_list("pk", "name", "color"), name=str)
RENAME = Prepared.update(lambda p: Tag.objects.filter(pk=p.pk), lambda p: {"name": p.name}, pk=int, name=str)


@pytest.fixture
def tags(company_a, company_b):
    with company_scope(company_a):
        own = Tag.objects.create(company=company_a, name="vip", color="#123456")
        Tag.objects.create(company=company_a, name="other", color="#654321")
    with company_scope(company_b):
        foreign = Tag.objects.create(company=company_b, name="vip", color="#abcdef")
    return own, foreign


def test_rows_are_the_queryset_s_and_only_the_current_company_s(company_a, company_b, tags):
    own, foreign = tags
    with company_scope(company_a):
        assert BY_NAME.rows(name="vip") == [(own.pk, "vip", "#123456")]
        assert BY_NAME.rows(name="vip") == list(Tag.objects.filter(name="vip").values_list("pk", "name", "color"))
        assert BY_NAME.first(name="nobody") is None
    with company_scope(company_b):  # the same prepared statement, the other company's scope
        assert BY_NAME.rows(name="vip") == [(foreign.pk, "vip", "#abcdef")]


def test_outside_a_company_scope_it_refuses_like_the_manager(tags):
    with pytest.raises(TenantScopeError):
        BY_NAME.rows(name="vip")
    with pytest.raises(TenantScopeError):
        RENAME.execute(pk=tags[0].pk, name="x")


def test_an_update_changes_only_the_current_company_s_rows(company_a, company_b, tags):
    own, foreign = tags
    with company_scope(company_b):
        assert RENAME.execute(pk=own.pk, name="stolen") == 0  # A's row, asked from B: untouched
    with company_scope(company_a):
        assert RENAME.execute(pk=own.pk, name="gold") == 1
        assert Tag.objects.get(pk=own.pk).name == "gold"
    with company_scope(company_b):
        assert Tag.objects.get(pk=foreign.pk).name == "vip"


def test_a_placeholder_the_query_does_not_use_is_a_mistake_said_at_once(company_a):
    unused = Prepared(lambda p: Tag.objects.filter(name="vip").values_list("pk"), name=str)
    with company_scope(company_a), pytest.raises(ValueError, match="name"):
        unused.rows(name="vip")
    with pytest.raises(TypeError):
        Prepared(lambda p: Tag.objects.all(), when=float).rows()


def test_its_sql_can_sit_inside_another_statement_with_the_scope_s_values(company_a, company_b, tags):
    from django.db import connection

    own, _foreign = tags
    with company_scope(company_a):
        sql, params = BY_NAME.sql_with_params(name="vip")
        assert company_a.pk in params and "vip" in params and company_b.pk not in params
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*), min(t.pk) FROM ({sql}) AS t(pk, name, color)", params)
            assert cursor.fetchone() == (1, own.pk)
    with pytest.raises(TenantScopeError):
        BY_NAME.sql_with_params(name="vip")
