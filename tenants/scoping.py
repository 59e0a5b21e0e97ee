"""The company context and the fail-closed manager every tenant-owned model uses (STYLE rules 6-8)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.db import models, router
from django.db.models.constants import OnConflict

if TYPE_CHECKING:
    from tenants.models import Company

_current_company: contextvars.ContextVar[Company | None] = contextvars.ContextVar("recado_company", default=None)


class TenantScopeError(RuntimeError):
    """A tenant-owned table was queried or written outside (or across) a company context."""


def current_company() -> Company | None:
    return _current_company.get()


def enter_company_scope(company: Company) -> contextvars.Token:
    """Set the company context; the caller must hand the token to `exit_company_scope` in a finally."""
    if company is None or company.pk is None:
        raise TenantScopeError("cannot enter the scope of an unsaved or missing company")
    return _current_company.set(company)


def exit_company_scope(token: contextvars.Token) -> None:
    _current_company.reset(token)


@contextmanager
def company_scope(company: Company) -> Iterator[Company]:
    """Run a block inside one company's context, always restoring the previous one."""
    token = enter_company_scope(company)
    try:
        yield company
    finally:
        exit_company_scope(token)


@contextmanager
def outside_company_scope() -> Iterator[None]:
    """Run a block with no company context (a tenant manager in it raises), restoring the previous one."""
    token = _current_company.set(None)
    try:
        yield
    finally:
        _current_company.reset(token)


def first_row(queryset: models.QuerySet) -> models.Model | None:
    """The row of a lookup by a unique key, or None: `first()` without its ORDER BY.

    `first()` orders by the model's Meta.ordering (or the pk), and compiling any ORDER BY makes Django hash
    every selected column; with select_related that is most of the query's CPU on the hot paths (a send
    reads a message with its instance, server, conversation, contact and quote). Only for filters that
    match at most one row: with more, which one comes back is unspecified.
    """
    return next(iter(queryset.order_by()[:1]), None)


class TenantManager(models.Manager):
    """Default manager of tenant models: refuses to query without a company context, filters by it otherwise."""

    def get_queryset(self) -> models.QuerySet:
        company = current_company()
        if company is None:
            raise TenantScopeError(
                f"{self.model.__name__}.objects used without a company context; "
                "use a selector inside company_scope() or, where crossing companies is the point, all_companies"
            )
        return super().get_queryset().filter(company_id=company.pk)


class TenantOwned(models.Model):
    """Abstract base of every table that belongs to one company."""

    # Reverse accessors are named "<app>_<model>" (e.g. Count("tenants_membership") on Company).
    company = models.ForeignKey(
        "tenants.Company", on_delete=models.CASCADE, db_index=True,
        related_name="%(app_label)s_%(class)s_set", related_query_name="%(app_label)s_%(class)s",
    )

    objects = TenantManager()
    # The only bypass: cross-company work (beat fan-out, admin, auth lookups by hashed secret).
    # Every use carries a comment saying why; tests/tenants/test_structure.py lists where it may appear.
    all_companies = models.Manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        company = current_company()
        if company is not None and self.company_id is not None and self.company_id != company.pk:
            raise TenantScopeError(
                f"refusing to save {type(self).__name__} of company {self.company_id} inside company {company.pk}"
            )
        super().save(*args, **kwargs)

    @classmethod
    def insert_all(cls, rows: list) -> None:
        """`bulk_create` of rows of the current company (one INSERT; their pks set), refusing any other company's
        row as `save()` does."""
        company = current_company()
        for row in rows:
            if company is not None and row.company_id != company.pk:
                raise TenantScopeError(
                    f"refusing to insert {cls.__name__} of company {row.company_id} inside company {company.pk}")
        from tenants.prepared import insert_rows

        if insert_rows(cls, rows) is None:  # a shape the prepared statement does not serve
            cls._base_manager.bulk_create(rows)

    def insert_unless_present(self) -> bool:
        """INSERT … ON CONFLICT DO NOTHING: True when the row was written (its pk and defaults set as `save()`
        sets them), False when a unique constraint already holds an equal row (nothing written).

        For rows the database deduplicates (a gateway message stored once per instance and id): one statement,
        where `save()` in a savepoint catching the IntegrityError takes three round trips, and a conflict does
        not abort the caller's transaction. No signals are sent (none of these models has receivers)."""
        company = current_company()
        if company is not None and self.company_id != company.pk:
            raise TenantScopeError(
                f"refusing to insert {type(self).__name__} of company {self.company_id} inside company {company.pk}"
            )
        from tenants.prepared import insert_rows

        written = insert_rows(type(self), [self], ignore_conflicts=True)
        if written is not None:
            return bool(written)
        meta = self._meta
        fields = [field for field in meta.local_concrete_fields
                  if not field.generated and (field is not meta.auto_field or self.pk is not None)]
        using = router.db_for_write(type(self), instance=self)
        rows = type(self)._base_manager.using(using)._insert(
            [self], fields=fields, returning_fields=meta.db_returning_fields, using=using,
            on_conflict=OnConflict.IGNORE)
        if not rows:
            return False
        for value, field in zip(rows[0], meta.db_returning_fields, strict=True):
            setattr(self, field.attname, value)
        self._state.adding, self._state.db = False, using
        return True
