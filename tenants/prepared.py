"""Queries the ORM builds once per process, then runs again with new values: for the hot paths.

Building a query costs the ORM 0.6-1.5 ms of CPU here (filters resolved, joins set up, SQL compiled), ten to
twenty times what PostgreSQL takes to answer the simple ones the inbound apply sends for every message (is it
a repeat, who is this sender, lock their conversation, which replies wait for it, move the conversation). A
`Prepared` query is written as an ordinary queryset over placeholder values; the SQL and parameters the ORM
produces are kept, and each run puts the real values in the placeholders' places. The SQL is the ORM's own,
so it stays what the queryset says, scoping included:

- built inside a throwaway company scope whose id is a placeholder too, so the TenantManager's filter is in
  the SQL and each run fills it from the current company scope: outside a scope a run raises
  TenantScopeError, exactly as the manager does;
- values come back through the compiler's converters (JSON, decimals), as from the queryset.

Only for shapes that do not depend on the values (no `__in` over a list whose length varies: prepare one per
length). Raw SQL lives here and in the few allowlisted modules (tests/tenants/test_structure.py).

`scoped=False` is for the few lookups made before any company is known (the API key that names it): the query
reads through a model's cross-company manager (allowlisted where it is used), and runs without a company scope.

A row read as `columns(Model)` (or `columns(Model, "relation")` for a joined one) becomes a model instance with
`model_from`, as the ORM builds one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

from django.db import connections, router
from django.db.models import QuerySet, sql
from django.db.models.constants import OnConflict

from tenants.models import Company
from tenants.scoping import TenantScopeError, company_scope, current_company, outside_company_scope

_COMPANY_SLOT = "company"
_PLACEHOLDER_INT = -7_310_000_000


class _Placeholders:
    """Attribute access hands out a placeholder of the declared type, unlike any real value."""

    def __init__(self, kinds: dict[str, type]) -> None:
        self._values: dict[str, Any] = {}
        for index, (name, kind) in enumerate(kinds.items(), start=1):
            if kind is int:
                value: Any = _PLACEHOLDER_INT - index
            elif kind is str:
                value = f"\x1fprepared:{name}\x1f"
            elif kind is datetime:
                value = datetime(1901, 1, 1, 0, 0, index, 7, tzinfo=UTC)
            elif kind is UUID:
                value = UUID(int=(0x7310 << 112) + index)
            else:
                raise TypeError(f"placeholder {name!r}: int, str, datetime or UUID, not {kind!r}")
            self._values[name] = value

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no placeholder {name!r} was declared") from None


class _Built:
    __slots__ = ("converters", "params", "slots", "sql")

    def __init__(self, sql_text: str, params: Sequence[Any], slots: list[tuple[int, str, Any]],
                 converters=None) -> None:
        self.sql, self.params, self.slots = sql_text, tuple(params), slots
        # (position in the row, the column's converters, its expression): the compiler's, run with the
        # connection of the thread that runs the query.
        self.converters = [(position, tuple(convs), expression)
                           for position, (convs, expression) in (converters or {}).items()]


class Prepared:
    """`Prepared(lambda p: Message.objects.filter(instance_id=p.instance).values_list("pk"), instance=int)`;
    `.rows(instance=3)`. For an UPDATE: `Prepared.update(lambda p: queryset, lambda p: {field: value}, ...)`."""

    def __init__(self, build: Callable[[Any], QuerySet], *, update: Callable[[Any], dict] | None = None,
                 scoped: bool = True, **kinds: type) -> None:
        self._build, self._update, self._kinds, self._scoped = build, update, kinds, scoped
        # Built once per process, not per thread: under ASGI every request runs its view in a thread of its own,
        # so a per-thread build was paid again by every request. What is kept is only read after it is built
        # (the SQL, the parameters' template, the columns' converters); two threads building it at once
        # build the same thing, and either one is kept.
        self._kept: tuple[_Built, str] | None = None

    @classmethod
    def update(cls, build: Callable[[Any], QuerySet], values: Callable[[Any], dict], **kinds: type) -> Prepared:
        return cls(build, update=values, **kinds)

    def _built(self) -> tuple[_Built, Any]:
        if self._kept is None:
            self._kept = self._compile()
        built, alias = self._kept
        return built, connections[alias]

    def _compile(self) -> tuple[_Built, str]:
        placeholders = _Placeholders({_COMPANY_SLOT: int, **self._kinds} if self._scoped else self._kinds)
        # Unscoped: built outside any scope (whatever the caller's), so a tenant manager in it raises instead of
        # filtering every later run by the first caller's company.
        scope = (company_scope(Company(pk=getattr(placeholders, _COMPANY_SLOT))) if self._scoped
                 else outside_company_scope())
        with scope:
            queryset = self._build(placeholders)
            alias = queryset.db if self._update is None else router.db_for_write(queryset.model)
            if self._update is None:
                compiler = queryset.query.get_compiler(alias)
                sql_text, params = compiler.as_sql()
                converters = compiler.get_converters([column[0] for column in compiler.select[:compiler.col_count]])
            else:
                query = queryset.query.chain(sql.UpdateQuery)
                query.add_update_values(self._update(placeholders))
                query.annotations = {}
                converters = None
                sql_text, params = query.get_compiler(alias).as_sql()
        ops = connections[alias].ops
        # (name, adapter): a value may reach the parameters as the backend adapts it (SQLite: a datetime as a
        # string, a UUID as its hex); the adapter does the same to each run's value.
        by_value: dict[Any, tuple[str, Callable | None]] = {}
        for name, value in placeholders._values.items():
            by_value[value] = (name, None)
            if isinstance(value, datetime) and (adapted := ops.adapt_datetimefield_value(value)) != value:
                by_value[adapted] = (name, ops.adapt_datetimefield_value)
            if isinstance(value, UUID):
                by_value[value.hex] = (name, _uuid_hex)
        slots = [(index, *by_value[param]) for index, param in enumerate(params)
                 if isinstance(param, int | str | datetime | UUID) and not isinstance(param, bool)
                 and param in by_value]
        missing = {name for name, _adapted in by_value.values()} - {name for _index, name, _adapted in slots}
        if missing:
            raise ValueError(f"placeholders the query does not use: {sorted(missing)}")
        return _Built(sql_text, params, slots, converters), alias

    def _params(self, built: _Built, values: dict[str, Any]) -> list[Any]:
        if self._scoped:
            company = current_company()
            if company is None:
                raise TenantScopeError("a prepared query of tenant tables used without a company context")
            values = {**values, _COMPANY_SLOT: company.pk}
        params = list(built.params)
        for index, name, adapter in built.slots:
            params[index] = values[name] if adapter is None else adapter(values[name])
        return params

    def rows(self, **values: Any) -> list[tuple]:
        built, connection = self._built()
        with connection.cursor() as cursor:
            cursor.execute(built.sql, self._params(built, values))
            rows = cursor.fetchall()
        if built.converters:
            rows = [_converted(row, built.converters, connection) for row in rows]
        return rows

    def sql_with_params(self, **values: Any) -> tuple[str, list[Any]]:
        """The SQL and its parameters with these values, to put inside a statement of the caller's (a subquery)."""
        built, _connection = self._built()
        return built.sql, self._params(built, values)

    def first(self, **values: Any) -> tuple | None:
        rows = self.rows(**values)
        return rows[0] if rows else None

    def execute(self, **values: Any) -> int:
        """Run an UPDATE; the rows it changed."""
        built, connection = self._built()
        with connection.cursor() as cursor:
            cursor.execute(built.sql, self._params(built, values))
            return cursor.rowcount


def padded(values: list) -> list:
    """`values` with its last one repeated up to the next power of two in length. An `__in` over them answers the
    same, and a prepared query of one shape per length then needs a shape per power of two: a drain's batches of
    1 to 20 messages are built 6 times per process, not 20."""
    if not values:
        raise ValueError("nothing to pad")
    size = 1 << (len(values) - 1).bit_length()
    return values + values[-1:] * (size - len(values))


def _converted(row: Sequence[Any], converters: list, connection) -> tuple:
    """A row's values through their columns' converters, as the compiler's apply_converters does."""
    values = list(row)
    for position, convs, expression in converters:
        value = values[position]
        for converter in convs:
            value = converter(value, expression, connection)
        values[position] = value
    return tuple(values)


def _uuid_hex(value: UUID) -> str:
    return value.hex


def columns(model, via: str = "") -> list[str]:
    """What a `values_list` names to read every stored field of `model`, or of the related row `via` joins."""
    return [f"{via}__{field.name}" if via else field.name for field in model._meta.concrete_fields]


@cache
def _attnames(model) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


def model_from(model, values: Sequence[Any], alias: str | None = None):
    """A model instance from the values of `columns(model)` in a row, as the ORM builds one (`Model.from_db`)."""
    return model.from_db(alias or router.db_for_read(model), _attnames(model), list(values))


def width(model) -> int:
    """How many values `columns(model)` reads."""
    return len(_attnames(model))


# INSERT statements by (model, rows, whether conflicts are ignored, alias): the ORM compiles one for every insert
# (quoting each column, assembling the placeholders), which cost a message about as much as preparing its values.
_insert_statements: dict[tuple, tuple[str, bool] | None] = {}


# How many parameters a statement may have for psycopg to keep how it splits it (psycopg 3.3: 50).
WIDE_STATEMENT_PARAMS = 128


def cache_wide_statements() -> None:
    """Let psycopg keep its parse of statements with up to WIDE_STATEMENT_PARAMS parameters.

    psycopg turns a query's `%s` placeholders into its own form with a regular expression over the whole text,
    and keeps the result (an LRU of 128 queries) only for queries of at most 50 parameters. A message row has
    51 columns, so every message stored, sent or received had its INSERT split again: a tenth of the web
    process's CPU in an API send (py-spy, docs/performance.md#send). Our statements come in few shapes (the
    ORM's and `insert_rows`' are built once per shape), so a wider limit keeps a few more entries in that LRU.
    psycopg reads the limit from its module at each call; tests/tenants/test_prepared.py checks it still does."""
    from psycopg import _queries

    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, WIDE_STATEMENT_PARAMS)


def insert_rows(model, rows: list, *, ignore_conflicts: bool = False) -> list | None:
    """INSERT `rows` (new, without pks) in one statement built once per shape, as `bulk_create` would: related
    fields checked, every field's value prepared as the ORM prepares it, the pks the database returns set, the
    rows marked saved. The rows written, in order (with `ignore_conflicts`, one row at a time: [] when a unique
    constraint already held an equal row). None when the shape is not one this serves (a row with its pk or an
    expression as a value, more values than the backend takes in one statement, fields other than the pk
    returned): nothing was done, and the caller uses the ORM."""
    meta = model._meta
    alias = router.db_for_write(model)
    connection = connections[alias]
    fields = [field for field in meta.local_concrete_fields if not field.generated and field is not meta.auto_field]
    if (not rows or (ignore_conflicts and len(rows) != 1) or list(meta.db_returning_fields) != [meta.pk]
            or any(row.pk is not None for row in rows)
            or any(hasattr(getattr(row, field.attname), "resolve_expression") for row in rows for field in fields)
            or connection.ops.bulk_batch_size(fields, rows) < len(rows)
            or not connection.features.can_return_columns_from_insert
            or (len(rows) > 1 and not connection.features.can_return_rows_from_bulk_insert)
            # A field whose placeholder may depend on its value: the statement is not the shape's alone.
            or any(hasattr(field, "get_placeholder_sql") or hasattr(field, "get_placeholder") for field in fields)):
        return None
    key = (model, len(rows), ignore_conflicts, alias)
    if key not in _insert_statements:
        # Blank rows give the statement's shape (a value's placeholder depends on its field only); they are not
        # written, and a blank file field commits nothing.
        query = sql.InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
        query.insert_values(fields, [model() for _row in rows])
        compiler = query.get_compiler(using=alias)
        compiler.returning_fields = meta.db_returning_fields
        statements = compiler.as_sql()
        served = len(statements) == 1 and not compiler.returning_params  # RETURNING with no values of its own
        # PostgreSQL inserts several rows as UNNEST over one array per column: its parameters are the columns.
        by_column = served and len(rows) > 1 and len(statements[0][1]) == len(fields)
        _insert_statements[key] = (statements[0][0], by_column) if served else None
    if _insert_statements[key] is None:
        return None
    statement, by_column = _insert_statements[key]
    for row in rows:
        row._prepare_related_fields_for_save(operation_name="bulk_create")
    values = [[field.get_db_prep_save(field.pre_save(row, True), connection=connection) for field in fields]
              for row in rows]
    params = [list(column) for column in zip(*values, strict=True)] if by_column else \
        [value for row_values in values for value in row_values]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        returned = cursor.fetchall()
    written = rows[:len(returned)]
    for row, (pk,) in zip(written, returned, strict=True):
        setattr(row, meta.pk.attname, pk)
        row._state.adding, row._state.db = False, alias
    return written
