"""Inbox pages: list, thread, composer and controls, fragments, live topics, and another company's ids."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.asgi import application
from contacts import services as contact_services
from messaging import outbound, services
from messaging.models import Conversation, Message
from messaging.tasks import download_media, drain_outbound, send_message
from tenants import realtime
from tenants.scoping import company_scope
from tests.messaging.sending import send_now
from tests.realtime_listener import Listener

pytestmark = pytest.mark.django_db

CUSTOMER = "5511955554444"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(40)  # a PNG's signature and header


def make_conversation(company, instance, number=CUSTOMER, name="Maria") -> Conversation:
    with company_scope(company):
        contact, _created = contact_services.contact_get_or_create_by_identity(
            company=company, instance=instance, identifier=number, name=name)
        conversation, _created = services.conversation_get_or_create(company=company, instance=instance,
                                                                     contact=contact)
    return conversation


def add_message(company, conversation, **fields) -> Message:
    defaults = {"direction": "in", "kind": "text", "text": "olá", "status": "delivered", "status_rank": 40}
    with company_scope(company):
        return Message.objects.create(company=company, conversation=conversation, instance=conversation.instance,
                                      **{**defaults, **fields})


def inbox(company) -> str:
    return f"/c/{company.slug}/inbox/"


def page(company, conversation) -> str:
    return f"{inbox(company)}{conversation.public_id}/"


def test_empty_inbox(client_a, company_a):
    response = client_a.get(inbox(company_a))
    assert response.status_code == 200
    assert b'data-testid="empty-state"' in response.content and b'data-live-topic="inbox"' in response.content


def test_the_list_re_fetched_on_the_inbox_page_also_redraws_its_welcome(client_a, client_b, company_a, company_b,
                                                                         instance_a):
    """The first conversations arriving live: the welcome beside the list stops saying there are none. On a
    thread page (no welcome there) the list comes alone; company B's inbox stays empty of A's conversations."""
    empty = client_a.get(inbox(company_a))
    assert b"No conversations yet" in empty.content and b'id="inbox-welcome"' in empty.content
    conversation = make_conversation(company_a, instance_a)
    fetched = client_a.get(f"{inbox(company_a)}?status=open&fragment=list", HTTP_HX_REQUEST="true",
                           HTTP_HX_CURRENT_URL=f"http://testserver{inbox(company_a)}?status=open")
    body = fetched.content.decode()
    assert 'id="inbox-welcome" data-testid="empty-state" hx-swap-oob="true"' in body
    assert "Pick a conversation" in body and "No conversations yet" not in body and "Maria" in body
    in_thread = client_a.get(f"{inbox(company_a)}?fragment=list", HTTP_HX_REQUEST="true",
                             HTTP_HX_CURRENT_URL=f"http://testserver{page(company_a, conversation)}")
    assert b"inbox-welcome" not in in_thread.content and b"Maria" in in_thread.content
    other = client_b.get(f"{inbox(company_b)}?fragment=list", HTTP_HX_REQUEST="true",
                         HTTP_HX_CURRENT_URL=f"http://testserver{inbox(company_b)}")
    assert other.status_code == 200 and b"Maria" not in other.content and b"No conversations yet" in other.content


def test_an_empty_view_of_a_company_with_conversations_does_not_say_there_are_none(
        client_a, client_b, company_a, company_b, instance_a, owner_a):
    """A tab, filter or search that shows nothing: the welcome says so, not "No conversations yet" (which sends
    people to connect a number they have connected). Company B, with none of its own, still gets the first-run
    welcome: A's conversations do not count for it."""
    make_conversation(company_a, instance_a)
    for query in ("?status=closed", "?q=nowhere-to-be-found"):
        content = client_a.get(f"{inbox(company_a)}{query}").content.decode()
        assert "No conversations in this view" in content and "No conversations yet" not in content, query
        fetched = client_a.get(f"{inbox(company_a)}{query}&fragment=list", HTTP_HX_REQUEST="true",
                               HTTP_HX_CURRENT_URL=f"http://testserver{inbox(company_a)}{query}").content.decode()
        assert "No conversations in this view" in fetched and 'hx-swap-oob="true"' in fetched, query
    shown = client_a.get(inbox(company_a)).content.decode()
    assert "Pick a conversation" in shown and "No conversations in this view" not in shown
    owner_a.language = "pt-br"
    owner_a.save(update_fields=["language"])
    translated = client_a.get(f"{inbox(company_a)}?status=closed").content.decode()
    assert "Nenhuma conversa nesta visão" in translated and "Mude a aba, os filtros ou a busca" in translated
    theirs = client_b.get(f"{inbox(company_b)}?status=closed").content.decode()
    assert "No conversations yet" in theirs and "No conversations in this view" not in theirs


def test_list_newest_first_with_unread_badges_and_tabs(client_a, company_a, instance_a):
    older = make_conversation(company_a, instance_a, "5511911112222", "Older")
    newer = make_conversation(company_a, instance_a, "5511933334444", "Newer")
    for conversation in (older, newer):
        with company_scope(company_a):
            message = add_message(company_a, conversation, text=f"hi {conversation.contact.name}")
            services.conversation_touch(company=company_a, conversation=conversation, message=message, unread=True)
    content = client_a.get(inbox(company_a)).content.decode()
    assert content.index("Newer") < content.index("Older")
    assert content.count('data-testid="unread-badge"') == 2
    with company_scope(company_a):
        services.conversation_set_status(company=company_a, conversation=older, status="closed")
    assert "Older" not in client_a.get(inbox(company_a)).content.decode()
    assert "Older" in client_a.get(inbox(company_a), {"status": "closed"}).content.decode()
    assert "Newer" in client_a.get(inbox(company_a), {"q": "hi Newer", "fragment": "list"}).content.decode()
    assert "Newer" not in client_a.get(inbox(company_a), {"assignee": "mine", "fragment": "list"}).content.decode()


def test_the_tabs_keep_the_search_and_the_filters_and_say_which_is_shown(client_a, client_b, company_a, company_b,
                                                                       instance_a):
    """Searching "Maria" on one number, then looking in Closed or Mine: the tabs kept only the status and the
    assignee, so the search and the filters were dropped on every switch. The shown tabs carry aria-current."""
    from urllib.parse import parse_qs, urlsplit

    conversation = make_conversation(company_a, instance_a, name="Maria")
    with company_scope(company_a):
        services.conversation_set_status(company=company_a, conversation=conversation, status="closed")
    search = {"status": "open", "assignee": "unassigned", "q": "Mar & Ia", "instance": str(instance_a.public_id)}
    content = client_a.get(inbox(company_a), search).content.decode()

    def tab(testid: str) -> dict:
        start = content.index(f'data-testid="{testid}"')
        link = content[content.rindex("<a ", 0, start):start]
        href = html.unescape(link.split('href="')[1].split('"')[0])
        return {key: values[0] for key, values in parse_qs(urlsplit(href).query).items()} | {
            "current": 'aria-current="page"' in link}

    kept = {"q": "Mar & Ia", "instance": str(instance_a.public_id)}
    assert tab("tab-closed") == {**kept, "status": "closed", "assignee": "unassigned", "current": False}
    assert tab("tab-open") == {**kept, "status": "open", "assignee": "unassigned", "current": True}
    assert tab("tab-mine") == {**kept, "status": "open", "assignee": "mine", "current": False}
    assert tab("tab-unassigned")["current"] is True
    assert tab("tab-all") == {**kept, "status": "open", "current": False}
    closed = {**search, "status": "closed", "assignee": "", "q": "Mari"}
    assert client_a.get(inbox(company_a), closed).content.decode().count('data-testid="conversation-row"') == 1
    assert client_b.get(inbox(company_b), closed).content.decode().count('data-testid="conversation-row"') == 0


def test_a_live_request_after_the_session_ended_leads_to_the_login_page_instead_of_drawing_it_in_place(
        client_a, company_a, instance_a):
    """Logged out in another tab (or the session expired): the composer's send, the list's re-fetch and a header
    control were redirected to the login page, which htmx drew inside the composer, the list or the header, and
    the composer's draft was forgotten as if sent. An htmx request is told to go to the login page (HX-Redirect,
    back to the page it came from) and nothing is stored; a plain request is redirected as before."""
    conversation = make_conversation(company_a, instance_a)
    thread = page(company_a, conversation)
    client_a.post("/accounts/logout/")
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver{thread}?status=closed"}
    for response in (client_a.post(f"{thread}send/", {"text": "Olá"}, **htmx),
                     client_a.get(inbox(company_a), {"fragment": "list"}, **htmx),
                     client_a.post(f"{thread}status/", {"status": "closed"}, **htmx)):
        assert response.status_code == 200 and response.content == b""
        assert response["HX-Redirect"] == "/accounts/login/?next=" + quote(f"{thread}?status=closed")
    assert not Message.all_companies.exists()
    assert Conversation.all_companies.get(pk=conversation.pk).status == "open"
    elsewhere = {**htmx, "HTTP_HX_CURRENT_URL": "https://elsewhere.test/phish"}  # only this site's own pages
    assert client_a.get(inbox(company_a), {"fragment": "list"}, **elsewhere)["HX-Redirect"] == "/accounts/login/"
    plain = client_a.get(thread)
    assert plain.status_code == 302 and plain["Location"] == "/accounts/login/?next=" + quote(thread)


def test_a_nul_in_the_search_is_dropped_not_a_500(client_a, company_a, instance_a):
    make_conversation(company_a, instance_a, "5511911112222", "Maria")
    response = client_a.get(inbox(company_a), {"q": "Ma\x00ria", "fragment": "list"})
    assert response.status_code == 200 and "Maria" in response.content.decode()


def _fragment_url(content: str, fragment: str) -> str:
    """The hx-get address of the list's own re-fetch (or its next page), as the browser will request it."""
    start = content.index('hx-get="', content.index(f"fragment={fragment}") - 400)
    start = content.index('hx-get="', start) + len('hx-get="')
    return html.unescape(content[start:content.index('"', start)])


def test_the_list_re_fetches_the_search_it_shows_even_with_a_hash_an_ampersand_or_a_plus(
        client_a, company_a, instance_a, instance_b, company_b):
    """An order number ("#123"), "P&G" or "+55": the list's live re-fetch and its next page ask for the same
    search (the words were put in the address as typed: "#" cut it, so the whole page landed inside the list)."""
    from urllib.parse import urlsplit

    for number in range(31):
        conversation = make_conversation(company_a, instance_a, f"55119{number:08d}", f"Person {number}")
        add_message(company_a, conversation, text=f"pedido #123 & P&G +55 n{number}")
    add_message(company_a, make_conversation(company_a, instance_a, "5511988887777", "Other"), text="pedido 123")
    add_message(company_b, make_conversation(company_b, instance_b), text="pedido #123 & P&G +55 de B")
    search = {"q": "pedido #123 & P&G +55", "instance": str(instance_a.public_id)}
    content = client_a.get(inbox(company_a), search).content.decode()
    assert content.count('data-testid="conversation-row"') == 30
    for fragment, rows in (("list", 30), ("more", 1)):
        url = _fragment_url(content, fragment)
        assert "#" not in url, url
        response = client_a.get(url)
        fetched = response.content.decode()
        assert response.status_code == 200 and "<html" not in fetched, (url, fetched[:200])
        assert urlsplit(url).path == inbox(company_a) and response.wsgi_request.GET["q"] == search["q"]
        assert fetched.count('data-testid="conversation-row"') == rows
        assert "Other" not in fetched and "de B" not in fetched


def test_list_is_paged_by_cursor_with_a_fixed_number_of_queries(client_a, company_a, instance_a):
    for number in range(35):
        make_conversation(company_a, instance_a, f"55119{number:08d}", f"Person {number}")
    client_a.get(inbox(company_a))  # warm up session and caches
    with CaptureQueriesContext(connection) as queries:
        response = client_a.get(inbox(company_a), {"fragment": "list"})
    assert response.content.decode().count('data-testid="conversation-row"') == 30
    assert len(queries) <= 8, [query["sql"] for query in queries]
    more = response.content.decode().split('fragment=more&amp;cursor=')[1].split('"')[0]
    rest = client_a.get(inbox(company_a), {"fragment": "more", "cursor": more}).content.decode()
    assert rest.count('data-testid="conversation-row"') == 5 and 'data-testid="conversation-more"' not in rest


def test_thread_renders_every_kind_and_marks_read(client_a, company_a, instance_a):
    conversation = make_conversation(company_a, instance_a)
    target = add_message(company_a, conversation, text="*negrito* e _itálico_", gateway_message_id="G1")
    add_message(company_a, conversation, kind="image", text="foto", media_url="https://example.com/a.png")
    add_message(company_a, conversation, kind="audio", is_voice=True, media_url="https://example.com/a.ogg",
                media_seconds=4)
    add_message(company_a, conversation, kind="document", media_url="https://example.com/n.pdf",
                media_filename="nota.pdf")
    add_message(company_a, conversation, kind="location", latitude=-23.5, longitude=-46.6, location_name="Loja")
    add_message(company_a, conversation, kind="contact", contacts=[{"full_name": "João",
                                                                   "phone_number": "5511912345678"}])
    add_message(company_a, conversation, kind="reaction", emoji="🔥", reaction_target=target,
                reaction_target_gateway_id="G1")
    add_message(company_a, conversation, kind="text", text="resposta", quoted=target)
    add_message(company_a, conversation, direction="out", text="falhou", status="failed", status_rank=25,
                error="This number is not on WhatsApp.", participant_name="")
    add_message(company_a, conversation, text="apagada", is_deleted=True, status="deleted", status_rank=70)
    Conversation.all_companies.filter(pk=conversation.pk).update(unread_count=3)
    response = client_a.get(page(company_a, conversation))
    content = response.content.decode()
    assert response.status_code == 200
    assert "<strong>negrito</strong>" in content and "<em>itálico</em>" in content
    for testid in ("media", "location", "contact-card", "reactions", "quote", "message-error", "retry", "deleted",
                   "composer", "contact-panel", "thread-header"):
        assert f'data-testid="{testid}"' in content, testid
    assert 'data-voice="true"' in content and "openstreetmap.org" in content and "🔥" in content
    assert f'data-live-topic="conversation" data-live-id="{conversation.public_id}"' in content
    assert Conversation.all_companies.get(pk=conversation.pk).unread_count == 0


def test_a_contact_without_a_name_has_its_number_shown_once_in_the_header_and_the_panel(client_a, client_b,
                                                                                      company_a, instance_a):
    """Without a name the heading is the number: the line under it and the side panel no longer repeat it. A named
    contact keeps its number under the name."""
    nameless = make_conversation(company_a, instance_a, name="")
    named = make_conversation(company_a, instance_a, number="5511933332222", name="Maria")

    def regions(conversation) -> tuple[str, str]:
        content = client_a.get(page(company_a, conversation)).content.decode()
        header = content.split('data-testid="thread-header"', 1)[1].split("<form", 1)[0]
        panel = content.split('<aside id="contact-panel"', 1)[1].split("</aside>", 1)[0]
        return header, panel

    for region in regions(nameless):
        assert region.count("+5511955554444") == 1, region
    for region in regions(named):
        assert region.count("+5511933332222") == 1 and "Maria" in region, region
    assert client_b.get(page(company_a, nameless)).status_code == 404


def test_older_messages_load_by_cursor(client_a, company_a, instance_a):
    conversation = make_conversation(company_a, instance_a)
    for number in range(35):
        add_message(company_a, conversation, text=f"message {number:02d}")
    content = client_a.get(page(company_a, conversation)).content.decode()
    assert "message 34" in content and "message 04" not in content
    cursor = content.split("fragment=older&amp;cursor=")[1].split('"')[0]
    older = client_a.get(page(company_a, conversation), {"fragment": "older", "cursor": cursor}).content.decode()
    assert "message 00" in older and "message 04" in older and "message 05" not in older
    latest = client_a.get(page(company_a, conversation), {"fragment": "messages"}).content.decode()
    assert latest.startswith('\n<div id="thread-messages"') or 'id="thread-messages"' in latest


def test_composer_sends_text_reply_reaction_and_attachment(agent_client_a, company_a, instance_a, simulator,
                                                           django_capture_on_commit_callbacks):
    conversation = make_conversation(company_a, instance_a)
    target = add_message(company_a, conversation, text="pergunta", gateway_message_id="3AQUESTION")
    url = f"{page(company_a, conversation)}send/"
    with django_capture_on_commit_callbacks():
        text = agent_client_a.post(url, {"text": "resposta", "reply_to": str(target.public_id)})
        reaction = agent_client_a.post(url, {"react_to": str(target.public_id), "emoji": "👍"})
        upload = SimpleUploadedFile("foto.png", PNG, content_type="image/png")
        image = agent_client_a.post(url, {"text": "legenda", "attachment": upload})
        empty = agent_client_a.post(url, {"text": "  "})
    assert [text.status_code, reaction.status_code, image.status_code, empty.status_code] == [200, 200, 200, 422]
    with company_scope(company_a):
        sent = list(Message.objects.filter(direction="out").order_by("pk"))
    assert [(m.kind, m.status, m.sender_type) for m in sent] == [("text", "queued", "agent"),
                                                                 ("reaction", "queued", "agent"),
                                                                 ("image", "queued", "agent")]
    assert sent[0].quoted_id == target.pk and sent[1].reaction_target_id == target.pk
    assert sent[2].media_file and sent[2].text == "legenda" and sent[0].sender_label == "adam@alpha.test"
    assert send_now(company_a, sent[0]) == "sent"  # the chat's drain sends all three, in order
    with company_scope(company_a):
        assert list(Message.objects.filter(direction="out").values_list("status", flat=True)) == ["sent"] * 3
    assert [entry["message_type"] for entry in simulator.sent(instance_a.gateway_name)] == [
        "conversation", "reactionMessage", "imageMessage"]
    media = agent_client_a.get(f"{inbox(company_a)}messages/{sent[2].public_id}/media/")
    assert media.status_code == 200 and b"".join(media.streaming_content) == PNG


def test_a_screen_reader_hears_new_messages_and_the_ticks(client_a, client_b, company_a, instance_a):
    """The thread's messages are a log (aria-live polite: a message added at its end is read out), named in the
    page's language, and each tick says its status (a title alone is not read out; "✓✓" says nothing)."""
    conversation = make_conversation(company_a, instance_a)
    add_message(company_a, conversation, text="c", direction="out", status="delivered", status_rank=40)
    english = client_a.get(page(company_a, conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<div id="thread-messages-list" role="log" aria-label="Messages">' in english
    assert 'role="img" aria-label="Delivered"' in english
    portuguese = client_a.get(page(company_a, conversation), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert '<div id="thread-messages-list" role="log" aria-label="Mensagens">' in portuguese
    assert 'role="img" aria-label="Entregue"' in portuguese
    fragment = client_a.get(page(company_a, conversation), {"fragment": "messages"}).content.decode()
    assert 'role="log"' in fragment  # the thread's re-fetch keeps it
    assert client_b.get(page(company_a, conversation), {"fragment": "messages"}).status_code == 404


def test_a_picture_sticker_video_or_audio_without_a_file_name_is_named_for_a_screen_reader(client_a, client_b,
                                                                                         company_a, instance_a):
    """A received picture has no file name: its alt was empty, which tells a screen reader to skip it as decoration
    (the customer's photo of a broken product went unheard); the players had no name at all. Each is named by its
    kind, in the page's language, or by its file name when it has one."""
    conversation = make_conversation(company_a, instance_a)
    for kind in ("image", "sticker", "video", "audio"):
        add_message(company_a, conversation, kind=kind, media_url=f"https://media.example.test/{kind}")
    add_message(company_a, conversation, kind="image", media_url="https://media.example.test/x",
                media_filename="nf.png")
    english = client_a.get(page(company_a, conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'alt="Image"' in english and 'alt="Sticker"' in english and 'alt="nf.png"' in english
    assert 'alt=""' not in english
    assert '<video aria-label="Video"' in english and '<audio aria-label="Audio"' in english
    portuguese = client_a.get(page(company_a, conversation), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert 'alt="Imagem"' in portuguese and 'alt="Figurinha"' in portuguese
    assert '<video aria-label="Vídeo"' in portuguese and '<audio aria-label="Áudio"' in portuguese
    assert client_b.get(page(company_a, conversation)).status_code == 404


def test_a_message_that_never_reached_whatsapp_offers_no_reactions_and_refuses_one(agent_client_a, client_b,
                                                                                   company_a, instance_a):
    """A failed send (no WhatsApp id) offered the quick reactions; a tap stored a reaction that pointed at nothing on
    the phone and failed unseen. Its bubble offers none (a received or sent message still does), and a reaction
    posted for it is refused with the reason, nothing stored."""
    conversation = make_conversation(company_a, instance_a)
    failed = add_message(company_a, conversation, text="não foi", direction="out", status="failed", status_rank=5)
    sent = add_message(company_a, conversation, text="foi", direction="out", status="sent", status_rank=30,
                       gateway_message_id="BAE5SENT")
    received = add_message(company_a, conversation, text="oi", gateway_message_id="3EB0IN")
    content = agent_client_a.get(page(company_a, conversation)).content.decode()
    assert f'name="react_to" value="{failed.public_id}"' not in content
    assert f'name="react_to" value="{sent.public_id}"' in content
    assert f'name="react_to" value="{received.public_id}"' in content
    response = agent_client_a.post(f"{page(company_a, conversation)}send/", {"react_to": str(failed.public_id),
                                                                            "emoji": "👍"})
    assert response.status_code == 422 and "has not reached WhatsApp" in response.content.decode()
    assert Message.all_companies.filter(kind="reaction").count() == 0
    assert client_b.post(f"{page(company_a, conversation)}send/", {"react_to": str(sent.public_id)}).status_code == 404
    assert Message.all_companies.filter(kind="reaction").count() == 0


def test_a_failure_reason_and_the_ticks_are_shown_in_the_page_s_language(client_a, client_b, company_a,
                                                                         instance_a):
    """The reason is stored as the code wrote it (the API gives it so) and translated where a page shows it;
    a gateway's own words are shown as they came. A read tick says "Lida", not the API key scope's "Leitura"."""
    conversation = make_conversation(company_a, instance_a)
    add_message(company_a, conversation, text="a", direction="out", status="failed", status_rank=5,
                error="This number is not on WhatsApp.")
    add_message(company_a, conversation, text="b", direction="out", status="failed", status_rank=5,
                error="Connection Closed")
    add_message(company_a, conversation, text="c", direction="out", status="read", status_rank=50)
    portuguese = client_a.get(page(company_a, conversation), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "Este número não está no WhatsApp." in portuguese and "Connection Closed" in portuguese
    assert 'data-status="read" title="Lida" role="img" aria-label="Lida"' in portuguese
    english = client_a.get(page(company_a, conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This number is not on WhatsApp." in english
    assert 'data-status="read" title="Read" role="img" aria-label="Read"' in english
    assert client_b.get(page(company_a, conversation)).status_code == 404


def test_tapping_our_reaction_again_takes_it_back(agent_client_a, client_b, company_a, company_b, instance_a,
                                                 simulator, django_capture_on_commit_callbacks):
    """👍, then ❤ (it replaces 👍), then ❤ again: an empty reaction goes to WhatsApp and the bubble shows none.
    Company B cannot react to A's message."""
    conversation = make_conversation(company_a, instance_a)
    target = add_message(company_a, conversation, text="chegou?", gateway_message_id="3ATARGET")
    url = f"{page(company_a, conversation)}send/"
    with django_capture_on_commit_callbacks():
        for emoji in ("👍", "❤", "❤"):
            assert agent_client_a.post(url, {"react_to": str(target.public_id), "emoji": emoji}).status_code == 200
    with company_scope(company_a):
        sent = list(Message.objects.filter(kind="reaction").order_by("pk").values_list("emoji", "is_deleted"))
    assert sent == [("👍", True), ("❤", True), ("", False)]
    assert send_now(company_a, Message.all_companies.filter(kind="reaction").first()) == "sent"
    assert [entry["message"]["reactionMessage"]["text"] for entry in simulator.sent(instance_a.gateway_name)] == [
        "👍", "❤", ""]
    thread = agent_client_a.get(page(company_a, conversation)).content.decode()
    assert 'data-testid="reactions"' not in thread
    assert client_b.post(url, {"react_to": str(target.public_id), "emoji": "👍"}).status_code == 404
    with company_scope(company_b):
        assert not Message.objects.exists()


def _composer(response) -> str:
    return response.content.decode()


def _alerts(html: str) -> list[str]:
    return [part.split("</div>", 1)[0] for part in html.split('role="alert">')[1:]]


def _textarea(html: str) -> str:
    import html as html_lib

    inner = html.split('data-testid="composer-text"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    return html_lib.unescape(inner.removeprefix("\n"))


def test_a_too_long_reply_keeps_its_text_and_reply_and_says_only_why(agent_client_a, member_a, company_a,
                                                                     instance_a):
    """Over 4096 characters: one error (the length), the text back in the textarea with the reply it quotes, and
    nothing stored; the textarea carries maxlength; the same in pt-BR."""
    conversation = make_conversation(company_a, instance_a)
    target = add_message(company_a, conversation, text="qual o prazo?")
    url = f"{page(company_a, conversation)}send/"
    text = "Prezada <Maria> & cia,\r\n" + "x" * 5000
    refused = agent_client_a.post(url, {"text": text, "reply_to": str(target.public_id)})
    html = _composer(refused)
    assert refused.status_code == 422
    assert _alerts(html) == ["Message: Ensure this value has at most 4096 characters (it has 5023)."]
    assert _textarea(html) == text and "<Maria>" not in html  # escaped in the page, unescaped by the browser
    assert f'value="{target.public_id}"' in html and "qual o prazo?" in html and "d-none\" data-reply" not in html
    assert 'maxlength="4096"' in html and 'maxlength="4096"' in agent_client_a.get(page(company_a,
                                                                                        conversation)).content.decode()
    # A line break counts once, as the textarea's maxlength counts it (browsers send CRLF).
    assert agent_client_a.post(url, {"text": "a\r\n" * 2048}).status_code == 200
    member_a.language = "pt-br"
    member_a.save(update_fields=["language"])
    html = _composer(agent_client_a.post(url, {"text": "y" * 4097}))
    assert _alerts(html) == ["Mensagem: Certifique-se de que o valor tenha no máximo 4096 caracteres (ele possui "
                             "4097)."] and _textarea(html) == "y" * 4097
    with company_scope(company_a):
        assert list(Message.objects.filter(direction="out").values_list("text", flat=True)) == ["a\n" * 2047 + "a"]


def test_a_damaged_picture_is_refused_and_files_go_by_their_content(agent_client_a, client_b, company_a, company_b,
                                                                    instance_a, instance_b, simulator, settings,
                                                                    django_capture_on_commit_callbacks):
    """A "photo.png" of random bytes is refused (its caption and reply kept, nothing stored, no file written);
    a JPEG named .png goes as a JPEG image, a text file as a document. Company B's message is no reply target
    in A's conversation, and B's own composer refuses the same damaged file."""
    from pathlib import Path

    conversation = make_conversation(company_a, instance_a)
    target = add_message(company_a, conversation, text="manda a foto")
    url = f"{page(company_a, conversation)}send/"
    damaged = SimpleUploadedFile("photo.png", bytes(range(100)), content_type="image/png")
    refused = agent_client_a.post(url, {"text": "segue a foto", "reply_to": str(target.public_id),
                                        "attachment": damaged})
    html = _composer(refused)
    assert refused.status_code == 422
    assert _alerts(html) == ["Attachment: The file is not a valid image (PNG, JPEG, GIF or WEBP); it may be damaged."]
    assert _textarea(html) == "segue a foto" and f'value="{target.public_id}"' in html
    assert "hx-preserve" not in html  # the refused file is not kept for the next Send
    for name, mimetype in (("clip.mp4", "video/mp4"), ("nota.ogg", "audio/ogg")):
        fake = SimpleUploadedFile(name, b"not really" * 10, content_type=mimetype)
        assert "it may be damaged" in _composer(agent_client_a.post(url, {"attachment": fake}))
    with company_scope(company_a):
        assert not Message.objects.filter(direction="out").exists()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [path for path in media.rglob("*") if path.is_file()]
    # A file kept by a refusal that is not its own: it stays attached (hx-preserve) with the text.
    kept = agent_client_a.post(url, {"text": "z" * 4097, "attachment": SimpleUploadedFile("a.txt", b"ok")})
    assert kept.status_code == 422 and 'data-testid="composer-file" hx-preserve="true"' in _composer(kept)

    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(40)
    uploads = [("foto.png", jpeg, "image/png"), ("nota.txt", b"ola", "text/plain"), ("a.png", PNG, "")]
    with django_capture_on_commit_callbacks():
        sent = [agent_client_a.post(url, {"text": "foto" if name == "foto.png" else "", "attachment":
                                          SimpleUploadedFile(name, content, content_type=mimetype)})
                for name, content, mimetype in uploads]
    assert [response.status_code for response in sent] == [200, 200, 200]
    with company_scope(company_a):
        assert list(Message.objects.filter(direction="out").order_by("pk").values_list(
            "kind", "media_mimetype", "media_filename")) == [("image", "image/jpeg", "foto.png"),
                                                             ("document", "text/plain", "nota.txt"),
                                                             ("image", "image/png", "a.png")]
    send_now(company_a, Message.all_companies.filter(company=company_a, direction="out").first())
    assert [entry["message_type"] for entry in simulator.sent(instance_a.gateway_name)] == [
        "imageMessage", "documentMessage", "imageMessage"]

    theirs = make_conversation(company_b, instance_b)
    foreign = add_message(company_b, theirs, text="de outra empresa")
    crossed = agent_client_a.post(url, {"text": "oi", "reply_to": str(foreign.public_id)})
    assert crossed.status_code == 422 and "That message is not in this conversation." in _composer(crossed)
    assert str(foreign.public_id) not in _composer(crossed) and "de outra empresa" not in _composer(crossed)
    damaged.seek(0)
    own = client_b.post(f"{page(company_b, theirs)}send/", {"text": "b", "attachment": damaged})
    assert own.status_code == 422 and "it may be damaged" in _composer(own)
    with company_scope(company_b):
        assert not Message.objects.filter(direction="out").exists()
    with company_scope(company_a):
        assert Message.objects.filter(direction="out").count() == 3


@pytest.mark.parametrize(("head", "mimetype"), [
    (PNG, "image/png"), (b"\xff\xd8\xff\xdb" + bytes(8), "image/jpeg"), (b"GIF89a\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"), (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
    (b"\x00\x00\x00\x18ftypmp42", "video/mp4"), (b"\x00\x00\x00\x18ftypM4A ", "audio/mp4"),
    (b"\x00\x00\x00\x18ftyp3gp4", "video/3gpp"), (b"\x00\x00\x00\x18ftypheic", "image/heic"),
    (b"\x1a\x45\xdf\xa3\x9f", "video/webm"), (b"OggS\x00\x02", "audio/ogg"), (b"ID3\x04", "audio/mpeg"),
    (b"\xff\xfb\x90\x64", "audio/mpeg"), (b"\xff\xf1\x50\x80", "audio/aac"), (b"%PDF-1.7", "application/pdf"),
    (bytes(range(100)), None), (b"", None), (b"hello", None),
])
def test_a_file_s_type_is_told_by_its_first_bytes(head, mimetype):
    from messaging import media

    assert media.sniff_mimetype(head) == mimetype


@pytest.mark.parametrize(("head", "declared", "sent_as"), [
    (PNG, "image/png", ("image", "image/png")),
    (b"\xff\xd8\xff\xe0", "image/png", ("image", "image/jpeg")),  # the content, not the name
    (bytes(range(100)), "image/png", None), (bytes(range(100)), "video/mp4", None),
    (bytes(range(100)), "audio/mpeg", None),
    (bytes(range(100)), "text/plain", ("document", "text/plain")), (b"", "", ("document", "application/octet-stream")),
    (b"\x00\x00\x00\x18ftypisom", "audio/mp4", ("audio", "audio/mp4")),  # a container that holds either
    (b"\x00\x00\x00\x18ftypisom", "video/mp4", ("video", "video/mp4")),
    (b"\x00\x00\x00\x18ftypheic", "image/heic", ("document", "image/heic")),  # no picture WhatsApp shows
    (b"%PDF-1.7", "image/jpeg", ("document", "application/pdf")),
    (b"PK\x03\x04", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     ("document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")),
])
def test_an_upload_is_sent_as_its_content_says(head, declared, sent_as):
    from messaging import media

    assert media.upload_type(head, declared) == sent_as


def test_controls_assign_status_priority_bot_tags(client_a, company_a, instance_a, owner_a, member_a):
    conversation = make_conversation(company_a, instance_a)
    with company_scope(company_a):
        tag = contact_services.tag_create(company=company_a, name="VIP")
    base = page(company_a, conversation)
    assert client_a.post(f"{base}assign/", {"assignee": "me"}).status_code == 200
    assert Conversation.all_companies.get(pk=conversation.pk).assignee == owner_a
    client_a.post(f"{base}assign/", {"assignee": str(member_a.public_id)})
    assert Conversation.all_companies.get(pk=conversation.pk).assignee == member_a
    assert client_a.post(f"{base}assign/", {"assignee": "00000000-0000-4000-8000-000000000000"}).status_code == 422
    client_a.post(f"{base}status/", {"status": "closed"})
    client_a.post(f"{base}priority/", {"priority": "urgent"})
    conversation.refresh_from_db()
    assert (conversation.status, conversation.priority) == ("closed", "urgent")
    assert b'data-testid="close"' in client_a.post(f"{base}status/", {"status": "open"}).content
    assert client_a.post(f"{base}priority/", {"priority": "nope"}).status_code == 422
    assert b"Resume bot" in client_a.post(f"{base}bot/", {"paused": "1"}).content
    assert client_a.post(f"{base}tags/", {"tags": [str(tag.public_id)]}).status_code == 200
    contact = conversation.contact
    contact.refresh_from_db()
    assert contact.bot_paused is True
    with company_scope(company_a):
        assert list(contact.tags.values_list("name", flat=True)) == ["VIP"]


def _panel_tags_post(panel: str, tick: str | None = None, untick: str | None = None) -> dict:
    """The contact panel's tags form as htmx sends it on a change: its hidden inputs and the boxes ticked as drawn,
    with one box toggled."""
    form = panel.split('/tags/" hx-target="#contact-panel"')[1].split("</form>")[0]
    data: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag).group(1), re.search(r'value="([^"]*)"', tag).group(1)
        if 'type="checkbox"' not in tag or " checked" in tag:
            data.setdefault(name, []).append(value)
    ticked = data.setdefault("tags", [])
    if tick:
        ticked.append(tick)
    if untick:
        ticked.remove(untick)
    return data


def test_panel_tags_change_only_the_box_toggled(client_a, agent_client_a, api_a, client_b, company_a, company_b,
                                                 instance_a, instance_b):
    """The panel posted the whole tag set it drew: a tag another agent (or the API, or bulk tagging) added after it
    was drawn was removed when this agent ticked another one. Now only the box toggled changes."""
    conversation = make_conversation(company_a, instance_a)
    contact = conversation.contact
    with company_scope(company_a):
        vip, late, cold = (contact_services.tag_create(company=company_a, name=name)
                           for name in ("VIP", "Late", "Cold"))
        contact_services.contact_add_tags(company=company_a, contact=contact, tags=[cold])
    with company_scope(company_b):
        theirs = contact_services.tag_create(company=company_b, name="Theirs")
    conversation_b = make_conversation(company_b, instance_b)
    with company_scope(company_b):
        contact_services.contact_add_tags(company=company_b, contact=conversation_b.contact, tags=[theirs])
    panel = agent_client_a.get(page(company_a, conversation)).content.decode()
    # Meanwhile, another agent's tab (through the service) and an integration (through the API) add tags.
    with company_scope(company_a):
        contact_services.contact_add_tags(company=company_a, contact=contact, tags=[late])
    assert api_a.post(f"/api/v1/contacts/{contact.public_id}/tags", {"tags": [str(vip.public_id)]},
                      format="json").status_code == 200
    assert agent_client_a.post(f"{page(company_a, conversation)}tags/",
                               _panel_tags_post(panel, untick=str(cold.public_id))).status_code == 200

    def names(company, contact):
        with company_scope(company):
            return sorted(contact.tags.values_list("name", flat=True))

    assert names(company_a, contact) == ["Late", "VIP"]
    panel = agent_client_a.get(page(company_a, conversation)).content.decode()
    with company_scope(company_a):
        contact_services.contact_remove_tags(company=company_a, contact=contact, tags=[late])
    response = agent_client_a.post(f"{page(company_a, conversation)}tags/",
                                   _panel_tags_post(panel, tick=str(cold.public_id)))
    assert response.status_code == 200 and names(company_a, contact) == ["Cold", "VIP"]  # Late stays removed
    # Company B's tags cannot be put on A's contact, nor taken off B's contact by naming them as seen.
    data = {"seen-form": "1", "seen-tags": [str(theirs.public_id)], "tags": []}
    assert client_a.post(f"{page(company_a, conversation)}tags/", data).status_code == 200
    assert client_a.post(f"{page(company_a, conversation)}tags/",
                         {"seen-form": "1", "tags": [str(theirs.public_id)]}).status_code == 422
    assert client_a.post(f"{page(company_b, conversation_b)}tags/", data).status_code == 404
    assert client_b.post(f"{page(company_a, conversation)}tags/", {"seen-form": "1", "tags": []}).status_code == 404
    assert names(company_b, conversation_b.contact) == ["Theirs"] and names(company_a, contact) == ["Cold", "VIP"]


def test_retry_and_delete_from_the_thread(client_a, company_a, instance_a, simulator,
                                          django_capture_on_commit_callbacks):
    conversation = make_conversation(company_a, instance_a)
    failed = add_message(company_a, conversation, direction="out", text="again", status="failed", status_rank=25,
                         error="boom")
    with django_capture_on_commit_callbacks():
        response = client_a.post(f"{inbox(company_a)}messages/{failed.public_id}/retry/")
    assert response.status_code == 200 and b'data-status="queued"' in response.content
    # The bubble's copies are ordered by (retries, rank): the page takes this one over the failed one it shows.
    assert b'data-rank="10" data-retries="1"' in response.content
    send_now(company_a, failed)
    assert client_a.post(f"{inbox(company_a)}messages/{failed.public_id}/retry/").status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client_a.post(f"{inbox(company_a)}messages/{failed.public_id}/delete/")
    assert deleted.status_code == 200 and b'data-testid="deleted"' in deleted.content
    incoming = add_message(company_a, conversation, text="theirs")
    refused = client_a.post(f"{inbox(company_a)}messages/{incoming.public_id}/delete/")
    assert refused.status_code == 422 and b'data-testid="action-error"' in refused.content


def test_another_company_gets_404_and_changes_nothing(client_b, company_a, instance_a, listener,
                                                      django_capture_on_commit_callbacks):
    conversation = make_conversation(company_a, instance_a)
    message = add_message(company_a, conversation, direction="out", status="failed", status_rank=25)
    listener.join(company_a, "inbox")
    before = list(Message.all_companies.values_list()), list(Conversation.all_companies.values_list())
    base = page(company_a, conversation)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        responses = [
            client_b.get(base), client_b.get(f"/c/{company_a.slug}/inbox/"),
            client_b.post(f"{base}send/", {"text": "intrusion"}),
            client_b.post(f"{base}assign/", {"assignee": "me"}), client_b.post(f"{base}status/", {"status": "closed"}),
            client_b.post(f"{base}priority/", {"priority": "high"}), client_b.post(f"{base}bot/", {"paused": "1"}),
            client_b.post(f"{base}tags/", {}),
            client_b.post(f"/c/{company_a.slug}/inbox/messages/{message.public_id}/retry/"),
            client_b.post(f"/c/{company_a.slug}/inbox/messages/{message.public_id}/delete/"),
            client_b.get(f"/c/{company_a.slug}/inbox/messages/{message.public_id}/media/"),
        ]
    assert [response.status_code for response in responses] == [404] * len(responses)
    assert callbacks == []
    assert (list(Message.all_companies.values_list()), list(Conversation.all_companies.values_list())) == before
    assert listener.drain() == []


# --- live topics ------------------------------------------------------------------------------------


def _cookie(user) -> str:
    client = Client()
    client.force_login(user, backend="tenants.backends.UsernameOrEmailBackend")
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def _subscribe(user, company_slug: str, topic: str, public_id) -> dict:
    cookie = await database_sync_to_async(_cookie)(user)
    communicator = WebsocketCommunicator(application, "/ws/", headers=[
        (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())])
    connected, _code = await communicator.connect()
    assert connected
    await communicator.send_to(text_data=json.dumps(
        {"action": "subscribe", "company": company_slug, "topic": topic, "id": public_id}))
    answer = json.loads(await communicator.receive_from(timeout=5))
    await communicator.disconnect()
    return answer


@pytest.mark.django_db(transaction=True)
async def test_conversation_topic_resolves_only_inside_the_company(owner_a, owner_b, company_a, company_b, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from tests.contacts.conftest import make_instance

    instance = await database_sync_to_async(make_instance)(company=company_a, name="live")
    conversation = await database_sync_to_async(make_conversation)(company_a, instance)
    mine = await _subscribe(owner_a, company_a.slug, "conversation", str(conversation.public_id))
    assert mine == {"subscribed": f"conversation.{conversation.public_id.hex}"}
    assert await _subscribe(owner_a, company_a.slug, "inbox", None) == {"subscribed": "inbox"}
    # Charlie names A's conversation under his own company, and under A's slug: both look unknown.
    assert await _subscribe(owner_b, company_b.slug, "conversation", str(conversation.public_id)) == {
        "error": "not_found"}
    assert await _subscribe(owner_b, company_a.slug, "conversation", str(conversation.public_id)) == {
        "error": "not_found"}
    # The thread's other topics: its number's state (resolved inside the company too) and the quick replies.
    assert await _subscribe(owner_a, company_a.slug, "instance_state", str(instance.public_id)) == {
        "subscribed": f"instance_state.{instance.public_id.hex}"}
    assert await _subscribe(owner_b, company_b.slug, "instance_state", str(instance.public_id)) == {
        "error": "not_found"}
    assert await _subscribe(owner_a, company_a.slug, "quick_replies", None) == {"subscribed": "quick_replies"}
    assert await _subscribe(owner_b, company_a.slug, "quick_replies", None) == {"error": "not_found"}


def test_tasks_for_another_company_do_nothing(company_a, company_b, instance_a, simulator,
                                                    django_capture_on_commit_callbacks):
    conversation = make_conversation(company_a, instance_a)
    with company_scope(company_a), django_capture_on_commit_callbacks():
        message, _ = services.message_send(company=company_a, conversation=conversation,
                                           outgoing=services.Outgoing(kind="text", text="x"), sender_type="agent")
    slot = outbound.outbound_slot(message.conversation_id)
    assert drain_outbound.apply(args=[company_b.pk, instance_a.pk, slot]).get() == 0  # B's drain of A's instance
    assert send_message.apply(args=[company_b.pk, message.pk]).get() is False  # A's message id, asked as B
    assert send_now(company_b, message) == "skipped"
    assert Message.all_companies.get(pk=message.pk).status == "queued"
    assert simulator.sent(instance_a.gateway_name) == []
    image = add_message(company_a, conversation, kind="image", media_url=f"{simulator.base_url}/_sim/media/sample.png")
    assert download_media.apply(args=[company_b.pk, image.pk]).get() is False
    assert not Message.all_companies.get(pk=image.pk).media_file


def test_thread_messages_are_not_shown_as_notifications(client_a, company_a, instance_a):
    """The thread's context name must not shadow the messages framework that base.html renders as alerts."""
    conversation = make_conversation(company_a, instance_a)
    add_message(company_a, conversation, text="only in the thread")
    content = client_a.get(page(company_a, conversation)).content.decode()
    assert "alert-dismissible" not in content and content.count('data-testid="message-text"') == 1


def test_reading_a_live_message_clears_the_badge(client_a, client_b, company_a, instance_a):
    conversation = make_conversation(company_a, instance_a)
    Conversation.all_companies.filter(pk=conversation.pk).update(unread_count=2)
    assert client_b.post(f"{page(company_a, conversation)}read/").status_code == 404
    assert Conversation.all_companies.get(pk=conversation.pk).unread_count == 2
    assert client_a.post(f"{page(company_a, conversation)}read/").status_code == 204
    assert Conversation.all_companies.get(pk=conversation.pk).unread_count == 0


def test_a_pending_conversation_is_marked_open_directly(client_a, client_b, company_a, instance_a):
    conversation = make_conversation(company_a, instance_a)
    base = page(company_a, conversation)
    pending = client_a.post(f"{base}status/", {"status": "pending"}).content.decode()
    assert 'data-testid="mark-open"' in pending and 'data-testid="close"' in pending
    assert 'data-testid="mark-pending"' not in pending and 'data-testid="reopen"' not in pending
    assert 'name="status" value="open" data-testid="mark-open"' in client_a.get(base).content.decode()
    assert client_b.post(f"{base}status/", {"status": "open"}).status_code == 404
    assert Conversation.all_companies.get(pk=conversation.pk).status == "pending"
    opened = client_a.post(f"{base}status/", {"status": "open"}).content.decode()
    assert Conversation.all_companies.get(pk=conversation.pk).status == "open"
    assert 'data-testid="mark-pending"' in opened and 'data-testid="mark-open"' not in opened


def test_the_open_conversations_row_is_marked_current_and_only_it(client_a, company_a, instance_a):
    """aria-current, not a class: htmx settles a re-fetched row's class back to the server's after a swap."""
    shown = make_conversation(company_a, instance_a, "5511911112222", "Shown")
    other = make_conversation(company_a, instance_a, "5511933334444", "Other")
    content = client_a.get(page(company_a, shown)).content.decode()
    rows = {row.split('data-conversation="')[1].split('"')[0]: row
            for row in content.split('data-testid="conversation-row"')[1:]}
    assert 'aria-current="true"' in rows[str(shown.public_id)].split(">")[0]
    assert 'aria-current' not in rows[str(other.public_id)].split(">")[0]
    assert content.count('aria-current="true"') == 1
    # The inbox page and the list fragments (shared by every open thread) mark no row.
    # (The tab shown is aria-current="page".)
    assert 'aria-current="true"' not in client_a.get(inbox(company_a)).content.decode()
    assert "aria-current" not in client_a.get(inbox(company_a), {"fragment": "list"}).content.decode()


@pytest.mark.parametrize(("text", "html"), [
    ("see https://example.com.",
     '<p>see <a href="https://example.com" target="_blank" rel="noopener noreferrer nofollow">'
     'https://example.com</a>.</p>'),
    ("*https://example.com/a_b_c* and _x_",
     '<p><strong><a href="https://example.com/a_b_c" target="_blank" rel="noopener noreferrer nofollow">'
     'https://example.com/a_b_c</a></strong> and <em>x</em></p>'),
    ("(https://en.wikipedia.org/wiki/Foo_(bar))",
     '<p>(<a href="https://en.wikipedia.org/wiki/Foo_(bar)" target="_blank" rel="noopener noreferrer nofollow">'
     'https://en.wikipedia.org/wiki/Foo_(bar)</a>)</p>'),
    ('<b>x</b> http://a.test/?q=<script>&x="y" https://b.test/?a=1&b=2',
     '<p>&lt;b&gt;x&lt;/b&gt; <a href="http://a.test/?q=" target="_blank" rel="noopener noreferrer nofollow">'
     'http://a.test/?q=</a>&lt;script&gt;&amp;x=&quot;y&quot; <a href="https://b.test/?a=1&amp;b=2" '
     'target="_blank" rel="noopener noreferrer nofollow">https://b.test/?a=1&amp;b=2</a></p>'),
    ("https://ok.test/'onmouseover='alert(1)",
     '<p><a href="https://ok.test/" target="_blank" rel="noopener noreferrer nofollow">https://ok.test/</a>'
     '&#x27;onmouseover=&#x27;alert(1)</p>'),
    ("javascript:alert(1) data:text/html,x xhttps://no.test https://",
     "<p>javascript:alert(1) data:text/html,x xhttps://no.test https://</p>"),
    ("a\n\nb https://x.test/z\nc",
     '<p>a</p>\n\n<p>b <a href="https://x.test/z" target="_blank" rel="noopener noreferrer nofollow">'
     'https://x.test/z</a><br>c</p>'),
])
def test_message_text_links_only_http_urls_and_stays_escaped(text, html):
    from messaging.templatetags.messaging_tags import whatsapp

    assert whatsapp(text) == html


def test_links_in_the_thread_are_clickable_and_its_html_escaped(client_a, client_b, company_a, instance_a):
    conversation = make_conversation(company_a, instance_a)
    add_message(company_a, conversation, text='<img src=x onerror=alert(1)> *olha* https://example.com/"><script>')
    content = client_a.get(page(company_a, conversation)).content.decode()
    assert ('<strong>olha</strong> <a href="https://example.com/" target="_blank" '
            'rel="noopener noreferrer nofollow">https://example.com/</a>&quot;&gt;&lt;script&gt;') in content
    assert "<img src=x" not in content and "&lt;img src=x onerror=alert(1)&gt;" in content
    assert "example.com" not in client_b.get(page(company_a, conversation)).content.decode()


def test_the_thread_says_when_its_number_is_not_connected_with_the_link_for_admins(
        client_a, agent_client_a, client_b, owner_a, company_a, company_b, instance_a, instance_b, listener,
        django_capture_on_commit_callbacks):
    """A send on a disconnected number waits and then fails: the thread says so while it is not connected, with the
    link to its page for those who may reconnect it (admins) and who to ask for the others, in the page's language.
    Only the number's state is pushed (the notice is per person: it re-fetches itself); company B hears nothing and
    cannot fetch A's notice."""
    from instances import services as instance_services

    conversation = make_conversation(company_a, instance_a)
    with company_scope(company_a):
        instance_services.instance_record_state(company=company_a, instance=instance_a, state="open", source="test")
    thread = page(company_a, conversation)
    connected = client_a.get(thread).content.decode()
    assert 'id="thread-instance-notice"' in connected and 'data-live-topic="instance_state"' in connected
    assert 'data-testid="instance-notice"' not in connected and 'data-testid="composer-instance-hint"' not in connected
    ear_b = Listener().join(company_b, realtime.topic_for("instance_state", instance_a.public_id))
    listener.join(company_a, realtime.topic_for("instance_state", instance_a.public_id))
    with company_scope(company_a), django_capture_on_commit_callbacks(execute=True):
        instance_services.instance_record_state(company=company_a, instance=instance_a, state="close", source="test")
    [pushed] = listener.drain()
    assert pushed.strip() == (f'<span id="instance-{instance_a.public_id.hex}-state" data-instance-state '
                              'data-state="close" hidden hx-swap-oob="true"></span>')
    assert ear_b.drain() == []

    admin = client_a.get(thread).content.decode()
    number = instance_a.display_name
    assert f"This conversation's number, “{number}”, is not connected (state: Disconnected)." in html.unescape(admin)
    assert f'href="/c/{company_a.slug}/instances/{instance_a.public_id}/" data-testid="instance-notice-link"' in admin
    assert 'data-testid="composer-instance-hint"' in admin
    agent = agent_client_a.get(f"{thread}?fragment=instance-notice").content.decode()
    assert agent.lstrip().startswith('<div id="thread-instance-notice"')
    assert "Ask an admin of your company to reconnect it." in agent and "instance-notice-link" not in agent
    assert '<div id="composer-instance-hint" hx-swap-oob="true">' in agent
    owner_a.language = "pt-br"
    owner_a.save(update_fields=["language"])
    translated = html.unescape(client_a.get(f"{thread}?fragment=instance-notice").content.decode())
    assert f"O número desta conversa, “{number}”, não está conectado (estado: Desconectada)." in translated
    assert "Reconecte-o na página do número" in translated and "o que você enviar aguarda" in translated
    # Company B: A's notice does not exist, and B's number changing pushes nothing to A.
    assert client_b.get(f"{thread}?fragment=instance-notice").status_code == 404
    ear_a = Listener().join(company_a, realtime.topic_for("instance_state", instance_b.public_id))
    with company_scope(company_b), django_capture_on_commit_callbacks(execute=True):
        instance_services.instance_record_state(company=company_b, instance=instance_b, state="close", source="test")
    assert ear_a.drain() == []


def test_the_inbox_offers_single_key_shortcuts_only_while_the_profile_keeps_them_on(client_a, client_b, company_a,
                                                                                    owner_a):
    """"/" and "?" can be turned off (WCAG 2.1.4): the page tells its script (data-single-key-shortcuts), stops
    announcing them (aria-keyshortcuts), marks them off in the shortcuts' list, which links to the profile, and the
    welcome stops naming them. Alt+Shift+C stays. The thread carries its own "Keyboard shortcuts" button (the list's
    is hidden beside a thread on a phone)."""
    from tests.factories import make_instance

    conversation = make_conversation(company_a, make_instance(company=company_a))
    make_conversation(company_a, conversation.instance, number="5511955553333", name="Outra")
    thread = client_a.get(page(company_a, conversation)).content.decode()
    assert 'data-single-key-shortcuts="on"' in thread
    assert 'aria-keyshortcuts="/"' in thread and thread.count('aria-keyshortcuts="?"') == 2
    assert 'data-testid="shortcuts-open-thread">Keyboard shortcuts</button>' in thread
    assert ('can be turned off in <a href="/accounts/profile/#id_single_key_shortcuts">your profile</a>'
            in thread)
    assert 'data-testid="shortcut-off"' not in thread
    assert "Keyboard: / searches" in html.unescape(client_a.get(inbox(company_a)).content.decode())

    owner_a.single_key_shortcuts = False
    owner_a.save(update_fields=["single_key_shortcuts"])
    thread = client_a.get(page(company_a, conversation)).content.decode()
    assert 'data-single-key-shortcuts="off"' in thread
    assert 'aria-keyshortcuts="/"' not in thread and 'aria-keyshortcuts="?"' not in thread
    assert 'aria-keyshortcuts="Alt+Shift+C"' in thread
    assert thread.count('data-testid="shortcut-off">Off</span>') == 2
    assert 'are off; <a href="/accounts/profile/#id_single_key_shortcuts">your profile</a> turns them on.' in thread
    welcome = html.unescape(client_a.get(inbox(company_a)).content.decode())
    assert "Keyboard: Alt+↓" in welcome and "/ searches" not in welcome
    owner_a.language = "pt-br"
    owner_a.save(update_fields=["language"])
    thread = client_a.get(page(company_a, conversation)).content.decode()
    assert "estão desligados; o <a" in thread and 'data-testid="shortcut-off">Desligado</span>' in thread
    welcome = html.unescape(client_a.get(inbox(company_a)).content.decode())
    assert "O botão “Atalhos de teclado” lista todos os atalhos." in welcome
    # Company B's owner: A's thread and inbox do not exist.
    assert client_b.get(page(company_a, conversation)).status_code == 404
    assert client_b.get(inbox(company_a)).status_code == 404
