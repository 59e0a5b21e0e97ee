"""The overview's "at a glance" panel (messaging.selectors.inbox_summary, /c/<slug>/inbox/summary/): what the team
has to handle now, per member and per number, in a fixed number of queries; another company's rows never count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging import selectors
from messaging.models import Conversation
from tenants.models import Membership
from tenants.scoping import company_scope
from tests.factories import make_contact, make_instance

pytestmark = pytest.mark.django_db


def conversation(company, instance, number: str, *, status="open", assignee=None, unread=0, ago=timedelta(0),
                 ignored=False) -> Conversation:
    with company_scope(company):
        contact = make_contact(company=company, instance=instance, identifier=number, is_ignored=ignored)
        return Conversation.objects.create(company=company, instance=instance, contact=contact, status=status,
                                           assignee=assignee, unread_count=unread,
                                           last_message_at=timezone.now() - ago)


@pytest.fixture
def busy_a(company_a, owner_a, member_a):
    sales, support = make_instance(company=company_a, name="sales"), make_instance(company=company_a, name="support")
    conversation(company_a, sales, "5511900000001", assignee=owner_a, unread=2)
    conversation(company_a, sales, "5511900000002")  # open, unassigned, read
    conversation(company_a, support, "5511900000003", unread=1)  # open, unassigned, waiting
    conversation(company_a, support, "5511900000004", status="pending", assignee=member_a)
    conversation(company_a, sales, "5511900000005", status="closed", ago=timedelta(days=3))
    conversation(company_a, sales, "5511900000006", ignored=True, unread=5)  # never shown, never counted
    return sales, support


def test_the_figures_per_member_and_per_number(company_a, owner_a, member_a, busy_a, company_b, owner_b):
    sales, support = busy_a
    conversation(company_b, make_instance(company=company_b, name="sales"), "5511900000001", unread=3)
    with company_scope(company_a):
        summary = selectors.inbox_summary(company=company_a, user=owner_a)
    assert (summary.open, summary.waiting, summary.unassigned, summary.mine, summary.pending) == (3, 2, 2, 1, 1)
    assert summary.active_today == 4 and not summary.active_today_capped  # the closed one is three days old
    agents = {row.key.email: (row.open, row.waiting, row.pending) for row in summary.agents}
    assert agents == {"alice@alpha.test": (1, 1, 0), "adam@alpha.test": (0, 0, 1)}
    numbers = {row.key.name: (row.open, row.waiting, row.pending) for row in summary.instances}
    assert numbers == {sales.name: (2, 1, 0), support.name: (1, 1, 1)}


def test_its_queries_do_not_grow_with_the_conversations(company_a, owner_a, busy_a, django_assert_max_num_queries):
    sales, _support = busy_a
    for number in range(10):
        conversation(company_a, sales, f"55119100000{number:02d}", unread=number % 2)
    with company_scope(company_a), django_assert_max_num_queries(4):
        selectors.inbox_summary(company=company_a, user=owner_a)


def test_active_today_is_capped(company_a, owner_a, busy_a, monkeypatch, client_a):
    monkeypatch.setattr(selectors, "SUMMARY_CAP", 3)
    with company_scope(company_a):
        summary = selectors.inbox_summary(company=company_a, user=owner_a)
    assert (summary.active_today, summary.active_today_capped) == (3, True)
    html = client_a.get(f"/c/{company_a.slug}/inbox/summary/").content.decode()
    assert 'data-testid="figure-today"' in html and ">3+<" in html


def test_the_overview_loads_the_panel_and_every_member_sees_it(client_a, agent_client_a, company_a, busy_a):
    overview = client_a.get(f"/c/{company_a.slug}/").content.decode()
    assert f'hx-get="/c/{company_a.slug}/inbox/summary/"' in overview
    panel = agent_client_a.get(f"/c/{company_a.slug}/inbox/summary/", HTTP_ACCEPT_LANGUAGE="pt-br")
    assert panel.status_code == 200
    html = panel.content.decode()
    assert "Aguardando resposta" in html and "Por número" in html
    assert f"/c/{company_a.slug}/inbox/?status=open&amp;assignee=unassigned" in html
    assert html.count('data-testid="summary-instance"') == 2
    assert 'data-testid="away"' not in html
    with company_scope(company_a):
        Membership.objects.filter(role="agent").update(available=False)
    assert agent_client_a.get(f"/c/{company_a.slug}/inbox/summary/").content.decode().count('data-testid="away"') == 1


def test_another_company_gets_404_and_sees_none_of_it(client_b, company_a, company_b, busy_a):
    assert client_b.get(f"/c/{company_a.slug}/inbox/summary/").status_code == 404
    html = client_b.get(f"/c/{company_b.slug}/inbox/summary/").content.decode()
    assert 'data-testid="summary-instance"' not in html and "5511900000001" not in html
    assert 'data-value="0"' in html


def test_the_api_gives_the_same_figures_to_an_integrator(api_a, api_b, company_a, owner_a, owner_b, member_a,
                                                         busy_a):
    sales, support = busy_a
    with company_scope(company_a):
        Membership.objects.filter(user=member_a).update(available=False)
    body = api_a.get("/api/v1/conversations/summary").json()
    assert {key: body[key] for key in ("open", "waiting", "unassigned", "pending", "active_today")} == {
        "open": 3, "waiting": 2, "unassigned": 2, "pending": 1, "active_today": 4}
    assert body["active_today_capped"] is False
    assert {row["name"]: (row["open"], row["waiting"], row["pending"], row["available"])
            for row in body["members"]} == {"Alice": (1, 1, 0, True), "adam@alpha.test": (0, 0, 1, False)}
    assert {row["id"]: (row["state"], row["open"]) for row in body["instances"]} == {
        str(sales.public_id): (sales.state, 2), str(support.public_id): (support.state, 1)}
    other = api_b.get("/api/v1/conversations/summary").json()  # company B's key sees B's (empty) world
    assert (other["open"], other["members"][0]["name"], other["instances"]) == (0, "charlie@bravo.test", [])
