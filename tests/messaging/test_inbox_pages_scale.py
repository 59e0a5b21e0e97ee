"""What keeps the inbox fast on a big company (benchmarks/inbox.py measures it at 100k conversations): keyset
pages bounded for the index, and no per-tag COUNT on the inbox pages."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import Conversation
from messaging.selectors import ConversationFilters, conversation_list, keyset_page
from tenants.scoping import company_scope
from tests.factories import make_instance, make_tag
from tests.messaging.test_pages import inbox, make_conversation

pytestmark = pytest.mark.django_db


def test_keyset_pages_cover_ties_once_and_bound_the_index_scan(company_a):
    instance = make_instance(company=company_a)
    conversations = [make_conversation(company_a, instance, f"55119{number:08d}", f"P{number}") for number in range(7)]
    same_moment = timezone.now()
    Conversation.all_companies.filter(pk__in=[c.pk for c in conversations[:5]]).update(last_message_at=same_moment)
    seen, cursor = [], ""
    with company_scope(company_a):
        listing = conversation_list(company=company_a, filters=ConversationFilters())
        while True:
            with CaptureQueriesContext(connection) as queries:
                rows, cursor = keyset_page(listing, field="last_message_at", cursor=cursor, size=2)
            seen += [row.pk for row in rows]
            if seen[2:]:
                # The index range needs a plain upper bound beside the (time, id) OR.
                assert '"last_message_at" <= ' in queries[0]["sql"], queries[0]["sql"]
            if not cursor:
                break
    assert sorted(seen) == sorted(c.pk for c in conversations) and len(seen) == len(set(seen))


def test_inbox_pages_do_not_count_contacts_per_tag(client_a, company_a):
    instance = make_instance(company=company_a)
    conversation = make_conversation(company_a, instance)
    make_tag(company=company_a, name="vip")
    client_a.get(inbox(company_a))
    for path in (inbox(company_a), f"{inbox(company_a)}{conversation.public_id}/"):
        with CaptureQueriesContext(connection) as queries:
            response = client_a.get(path)
        assert response.status_code == 200 and "vip" in response.content.decode()
        assert not [query for query in queries if "COUNT(" in query["sql"].upper()], path


def test_inbox_page_with_a_search_runs_at_most_eight_queries(client_a, company_a):
    """Session, user, membership with its company (one query), the switcher, the search lookup, the list,
    instances and tags."""
    instance = make_instance(company=company_a)
    make_conversation(company_a, instance, name="Maria")
    client_a.get(inbox(company_a))
    for term in ("", "Maria", "xyzzy", "ok"):
        with CaptureQueriesContext(connection) as queries:
            response = client_a.get(inbox(company_a), {"q": term} if term else {})
        assert response.status_code == 200
        assert len(queries) <= 8, (term, [query["sql"] for query in queries])
