"""A secret shown once (an API key, a webhook's signing secret) has a "Copy" button: it puts the secret on the
clipboard and says "Copied." in a live region; without the clipboard API it selects the text and says to press
Ctrl+C. The secret is still shown only on the response that made it."""

from __future__ import annotations

import pytest

from integrations import services as integration_services
from tenants.scoping import company_scope
from tests.browser.conftest import log_in  # the fixtures come from this directory's conftest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_copy_puts_a_new_api_key_on_the_clipboard_and_says_so(app_url, browser_context, company_a, owner_a,
                                                               client_b):
    browser_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    page = browser_context.new_page()
    log_in(page, app_url, owner_a.email)
    keys = f"{app_url}/c/{company_a.slug}/settings/api-keys/"
    page.goto(keys)
    page.locator("#main input[name=name]").fill("ERP")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-api-key-secret").input_value()
    assert secret.startswith("rk_")
    status = page.get_by_test_id("copy-status")
    assert status.get_attribute("aria-live") == "polite" and status.inner_text() == ""
    page.get_by_test_id("copy-secret").click()
    status.filter(has_text="Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    page.goto(keys)  # shown once: not on the page again
    assert secret not in page.content() and page.get_by_test_id("copy-secret").count() == 0
    assert client_b.get(f"/c/{company_a.slug}/settings/api-keys/").status_code == 404


def test_without_the_clipboard_api_copy_selects_the_signing_secret(app_url, browser_context, company_a,
                                                                   owner_a, client_b, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # no DNS here: the endpoint's URL is an address
    with company_scope(company_a):
        endpoint = integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/hooks").endpoint
    page = browser_context.new_page()
    page.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined });")
    log_in(page, app_url, owner_a.email)
    page.on("dialog", lambda dialog: dialog.accept())
    endpoint_page = f"{app_url}/c/{company_a.slug}/settings/webhooks/{endpoint.public_id}/"
    page.goto(endpoint_page)
    page.get_by_role("button", name="Rotate secret").click()
    field = page.locator("#webhook-secret")
    secret = field.input_value()
    page.get_by_test_id("copy-secret").click()
    page.get_by_test_id("copy-status").filter(has_text="press Ctrl+C").wait_for()
    selected = page.evaluate("""() => { const field = document.getElementById('webhook-secret');
        return [document.activeElement === field, field.value.slice(field.selectionStart, field.selectionEnd)]; }""")
    assert selected == [True, secret]
    page.goto(endpoint_page)
    assert secret not in page.content()
    assert client_b.get(f"/c/{company_a.slug}/settings/webhooks/{endpoint.public_id}/").status_code == 404
