"""Inbox search: the same conversations whichever way the SQL finds them, in a fixed number of queries.

`selectors._search_condition` looks a term up through the trigram indexes first and reads the list by ids
when it is rare, or checks it row by row when it is common in the tab, or collects its messages in the tab
first when it is common overall but rare in the tab's newest conversations (benchmarks/inbox.py measures
why). Every way must answer the same; the tests force the others by lowering the thresholds. Company B's
conversations, with the same words, are never found by A's search, whichever way.
"""

from __future__ import annotations

import importlib
import json

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging import selectors
from messaging.models import Message
from messaging.selectors import ConversationFilters, conversation_list
from tenants.scoping import company_scope
from tests.factories import make_instance
from tests.messaging.test_pages import add_message, inbox, make_conversation
from tests.test_settings import SQLITE_WORLD, run_django

pytestmark = pytest.mark.django_db

TERMS = ["Mariana", "mariana", "98765", "+5511987650001", "+55 (11) 98765-0001", "reembolso", "REEMBOLSO do",
         "pedido", "ok", "xyzzy", "Cliente VIP", "apagada", "paes", "PÃES", "joao", "promoção", "Promocao"]


@pytest.fixture
def inbox_a(company_a):
    instance = make_instance(company=company_a)
    people = [("5511987650001", "Mariana Souza"), ("5511987650002", "Mariana Lima"), ("5511911110003", "João"),
              ("5511922220004", "Ana"), ("5511933330005", "Pedro")]
    conversations = [make_conversation(company_a, instance, number, name) for number, name in people]
    add_message(company_a, conversations[2], text="Quero o reembolso do pedido 12")
    add_message(company_a, conversations[3], text="ok, obrigado pelo pedido")
    add_message(company_a, conversations[4], text="Pedido 13 confirmado", direction="out", status="read",
                status_rank=50)
    add_message(company_a, conversations[0], text="mensagem apagada", is_deleted=True)  # shown to nobody
    add_message(company_a, conversations[1], text="Tem pães de queijo na promoção?")
    with company_scope(company_a):
        contact = conversations[4].contact
        contact.custom_name = "Cliente VIP"
        contact.save(update_fields=["custom_name"])
    return conversations


@pytest.fixture
def inbox_b(company_b):
    """Company B: the same names, numbers and words as A's inbox."""
    instance = make_instance(company=company_b)
    theirs = make_conversation(company_b, instance, "5511987650001", "Mariana Souza")
    add_message(company_b, theirs, text="Quero o reembolso do pedido 12, ok; tem pães na promoção?")
    make_conversation(company_b, instance, "5511911110003", "João")
    return theirs


def _found(company, term: str, **filters) -> list[int]:
    with company_scope(company):
        return [conversation.pk for conversation in
                conversation_list(company=company, filters=ConversationFilters(search=term, **filters))]


# How the message side is read when it is common overall (more than SEARCH_ID_LIMIT matches): row by row
# when SEARCH_HEAD_HITS of the tab's newest SEARCH_HEAD conversations match, collected in the tab otherwise.
PATHS = {"row by row": {"SEARCH_ID_LIMIT": 0, "SEARCH_HEAD": 1, "SEARCH_HEAD_HITS": 0},
         "collected": {"SEARCH_ID_LIMIT": 0, "SEARCH_HEAD": 1, "SEARCH_HEAD_HITS": 2}}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("term", TERMS)
def test_rare_and_common_paths_find_the_same_conversations(company_a, inbox_a, inbox_b, monkeypatch, term, path):
    by_ids = _found(company_a, term)
    in_open_tab = _found(company_a, term, status="open", assignee="unassigned")
    for name, value in PATHS[path].items():
        monkeypatch.setattr(selectors, name, value)
    assert _found(company_a, term) == by_ids
    assert _found(company_a, term, status="open", assignee="unassigned") == in_open_tab
    assert inbox_b.pk not in by_ids


def test_a_term_common_overall_but_rare_in_the_tab_is_collected_not_checked_down_the_tab(
        company_a, inbox_a, inbox_b, monkeypatch):
    """"pedido" is in three of A's conversations: above a limit of 2 it is common. All three are open; in the
    closed tab (its newest conversations match nothing) its messages are collected in the tab, and in the open
    tab, where the newest two both match, it is checked row by row. Either way the answers are A's alone."""
    monkeypatch.setattr(selectors, "SEARCH_ID_LIMIT", 2)
    monkeypatch.setattr(selectors, "SEARCH_HEAD", 2)
    monkeypatch.setattr(selectors, "SEARCH_HEAD_HITS", 2)
    mariana_souza, mariana_lima, joao, ana, pedro = inbox_a
    with company_scope(company_a):
        for conversation in (mariana_souza, mariana_lima):
            conversation.status = "closed"
            conversation.save(update_fields=["status"])

    def list_sql(**filters) -> tuple[list[int], str]:
        with CaptureQueriesContext(connection) as queries:
            found = _found(company_a, "pedido", **filters)
        return found, queries.captured_queries[-1]["sql"]

    found, sql = list_sql(status="closed")
    assert found == [] and "unnest(ARRAY(" in sql and "EXISTS" not in sql
    found, sql = list_sql(status="open")
    assert set(found) == {joao.pk, ana.pk, pedro.pk} and "EXISTS" in sql and "unnest" not in sql
    monkeypatch.setattr(selectors, "SEARCH_HEAD", 10)  # a tab shorter than the head: row by row, it is short
    found, sql = list_sql(status="closed")
    assert found == [] and "EXISTS" in sql


def test_search_matches_names_numbers_and_message_texts(company_a, inbox_a):
    mariana_souza, mariana_lima, joao, ana, pedro = (conversation.pk for conversation in inbox_a)
    assert set(_found(company_a, "mariana")) == {mariana_souza, mariana_lima}
    assert _found(company_a, "+5511987650001") == [mariana_souza]
    # A number as people write it: its digits are looked up.
    assert _found(company_a, "+55 (11) 98765-0001") == _found(company_a, "(11) 98765.0001") == [mariana_souza]
    assert set(_found(company_a, "(11) 98765")) == {mariana_souza, mariana_lima}
    assert _found(company_a, "apagada") == []  # a deleted message's text is kept, but finds nothing
    assert _found(company_a, "REEMBOLSO") == [joao]
    assert set(_found(company_a, "pedido")) == {joao, ana, pedro}
    assert _found(company_a, "vip") == [pedro]
    assert _found(company_a, "xyzzy") == []


def test_search_ignores_accents_and_letter_case_in_names_and_texts(company_a, inbox_a, inbox_b):
    """People type without accents: "paes" finds "pães", "joao" finds João, and an accented term finds the
    plain word as well. Company B has the same words and the same João: never found by A."""
    _mariana_souza, mariana_lima, joao, _ana, pedro = (conversation.pk for conversation in inbox_a)
    for term in ("paes", "PÃES", "Pães de", "PROMOCAO", "promoção"):
        assert _found(company_a, term) == [mariana_lima], term
    for term in ("joao", "JOÃO", "Joáo"):
        assert _found(company_a, term) == [joao], term
    assert _found(company_a, "confirmádo") == [pedro]  # an accent the text does not have still matches
    assert _found(company_a, "pã_s") == []  # LIKE's wildcards are literal characters in a term


def test_search_costs_one_lookup_query_on_the_list_and_the_api(client_a, api_a, company_a, inbox_a):
    client_a.get(inbox(company_a))  # warm up the session
    for term in ("reembolso", "pedido", "xyzzy"):
        with CaptureQueriesContext(connection) as plain:
            client_a.get(inbox(company_a), {"fragment": "list", "status": "open"})
        with CaptureQueriesContext(connection) as searched:
            response = client_a.get(inbox(company_a), {"fragment": "list", "status": "open", "q": term})
        assert response.status_code == 200
        # The lookup (one UNION query); a term found nowhere needs no list query at all.
        assert len(searched) <= len(plain) + 1 <= 8, [query["sql"] for query in searched]
        with CaptureQueriesContext(connection) as api_queries:
            assert api_a.get("/api/v1/conversations", {"search": term}).status_code == 200
        assert len(api_queries) <= 4, [query["sql"] for query in api_queries]


def test_trigram_indexes_exist():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%%trgm'")
        indexes = dict(cursor.fetchall())
    # On the very expressions the searches compare (accents and case folded), or the search reads every row.
    assert set(indexes) == {"message_text_fold_trgm", "contact_search_fold_trgm"}
    assert "recado_fold(text) gin_trgm_ops" in indexes["message_text_fold_trgm"]
    assert "recado_fold((name)::text) gin_trgm_ops" in indexes["contact_search_fold_trgm"]


def test_a_rare_term_is_looked_up_through_the_folded_trigram_index(company_a, inbox_a):
    """The planner takes the index for the folded comparison Django writes (on a table too small to need it,
    sequential scans are turned off, and the company's own index left out, so that only an unusable index would
    still read the table)."""
    matching = Message.all_companies.filter(text__fold__contains="paes").order_by()
    sql, params = matching.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_text_fold_trgm" in plan, plan


_SQLITE_SEARCH = SQLITE_WORLD + """
from contacts import selectors as contact_selectors
from contacts.models import Contact
from messaging.models import Conversation, Message
from messaging.selectors import ConversationFilters, conversation_list

found = {}
for slug, company in companies.items():
    with company_scope(company):
        instance = instances[slug]
        contact = Contact.objects.create(company=company, instance=instance, identifier="5511911112222",
                                         name=f"João {slug}")
        conversation = Conversation.objects.create(company=company, instance=instance, contact=contact)
        Message.objects.create(company=company, conversation=conversation, instance=instance, direction="in",
                               kind="text", text="Tem PÃES de queijo?", status="delivered", status_rank=40)
with company_scope(company := Company.objects.get(slug="alpha")):
    for term in ("paes", "pães", "joao", "JOÃO", "queijo", "pão"):
        found[term] = [c.contact.name for c in conversation_list(company=company,
                                                                 filters=ConversationFilters(search=term))]
    found["contacts"] = [c.name for c in contact_selectors.contact_list(
        company=company, filters=contact_selectors.ContactFilters(search="joao"))]
print(json.dumps(found))
"""


def test_search_ignores_accents_on_sqlite_too(tmp_path):
    """`make run`'s SQLite has no unaccent: tenants/folding.py gives it a recado_fold of its own, which folds
    non-ASCII letters' case as well (SQLite's LIKE folds only ASCII). Beta's identical rows stay beta's."""
    result = run_django(["-c", _SQLITE_SEARCH], DJANGO_ENV="development", RECADO_VAR_DIR=str(tmp_path),
                        REDIS_URL=settings.REDIS_URL, CACHE_KEY_PREFIX=f"sqlite-search-{tmp_path.name}")
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"paes": ["João alpha"], "pães": ["João alpha"], "joao": ["João alpha"],
                     "JOÃO": ["João alpha"], "queijo": ["João alpha"], "pão": [], "contacts": ["João alpha"]}


def test_the_fold_is_inlined_c_where_allowed_and_plain_sql_where_not_and_both_fold_the_same():
    """The tests migrate as a superuser: recado_fold calls the IMMUTABLE C wrapper (inlined by the planner).
    A role that may not create C functions (a managed database) gets the SQL body over unaccent itself."""
    migration = importlib.import_module("messaging.migrations.0004_search_without_accents")
    role = f"recado_plain_{connection.settings_dict['NAME']}"[:63]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('recado_fold(text)'::regprocedure)")
        assert "recado_unaccent(" in cursor.fetchone()[0]
        cursor.execute(f'CREATE ROLE "{role}" NOSUPERUSER')  # rolled back with the test's transaction
        cursor.execute(f'CREATE SCHEMA recado_plain AUTHORIZATION "{role}"')
        cursor.execute(f'SET LOCAL ROLE "{role}"')
        cursor.execute("SET LOCAL search_path = recado_plain")
        assert migration.define_fold(connection, name="plain_fold") == "public.unaccent"
        cursor.execute("SELECT recado_plain.plain_fold(%s), public.recado_fold(%s)", ["Pães, São João; ÀÉÎÕÜ ç ß"] * 2)
        plain, inlined = cursor.fetchone()
    assert plain == inlined == "PAES, SAO JOAO; AEIOU C SS"
