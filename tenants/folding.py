"""Text compared the way people type it: without accents and letter case ("pães" is found by "PAES").

Portuguese is written with accents that people often leave out when they search (and WhatsApp names come in
every form). `text__fold__contains="paes"` compares `recado_fold(text)` with `recado_fold('paes')`: both sides
upper-cased with their accents taken off. On PostgreSQL `recado_fold` is an IMMUTABLE SQL function over the
`unaccent` extension (migration messaging 0004), so the inbox's trigram indexes are built on that very
expression; on SQLite (`make run`'s default) this module registers a Python function of that name on every
connection, which folds the same way for the letters Portuguese and Spanish use.
"""

from __future__ import annotations

import unicodedata

from django.db.backends.signals import connection_created
from django.db.models import CharField, TextField, Transform

FUNCTION = "recado_fold"


class Fold(Transform):
    """`field__fold`: the field's text upper-cased without accents; bilateral, so the value is folded too."""

    lookup_name = "fold"
    function = FUNCTION
    bilateral = True
    output_field = TextField()


CharField.register_lookup(Fold)
TextField.register_lookup(Fold)


def fold(value: str | None) -> str | None:
    """SQLite's `recado_fold`: NFKD takes each accent off its letter as a combining mark, which is dropped."""
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).upper()


def _register_on_sqlite(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(FUNCTION, 1, fold, deterministic=True)


connection_created.connect(_register_on_sqlite, dispatch_uid="tenants.folding")
