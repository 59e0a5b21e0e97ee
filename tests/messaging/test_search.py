"""Inbox search: the same conversations whichever way the SQL finds them, in a fixed number of queries.

`selectors._search_condition` looks a term up through the trigram indexes first and reads the list by ids
when it is rare, or checks it row by row when it is common (benchmarks/inbox.py measures why). Both ways
must answer the same; the tests force the row-by-row way by lowering SEARCH_ID_LIMIT.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging import selectors
from messaging.selectors import ConversationFilters, conversation_list
from tenants.scoping import company_scope
from tests.factories import make_instance
from tests.messaging.test_pages import add_message, inbox, make_conversation

pytestmark = pytest.mark.django_db

TERMS = ["Mariana", "mariana", "98765", "+5511987650001", "reembolso", "REEMBOLSO do", "pedido", "ok", "xyzzy",
         "Cliente VIP"]


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
    with company_scope(company_a):
        contact = conversations[4].contact
        contact.custom_name = "Cliente VIP"
        contact.save(update_fields=["custom_name"])
    return conversations


def _found(company, term: str) -> list[int]:
    with company_scope(company):
        return [conversation.pk for conversation in
                conversation_list(company=company, filters=ConversationFilters(search=term))]


@pytest.mark.parametrize("term", TERMS)
def test_rare_and_common_paths_find_the_same_conversations(company_a, inbox_a, monkeypatch, term):
    by_ids = _found(company_a, term)
    monkeypatch.setattr(selectors, "SEARCH_ID_LIMIT", 0)  # every side with a match is "common": row by row
    assert _found(company_a, term) == by_ids


def test_search_matches_names_numbers_and_message_texts(company_a, inbox_a):
    mariana_souza, mariana_lima, joao, ana, pedro = (conversation.pk for conversation in inbox_a)
    assert set(_found(company_a, "mariana")) == {mariana_souza, mariana_lima}
    assert _found(company_a, "+5511987650001") == [mariana_souza]
    assert _found(company_a, "REEMBOLSO") == [joao]
    assert set(_found(company_a, "pedido")) == {joao, ana, pedro}
    assert _found(company_a, "vip") == [pedro]
    assert _found(company_a, "xyzzy") == []


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
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname IN ('message_text_trgm', "
                       "'contact_search_trgm')")
        assert {row[0] for row in cursor.fetchall()} == {"message_text_trgm", "contact_search_trgm"}
