"""TenantOwned.insert_unless_present: one INSERT … ON CONFLICT DO NOTHING, scoped like save()."""

from __future__ import annotations

import pytest
from django.db import transaction

from contacts.models import Tag
from tenants.scoping import TenantScopeError, company_scope

pytestmark = pytest.mark.django_db


def test_a_new_row_is_written_with_its_pk_and_defaults_as_save_would(company_a):
    with company_scope(company_a):
        tag = Tag(company=company_a, name="vip")
        assert tag.insert_unless_present() is True
        assert tag.pk is not None and not tag._state.adding
        stored = Tag.objects.get(pk=tag.pk)
        assert (stored.name, stored.color, stored.public_id, stored.created_at) == (
            "vip", tag.color, tag.public_id, tag.created_at)


def test_a_row_a_unique_constraint_holds_is_skipped_and_the_transaction_goes_on(company_a):
    with company_scope(company_a):
        Tag.objects.create(company=company_a, name="vip", color="#123456")
        with transaction.atomic():
            again = Tag(company=company_a, name="VIP", color="#654321")  # the name is unique whatever its case
            assert again.insert_unless_present() is False
            assert again.pk is None
            # No savepoint was needed: the transaction is still usable after the conflict.
            assert Tag(company=company_a, name="other").insert_unless_present() is True
        assert sorted(Tag.objects.values_list("name", "color")) == [("other", Tag().color), ("vip", "#123456")]


def test_another_company_s_row_is_refused_and_its_equal_name_is_its_own(company_a, company_b):
    with company_scope(company_a):
        Tag.objects.create(company=company_a, name="vip")
        with pytest.raises(TenantScopeError):
            Tag(company=company_b, name="intruder").insert_unless_present()
    with company_scope(company_b):  # unique per company: company B's "vip" is no conflict with A's
        assert Tag(company=company_b, name="vip").insert_unless_present() is True
        assert list(Tag.objects.values_list("name", flat=True)) == ["vip"]
    with company_scope(company_a):
        assert list(Tag.objects.values_list("name", flat=True)) == ["vip"]


def test_insert_all_writes_rows_in_one_statement_and_refuses_another_company_s(company_a, company_b):
    """TenantOwned.insert_all: one INSERT for the rows (their pks set, in order); a row of another company
    refuses the whole batch before anything is written."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with company_scope(company_a):
        rows = [Tag(company=company_a, name=f"t{index}") for index in range(3)]
        with CaptureQueriesContext(connection) as queries:
            Tag.insert_all(rows)
        assert [query["sql"].split(" ", 1)[0] for query in queries.captured_queries] == ["INSERT"]
        assert all(row.pk for row in rows) and rows[0].pk < rows[1].pk < rows[2].pk
        with pytest.raises(TenantScopeError):
            Tag.insert_all([Tag(company=company_a, name="mine"), Tag(company=company_b, name="intruder")])
        assert sorted(Tag.objects.values_list("name", flat=True)) == ["t0", "t1", "t2"]
    with company_scope(company_b):
        assert not Tag.objects.exists()


def test_the_insert_is_built_once_per_shape_and_checks_related_rows_as_the_orm_does(company_a, company_b):
    """tenants.prepared.insert_rows: the INSERT of a shape (model, rows, conflicts ignored) is compiled once and
    run again with each call's values; an unsaved related row is refused as bulk_create refuses it; a value that
    is an expression is left to the ORM."""
    from django.db.models import Value
    from django.db.models.functions import Upper

    from tenants.models import Company
    from tenants.prepared import _insert_statements, insert_rows

    with company_scope(company_a):
        first = [Tag(company=company_a, name=f"a{index}") for index in range(2)]
        Tag.insert_all(first)
        built = {key: statement for key, statement in _insert_statements.items() if key[0] is Tag}
        second = [Tag(company=company_a, name=f"b{index}", color="#0000ff") for index in range(2)]
        Tag.insert_all(second)
        assert {key: statement for key, statement in _insert_statements.items() if key[0] is Tag} == built
        assert list(Tag.objects.filter(pk__in=[row.pk for row in second]).values_list("name", "color")) in (
            [("b0", "#0000ff"), ("b1", "#0000ff")], [("b1", "#0000ff"), ("b0", "#0000ff")])
        with pytest.raises(ValueError, match="unsaved related object"):
            insert_rows(Tag, [Tag(company=Company(name="not saved", slug="not-saved"), name="x")])
        assert insert_rows(Tag, [Tag(company=company_a, name=Upper(Value("expr")))]) is None
        assert not Tag.objects.filter(name__iexact="expr").exists()
    with company_scope(company_b):  # company B sees none of A's rows, and its own insert is its own
        Tag.insert_all([Tag(company=company_b, name="a0")])
        assert list(Tag.objects.values_list("name", flat=True)) == ["a0"]
