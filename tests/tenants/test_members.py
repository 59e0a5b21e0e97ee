"""Member list, role changes and removal: plain POSTs and htmx row swaps, guarded by the service rules."""

import pytest

from tenants.models import Membership, Role
from tests.conftest import _logged_in
from tests.factories import make_member

HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(company, membership, action):
    return f"/c/{company.slug}/settings/members/{membership.public_id}/{action}/"


def _roles():
    return sorted(Membership.all_companies.values_list("company__slug", "user__email", "role"))


def _membership(user):
    return Membership.all_companies.get(user=user)


@pytest.fixture
def admin_a(company_a):
    return make_member(company=company_a, role=Role.ADMIN, email="ada@alpha.test").user


def test_member_list_shows_people_with_public_ids(client_a, company_a, owner_a, member_a):
    response = client_a.get(f"/c/{company_a.slug}/settings/members/")
    content = response.content.decode()
    assert f'id="membership-{_membership(member_a).public_id}"' in content
    assert "adam@alpha.test" in content and "Send invitation" in content
    assert f'membership-{_membership(member_a).pk}"' not in content


def test_agent_sees_the_list_without_controls(agent_client_a, company_a, owner_a, member_a):
    content = agent_client_a.get(f"/c/{company_a.slug}/settings/members/").content.decode()
    assert "alice@alpha.test" in content
    assert "membership_role" not in content and "/role/" not in content and "/remove/" not in content


def test_owner_changes_a_role_with_a_plain_post(client_a, company_a, member_a):
    membership = _membership(member_a)
    response = client_a.post(_url(company_a, membership, "role"), {"role": "admin"})
    assert response["Location"] == f"/c/{company_a.slug}/settings/members/"
    assert _membership(member_a).role == "admin"
    assert b"is now Admin" in client_a.get(response["Location"]).content


def test_role_change_over_htmx_returns_the_row_and_the_flash(client_a, company_a, member_a):
    membership = _membership(member_a)
    response = client_a.post(_url(company_a, membership, "role"), {"role": "admin"}, **HTMX)
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith(f'<tr id="membership-{membership.public_id}"')
    assert 'value="admin" selected' in content
    assert 'id="members-feedback"' in content and 'hx-swap-oob="true"' in content and "is now Admin" in content
    assert "<html" not in content


def test_admin_cannot_grant_owner_and_the_row_comes_back_unchanged(company_a, admin_a, member_a):
    client = _logged_in(admin_a)
    response = client.post(_url(company_a, _membership(member_a), "role"), {"role": "owner"}, **HTMX)
    assert response.status_code == 200
    assert "Only an owner can grant" in response.content.decode()
    assert 'value="agent" selected' in response.content.decode()
    assert _membership(member_a).role == "agent"


def test_admin_cannot_demote_or_remove_an_owner(company_a, admin_a, owner_a):
    client = _logged_in(admin_a)
    before = _roles()
    response = client.post(_url(company_a, _membership(owner_a), "role"), {"role": "agent"})
    assert response.status_code == 302
    assert "Only an owner" in client.get(response["Location"]).content.decode()
    client.post(_url(company_a, _membership(owner_a), "remove"))
    assert _roles() == before


def test_last_owner_stays(client_a, company_a, owner_a):
    membership = _membership(owner_a)
    response = client_a.post(_url(company_a, membership, "role"), {"role": "agent"}, follow=True)
    assert b"at least one owner" in response.content
    response = client_a.post(_url(company_a, membership, "remove"), follow=True)
    assert b"at least one owner" in response.content
    assert _membership(owner_a).role == "owner"


def test_owner_makes_another_owner_then_may_step_down(client_a, company_a, owner_a, member_a):
    client_a.post(_url(company_a, _membership(member_a), "role"), {"role": "owner"})
    client_a.post(_url(company_a, _membership(owner_a), "role"), {"role": "admin"})
    assert _membership(member_a).role == "owner" and _membership(owner_a).role == "admin"


def test_unknown_role_is_refused(client_a, company_a, member_a):
    response = client_a.post(_url(company_a, _membership(member_a), "role"), {"role": "god"}, follow=True)
    assert b"Choose one of the listed roles" in response.content
    assert _membership(member_a).role == "agent"


def test_remove_asks_for_confirmation_without_javascript_then_removes(client_a, company_a, member_a):
    membership = _membership(member_a)
    page = client_a.get(_url(company_a, membership, "remove"))
    assert page.status_code == 200 and b"adam@alpha.test" in page.content
    assert Membership.all_companies.filter(pk=membership.pk).exists()
    response = client_a.post(_url(company_a, membership, "remove"))
    assert response["Location"] == f"/c/{company_a.slug}/settings/members/"
    assert not Membership.all_companies.filter(pk=membership.pk).exists()
    assert member_a.__class__.objects.filter(pk=member_a.pk).exists()  # the account stays


def test_remove_over_htmx_returns_only_the_flash(client_a, company_a, member_a):
    response = client_a.post(_url(company_a, _membership(member_a), "remove"), **HTMX)
    content = response.content.decode()
    assert "<tr" not in content and 'hx-swap-oob="true"' in content and "was removed" in content


def test_removed_member_loses_access(client_a, agent_client_a, company_a, member_a):
    client_a.post(_url(company_a, _membership(member_a), "remove"))
    assert agent_client_a.get(f"/c/{company_a.slug}/").status_code == 404


def test_admin_leaving_is_sent_home(company_a, admin_a):
    client = _logged_in(admin_a)
    response = client.post(_url(company_a, _membership(admin_a), "remove"))
    assert response["Location"] == "/"
    assert client.get(f"/c/{company_a.slug}/").status_code == 404


def test_admin_leaving_over_htmx_is_redirected_by_htmx(company_a, admin_a):
    response = _logged_in(admin_a).post(_url(company_a, _membership(admin_a), "remove"), **HTMX)
    assert response["HX-Redirect"] == "/"


@pytest.mark.parametrize("action", ["role", "remove"])
def test_agent_gets_403_and_nothing_changes(agent_client_a, company_a, owner_a, member_a, action):
    before = _roles()
    response = agent_client_a.post(_url(company_a, _membership(owner_a), action), {"role": "agent"})
    assert response.status_code == 403
    assert agent_client_a.post(_url(company_a, _membership(member_a), action), {"role": "owner"}).status_code == 403
    assert _roles() == before


@pytest.mark.parametrize("action", ["role", "remove"])
def test_cross_company_membership_ids_are_404_and_nothing_changes(client_b, company_a, company_b, member_a,
                                                                  owner_b, action):
    before = _roles()
    foreign = _membership(member_a)
    assert client_b.post(_url(company_b, foreign, action), {"role": "owner"}).status_code == 404
    assert client_b.post(_url(company_a, foreign, action), {"role": "owner"}).status_code == 404
    assert client_b.get(_url(company_b, foreign, "remove")).status_code == 404
    assert _roles() == before


def test_list_query_count_is_pinned(client_a, company_a, django_assert_max_num_queries):
    for number in range(6):
        make_member(company=company_a, role=Role.AGENT, email=f"p{number}@alpha.test")
    with django_assert_max_num_queries(10):
        assert client_a.get(f"/c/{company_a.slug}/settings/members/").status_code == 200


def test_get_on_role_change_is_not_allowed(client_a, company_a, member_a):
    assert client_a.get(_url(company_a, _membership(member_a), "role")).status_code == 405
