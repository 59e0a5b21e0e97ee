"""Merging a duplicate in a real browser, with two inbox pages open: the page on the kept conversation shows the
moved messages live, the page on the merged contact's conversation follows to the kept one by itself."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Conversation, Message
from tenants.scoping import company_scope
from tests.browser.conftest import log_in
from tests.factories import make_contact, make_instance
from tests.messaging.test_browser import page_hearing_frames, wait_subscribed

pytestmark = pytest.mark.browser


def thread(company, contact, texts: list[str]) -> Conversation:
    now = timezone.now()
    with company_scope(company):
        conversation = Conversation.objects.create(company=company, instance=contact.instance, contact=contact,
                                                   last_message_at=now, last_message_preview=texts[-1])
        for index, text in enumerate(texts):
            Message.objects.create(company=company, conversation=conversation, instance=contact.instance,
                                   direction="in", text=text, status="delivered",
                                   gateway_message_id=f"{conversation.pk}-{index}",
                                   created_at=now - timedelta(minutes=len(texts) - index))
    return conversation


def test_merge_from_the_contact_page_with_live_inbox_pages(app_url, browser_context, transactional_db, company_a,
                                                           owner_a):
    instance = make_instance(company=company_a, name="sales")
    ana = make_contact(company=company_a, instance=instance, identifier="5511987654321", custom_name="Ana Paula")
    dup = make_contact(company=company_a, instance=instance, identifier="99887766554433@lid", name="Ana Zap")
    kept = thread(company_a, ana, ["Bom dia"])
    gone = thread(company_a, dup, ["Sou eu de novo", "Pelo outro número"])
    inbox = f"{app_url}/c/{company_a.slug}/inbox/"

    kept_page, kept_frames = page_hearing_frames(browser_context)
    log_in(kept_page, app_url, owner_a.email)
    kept_page.goto(f"{inbox}{kept.public_id}/")
    wait_subscribed(kept_page, kept_frames, kept.public_id.hex)
    gone_page, gone_frames = page_hearing_frames(browser_context)
    gone_page.goto(f"{inbox}{gone.public_id}/")
    wait_subscribed(gone_page, gone_frames, gone.public_id.hex)
    errors: list[str] = []
    gone_page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    page = browser_context.new_page()
    page.goto(f"{app_url}/c/{company_a.slug}/contacts/{ana.public_id}/")
    page.get_by_test_id("merge-link").click()
    page.get_by_test_id("merge-q").fill("zap")
    page.get_by_test_id("merge-candidate").filter(has_text="Ana Zap").click()
    confirm = page.get_by_test_id("merge-confirm")
    confirm.wait_for()
    assert "99887766554433@lid" in confirm.inner_text() and "2 messages join" in confirm.inner_text()
    page.screenshot(path="/tmp/recado-contact-merge-confirm.png", full_page=True)
    page.get_by_test_id("merge-submit").click()
    page.wait_for_url(re.compile(rf"/contacts/{ana.public_id}/$"))
    assert "Ana Zap was merged into Ana Paula." in page.content()
    assert "99887766554433@lid" in page.get_by_test_id("identifiers").inner_text()

    # The kept thread re-fetched its messages; the page on the merged conversation went to the kept one.
    kept_page.get_by_test_id("thread").get_by_text("Pelo outro número").wait_for()
    gone_page.wait_for_url(f"{inbox}{kept.public_id}/")
    gone_page.get_by_test_id("thread").get_by_text("Sou eu de novo").wait_for()
    gone_page.get_by_test_id("thread").get_by_text("Bom dia").wait_for()
    kept_page.screenshot(path="/tmp/recado-contact-merge-kept-thread.png", full_page=True)
    assert errors == []
    with company_scope(company_a):
        assert list(Conversation.objects.values_list("pk", flat=True)) == [kept.pk]


def test_merge_and_delete_pages_in_portuguese(app_url, browser, transactional_db, company_a, owner_a):
    context = browser.new_context(locale="pt-BR", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    instance = make_instance(company=company_a, name="vendas")
    ana = make_contact(company=company_a, instance=instance, identifier="5511987654321", custom_name="Ana Paula")
    dup = make_contact(company=company_a, instance=instance, identifier="99887766554433@lid", name="Ana Zap")
    thread(company_a, dup, ["Oi"])
    log_in(page, app_url, owner_a.email)
    page.goto(f"{app_url}/c/{company_a.slug}/contacts/{ana.public_id}/merge/?merge={dup.public_id}")
    assert "Mesclar Ana Zap em Ana Paula?" in page.get_by_test_id("merge-confirm").inner_text()
    page.screenshot(path="/tmp/recado-contact-merge-pt.png", full_page=True)
    page.goto(f"{app_url}/c/{company_a.slug}/contacts/{dup.public_id}/delete/")
    summary = page.get_by_test_id("delete-summary").inner_text()
    assert "1 conversa;" in summary and "1 mensagem, incluindo notas privadas;" in summary
    page.screenshot(path="/tmp/recado-contact-delete-pt.png", full_page=True)
    page.get_by_test_id("delete-submit").click()
    page.wait_for_url(re.compile(r"/contacts/$"))
    assert "Ana Zap foi excluído(a) com 1 mensagem." in page.content()
    context.close()
