"""Prepared queries (tenants/prepared.py): the ORM's SQL built once, run with new values, scoped like the manager."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from contacts.models import Tag
from tenants.models import ApiKey, Company, hash_secret
from tenants.prepared import Prepared, columns, model_from, padded, width
from tenants.scoping import TenantScopeError, company_scope

pytestmark = pytest.mark.django_db

BY_NAME = Prepared(lambda p: Tag.objects.filter(name=p.name).order_by().values_list("pk", "name", "color"), name=str)
BY_PUBLIC_ID = Prepared(lambda p: Tag.objects.filter(public_id=p.public_id).order_by().values_list(*columns(Tag)),
                        public_id=UUID)
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


def test_a_uuid_placeholder_and_rows_made_into_models_as_the_orm_makes_them(company_a, company_b, tags):
    own, foreign = tags
    with company_scope(company_a):
        (row,) = BY_PUBLIC_ID.rows(public_id=own.public_id)
        tag = model_from(Tag, row)
        assert (tag.pk, tag.company_id, tag.public_id, tag.name, tag.color) == (
            own.pk, company_a.pk, own.public_id, "vip", "#123456")
        assert tag._state.adding is False and tag._state.db == "default"  # as loaded by a queryset
        assert BY_PUBLIC_ID.rows(public_id=foreign.public_id) == []  # B's tag, asked inside A's scope
        assert BY_PUBLIC_ID.rows(public_id=uuid4()) == []
    with company_scope(company_b):
        assert [model_from(Tag, row).pk for row in BY_PUBLIC_ID.rows(public_id=foreign.public_id)] == [foreign.pk]
    with pytest.raises(TenantScopeError):
        BY_PUBLIC_ID.rows(public_id=own.public_id)


def test_an_unscoped_query_runs_without_a_scope_and_refuses_a_scoped_manager(company_a, company_b):
    from tenants import services

    key_a = services.api_key_create(company=company_a, name="erp", scopes=[ApiKey.Scope.READ])
    services.api_key_create(company=company_b, name="erp", scopes=[ApiKey.Scope.READ])
    # all_companies: the lookup under test names the company by the key, as authentication does.
    by_hash = Prepared(lambda p: ApiKey.all_companies.filter(secret_hash=p.secret_hash).order_by()
                       .values_list(*columns(ApiKey), *columns(Company, "company")), scoped=False, secret_hash=str)
    (row,) = by_hash.rows(secret_hash=hash_secret(key_a.secret))
    api_key, company = model_from(ApiKey, row[:width(ApiKey)]), model_from(Company, row[width(ApiKey):])
    assert (api_key.company_id, api_key.name, api_key.prefix) == (company_a.pk, "erp", key_a.api_key.prefix)
    assert (company.pk, company.slug) == (company_a.pk, company_a.slug)
    assert by_hash.rows(secret_hash="not-a-hash") == []
    # A tenant manager inside an unscoped query is a mistake, said at once rather than filtered by nothing.
    with company_scope(company_a), pytest.raises(TenantScopeError):
        Prepared(lambda p: Tag.objects.filter(name=p.name).values_list("pk"), scoped=False, name=str).rows(name="x")


@pytest.mark.django_db(transaction=True)
def test_built_once_per_process_and_run_by_any_thread(company_a, company_b, tags):
    """Under ASGI each request's view runs in a thread of its own: a query built per thread was built again by
    every request. Another thread runs the same built statement, with its own connection and scope."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    own, foreign = tags
    with company_scope(company_a):
        assert BY_NAME.rows(name="vip") == [(own.pk, "vip", "#123456")]
    kept = BY_NAME._kept

    def in_a_new_thread(company):
        try:
            with company_scope(company):
                return BY_NAME.rows(name="vip")
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(in_a_new_thread, company_b).result() == [(foreign.pk, "vip", "#abcdef")]
    assert BY_NAME._kept is kept


def test_a_message_row_s_insert_is_split_once_by_psycopg_not_on_every_insert(company_a):
    """A message row has more parameters (51) than psycopg kept its parse of (50): its INSERT was split by a
    regular expression again every time. With the wider limit (tenants/apps.py), the second insert of the same
    shape comes from psycopg's cache."""
    from django.db import connection
    from psycopg import _queries

    from messaging.models import Conversation, Message
    from tenants.prepared import WIDE_STATEMENT_PARAMS, insert_rows
    from tests.factories import make_contact, make_instance

    assert _queries.MAX_CACHED_STATEMENT_PARAMS >= WIDE_STATEMENT_PARAMS  # psycopg still reads it from there
    instance = make_instance(company=company_a)
    contact = make_contact(company=company_a, instance=instance, identifier="5511987654321")
    with company_scope(company_a):
        conversation = Conversation.objects.create(company=company_a, instance=instance, contact=contact)

        def one(text: str) -> Message:
            return Message(company=company_a, conversation=conversation, instance=instance, direction="in",
                           kind="text", text=text)

        # Values bound by the server (production's default) or quoted in by psycopg: each has its parse cache.
        cache = _queries._query2pg if connection.features.uses_server_side_binding else _queries._query2pg_client
        insert_rows(Message, [one("first")])
        before = cache.cache_info().hits
        [second] = insert_rows(Message, [one("second")])
        assert cache.cache_info().hits == before + 1
        assert Message.objects.get(pk=second.pk).text == "second"


def test_padded_answers_the_same_values_in_a_power_of_two_of_them():
    assert padded([7]) == [7]
    assert padded([1, 2]) == [1, 2]
    assert padded([1, 2, 3]) == [1, 2, 3, 3]
    assert padded(list(range(8))) == list(range(8))
    assert padded(list(range(17))) == [*range(17), *[16] * 15]
    with pytest.raises(ValueError, match="nothing to pad"):
        padded([])
