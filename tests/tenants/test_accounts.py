"""Log in and out, lockout, password reset and change, profile language and shortcuts, company switcher."""

import re

import pytest
from django.core import mail

from tenants import services
from tests.factories import PASSWORD, make_company, make_member

LOGIN = "/accounts/login/"


def _login(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def test_login_with_email_and_logout(client, owner_a, company_a):
    response = _login(client, "ALICE@alpha.test")
    assert response.status_code == 302
    assert client.get(response["Location"], follow=True).redirect_chain[-1][0] == f"/c/{company_a.slug}/"
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get(f"/c/{company_a.slug}/").status_code == 302  # back to the login page


def test_login_follows_next_but_not_to_another_site(client, owner_a, company_a):
    response = _login(client, "alice@alpha.test", next=f"/c/{company_a.slug}/settings/")
    assert response["Location"] == f"/c/{company_a.slug}/settings/"
    client.post("/accounts/logout/")
    response = _login(client, "alice@alpha.test", next="https://evil.example/")
    assert response["Location"] == "/"


def test_login_page_carries_next(client):
    response = client.get(LOGIN + "?next=/c/alpha/settings/")
    assert b'name="next" value="/c/alpha/settings/"' in response.content


def test_wrong_password_shows_form_error(client, owner_a):
    response = _login(client, "alice@alpha.test", "not the password")
    assert response.status_code == 200
    assert b"alert-danger" in response.content
    assert b"correct" in response.content  # Django's "Please enter a correct username and password"
    assert "_auth_user_id" not in client.session


def test_lockout_after_three_failures_even_with_the_right_password(client, owner_a):
    for _ in range(2):
        assert _login(client, "alice@alpha.test", "wrong").status_code == 200
    response = _login(client, "alice@alpha.test", "wrong")
    assert response.status_code == 429  # AXES_HTTP_RESPONSE_CODE default
    response = _login(client, "alice@alpha.test")  # correct now, but locked
    assert response.status_code == 429  # AXES_HTTP_RESPONSE_CODE default
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


def test_suspended_company_person_cannot_log_in(client, owner_a, company_a):
    services.company_suspend(company=company_a, reason="unpaid")
    response = _login(client, "alice@alpha.test")
    assert response.status_code == 200
    assert b"suspended" in response.content
    assert "_auth_user_id" not in client.session


def test_person_in_a_suspended_and_an_active_company_only_reaches_the_active_one(client, owner_a, company_a):
    other = make_company(name="Zulu Active", slug="zulu")
    make_member(company=other, user=owner_a, role="agent")
    services.company_suspend(company=company_a)
    response = _login(client, "alice@alpha.test")
    assert response.status_code == 302
    assert client.get("/").url == "/c/zulu/"
    response = client.get(f"/c/{company_a.slug}/")
    assert response.status_code == 403
    assert b"is suspended" in response.content
    assert client.get("/c/zulu/").status_code == 200


def test_password_reset_end_to_end(client, owner_a):
    response = client.post("/accounts/password_reset/", {"email": "alice@alpha.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@alpha.test"]
    assert message.subject == "Reset your Recado password"
    path = re.search(r"http://testserver(/accounts/reset/\S+)", message.body).group(1)
    response = client.get(path, follow=True)
    assert b"Choose a new password" in response.content
    set_password_url = response.redirect_chain[-1][0]
    new_password = "a brand new passphrase 42"
    response = client.post(set_password_url, {"new_password1": new_password, "new_password2": new_password})
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    assert client.get(path, follow=True).content.count(b"This link cannot be used") == 1  # used once only
    assert _login(client, "alice@alpha.test", new_password).status_code == 302


def test_password_reset_for_unknown_address_sends_nothing_and_looks_the_same(client, db):
    response = client.post("/accounts/password_reset/", {"email": "nobody@nowhere.test"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_password_change_requires_old_password_and_validates_the_new_one(client_a, owner_a):
    response = client_a.post("/accounts/password_change/", {
        "old_password": "wrong", "new_password1": "123", "new_password2": "123"})
    assert response.status_code == 200
    assert b"invalid-feedback" in response.content
    new_password = "another long passphrase 7"
    response = client_a.post("/accounts/password_change/", {
        "old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password})
    assert response["Location"] == "/accounts/password_change/done/"
    owner_a.refresh_from_db()
    assert owner_a.check_password(new_password)


@pytest.mark.parametrize("url", ["/accounts/password_reset/", "/accounts/password_reset/done/",
                                 "/accounts/reset/done/", "/accounts/reset/MQ/bad-token/"])
def test_password_reset_pages_render(client, db, url):
    response = client.get(url, follow=True)
    assert response.status_code == 200
    assert b"Recado" in response.content


def test_profile_language_switches_the_interface(client_a, owner_a, company_a):
    assert b">Contacts<" in client_a.get(f"/c/{company_a.slug}/").content
    response = client_a.post("/accounts/profile/", {"email": owner_a.email, "language": "pt-br"})
    assert response.status_code == 302
    owner_a.refresh_from_db()
    assert owner_a.language == "pt-br"
    content = client_a.get(f"/c/{company_a.slug}/").content.decode()
    assert ">Contatos<" in content
    assert 'lang="pt-br"' in content
    assert "Perfil salvo." in content  # the confirmation in the language just chosen, not the previous one
    # Each language is named in itself, whatever the page's language (one who cannot read it finds theirs).
    profile = client_a.get("/accounts/profile/").content.decode()
    assert ">English</option>" in profile and ">Português (Brasil)</option>" in profile
    client_a.post("/accounts/profile/", {"email": owner_a.email, "language": "en"})
    content = client_a.get(f"/c/{company_a.slug}/").content.decode()
    assert "Profile saved." in content and ">Contacts<" in content
    assert ">Português (Brasil)</option>" in client_a.get("/accounts/profile/").content.decode()


def test_profile_refuses_an_email_someone_else_has(client_a, owner_a, owner_b):
    response = client_a.post("/accounts/profile/", {"email": owner_b.email.upper(), "language": ""})
    assert response.status_code == 200
    owner_a.refresh_from_db()
    assert owner_a.email == "alice@alpha.test"


SHORTCUTS_BOX = re.compile(r'<input type="checkbox" name="single_key_shortcuts" id="id_single_key_shortcuts"[^>]*>')


def test_profile_turns_single_key_shortcuts_off_and_on(client_a, owner_a):
    """On by default; an unticked box (a browser sends nothing for it) turns them off, a ticked one back on. The box
    is labelled, and its help is tied to it (aria-describedby), in English and in pt-BR."""
    assert owner_a.single_key_shortcuts is True
    page = client_a.get("/accounts/profile/").content.decode()
    box = SHORTCUTS_BOX.search(page).group()
    assert " checked" in box and 'aria-describedby="id_single_key_shortcuts_helptext"' in box
    assert '<label class="form-check-label" for="id_single_key_shortcuts">Single-key shortcuts</label>' in page
    assert 'id="id_single_key_shortcuts_helptext">In the inbox, “/” goes to the search' in page

    response = client_a.post("/accounts/profile/", {"email": owner_a.email, "language": "pt-br"})
    assert response.status_code == 302
    owner_a.refresh_from_db()
    assert owner_a.single_key_shortcuts is False and owner_a.language == "pt-br"
    page = client_a.get("/accounts/profile/").content.decode()
    assert " checked" not in SHORTCUTS_BOX.search(page).group()
    assert ">Atalhos de uma tecla</label>" in page and "Na caixa de entrada, “/” vai para a busca" in page

    client_a.post("/accounts/profile/", {"email": owner_a.email, "language": "pt-br", "single_key_shortcuts": "on"})
    owner_a.refresh_from_db()
    assert owner_a.single_key_shortcuts is True


@pytest.mark.parametrize("bad", [{"email": "not an address"}, {"language": "klingon"}, {"email": "CHARLIE@bravo.test"}],
                         ids=["email", "language", "someone-elses-email"])
def test_a_refused_profile_changes_none_of_it(client_a, owner_a, owner_b, bad):
    """A bad field shows its error and nothing is saved, the shortcuts' box neither (it was being unticked)."""
    response = client_a.post("/accounts/profile/", {"email": owner_a.email, "language": "", "first_name": "Alícia",
                                                    **bad})
    assert response.status_code == 200
    assert b"invalid-feedback" in response.content
    owner_a.refresh_from_db()
    assert (owner_a.single_key_shortcuts, owner_a.first_name, owner_a.email) == (True, "Alice", "alice@alpha.test")


def test_the_shortcuts_preference_is_each_persons_own(client_a, client_b, owner_a, owner_b, company_a, company_b):
    """Per person, not per company: it follows Alice into every company she belongs to, and another company's
    owner neither sees nor changes hers (the profile page has no address for someone else; A's inbox is 404)."""
    extra = make_company(name="Yankee", slug="yankee")
    make_member(company=extra, user=owner_a, role="agent")
    client_a.post("/accounts/profile/", {"email": owner_a.email, "language": ""})
    for company in (company_a, extra):
        assert b'data-single-key-shortcuts="off"' in client_a.get(f"/c/{company.slug}/inbox/").content
    page_b = client_b.get("/accounts/profile/").content.decode()
    assert " checked" in SHORTCUTS_BOX.search(page_b).group() and "alice@alpha.test" not in page_b
    assert b'data-single-key-shortcuts="on"' in client_b.get(f"/c/{company_b.slug}/inbox/").content
    assert client_b.get(f"/c/{company_a.slug}/inbox/").status_code == 404
    client_b.post("/accounts/profile/", {"email": owner_b.email, "language": "", "single_key_shortcuts": "on"})
    owner_a.refresh_from_db()
    owner_b.refresh_from_db()
    assert owner_a.single_key_shortcuts is False and owner_b.single_key_shortcuts is True


def test_switcher_lists_only_own_companies_and_marks_suspended(client_a, owner_a, company_a, company_b, owner_b):
    extra = make_company(name="Yankee Closed", slug="yankee")
    make_member(company=extra, user=owner_a, role="agent")
    services.company_suspend(company=extra)
    content = client_a.get(f"/c/{company_a.slug}/").content.decode()
    assert "Alpha Foods" in content and "Yankee Closed" in content
    assert "Bravo Parts" not in content
    assert re.search(r"Yankee Closed\s*<span class=\"badge[^\"]*\">suspended</span>", content)


def test_cross_company_page_is_404_for_a_stranger(client_b, company_a):
    """Company B's owner gets 404 on every people page of A."""
    for path in ("", "settings/", "settings/members/", "settings/api-keys/"):
        assert client_b.get(f"/c/{company_a.slug}/{path}").status_code == 404
