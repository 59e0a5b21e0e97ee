"""Contacts in a real browser: create a tag (a duplicate is flagged live), tag two contacts in bulk,
filter by the tag, import a CSV and watch its progress reach 100% (the job runs on a real Celery
worker; progress arrives over the socket or the fallback poll)."""

from __future__ import annotations

import re

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from contacts.models import Contact
from tenants.scoping import company_scope
from tests.browser.conftest import log_in
from tests.browser.test_shell import _WATCH_SOCKET
from tests.factories import make_contact, make_instance, make_tag

pytestmark = pytest.mark.browser


@pytest.fixture
def contact_book(transactional_db, company_a, owner_a):
    instance = make_instance(company=company_a, name="sales")
    for identifier, name in [("5511987654321", "Ana"), ("5521999998888", "Bia"), ("5531988887777", "Caio")]:
        make_contact(company=company_a, instance=instance, identifier=identifier, name=name)
    return instance


def row(page, name: str):
    return page.locator("[data-testid=contact-row]", has=page.get_by_role("link", name=name, exact=True))


def test_tag_in_bulk_filter_and_import(app_url, browser_context, company_a, owner_a, contact_book, tmp_path):
    browser_context.add_init_script(_WATCH_SOCKET)
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    log_in(page, app_url, owner_a.email)
    base = f"{app_url}/c/{company_a.slug}/contacts/"

    # Create a tag; a second one with the same name in another case is refused with a clear error.
    page.goto(base + "tags/")
    form = page.get_by_test_id("tag-create-form")
    form.get_by_label("Name").fill("VIP")
    form.get_by_label("Color").fill("#d63384")
    form.get_by_role("button", name="Create tag").click()
    expect_row = page.locator("[data-testid=tag-row][data-tag=VIP]")
    expect_row.wait_for()
    # Live validation: leaving the field is enough to learn the name is taken (nothing is submitted).
    name = page.get_by_test_id("tag-create-form").get_by_label("Name")
    name.fill("vip")
    name.blur()
    page.get_by_text("A tag named “vip” already exists.").wait_for()
    page.screenshot(path="/tmp/recado-contacts-tags.png", full_page=True)

    # Tick Ana and Bia and add the tag to both at once.
    page.goto(base)
    row(page, "Ana").get_by_role("checkbox").check()
    row(page, "Bia").get_by_role("checkbox").check()
    page.get_by_test_id("bulk-tag").select_option(label="VIP")
    page.get_by_test_id("bulk-add").click()
    page.get_by_test_id("bulk-notice").wait_for()
    assert "added to 2 contacts" in page.get_by_test_id("bulk-notice").inner_text()
    assert "VIP" in row(page, "Ana").get_by_test_id("contact-tags").inner_text()
    assert "VIP" not in row(page, "Caio").get_by_test_id("contact-tags").inner_text()

    # Filter by the tag: the list narrows without a reload and the URL keeps the filter.
    page.get_by_test_id("filter-tag").select_option(label="VIP")
    page.wait_for_url(re.compile(r"tag="))
    page.wait_for_function("() => document.querySelectorAll('[data-testid=contact-row]').length === 2")
    names = sorted(page.get_by_test_id("contact-name").all_inner_texts())
    assert names == ["Ana", "Bia"]
    page.screenshot(path="/tmp/recado-contacts-list.png", full_page=True)

    # The export link carries the filter; under ASGI the CSV streams from an async iterator.
    export = page.request.get(app_url + page.get_by_test_id("export-link").get_attribute("href"))
    assert export.ok and export.headers["content-type"].startswith("text/csv")
    lines = export.text().lstrip("\ufeff").splitlines()
    assert lines[0].startswith("identifier,name") and sorted(line.split(",")[1] for line in lines[1:]) == ["Ana", "Bia"]

    # Import a small CSV: preview with the guessed mapping, then the background job to 100%.
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text("phone,name,tags\n5511955554444,Dora,VIP\n5511966665555,Edu,\nnot-a-number,Bad,\n")
    page.goto(base + "import/")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_test_id("mapping-form").wait_for()
    assert page.get_by_test_id("column-select").nth(0).input_value() == "identifier"
    # Queue the job first and start the worker once the page's socket is open, so the pushes find it subscribed.
    page.get_by_test_id("start-import").click()
    page.get_by_test_id("import-progress").wait_for()
    page.wait_for_function("() => window.__wsOpened === true")
    page.wait_for_timeout(500)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
        page.wait_for_function(
            "() => document.querySelector('[data-testid=import-percent]')?.textContent.trim() === '100%'",
            timeout=30_000,
        )
        # The worker's push arrived over the socket: the nudge was swapped in (out of band) with its hx-get.
        page.wait_for_function("() => document.querySelector('[id$=-nudge][hx-get]') !== null")
    counts = page.get_by_test_id("import-counts").inner_text()
    assert "2 created" in counts and "1 rejected" in counts
    # The report link comes with the import's "done", which the fragment may draw one poll after the 100% bar.
    page.get_by_test_id("rejected-report").wait_for(state="visible", timeout=10_000)
    page.screenshot(path="/tmp/recado-contacts-import.png", full_page=True)

    with company_scope(company_a):
        assert Contact.objects.count() == 5
        assert sorted(Contact.objects.filter(tags__name="VIP").values_list("name", flat=True)) == ["Ana", "Bia", "Dora"]
    assert not [error for error in errors if "Content Security Policy" in error], errors


def test_select_all_matching_tags_every_contact_of_the_filters(app_url, browser_context, company_a, owner_a,
                                                                contact_book):
    """Gmail-style: ticking the page's box offers the whole filtered list; the notice counts what changed."""
    for number in range(52):
        make_contact(company=company_a, instance=contact_book, identifier=f"55119{number:08d}",
                     name=f"Loja {number:02d}")
    make_tag(company=company_a, name="Atacado")
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    log_in(page, app_url, owner_a.email)
    page.goto(f"{app_url}/c/{company_a.slug}/contacts/?q=loja&sort=name")
    assert page.get_by_test_id("contact-name").first.inner_text() == "Loja 00"  # A→Z without choosing an order
    banner = page.get_by_test_id("select-matching")
    assert not banner.is_visible()
    page.locator("[data-select-all]").check()
    banner.wait_for()
    assert "All 50 contacts on this page are selected." in banner.inner_text()
    page.get_by_test_id("select-all-matching").click()
    assert "All 52 contacts matching these filters are selected." in banner.inner_text()
    page.screenshot(path="/tmp/recado-contacts-select-matching.png", full_page=True)
    page.get_by_test_id("bulk-tag").select_option(label="Atacado")
    page.get_by_test_id("bulk-add").click()
    page.get_by_test_id("bulk-notice").wait_for()
    assert page.get_by_test_id("bulk-notice").inner_text() == (
        "Tag “Atacado” added to 52 contacts. 52 contacts matched the filters.")
    # An error (no contact ticked) keeps the chosen tag, so a second try needs no new choice.
    page.get_by_test_id("bulk-tag").select_option(label="Atacado")
    page.get_by_test_id("bulk-remove").click()
    page.get_by_test_id("bulk-error").wait_for()
    assert page.get_by_test_id("bulk-tag").evaluate("select => select.selectedOptions[0].text") == "Atacado"
    assert errors == []
    with company_scope(company_a):
        assert Contact.objects.filter(tags__name="Atacado").count() == 52
