"""Invitations: sending, accepting (new and existing accounts), and every way a link can be bad."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from tenants import services
from tenants.models import Invitation, Membership, Role, User
from tests.factories import PASSWORD, make_member, make_user

NEW_PASSWORD = "a long enough passphrase 9"


def _members_url(company, suffix=""):
    return f"/c/{company.slug}/settings/members/{suffix}"


def _invite(client, company, email="new@alpha.test", role=Role.AGENT, **kwargs):
    return client.post(_members_url(company, "invite/"), {"email": email, "role": role}, **kwargs)


def _token_from(url: str) -> str:
    return re.search(r"/invite/([^/]+)/", url).group(1)


def _all_invitations():
    return list(Invitation.all_companies.order_by("pk").values_list("email", "accepted_at", "revoked_at"))


def _memberships():
    return sorted(Membership.all_companies.values_list("company__slug", "user__email", "role"))


def test_owner_invites_and_the_link_is_mailed_and_flashed(client_a, company_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(client_a, company_a, role=Role.ADMIN)
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/invite/\S+/", mail.outbox[0].body).group(0)
    page = client_a.get(response["Location"]).content.decode()
    assert link in page  # flashed for whoever invites (useful when mail is not set up)
    assert 'data-testid="invitations"' in page and "new@alpha.test" in page


def test_new_person_accepts_with_a_password_and_lands_in_the_company(client, company_a, owner_a):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="admin")
    url = f"/invite/{_token_from(issued.url)}/"
    assert b"Create account and join" in client.get(url).content
    response = client.post(url, {"username": "newbie", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response["Location"] == f"/c/{company_a.slug}/"
    assert client.get(response["Location"]).status_code == 200  # logged in
    user = User.objects.get(email="new@alpha.test")
    assert user.username == "newbie" and user.check_password(NEW_PASSWORD)
    assert ("alpha", "new@alpha.test", "admin") in _memberships()


@pytest.mark.parametrize(("password1", "password2"), [("12345678", "12345678"), (NEW_PASSWORD, NEW_PASSWORD + "x"),
                                                      ("new@alpha.test", "new@alpha.test")])
def test_weak_or_mismatched_passwords_are_refused(client, company_a, owner_a, password1, password2):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    response = client.post(f"/invite/{_token_from(issued.url)}/", {"password1": password1, "password2": password2})
    assert response.status_code == 400
    assert b"invalid-feedback" in response.content
    assert not User.objects.filter(email="new@alpha.test").exists()
    assert Invitation.all_companies.get().accepted_at is None  # still usable


def test_taken_username_is_a_form_error_and_the_invitation_stays_usable(client, company_a, owner_a, owner_b):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    url = f"/invite/{_token_from(issued.url)}/"
    response = client.post(url, {"username": owner_b.username, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 400
    assert b"username is taken" in response.content
    assert Invitation.all_companies.get().accepted_at is None
    assert client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 302


def test_reused_link_shows_a_clear_message(client, company_a, owner_a):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    url = f"/invite/{_token_from(issued.url)}/"
    client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    client.post("/accounts/logout/")
    response = client.get(url)
    assert response.status_code == 404
    assert b"This invitation link cannot be used" in response.content
    assert client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 404
    assert User.objects.filter(email="new@alpha.test").count() == 1


def test_expired_link_shows_a_clear_message(client, company_a, owner_a):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    Invitation.all_companies.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.post(f"/invite/{_token_from(issued.url)}/", {"password1": NEW_PASSWORD,
                                                                   "password2": NEW_PASSWORD})
    assert response.status_code == 404
    assert b"It may have expired" in response.content
    assert not User.objects.filter(email="new@alpha.test").exists()


def test_unknown_token_is_the_same_clear_message(client, db):
    response = client.get("/invite/not-a-real-token/")
    assert response.status_code == 404
    assert b"This invitation link cannot be used" in response.content


def test_revoked_link_shows_a_clear_message(client_a, client, company_a, owner_a):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    response = client_a.post(f"/c/{company_a.slug}/settings/invitations/{issued.invitation.public_id}/revoke/")
    assert response.status_code == 302
    response = client.get(f"/invite/{_token_from(issued.url)}/")
    assert response.status_code == 404
    assert b"This invitation link cannot be used" in response.content


def test_reinviting_replaces_the_pending_invitation(client_a, company_a, owner_a):
    first = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    _invite(client_a, company_a, email="NEW@alpha.test", role="admin")
    assert services.invitation_by_token(token=_token_from(first.url)) is None
    pending = Invitation.all_companies.filter(revoked_at=None).get()
    assert pending.role == "admin"


def test_inviting_an_existing_member_is_refused(client_a, company_a, member_a):
    response = _invite(client_a, company_a, email=member_a.email.upper())
    assert response.status_code == 400
    assert b"already a member" in response.content
    assert _all_invitations() == []


def test_member_limit_is_enforced(client_a, company_a, member_a):
    company_a.max_members = 2
    company_a.save()
    response = _invite(client_a, company_a)
    assert response.status_code == 400
    assert b"limit of 2 members" in response.content
    assert _all_invitations() == []


def test_existing_account_must_log_in_then_joins_with_a_button(client, company_a, owner_a, owner_b):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email=owner_b.email, role="agent")
    url = f"/invite/{_token_from(issued.url)}/"
    response = client.get(url)
    assert b"already exists" in response.content and b"?next=/invite/" in response.content
    response = client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 200  # no account is created, no password is changed
    owner_b.refresh_from_db()
    assert owner_b.check_password(PASSWORD)
    client.force_login(owner_b, backend="tenants.backends.UsernameOrEmailBackend")
    assert b"Join Alpha Foods" in client.get(url).content
    response = client.post(url)
    assert response["Location"] == f"/c/{company_a.slug}/"
    assert ("alpha", owner_b.email, "agent") in _memberships()


def test_logged_in_person_with_another_email_cannot_take_the_invitation(client_b, company_a, owner_a, owner_b):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="owner")
    url = f"/invite/{_token_from(issued.url)}/"
    assert b"sent to another address" in client_b.get(url).content
    client_b.post(url)
    assert ("alpha", owner_b.email, "owner") not in _memberships()
    assert Invitation.all_companies.get().accepted_at is None


def test_invitation_of_a_suspended_company_cannot_be_used(client, company_a, owner_a):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    services.company_suspend(company=company_a)
    assert client.get(f"/invite/{_token_from(issued.url)}/").status_code == 404


def test_agent_cannot_invite_or_revoke(agent_client_a, company_a, owner_a):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    before = _all_invitations()
    assert _invite(agent_client_a, company_a, email="other@alpha.test").status_code == 403
    revoke = f"/c/{company_a.slug}/settings/invitations/{issued.invitation.public_id}/revoke/"
    assert agent_client_a.post(revoke).status_code == 403
    assert _all_invitations() == before
    page = agent_client_a.get(_members_url(company_a)).content
    assert b"Send invitation" not in page and b"new@alpha.test" not in page


def test_cross_company_invitation_ids_are_404_and_nothing_changes(client_b, company_a, company_b, owner_a):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    before = _all_invitations()
    # B's owner, on B's own prefix, naming A's invitation:
    assert client_b.post(f"/c/{company_b.slug}/settings/invitations/{issued.invitation.public_id}/revoke/"
                         ).status_code == 404
    # ...and on A's prefix:
    assert client_b.post(f"/c/{company_a.slug}/settings/invitations/{issued.invitation.public_id}/revoke/"
                         ).status_code == 404
    assert _invite(client_b, company_a, email="spy@bravo.test").status_code == 404
    assert _all_invitations() == before
    assert services.invitation_by_token(token=_token_from(issued.url)) is not None


def test_invited_agent_gets_only_agent_rights(client, company_a, owner_a):
    member = make_member(company=company_a, role=Role.AGENT, user=make_user(email="x@alpha.test"))
    assert member.role == "agent"
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    client.post(f"/invite/{_token_from(issued.url)}/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert client.get(f"/c/{company_a.slug}/settings/api-keys/").status_code == 403


def test_an_address_too_long_to_store_is_a_form_error(client_a, company_a):
    response = _invite(client_a, company_a, email="a" * 250 + "@alpha.test")
    assert response.status_code == 400 and b"at most 150 characters" in response.content
    assert _all_invitations() == []


def test_revoking_an_invitation_asks_first(client_a, company_a, owner_a):
    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="new@alpha.test", role="agent")
    html = client_a.get(_members_url(company_a)).content.decode()
    revoke = _members_url(company_a).replace("members/", f"invitations/{issued.invitation.public_id}/revoke/")
    assert f'action="{revoke}" data-confirm="Revoke the invitation to new@alpha.test?' in html


def test_an_admin_cannot_invite_an_owner(client, company_a, owner_a):
    """Only owners make owners (as for role changes): an admin inviting an owner, say their own second address,
    would have made themselves one. The form offers admins no owner role either."""
    admin = make_member(company=company_a, role=Role.ADMIN, email="admin@alpha.test").user
    client.force_login(admin)
    page = client.get(_members_url(company_a)).content.decode()
    invite_form = page[page.index('action="/c/alpha/settings/members/invite/"'):]
    assert 'value="owner"' not in invite_form and 'value="admin"' in invite_form
    assert _invite(client, company_a, email="me.again@alpha.test", role=Role.OWNER).status_code == 400
    with pytest.raises(ValidationError, match="Only an owner can invite an owner"):  # the rule, for any caller
        services.invitation_create(company=company_a, invited_by=admin, email="me.again@alpha.test", role="owner")
    assert _all_invitations() == []
    assert _invite(client, company_a, email="me.again@alpha.test", role=Role.ADMIN).status_code == 302
