"""The inbox in a real browser: a customer writes, the agent sees it live, answers with text and an image, and the
ticks turn delivered then read, all without a reload.

The whole chain runs for real: uvicorn (HTTP + WebSocket) in a subprocess on the test database, the simulator
posting its webhooks to that uvicorn, a Celery worker subprocess running the inbound-event and send tasks,
Redis as broker and channel layer, chromium as the browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from instances import services as instance_services
from tenants.scoping import company_scope
from tests.browser.conftest import (  # noqa: F401 (fixtures)
    _orm_beside_playwright,
    browser,
    browser_context,
    log_in,
    running_stack,
)
from tests.factories import PASSWORD
from tests.simulator.fixtures import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CUSTOMER = "5511955554444"


@pytest.fixture(scope="module")
def stack_url(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """uvicorn and a worker (inbound events on `default`, sends on `messaging`) on the test database."""
    logs = tmp_path_factory.mktemp("messaging-stack")
    with running_stack(logs, worker_queues="default,messaging", public_url=True,
                       extra_env={"MEDIA_ROOT": str(logs / "media")}) as url:
        yield url


def connected_instance(simulator, company, name: str, number: str):
    """An instance of the company, connected and scanned on the simulator (its webhook: settings.PUBLIC_URL)."""
    with company_scope(company):
        instance = instance_services.instance_create(company=company, name=name)
        instance_services.instance_connect(company=company, instance=instance)
    simulator.scan(instance.gateway_name, number=number, profile_name="Alpha Foods")
    return instance


def page_hearing_frames(browser_context):  # noqa: F811
    """A new page and the list every WebSocket frame it receives is appended to."""
    page = browser_context.new_page()
    frames: list[str] = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(
        frame if isinstance(frame, str) else str(frame))))
    return page, frames



def conversation_beside_company_b(simulator, company_a, company_b, name: str, number_a: str, number_b: str):
    """A connected number of company A with a conversation with CUSTOMER, and one of company B (which must
    receive nothing of what the test does): (instance, instance_b, conversation)."""
    from messaging import services

    instance = connected_instance(simulator, company_a, name, number_a)
    instance_b = connected_instance(simulator, company_b, f"{name}-b", number_b)
    with company_scope(company_a):
        contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=CUSTOMER)
        conversation, _created = services.conversation_start(company=company_a, instance=instance, contact=contact)
    return instance, instance_b, conversation


def thread_opened(context, stack_url: str, user, conversation):
    """A page logged in as `user` on the conversation's thread, once its socket listens to the conversation:
    (page, the socket's frames)."""
    page, frames = page_hearing_frames(context)
    log_in(page, stack_url, user.email)
    page.goto(f"{stack_url}/c/{conversation.company.slug}/inbox/{conversation.public_id}/")
    wait_subscribed(page, frames, '"conversation.')
    return page, frames


class SubscriptionHeld:
    """Open `url` in `page` with the page's socket messages to the server held until `release()`: the page has
    asked to subscribe (a held message names `topic`) and the server has not heard it yet."""

    def __init__(self, page, url: str, topic: str) -> None:
        self.held: list[str] = []
        self.open, self.server = False, None

        def route(socket) -> None:
            self.server = socket.connect_to_server()

            def from_page(message) -> None:
                if self.open:
                    self.server.send(message)
                else:
                    self.held.append(message)

            socket.on_message(from_page)

        page.route_web_socket(re.compile(r"/ws/$"), route)
        page.goto(url)
        for _tick in range(100):
            if any(topic in message for message in self.held):
                break
            page.wait_for_timeout(100)
        assert any(topic in message for message in self.held), self.held

    def release(self) -> None:
        self.open = True
        for message in self.held:
            self.server.send(message)


def thread_refetch_answered_after(page, frames: list[str], pushed) -> None:
    """Start the thread's re-fetch and hold its answer (the server has read the thread already) until a frame that
    `pushed` accepts has reached the page: what the test does next is pushed between the read and the answer."""
    read: list[str] = []

    def answer_late(route) -> None:
        response = route.fetch()
        read.append(route.request.url)
        for _tick in range(100):
            if any(pushed(frame) for frame in frames):
                break
            page.wait_for_timeout(100)
        route.fulfill(response=response)

    page.route(re.compile(r"fragment=messages"), answer_late)
    page.evaluate("htmx.trigger(document.getElementById('thread-messages'), 'recado:resync')")
    for _tick in range(50):
        if read:
            break
        page.wait_for_timeout(100)
    assert read


def conversations_each_with_a_message(company, instance, count: int):
    """`count` conversations of `company` on `instance` with customers "Cliente 00", "Cliente 01"…, each with one
    message ("msg N"), the last one the newest: that last conversation."""
    from messaging import services
    from tests.messaging.test_pages import add_message, make_conversation

    for number in range(count):
        conversation = make_conversation(company, instance, number=f"55119444{number:05d}",
                                         name=f"Cliente {number:02d}")
        with company_scope(company):
            services.conversation_touch(company=company, conversation=conversation,
                                        message=add_message(company, conversation, text=f"msg {number}"))
    return conversation


def wait_subscribed(page, frames: list[str], topic: str) -> None:
    """Pushes are only heard once the socket has joined the topic: wait for the consumer's answer."""
    for _tick in range(150):  # Playwright delivers socket events only while it runs: wait with it
        if any('"subscribed"' in frame and topic in frame for frame in frames):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never subscribed to {topic}: {frames}")


def wait_live_settled(page, frames: list[str]) -> None:
    """Every live region's subscription is confirmed and the re-fetch the page makes then (static/recado/recado.js,
    resync) has come back: nothing the page asked for on its own is still on its way."""
    regions = page.evaluate("document.querySelectorAll('[data-live-topic]').length")
    quiet = 0
    for _tick in range(150):
        confirmed = sum(frame.count('"subscribed"') for frame in frames)
        busy = page.evaluate("document.querySelectorAll('.htmx-request').length")
        quiet = quiet + 1 if confirmed >= regions and not busy else 0
        if quiet >= 3:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{regions} live regions never settled: {frames}")


def test_customer_message_live_reply_with_text_and_image_and_live_ticks(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, settings, tmp_path,  # noqa: F811
):
    settings.PUBLIC_URL = stack_url  # the instance's webhook points at the uvicorn above
    instance = connected_instance(simulator, company_a, "sales", "5511977776666")
    page, frames = page_hearing_frames(browser_context)

    log_in(page, stack_url, owner_a.email)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/")
    page.evaluate("window.__sameDocument = true")
    wait_subscribed(page, frames, '"inbox"')

    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "Oi, tudo bem?"})
    row = page.locator("[data-testid=conversation-row]", has_text="Maria")
    row.wait_for(timeout=15_000)
    assert row.locator("[data-testid=unread-badge]").inner_text() == "1"
    assert "Oi, tudo bem?" in row.inner_text()
    assert page.evaluate("window.__sameDocument") is True

    row.click()
    page.wait_for_url(re.compile(r"/inbox/[0-9a-f-]{36}/$"))
    page.locator("[data-testid=message]", has_text="Oi, tudo bem?").wait_for()
    page.evaluate("window.__sameDocument = true")
    wait_subscribed(page, frames, '"conversation.')
    page.fill("[data-testid=composer-text]", "Olá Maria! Segue a foto.")
    page.press("[data-testid=composer-text]", "Enter")
    # The answer replaces the composer with an empty one (and focuses it): only then attach the image.
    page.wait_for_function("() => document.querySelector('[data-testid=composer-text]').value === ''")
    image = tmp_path / "produto.png"
    image.write_bytes(httpx.get(f"{simulator.base_url}/_sim/media/sample.png").content)
    page.locator("[data-testid=composer-file]").wait_for()
    page.set_input_files("[data-testid=composer-file]", str(image))
    page.fill("[data-testid=composer-text]", "o produto")
    page.click("[data-testid=send]")

    def both_sent():
        entries = simulator.sent(instance.gateway_name)
        return entries if len(entries) >= 2 else None

    sent = wait_until(both_sent, timeout=20, interval=0.5)
    assert [entry["message_type"] for entry in sent] == ["conversation", "imageMessage"]
    assert sent[0]["message"]["conversation"] == "Olá Maria! Segue a foto."
    text_bubble = page.locator("[data-testid=message][data-direction=out]", has_text="Olá Maria")
    text_bubble.locator("[data-testid=ticks][data-status=sent]").wait_for(timeout=15_000)
    page.locator("[data-testid=message][data-kind=image]").wait_for(timeout=15_000)

    simulator.set_status(instance.gateway_name, sent[0]["id"], "DELIVERY_ACK")
    text_bubble.locator("[data-testid=ticks][data-status=delivered]").wait_for(timeout=15_000)
    simulator.set_status(instance.gateway_name, sent[0]["id"], "READ")
    text_bubble.locator("[data-testid=ticks][data-status=read]").wait_for(timeout=15_000)
    assert page.locator("[data-testid=message]", has_text="Olá Maria").count() == 1
    # Sending nothing: the 422 answer's error is shown in the composer.
    page.click("[data-testid=send]")
    page.locator("#composer [role=alert]").wait_for(timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True


def test_a_message_stored_before_the_page_subscribed_appears_once_the_subscription_is_confirmed(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """The gap between the page's own read and its subscription: a customer's message applied then is pushed to
    no socket. The page re-fetches its live regions once the server has confirmed its subscriptions, so the
    message appears without a reload (a re-fetch at the socket's opening came before it, and the next one was a
    minute away). Company B's conversation never shows in A's inbox."""
    from messaging.models import Message

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "gap", "5511977774444")
    instance_b = connected_instance(simulator, company_b, "gap-b", "5511977773333")
    page = browser_context.new_page()
    log_in(page, stack_url, owner_a.email)
    subscription = SubscriptionHeld(page, f"{stack_url}/c/{company_a.slug}/inbox/", '"inbox"')
    page.evaluate("window.__sameDocument = true")

    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Joana", "text": "Chegou?"})
    simulator.inbound(instance_b.gateway_name, **{"from": CUSTOMER, "push_name": "Outra", "text": "De B"})

    def stored() -> bool:
        return Message.all_companies.filter(text__in=["Chegou?", "De B"]).count() == 2

    assert wait_until(stored, timeout=20, interval=0.2)
    page.wait_for_timeout(500)  # its push went out to nobody on this page
    assert page.locator("[data-testid=conversation-row]", has_text="Joana").count() == 0

    subscription.release()
    row = page.locator("[data-testid=conversation-row]", has_text="Joana")
    row.wait_for(timeout=10_000)
    assert "Chegou?" in row.inner_text()
    assert page.locator("[data-testid=conversation-row]", has_text="Outra").count() == 0
    assert page.evaluate("window.__sameDocument") is True


def test_bot_platform_added_then_paused_from_the_inbox_by_the_api_and_by_a_reply(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, settings, company_b,  # noqa: F811
):
    """An admin adds the instance's bot platform in the page; in the thread, the agent pauses and resumes the
    bot by the toggle; a pause made through the API and the pause an agent's reply causes appear live."""
    from contacts.models import Contact
    from integrations.models import BotPauseChange
    from messaging import services
    from tests.factories import make_api_key

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "bots", "5511977775555")
    key = make_api_key(company=company_a, name="CRM", scopes=["read", "write"])
    page, frames = page_hearing_frames(browser_context)
    log_in(page, stack_url, owner_a.email)

    page.goto(f"{stack_url}/c/{company_a.slug}/instances/{instance.public_id}/")
    form = page.get_by_test_id("platform-form")
    form.get_by_label("Slug").fill("vendas")
    form.get_by_label("Callback URL").fill("http://127.0.0.1:9/bot")
    form.get_by_label("Starting platform").check()
    form.get_by_role("button", name="Add platform").click()
    page.get_by_test_id("new-webhook-secret").wait_for()
    assert page.locator("#webhook-secret").input_value().startswith("whsec_")
    page.get_by_role("link", name=instance.display_name).click()
    page.get_by_test_id("starting-badge").wait_for()
    page.screenshot(path="/tmp/recado-bot-platforms.png", full_page=True)

    with company_scope(company_a):
        contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=CUSTOMER)
        conversation, _created = services.conversation_start(company=company_a, instance=instance, contact=contact)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/{conversation.public_id}/")
    wait_subscribed(page, frames, '"conversation.')
    state = page.get_by_test_id("bot-state")
    assert "answers" in state.inner_text()
    page.get_by_test_id("bot-toggle").click()
    page.get_by_role("button", name="Resume bot").wait_for()
    page.get_by_role("button", name="Resume bot").click()
    page.get_by_role("button", name="Pause bot").wait_for()

    # Paused elsewhere (the API): the open panel follows without a reload.
    response = httpx.post(f"{stack_url}/api/v1/instances/{instance.public_id}/bot/pause",
                          headers={"Authorization": f"Bearer {key.secret}"},
                          json={"number": CUSTOMER, "duration_minutes": 30})
    assert response.status_code == 200 and response.json()["changed"] is True
    page.get_by_text("The bot is paused for this contact (until").wait_for(timeout=15_000)
    httpx.post(f"{stack_url}/api/v1/instances/{instance.public_id}/bot/resume",
               headers={"Authorization": f"Bearer {key.secret}"}, json={"number": CUSTOMER})
    page.get_by_role("button", name="Pause bot").wait_for(timeout=15_000)

    # The agent answers: the bot steps back by itself, and the panel says so.
    page.fill("[data-testid=composer-text]", "Aqui é a Alice, eu assumo.")
    page.press("[data-testid=composer-text]", "Enter")
    page.get_by_role("button", name="Resume bot").wait_for(timeout=15_000)
    page.screenshot(path="/tmp/recado-bot-paused.png", full_page=True)
    with company_scope(company_a):
        reasons = list(BotPauseChange.objects.order_by("at", "pk").values_list("paused", "reason"))
        assert Contact.objects.get(pk=contact.pk).bot_paused
    assert reasons == [(True, "inbox"), (False, "inbox"), (True, "api"), (False, "api"), (True, "agent_reply")]
    with company_scope(company_b):
        assert not BotPauseChange.objects.exists()


def test_a_busy_inbox_keeps_refreshing_its_list_and_shows_a_new_customer(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """The list's re-fetch waits for 300 ms without signals, but never more than 2 s: with a signal every 100 ms
    (a busy inbox) a new customer's row, which only the re-fetch adds, still appears while the signals go on.
    Company B's new customer, meanwhile, never shows in A's list."""
    from messaging.events import INBOX_TOPIC, PAGE
    from tenants import realtime

    settings.PUBLIC_URL = stack_url
    instance_a = connected_instance(simulator, company_a, "sales", "5511977776666")
    instance_b = connected_instance(simulator, company_b, "sales", "5511966665555")
    page, frames = page_hearing_frames(browser_context)
    log_in(page, stack_url, owner_a.email)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/")
    wait_subscribed(page, frames, '"inbox"')

    simulator.inbound(instance_b.gateway_name, **{"from": "5511933332222", "push_name": "Bruno",
                                                  "text": "cliente da outra empresa"})
    simulator.inbound(instance_a.gateway_name, **{"from": "5511944443333", "push_name": "Joana",
                                                  "text": "Cheguei agora"})
    joana = page.locator("[data-testid=conversation-row]", has_text="Joana")
    signals = 0
    while not joana.count():
        assert signals < 80, "the list was never re-fetched while the signals kept coming"
        realtime.publish(company=company_a, topic=INBOX_TOPIC, template_name=f"{PAGE}#inbox-signal",
                         context={"signal": signals})
        signals += 1
        page.wait_for_timeout(100)
    assert "Cheguei agora" in joana.inner_text()
    assert page.locator("[data-testid=conversation-row]", has_text="Bruno").count() == 0


def test_the_inbox_fits_the_window_keeps_the_open_row_marked_and_the_console_clean(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """At 1366x850 the inbox is the window's height (no page scrollbar). The open conversation's row stays
    marked, readable, through the list's re-fetches (after the page subscribed, after "Assign to me"). A push of
    a row that is not in the list (a closed conversation, while the Open tab shows) is dropped silently, a send
    from a resized composer breaks no CSP rule, and the favicon is found: no console errors at all. Company B's
    conversation never shows."""
    from messaging import events, services
    from tests.messaging.test_pages import add_message

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "layout", "5511977772222")
    instance_b = connected_instance(simulator, company_b, "layout-b", "5511977771111")
    with company_scope(company_a):
        conversations = {}
        for number, name in ((CUSTOMER, "Maria"), ("5511944440000", "Closed one"), ("5511944441111", "Other")):
            contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=number)
            contact.name = name
            contact.save(update_fields=["name"])
            conversations[name], _created = services.conversation_start(company=company_a, instance=instance,
                                                                        contact=contact)
        services.conversation_set_status(company=company_a, conversation=conversations["Closed one"],
                                         status="closed")
    with company_scope(company_b):
        contact_b = services.contact_for_recipient(company=company_b, instance=instance_b, recipient=CUSTOMER)
        services.conversation_start(company=company_b, instance=instance_b, contact=contact_b)
    shown = conversations["Maria"]
    for number in range(25):  # more than the window holds: the thread scrolls inside itself, the page does not
        add_message(company_a, shown, text=f"Mensagem {number}")

    browser_context.set_default_timeout(15_000)
    page, frames = page_hearing_frames(browser_context)
    page.set_viewport_size({"width": 1366, "height": 850})
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    log_in(page, stack_url, owner_a.email)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/{shown.public_id}/")
    page.evaluate("""() => { window.__listSwaps = 0; document.body.addEventListener('htmx:afterSettle', (event) => {
        if (event.detail.target && event.detail.target.id === 'conversation-list') window.__listSwaps++; }); }""")
    wait_subscribed(page, frames, '"conversation.')
    page.wait_for_function("() => window.__listSwaps >= 1")  # the re-fetch once subscribed

    def marked() -> list[str]:
        return page.eval_on_selector_all("[data-testid=conversation-row][aria-current=true]",
                                         "rows => rows.map(row => row.dataset.conversation)")

    assert marked() == [str(shown.public_id)]
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
    colours = page.evaluate("""() => {
        const row = document.querySelector('[data-testid=conversation-row][aria-current=true]');
        const other = document.querySelector('[data-testid=conversation-row]:not([aria-current])');
        const name = row.querySelector('[data-testid=conversation-name]');
        return [getComputedStyle(name).color, getComputedStyle(row).backgroundColor,
                getComputedStyle(other).backgroundColor]; }""")
    assert colours[0] != "rgb(255, 255, 255)" and colours[1] != colours[2], colours

    swaps = page.evaluate("window.__listSwaps")
    page.get_by_test_id("assign-me").click()
    page.wait_for_function("(before) => window.__listSwaps > before", arg=swaps)
    page.get_by_test_id("conversation-assignee").wait_for()
    assert marked() == [str(shown.public_id)]

    swaps = page.evaluate("window.__listSwaps")
    events.conversation_changed(company=company_a, conversation=conversations["Closed one"])
    page.wait_for_function("(before) => window.__listSwaps > before", arg=swaps)
    assert page.locator("[data-testid=conversation-row]", has_text="Closed one").count() == 0

    page.evaluate("document.querySelector('[data-testid=composer-text]').style.height = '120px'")  # a resize
    page.fill("[data-testid=composer-text]", "Tudo certo")
    page.press("[data-testid=composer-text]", "Enter")
    page.locator("[data-testid=message][data-direction=out]", has_text="Tudo certo").wait_for()
    page.wait_for_timeout(300)
    assert marked() == [str(shown.public_id)]
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
    assert page.locator("[data-testid=conversation-row]").count() == 2  # Maria and Other; nothing of B
    assert errors == []


def test_keyboard_shortcuts_and_the_emoji_picker(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """"/" focuses the search; Alt+Down / Alt+Up open the next / previous conversation of the list (not away from
    a message being typed); the emoji picker writes at the caret (not at the end) and closes; Escape drops a
    reply being written; the draft waits while another conversation is open, and the message reaches the
    customer's phone with the emoji; once sent, the draft is gone. Company B's conversation is never among those
    stepped through."""
    from messaging import services

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "keys", "5511977773333")
    instance_b = connected_instance(simulator, company_b, "keys-b", "5511977774444")
    opened = []
    with company_scope(company_a):
        for number, name in (("5511944445555", "Primeira"), ("5511944446666", "Segunda")):
            contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=number)
            contact.name = name
            contact.save(update_fields=["name"])
            opened.append(services.conversation_start(company=company_a, instance=instance, contact=contact)[0])
    with company_scope(company_b):
        contact_b = services.contact_for_recipient(company=company_b, instance=instance_b, recipient="5511944447777")
        services.conversation_start(company=company_b, instance=instance_b, contact=contact_b)

    browser_context.set_default_timeout(15_000)
    page, frames = page_hearing_frames(browser_context)
    log_in(page, stack_url, owner_a.email)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/")
    page.get_by_test_id("shortcuts").wait_for()
    listed = page.eval_on_selector_all("[data-testid=conversation-row]",
                                       "rows => rows.map(row => row.dataset.conversation)")
    assert sorted(listed) == sorted(str(conversation.public_id) for conversation in opened)

    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "inbox-q"
    page.keyboard.press("Tab")  # out of the search box: "/" typed in a field stays a character
    page.keyboard.press("Alt+ArrowDown")  # nothing open: the first of the list
    page.wait_for_url(f"**/inbox/{listed[0]}/**")
    page.keyboard.press("Alt+ArrowDown")
    page.wait_for_url(f"**/inbox/{listed[1]}/**")
    page.keyboard.press("Alt+ArrowDown")  # the last: stays
    page.keyboard.press("Alt+ArrowUp")
    page.wait_for_url(f"**/inbox/{listed[0]}/**")
    wait_subscribed(page, frames, '"conversation.')

    box = page.get_by_test_id("composer-text")
    box.fill("Bom dia  tudo certo?")
    box.press("Alt+ArrowDown")  # not away from a message being written
    page.wait_for_timeout(300)
    assert f"/inbox/{listed[0]}/" in page.url and box.input_value() == "Bom dia  tudo certo?"
    box.evaluate("box => box.setSelectionRange(8, 8)")  # between the two spaces
    page.get_by_test_id("emoji-toggle").click()
    page.get_by_test_id("emoji-grid").locator("[data-emoji='😊']").click()
    assert box.input_value() == "Bom dia 😊 tudo certo?"
    assert page.evaluate("document.activeElement.dataset.testid") == "composer-text"
    assert not page.locator("[data-emoji-picker]").evaluate("picker => picker.open")
    page.get_by_test_id("emoji-toggle").click()
    page.keyboard.press("Escape")
    assert not page.locator("[data-emoji-picker]").evaluate("picker => picker.open")

    # A reply being written (no message to reply to yet: set as the reply button would), dropped by Escape.
    page.evaluate("""() => { const form = document.getElementById('composer');
        form.querySelector('[data-reply-input]').value = 'x';
        form.querySelector('[data-reply-preview]').classList.remove('d-none'); }""")
    box.focus()
    page.keyboard.press("Escape")
    assert page.locator("[data-reply-input]").input_value() == ""
    assert page.locator("[data-reply-preview]").evaluate("preview => preview.classList.contains('d-none')")

    # The draft waits in its conversation while another one is open, and goes once sent.
    page.locator(f"[data-conversation='{listed[1]}']").click()
    page.wait_for_url(f"**/inbox/{listed[1]}/**")
    assert page.get_by_test_id("composer-text").input_value() == ""
    page.go_back()
    page.wait_for_url(f"**/inbox/{listed[0]}/**")
    box = page.get_by_test_id("composer-text")
    assert box.input_value() == "Bom dia 😊 tudo certo?"
    wait_subscribed(page, frames, '"conversation.')
    box.press("Enter")
    page.locator("[data-testid=message][data-direction=out]", has_text="Bom dia 😊 tudo certo?").wait_for()
    page.reload()
    assert page.get_by_test_id("composer-text").input_value() == ""
    sent = wait_until(lambda: simulator.sent(instance.gateway_name) or None, timeout=20, interval=0.5)
    assert [entry["message"]["conversation"] for entry in sent] == ["Bom dia 😊 tudo certo?"]


def test_a_quick_reply_is_offered_on_slash_filled_in_and_sent(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """Typing "/en" offers the company's replies whose shortcut starts so (then those that contain it); arrows
    choose, Enter inserts the text with the contact's first name and the agent's name filled in, and a second
    Enter sends it to the customer's phone. Company B's reply of the same shortcut is never offered. Logging out
    forgets the tab's drafts."""
    from messaging import services

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "quick", "5511977775555")
    with company_scope(company_a):
        services.quick_reply_create(company=company_a, shortcut="entrega",
                                    text="Olá {{contact.first_name}}! Entregamos amanhã. {{agent.name}}")
        services.quick_reply_create(company=company_a, shortcut="endereco", text="Rua das Flores, 10")
        services.quick_reply_create(company=company_a, shortcut="pix", text="Chave: CNPJ (pagamento na entrega)")
        contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=CUSTOMER)
        contact.name = "Maria Souza"
        contact.save(update_fields=["name"])
        conversation, _created = services.conversation_start(company=company_a, instance=instance, contact=contact)
    with company_scope(company_b):
        services.quick_reply_create(company=company_b, shortcut="entrega-b", text="B's")

    browser_context.set_default_timeout(15_000)
    page, _frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    box = page.get_by_test_id("composer-text")
    box.focus()
    page.keyboard.type("/en")
    menu = page.get_by_test_id("quick-reply-menu")
    options = menu.locator("[role=option]")
    options.first.wait_for()
    assert [text.split("\n")[0] for text in options.all_inner_texts()] == ["/endereco", "/entrega", "/pix"]
    assert "B's" not in menu.inner_text()
    page.keyboard.type("t")  # "/ent": the shortcut "entrega" first, then "pix", whose text contains "ent"
    assert [text.split("\n")[0] for text in options.all_inner_texts()] == ["/entrega", "/pix"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    assert box.input_value() == "Olá Maria! Entregamos amanhã. Alice"
    assert menu.is_hidden()
    page.keyboard.press("Enter")
    page.locator("[data-testid=message][data-direction=out]", has_text="Entregamos amanhã").wait_for()
    sent = wait_until(lambda: simulator.sent(instance.gateway_name) or None, timeout=20, interval=0.5)
    assert [entry["message"]["conversation"] for entry in sent] == ["Olá Maria! Entregamos amanhã. Alice"]
    # Sent with the mouse while the menu was open: the new, empty message box offers nothing on Enter.
    page.keyboard.type("/en")
    options.first.wait_for()
    page.get_by_test_id("send").click()
    page.locator("[data-testid=message][data-direction=out]", has_text="/en").wait_for()
    # The bubble may be pushed before the send's answer replaces the box: wait for the new, empty one.
    page.wait_for_function("() => document.querySelector('[data-composer-text]').value === ''")
    page.get_by_test_id("composer-text").press("Enter")
    assert page.get_by_test_id("composer-text").input_value() == ""
    page.get_by_test_id("composer-text").focus()
    page.keyboard.type("/zzz")  # nothing matches: no menu, and Enter would send the text as typed
    assert menu.is_hidden()
    # Logging out forgets this tab's drafts: the next person at this browser finds none.
    assert page.evaluate("Object.keys(sessionStorage).some(key => key.startsWith('recado:draft:'))")
    with page.expect_navigation():
        page.evaluate("document.querySelector('form[data-logout]').requestSubmit()")
    assert not page.evaluate("Object.keys(sessionStorage).some(key => key.startsWith('recado:draft:'))")


def test_a_private_note_from_the_composer_appears_in_the_thread_and_reaches_no_phone(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, settings,  # noqa: F811
):
    """The switch turns the box amber and says who sees it; Enter adds the note to the thread without a reload,
    the switch stays on for the next one, and the customer's phone receives nothing."""
    from messaging import services

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "notes", "5511977776060")
    with company_scope(company_a):
        contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=CUSTOMER)
        conversation, _created = services.conversation_start(company=company_a, instance=instance, contact=contact)

    browser_context.set_default_timeout(15_000)
    page, _frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    assert page.get_by_test_id("note-hint").is_hidden()
    page.get_by_test_id("note-toggle").check()
    assert page.get_by_test_id("note-hint").is_visible()
    page.get_by_test_id("composer-text").fill("Cliente VIP: trocar sem custo")
    page.get_by_test_id("composer-text").press("Enter")
    note = page.locator("[data-testid=message][data-kind=note]", has_text="Cliente VIP")
    note.wait_for()
    assert note.get_by_test_id("note-label").is_visible() and note.get_by_test_id("ticks").count() == 0
    assert page.get_by_test_id("note-toggle").is_checked() and page.get_by_test_id("composer-text").input_value() == ""
    page.wait_for_timeout(500)
    assert simulator.sent(instance.gateway_name) == []
    assert page.evaluate("window.performance.getEntriesByType('navigation').length") == 1  # no reload


def test_a_customers_tap_on_a_list_row_appears_live_under_the_list(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, settings,  # noqa: F811
):
    """A list sent (as a bot would, through the API's service) reaches the simulated phone with its rows; the customer
    taps one there, and the open thread shows "↩ Chose: <row>" under the quoted list without a reload."""
    from messaging import services
    from messaging.services import Outgoing

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "menu", "5511977775050")
    with company_scope(company_a):
        contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=CUSTOMER)
        conversation, _created = services.conversation_start(company=company_a, instance=instance, contact=contact)
        services.message_send(company=company_a, conversation=conversation, sender_type="api", sender_label="Bot",
                              outgoing=Outgoing(kind="interactive", interactive={
                                  "type": "list", "title": "Cardápio", "button_text": "Ver opções",
                                  "sections": [{"title": "Pizzas", "rows": [{"id": "p1", "title": "Calabresa"},
                                                                            {"id": "p2", "title": "Margherita"}]}]}))
    wait_until(lambda: simulator.sent(instance.gateway_name), timeout=20, interval=0.3)

    browser_context.set_default_timeout(15_000)
    page, _frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    phone = browser_context.new_page()
    phone.goto(f"{simulator.base_url}/_sim/phone/{instance.gateway_name}")
    phone.get_by_role("button", name="Margherita").click()

    choice = page.get_by_test_id("interactive-reply")
    choice.wait_for()
    assert choice.inner_text() == "↩ Chose: Margherita" and choice.get_attribute("data-option-id") == "p2"
    bubble = page.locator("[data-testid=message][data-direction=in]", has=choice)
    assert bubble.get_by_test_id("quote").inner_text() == "Cardápio"
    assert page.evaluate("window.performance.getEntriesByType('navigation').length") == 1  # no reload


def test_a_list_scrolled_down_stays_where_it_is_while_the_inbox_is_busy(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """An agent scrolls down the list (its second page loaded) while customers write: the list is not thrown back
    to its first page and its top on every signal (on a busy inbox nobody could get past the first page); the rows
    in view still change live, and back at the top the list re-fetches itself, the customer who wrote first.
    Company B's customer never shows."""

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "busy", "5511977770000")
    instance_b = connected_instance(simulator, company_b, "busy-b", "5511966660000")
    conversations_each_with_a_message(company_a, instance, 40)

    page, frames = page_hearing_frames(browser_context)
    log_in(page, stack_url, owner_a.email)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/")
    wait_subscribed(page, frames, '"inbox"')
    rows = page.locator("[data-testid=conversation-row]")
    page.wait_for_timeout(500)  # the re-fetch once subscribed
    listing = page.locator("#conversation-list")
    listing.evaluate("list => list.scrollTop = list.scrollHeight")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=conversation-row]').length === 40")
    listing.evaluate("list => list.scrollTop = list.scrollHeight")
    scrolled = listing.evaluate("list => list.scrollTop")
    assert scrolled > 500

    simulator.inbound(instance.gateway_name, **{"from": "5511944400002", "push_name": "Cliente 02",
                                                "text": "ainda estou aqui"})
    simulator.inbound(instance_b.gateway_name, **{"from": "5511944400002", "push_name": "Bruno", "text": "de B"})
    changed = page.locator("[data-testid=conversation-row]", has_text="ainda estou aqui")
    changed.wait_for()  # its row, in view, redrawn by id
    page.wait_for_timeout(2500)  # past the list's longest wait for a re-fetch
    assert rows.count() == 40 and abs(page.locator("#conversation-list").evaluate("list => list.scrollTop")
                                      - scrolled) < 5

    page.locator("#conversation-list").evaluate("list => list.scrollTop = 0")
    page.wait_for_function("""() => { const first = document.querySelector('[data-testid=conversation-row]');
        return first && first.textContent.includes('ainda estou aqui'); }""")
    assert rows.count() == 30
    assert page.locator("[data-testid=conversation-row]", has_text="Bruno").count() == 0


def test_a_conversation_opened_from_the_closed_tab_keeps_that_tab_in_the_list(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """Reading closed conversations one after the other: the one opened (by a click or Alt+Down) stays marked in
    the Closed tab's list, instead of the list going back to the Open tab (where it is not, so nothing was marked
    and Alt+Down jumped to the Open tab's first conversation). Company B's closed conversation never shows."""
    from messaging import services

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "tabs", "5511977771212")
    instance_b = connected_instance(simulator, company_b, "tabs-b", "5511977771313")
    with company_scope(company_a):
        for number, name, status in (("5511944440001", "Aberta", "open"), ("5511944440002", "Fechada 1", "closed"),
                                     ("5511944440003", "Fechada 2", "closed")):
            contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=number)
            contact.name = name
            contact.save(update_fields=["name"])
            conversation, _created = services.conversation_start(company=company_a, instance=instance,
                                                                 contact=contact)
            services.conversation_set_status(company=company_a, conversation=conversation, status=status)
    with company_scope(company_b):
        contact_b = services.contact_for_recipient(company=company_b, instance=instance_b, recipient="5511944440004")
        conversation_b, _created = services.conversation_start(company=company_b, instance=instance_b,
                                                               contact=contact_b)
        services.conversation_set_status(company=company_b, conversation=conversation_b, status="closed")

    page = browser_context.new_page()
    log_in(page, stack_url, owner_a.email)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/?status=closed")
    ids = "rows => rows.map(row => row.dataset.conversation)"
    closed = page.eval_on_selector_all("[data-testid=conversation-row]", ids)
    assert len(closed) == 2
    page.locator(f"[data-conversation='{closed[0]}']").click()
    page.wait_for_url(f"**/inbox/{closed[0]}/?status=closed")

    def listed_and_marked() -> tuple[list[str], list[str]]:
        return (page.eval_on_selector_all("[data-testid=conversation-row]", ids),
                page.eval_on_selector_all("[data-testid=conversation-row][aria-current=true]", ids))

    assert listed_and_marked() == (closed, [closed[0]])
    page.keyboard.press("Alt+ArrowDown")
    page.wait_for_url(f"**/inbox/{closed[1]}/?status=closed")
    assert listed_and_marked() == (closed, [closed[1]])
    assert page.locator(".nav-link.active", has_text="Closed").count() == 1


def test_on_a_phone_an_opened_conversation_takes_the_screen_with_its_composer(
    stack_url, browser, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """At 390 px, tapping a conversation shows its thread and the whole composer on the first screen (the list stood
    above them: the thread began two screens down); "← Todas as conversas" leads back to the list as it was (the
    tab kept). At 1366 px the list stays beside the thread and the link is not shown. Company B's conversation
    never shows."""
    from messaging import services
    from tests.messaging.test_pages import add_message

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "phone", "5511977771414")
    instance_b = connected_instance(simulator, company_b, "phone-b", "5511977771515")
    conversation = conversations_each_with_a_message(company_a, instance, 32)
    for number in range(20):
        add_message(company_a, conversation, text=f"histórico {number}")
    with company_scope(company_b):
        contact_b = services.contact_for_recipient(company=company_b, instance=instance_b, recipient="5511944440099")
        services.conversation_start(company=company_b, instance=instance_b, contact=contact_b)

    context = browser.new_context(locale="pt-BR", viewport={"width": 390, "height": 844}, has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, stack_url, owner_a.email)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/?status=open&assignee=unassigned")
    assert page.locator(f"[data-conversation='{conversation.public_id}']").count() == 1
    page.locator(f"[data-conversation='{conversation.public_id}']").tap()
    page.wait_for_url(f"**/inbox/{conversation.public_id}/**")
    page.get_by_test_id("send").wait_for()
    assert page.locator("[data-testid=conversation-list]").is_hidden()
    for testid in ("thread-header", "composer-text", "send"):
        box = page.get_by_test_id(testid).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 844, (testid, box)
    page.screenshot(path="/tmp/recado-inbox-phone.png")
    back = page.get_by_test_id("inbox-back")
    assert back.inner_text() == "← Todas as conversas"
    back.tap()
    page.wait_for_url(re.compile(r"/inbox/\?status=open&assignee=unassigned$"))
    assert page.locator("[data-testid=conversation-row]").count() == 30
    assert page.locator(".nav-link.active", has_text="Sem responsável").count() == 1

    page.set_viewport_size({"width": 1366, "height": 850})
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/{conversation.public_id}/")
    assert page.get_by_test_id("conversation-list").is_visible() and page.get_by_test_id("inbox-back").is_hidden()
    assert page.locator("[data-testid=conversation-row]").count() == 30  # B's is not among them
    context.close()


def test_what_is_typed_while_a_send_is_on_its_way_is_kept(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """An agent sends and goes on typing the next message before the server has answered (a slow network, here a
    second): the answer's fresh composer used to replace the box with what was typed meanwhile, and those words
    were lost. They stay in the box (and in the draft), and reach the customer with the next Enter; the first
    message is sent once. Company B's number receives nothing."""

    settings.PUBLIC_URL = stack_url
    instance, instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "typing", "5511977771616", "5511977771717")

    page, _frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    answered = []

    def slow_network(route) -> None:
        page.wait_for_timeout(1000)
        route.continue_()
        answered.append(route.request.url)

    page.route(re.compile(r"/send/$"), slow_network)
    box = page.get_by_test_id("composer-text")
    box.fill("Primeira mensagem")
    box.press("Enter")
    page.keyboard.type("e a segunda", delay=10)
    page.locator("[data-testid=message][data-direction=out]", has_text="Primeira mensagem").wait_for()
    page.wait_for_function("() => document.querySelector('[data-testid=composer-text]')"
                           " && !document.querySelector('[data-testid=composer-text]').value.includes('Primeira')")
    page.wait_for_timeout(300)
    assert answered
    assert page.get_by_test_id("composer-text").input_value() == "e a segunda"
    assert page.evaluate(f"sessionStorage.getItem('recado:draft:{conversation.public_id}')") == "e a segunda"
    page.unroute(re.compile(r"/send/$"))
    page.get_by_test_id("composer-text").press("Enter")
    page.locator("[data-testid=message][data-direction=out]", has_text="e a segunda").wait_for()

    def both_sent():
        entries = simulator.sent(instance.gateway_name)
        return entries if len(entries) >= 2 else None

    sent = wait_until(both_sent, timeout=20, interval=0.5)
    assert [entry["message"]["conversation"] for entry in sent] == ["Primeira mensagem", "e a segunda"]
    assert simulator.sent(instance_b.gateway_name) == []


def test_a_video_or_audio_kept_at_its_https_address_plays_in_the_thread_without_a_csp_violation(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, owner_b, settings,  # noqa: F811
):
    """A file sent through the API by `media_url`, or received and not copied yet, is shown from its https address.
    Pictures could load from one (img-src https:); a video or an audio could not (default-src 'self'), so their
    players stayed empty with a CSP violation in the console. Company B's page never shows A's messages."""
    from messaging import services
    from tests.messaging.test_pages import add_message

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "media", "5511977771818")
    with company_scope(company_a):
        contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=CUSTOMER)
        conversation, _created = services.conversation_start(company=company_a, instance=instance, contact=contact)
    add_message(company_a, conversation, kind="video", text="o vídeo", media_url="https://media.example.test/v.mp4")
    add_message(company_a, conversation, kind="audio", media_url="https://media.example.test/a.ogg")
    add_message(company_a, conversation, kind="image", media_url="https://media.example.test/i.png")

    page = browser_context.new_page()
    page.add_init_script("""window.__violations = [];
        document.addEventListener('securitypolicyviolation', (event) => window.__violations.push(
            event.effectiveDirective + ' ' + event.blockedURI));""")
    log_in(page, stack_url, owner_a.email)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/{conversation.public_id}/")
    page.locator("[data-testid=message][data-kind=audio]").wait_for()
    page.wait_for_timeout(1000)  # the players ask for their files (the address answers nothing here)
    assert page.evaluate("window.__violations") == []
    other = browser_context.browser.new_context(locale="en-US")
    page_b = other.new_page()
    log_in(page_b, stack_url, owner_b.email)
    assert page_b.goto(f"{stack_url}/c/{company_a.slug}/inbox/{conversation.public_id}/").status == 404
    assert page_b.goto(f"{stack_url}/c/{company_b.slug}/inbox/{conversation.public_id}/").status == 404
    other.close()


def test_a_message_that_arrived_while_the_tab_was_hidden_is_read_when_the_agent_comes_back(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """A customer writes in the open thread while the agent is in another tab: it stays unread then (nobody saw it).
    Back in the inbox tab the agent sees it, so it is read: the badge goes for the whole team, instead of staying
    until the next message or a reload. Company B's conversation of that number keeps its own count."""
    from messaging.models import Conversation

    settings.PUBLIC_URL = stack_url
    instance, instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "hidden", "5511977771919", "5511977772020")
    simulator.inbound(instance_b.gateway_name, **{"from": CUSTOMER, "push_name": "Bruno", "text": "para B"})

    page, _frames = thread_opened(browser_context, stack_url, owner_a, conversation)

    def visibility(state: str) -> None:
        page.evaluate("""(state) => {
            Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
            document.dispatchEvent(new Event('visibilitychange')); }""", state)

    visibility("hidden")
    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "Alguém aí?"})
    page.locator("[data-testid=message]", has_text="Alguém aí?").wait_for()
    page.wait_for_timeout(500)

    def unread() -> int:
        return Conversation.all_companies.get(pk=conversation.pk).unread_count

    assert unread() == 1
    visibility("visible")
    assert wait_until(lambda: unread() == 0, timeout=10, interval=0.2)
    page.locator(f"[data-conversation='{conversation.public_id}'] [data-testid=unread-badge]").wait_for(
        state="detached")
    assert Conversation.all_companies.get(company=company_b).unread_count == 1


def test_keyboard_focus_stays_on_the_controls_through_their_answers_and_pushes(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """Keyboard only: "Assign to me", the priority chosen with the arrows, "Close" and a tag's checkbox each
    redraw their region twice (the answer, then the push every open page gets), and focus fell to the page's
    body each time: the next arrow in the priority list scrolled the page instead (only "Low" could be chosen),
    and a screen reader lost its place. Focus comes back to the same control, or to the one that took its place
    ("Reopen" for "Close"). Company B's tag is not offered."""
    from contacts import services as contact_services
    from messaging import services
    from messaging.models import Conversation

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "focus", "5511977772121")
    with company_scope(company_a):
        contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=CUSTOMER)
        conversation, _created = services.conversation_start(company=company_a, instance=instance, contact=contact)
        tag = contact_services.tag_create(company=company_a, name="VIP")
    with company_scope(company_b):
        contact_services.tag_create(company=company_b, name="Only B")

    page, frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    focused = "() => document.activeElement.dataset.testid || document.activeElement.id"

    def pushed_after(action) -> None:
        """Do it, and wait for the push that follows the answer (the header or panel every open page gets)."""
        before = len(frames)
        action()
        for _tick in range(100):
            if any('hx-swap-oob' in frame for frame in frames[before:]):
                break
            page.wait_for_timeout(50)
        page.wait_for_timeout(300)

    pushed_after(lambda: (page.get_by_test_id("assign-me").focus(), page.keyboard.press("Enter")))
    page.get_by_test_id("conversation-assignee").wait_for()
    assert page.evaluate(focused) == "assign-me"

    page.get_by_test_id("priority-select").focus()
    pushed_after(lambda: page.keyboard.press("ArrowDown"))
    assert page.evaluate(focused) == "priority-select"
    pushed_after(lambda: page.keyboard.press("ArrowDown"))
    assert page.get_by_test_id("priority-select").input_value() == "medium"
    assert Conversation.all_companies.get(pk=conversation.pk).priority == "medium"

    page.get_by_test_id("close").focus()
    pushed_after(lambda: page.keyboard.press("Enter"))
    page.get_by_test_id("reopen").wait_for()
    assert page.evaluate(focused) == "reopen"

    checkbox = f"tag-{tag.public_id.hex}"
    page.locator(f"#{checkbox}").focus()
    pushed_after(lambda: page.keyboard.press("Space"))
    assert page.evaluate(focused) == checkbox and page.locator(f"#{checkbox}").is_checked()
    assert page.locator("#contact-panel", has_text="Only B").count() == 0


def test_scrolling_up_the_thread_loads_one_older_page_and_keeps_the_place(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """Scrolled to the top of a long thread, the next older page is put above what is being read, which stays
    where it is. The view stayed at the very top, so that page's own "older" marker was in view at once: one
    scroll up loaded every page down to the first message (a thread of thousands, all of them) and left the
    reader at the conversation's start. Company B's messages are never among them."""
    from messaging import services
    from tests.messaging.test_pages import add_message

    settings.PUBLIC_URL = stack_url
    _instance, instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "older", "5511977772323", "5511977772424")
    with company_scope(company_b):
        contact_b = services.contact_for_recipient(company=company_b, instance=instance_b, recipient=CUSTOMER)
        conversation_b, _created = services.conversation_start(company=company_b, instance=instance_b,
                                                               contact=contact_b)
    for number in range(95):
        add_message(company_a, conversation, text=f"linha {number:02d}")
    add_message(company_b, conversation_b, text="linha de B")

    page, frames = page_hearing_frames(browser_context)
    page.set_viewport_size({"width": 1366, "height": 850})
    log_in(page, stack_url, owner_a.email)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/{conversation.public_id}/")
    wait_subscribed(page, frames, '"conversation.')
    page.wait_for_timeout(500)  # the re-fetch once subscribed
    bubbles = page.locator("[data-testid=message]")
    assert bubbles.count() == 30
    page.locator("#thread-messages").evaluate("thread => thread.scrollTop = 0")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=message]').length === 60")
    page.wait_for_timeout(1500)
    assert bubbles.count() == 60  # one page, not all of them

    def in_view(text: str) -> bool:
        return page.evaluate("""(text) => {
            const thread = document.getElementById('thread-messages').getBoundingClientRect();
            const bubble = [...document.querySelectorAll('[data-testid=message]')]
                .find((element) => element.textContent.includes(text)).getBoundingClientRect();
            return bubble.top >= thread.top - 1 && bubble.bottom <= thread.bottom + 1; }""", text)

    assert in_view("linha 65") and not in_view("linha 35")  # the place kept: the new page is above it
    texts = page.locator("[data-testid=message-text]").all_inner_texts()
    assert texts == [f"linha {number:02d}" for number in range(35, 95)]


def test_a_message_pushed_while_the_thread_re_fetches_itself_stays(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """The thread re-fetches itself (after a reconnect, back in the tab, every minute). A customer's message pushed
    while that answer is on its way (read before the message was stored) was appended, then wiped by the answer's
    swap: gone from the screen until the next minute's re-fetch. It stays, once. Company B's customer's message of
    the same moment never shows."""

    settings.PUBLIC_URL = stack_url
    instance, instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "refetch", "5511977772525", "5511977772626")

    page, frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    page.wait_for_timeout(500)  # the re-fetch once subscribed
    # The server reads the thread now, before the customer writes; the answer comes after the push.
    thread_refetch_answered_after(page, frames, lambda frame: "Mandei agora" in frame)
    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "Mandei agora"})
    simulator.inbound(instance_b.gateway_name, **{"from": CUSTOMER, "push_name": "Bruno", "text": "Mandei de B"})
    page.wait_for_function("() => window.htmx && !document.querySelector('#thread-messages.htmx-request')")
    page.wait_for_timeout(1000)
    assert page.locator("[data-testid=message]", has_text="Mandei agora").count() == 1
    assert page.locator("[data-testid=message]", has_text="Mandei de B").count() == 0


def test_the_quick_reply_menu_closes_as_the_send_leaves(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """"/en" sent with the mouse while its menu is open, on a slow network: an Enter before the answer inserted the
    menu's first reply into the box (kept, since what is typed meanwhile is), to be sent by mistake. The menu closes
    as the send leaves; the Enter sends nothing twice and the box ends empty. Company B's reply is never offered."""
    from messaging import services

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "menu", "5511977772727")
    with company_scope(company_a):
        services.quick_reply_create(company=company_a, shortcut="endereco", text="Rua das Flores, 10")
        contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=CUSTOMER)
        conversation, _created = services.conversation_start(company=company_a, instance=instance, contact=contact)
    with company_scope(company_b):
        services.quick_reply_create(company=company_b, shortcut="entrega-b", text="B's")

    page, _frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    answered: list[str] = []

    def slow_network(route) -> None:
        response = route.fetch()
        page.wait_for_timeout(1500)
        route.fulfill(response=response)
        answered.append(route.request.url)

    page.route(re.compile(r"/send/$"), slow_network)
    page.get_by_test_id("composer-text").focus()
    page.keyboard.type("/en")
    menu = page.get_by_test_id("quick-reply-menu")
    assert menu.locator("[role=option]").all_inner_texts() == ["/endereco\nRua das Flores, 10"]
    page.get_by_test_id("send").click()
    page.wait_for_timeout(200)
    assert menu.is_hidden()
    page.get_by_test_id("composer-text").press("Enter")  # before the answer
    assert page.get_by_test_id("composer-text").input_value() == "/en"
    page.wait_for_function("() => document.querySelector('[data-testid=composer-text]').value === ''")
    page.wait_for_timeout(1000)
    assert page.get_by_test_id("composer-text").input_value() == ""
    sent = wait_until(lambda: simulator.sent(instance.gateway_name) or None, timeout=20, interval=0.5)
    page.wait_for_timeout(1000)
    assert [entry["message"]["conversation"] for entry in simulator.sent(instance.gateway_name)] == ["/en"] == [
        entry["message"]["conversation"] for entry in sent]


def test_a_send_after_logging_out_in_another_tab_leads_to_the_login_page_and_keeps_the_draft(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """Logged out in another tab, the agent presses Enter on a message: the login page was drawn inside the composer
    and the message was gone (its draft forgotten as if sent). The page goes to the login page instead; once logged
    in again the agent is back in the conversation with the message still in the box, and nothing reached the
    customer meanwhile. Company B's number receives nothing either."""

    settings.PUBLIC_URL = stack_url
    instance, instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "session", "5511977772828", "5511977772929")

    page, frames = page_hearing_frames(browser_context)
    log_in(page, stack_url, owner_a.email)
    thread = f"{stack_url}/c/{company_a.slug}/inbox/{conversation.public_id}/?status=open"
    page.goto(thread)
    # The page's own re-fetch once subscribed, had it still been on its way when the session ended, took the page
    # to the login page before the agent could type (CI saw it): this test is about the send, so it waits that out.
    wait_live_settled(page, frames)
    # Another tab logs out: the same browser's cookies post the logout form (a second page doing it could have its
    # own navigation replaced by its live requests meeting the ended session, which made this test flaky).
    csrf = next(cookie["value"] for cookie in browser_context.cookies() if cookie["name"] == "csrftoken")
    logout = browser_context.request.post(f"{stack_url}/accounts/logout/", form={"csrfmiddlewaretoken": csrf},
                                          max_redirects=0)
    assert logout.status == 302

    page.get_by_test_id("composer-text").fill("Seu pedido saiu para entrega")
    page.get_by_test_id("composer-text").press("Enter")
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    assert page.locator("[data-testid=composer]").count() == 0
    page.fill("input[name=username]", owner_a.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(thread)
    assert page.get_by_test_id("composer-text").input_value() == "Seu pedido saiu para entrega"
    page.wait_for_timeout(500)
    assert simulator.sent(instance.gateway_name) == [] and simulator.sent(instance_b.gateway_name) == []


def test_a_screen_reader_hears_the_quick_reply_chosen_with_the_arrows(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """The message box offers quick replies in a list the arrows move through; focus stays in the box, so a screen
    reader said nothing of the reply being chosen. The box points at it (aria-activedescendant, as a combobox's
    list), following the arrows, and lets go when the list closes. Company B's reply is never among them."""
    from messaging import services

    settings.PUBLIC_URL = stack_url
    instance = connected_instance(simulator, company_a, "aria", "5511977773030")
    with company_scope(company_a):
        services.quick_reply_create(company=company_a, shortcut="endereco", text="Rua das Flores, 10")
        services.quick_reply_create(company=company_a, shortcut="entrega", text="Entregamos amanhã.")
        contact = services.contact_for_recipient(company=company_a, instance=instance, recipient=CUSTOMER)
        conversation, _created = services.conversation_start(company=company_a, instance=instance, contact=contact)
    with company_scope(company_b):
        services.quick_reply_create(company=company_b, shortcut="entrega-b", text="B's")

    page, _frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    page.wait_for_timeout(500)  # the re-fetch once subscribed, before the one this test makes
    box = page.get_by_test_id("composer-text")
    assert box.get_attribute("aria-autocomplete") == "list"
    box.focus()
    page.keyboard.type("/e")
    options = page.get_by_test_id("quick-reply-menu").locator("[role=option]")
    options.first.wait_for()
    assert options.count() == 2

    def pointed() -> str:
        active = box.get_attribute("aria-activedescendant")
        return page.locator(f"#{active}").inner_text().split("\n")[0] if active else ""

    assert pointed() == "/endereco"
    page.keyboard.press("ArrowDown")
    assert pointed() == "/entrega"
    assert page.get_by_test_id("quick-reply-menu").get_by_role("option", selected=True).inner_text().startswith(
        "/entrega")
    # The list re-fetched unchanged (every resync, the first once the socket listens): the choice stays.
    with page.expect_response(re.compile(r"fragment=composer")):
        page.evaluate("htmx.trigger(document.getElementById('quick-replies'), 'recado:resync')")
    page.wait_for_timeout(200)
    assert pointed() == "/entrega"
    page.keyboard.press("Escape")
    assert box.get_attribute("aria-activedescendant") is None


def test_quick_replies_added_edited_or_deleted_elsewhere_are_offered_without_a_reload(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """The composer read the company's quick replies once per page: one added by another agent (or in another tab)
    was not offered until a reload, so "/pix" and Enter sent the literal "/pix"; an edited one inserted its old text
    and a deleted one was still offered. The list follows every change live. Company B's replies, added meanwhile,
    are never offered nor pushed to A's page."""
    from messaging import services
    from messaging.models import QuickReply

    settings.PUBLIC_URL = stack_url
    _instance, _instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "live-quick", "5511977773131", "5511977773232")
    page, frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    box = page.get_by_test_id("composer-text")
    options = page.get_by_test_id("quick-reply-menu").locator("[role=option]")

    def offered(typed: str) -> list[str]:
        box.fill("")
        box.focus()
        page.keyboard.type(typed)
        page.wait_for_timeout(200)
        return [text.split("\n")[0] for text in options.all_inner_texts()]

    assert offered("/pix") == []
    with company_scope(company_b):
        services.quick_reply_create(company=company_b, shortcut="pix-b", text="Chave de B")
    with company_scope(company_a):
        reply = services.quick_reply_create(company=company_a, shortcut="pix", text="Chave: CNPJ")
    page.wait_for_function("() => document.querySelector('#quick-replies [data-shortcut=pix]')")
    assert offered("/pix") == ["/pix"]
    page.keyboard.press("Enter")
    assert box.input_value() == "Chave: CNPJ"

    with company_scope(company_a):
        services.quick_reply_update(company=company_a, quick_reply=reply, text="Chave: pix@alpha.example")
    box.fill("")
    box.focus()
    page.keyboard.type("/pi")  # typing while the change arrives: the menu shows the reply as it is now
    page.wait_for_function("() => document.querySelector('#quick-reply-menu').textContent.includes('pix@alpha')")
    page.keyboard.press("Enter")
    assert box.input_value() == "Chave: pix@alpha.example"

    with company_scope(company_a):
        services.quick_reply_delete(company=company_a, quick_reply=QuickReply.objects.get(pk=reply.pk))
    page.wait_for_function("() => !document.querySelector('#quick-replies [data-shortcut=pix]')")
    assert offered("/pix") == []
    assert offered("/") == []  # B's "pix-b" was never A's
    assert not any("Chave de B" in frame for frame in frames)
    page.keyboard.press("Enter")  # no reply left: the text as typed is sent, as before
    page.locator("[data-testid=message][data-direction=out]", has_text="/").wait_for()


def relayed_socket(page, frames: list[str]) -> dict:
    """Route the page's WebSocket through the test: every frame from the server is recorded in `frames` and passed
    on; `["page"].send(text)` hands the page a frame of the test's choosing (an old push arriving late)."""
    routes: dict = {}

    def route(socket) -> None:
        server = socket.connect_to_server()

        def from_server(message) -> None:
            frames.append(message if isinstance(message, str) else str(message))
            socket.send(message)

        server.on_message(from_server)
        routes["page"] = socket

    page.route_web_socket(re.compile(r"/ws/$"), route)
    return routes


def test_ticks_only_move_forward_whatever_order_the_push_the_re_fetch_and_the_answers_arrive_in(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """A tick pushed live while the thread re-fetched itself was overwritten by the older copy in the answer (read
    before it), and an old push arriving after a newer one put the older tick back, until the next push. Ticks
    only move forward on screen; "Retry" on a failed send is the one way back, and it still works. Company B's
    number gets nothing and its customer's message never reaches A's page."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.messaging.test_pages import add_message

    settings.PUBLIC_URL = stack_url
    instance, instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "ticks", "5511977773535", "5511977773636")
    failed = add_message(company_a, conversation, direction="out", text="Tentei antes", status="failed",
                         status_rank=25, error="boom", created_at=timezone.now() - timedelta(minutes=5))
    frames: list[str] = []
    page = browser_context.new_page()
    log_in(page, stack_url, owner_a.email)
    socket = relayed_socket(page, frames)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/{conversation.public_id}/")
    wait_subscribed(page, frames, '"conversation.')
    page.wait_for_timeout(500)  # the re-fetch once subscribed

    page.get_by_test_id("composer-text").fill("Pedido confirmado")
    page.get_by_test_id("composer-text").press("Enter")
    bubble = page.locator("[data-testid=message][data-direction=out]", has_text="Pedido confirmado")
    ticks = bubble.locator("[data-testid=ticks]")
    bubble.locator("[data-testid=ticks][data-status=sent]").wait_for()
    [sent] = wait_until(lambda: simulator.sent(instance.gateway_name) or None, timeout=20, interval=0.5)
    old_push = next(frame for frame in frames if "Pedido confirmado" in frame and 'data-status="sent"' in frame)
    simulator.set_status(instance.gateway_name, sent["id"], "DELIVERY_ACK")
    bubble.locator("[data-testid=ticks][data-status=delivered]").wait_for()

    # An old push arriving after a newer one (a replayed frame): the tick stays.
    socket["page"].send(old_push)
    page.wait_for_timeout(500)
    assert ticks.get_attribute("data-status") == "delivered"

    # The thread's re-fetch reads the thread, then READ is pushed before its answer arrives: the tick stays read.
    thread_refetch_answered_after(page, frames,
                                  lambda frame: "Pedido confirmado" in frame and 'data-status="read"' in frame)
    simulator.set_status(instance.gateway_name, sent["id"], "READ")
    simulator.inbound(instance_b.gateway_name, **{"from": CUSTOMER, "push_name": "Bruno", "text": "Mandei de B"})
    bubble.locator("[data-testid=ticks][data-status=read]").wait_for()
    page.wait_for_function("() => !document.querySelector('#thread-messages.htmx-request')")
    page.wait_for_timeout(1000)
    assert ticks.get_attribute("data-status") == "read"
    assert page.locator("[data-testid=message]", has_text="Pedido confirmado").count() == 1
    page.unroute(re.compile(r"fragment=messages"))

    # A failed send retried goes back to the clock, then on: the one way back is not held.
    retried = page.locator(f"#message-{failed.public_id.hex}")
    retried.get_by_test_id("retry").click()
    retried.locator("[data-testid=ticks][data-status=sent]").wait_for(timeout=20_000)
    assert retried.get_attribute("data-retries") == "1"
    assert [entry["message"]["conversation"] for entry in simulator.sent(instance.gateway_name)] == [
        "Pedido confirmado", "Tentei antes"]
    assert simulator.sent(instance_b.gateway_name) == []
    assert not any("Mandei de B" in frame for frame in frames)
    assert page.locator("[data-testid=message]", has_text="Mandei de B").count() == 0


def test_a_late_message_with_an_older_time_goes_where_a_re_fetch_puts_it(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """A customer's message that arrives late, with an older time than messages shown, was appended at the bottom
    live and sat higher after a re-fetch. It goes live where the thread's order puts it; one older than every
    message shown while older pages are still to load comes with those pages, as after a re-fetch. Company B's
    late message never shows."""
    import time

    from tests.messaging.test_pages import add_message

    settings.PUBLIC_URL = stack_url
    instance, instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "late", "5511977773737", "5511977773838")
    now = time.time()
    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "primeira",
                                                "timestamp": int(now - 600)})
    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "terceira",
                                                "timestamp": int(now - 60)})
    from messaging.models import Message

    assert wait_until(lambda: Message.all_companies.filter(conversation=conversation).count() == 2, timeout=20,
                      interval=0.2)
    page, frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    page.wait_for_timeout(500)  # the re-fetch once subscribed
    texts = page.locator("[data-testid=message-text]")
    assert texts.all_inner_texts() == ["primeira", "terceira"]

    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "segunda",
                                                "timestamp": int(now - 300)})
    simulator.inbound(instance_b.gateway_name, **{"from": CUSTOMER, "push_name": "Bruno", "text": "tarde de B",
                                                  "timestamp": int(now - 300)})
    page.locator("[data-testid=message]", has_text="segunda").wait_for()
    assert texts.all_inner_texts() == ["primeira", "segunda", "terceira"]
    page.evaluate("htmx.trigger(document.getElementById('thread-messages'), 'recado:resync')")
    page.wait_for_timeout(1000)
    assert texts.all_inner_texts() == ["primeira", "segunda", "terceira"]  # the same after the re-fetch

    # A long thread (older pages to load): a late one older than every message shown is not drawn at the bottom.
    for number in range(30):
        add_message(company_a, conversation, text=f"linha {number:02d}")
    page.reload()
    wait_subscribed(page, frames, '"conversation.')
    page.wait_for_timeout(500)
    assert page.get_by_test_id("older-messages").count() == 1
    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "antiga",
                                                "timestamp": int(now - 3600)})
    for _tick in range(150):  # Playwright hands over socket frames only while it runs: wait with it
        if any("antiga" in frame for frame in frames):
            break
        page.wait_for_timeout(100)
    assert any("antiga" in frame for frame in frames)
    page.wait_for_timeout(500)
    assert page.locator("[data-testid=message]", has_text="antiga").count() == 0
    assert texts.all_inner_texts()[-1] == "linha 29"
    assert page.locator("[data-testid=message]", has_text="tarde de B").count() == 0


def test_the_thread_says_live_when_its_number_is_not_connected(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """Nothing in the thread said its number was disconnected: a send showed the clock for about a minute and then
    failed. While the conversation's number is not connected the thread says so, above the messages and by the
    message box, with the link to reconnect it for an admin; the notice comes and goes live with the number's
    state. Company B's number disconnecting changes nothing on A's page."""
    from instances import services as instance_services

    settings.PUBLIC_URL = stack_url
    instance, instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "notice", "5511977773939", "5511977774040")
    page, frames = thread_opened(browser_context, stack_url, owner_a, conversation)
    wait_subscribed(page, frames, '"instance_state.')
    notice, hint = page.get_by_test_id("instance-notice"), page.get_by_test_id("composer-instance-hint")
    assert notice.count() == 0 and hint.count() == 0

    with company_scope(company_b):
        instance_services.instance_record_state(company=company_b, instance=instance_b, state="close", source="test")
    page.wait_for_timeout(1000)
    assert notice.count() == 0

    with company_scope(company_a):
        instance_services.instance_record_state(company=company_a, instance=instance, state="close", source="test",
                                                reason="logged out on the phone")
    notice.wait_for()
    assert "is not connected (state: Disconnected)" in notice.inner_text()
    assert "fail if it is not connected again within about a minute" in notice.inner_text()
    link = notice.get_by_test_id("instance-notice-link")
    assert link.get_attribute("href") == f"/c/{company_a.slug}/instances/{instance.public_id}/"
    hint.wait_for()
    assert "not connected" in hint.inner_text()

    with company_scope(company_a):
        instance_services.instance_record_state(company=company_a, instance=instance, state="open", source="test")
    notice.wait_for(state="detached")
    hint.wait_for(state="detached")
    assert not any(instance_b.public_id.hex in frame for frame in frames)


def test_a_message_stored_before_the_thread_subscribed_appears_and_is_read(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """An opened thread and the gap between its page's read and its socket's subscription: a customer's message
    applied then is pushed to no socket. The thread re-fetches itself once the subscriptions are confirmed, so the
    message appears, and, being in the thread the agent is reading, it is read (its unread badge stayed for the
    whole team). Company B's customer's message of the same moment never shows."""
    from messaging.models import Conversation, Message

    settings.PUBLIC_URL = stack_url
    instance, instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "thread-gap", "5511977774343", "5511977774444")
    page = browser_context.new_page()
    log_in(page, stack_url, owner_a.email)
    subscription = SubscriptionHeld(page, f"{stack_url}/c/{company_a.slug}/inbox/{conversation.public_id}/",
                                     '"conversation"')

    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Joana", "text": "No meio do caminho"})
    simulator.inbound(instance_b.gateway_name, **{"from": CUSTOMER, "push_name": "Outra", "text": "De B no meio"})
    assert wait_until(lambda: Message.all_companies.filter(text__in=["No meio do caminho", "De B no meio"]).count()
                      == 2, timeout=20, interval=0.2)
    page.wait_for_timeout(500)  # its push went out to nobody on this page
    assert page.locator("[data-testid=message]", has_text="No meio do caminho").count() == 0

    subscription.release()
    page.locator("[data-testid=message]", has_text="No meio do caminho").wait_for(timeout=10_000)
    assert wait_until(lambda: Conversation.all_companies.get(pk=conversation.pk).unread_count == 0, timeout=10,
                      interval=0.2)
    page.wait_for_timeout(500)
    assert page.locator("[data-testid=message]", has_text="De B no meio").count() == 0


def test_a_frame_carrying_a_new_bubble_and_its_later_ticks_shows_the_bubble_with_the_newest_tick(
    stack_url, browser_context, simulator, gateway_server, company_a, owner_a, company_b, settings,  # noqa: F811
):
    """A socket that fell behind gets the pushes waiting for it in one frame (tenants/consumers.py): a message
    sent through the API, its `sent` and its `delivered` ticks can arrive together. The ticks target the bubble
    the same frame puts in the page; they were dropped as pushes for a bubble not shown, and it stayed at the
    clock. Company B's number, beside it, sends nothing to A's page."""
    from tests.factories import make_api_key

    settings.PUBLIC_URL = stack_url
    instance, instance_b, conversation = conversation_beside_company_b(
        simulator, company_a, company_b, "together", "5511977774141", "5511977774242")
    key = make_api_key(company=company_a, name="ERP", scopes=["read", "messages"])
    frames: list[str] = []
    held: list[str] = []
    routes: dict = {}
    bubble_ids: list[str] = []

    def route(socket) -> None:  # the server's frames about the held message wait; the rest pass
        server = socket.connect_to_server()

        def from_server(message) -> None:
            text = message if isinstance(message, str) else str(message)
            frames.append(text)
            if "Chegaram juntos" in text and not bubble_ids:
                bubble_ids.extend(re.findall(r'id="(message-[0-9a-f]{32})"', text)[:1])
            if "Chegaram juntos" in text or (bubble_ids and bubble_ids[0] in text):
                held.append(text)
            else:
                socket.send(message)

        server.on_message(from_server)
        routes["page"] = socket

    page = browser_context.new_page()
    log_in(page, stack_url, owner_a.email)
    page.route_web_socket(re.compile(r"/ws/$"), route)
    page.goto(f"{stack_url}/c/{company_a.slug}/inbox/{conversation.public_id}/")
    wait_subscribed(page, frames, '"conversation.')
    page.wait_for_timeout(500)  # the re-fetch once subscribed

    response = httpx.post(f"{stack_url}/api/v1/messages", headers={"Authorization": f"Bearer {key.secret}"},
                          json={"conversation_id": str(conversation.public_id), "text": "Chegaram juntos"})
    assert response.status_code == 202, response.text
    def held_with(status: str) -> None:  # Playwright hands over socket frames only while it runs: wait with it
        for _tick in range(100):
            if any(f'data-status="{status}"' in frame for frame in held):
                return
            page.wait_for_timeout(200)
        raise AssertionError(f"no {status} push held: {held!r}")

    held_with("sent")
    [sent] = simulator.sent(instance.gateway_name)
    simulator.set_status(instance.gateway_name, sent["id"], "DELIVERY_ACK")
    held_with("delivered")
    assert page.locator("[data-testid=message]", has_text="Chegaram juntos").count() == 0  # nothing passed yet

    together = list(held)
    newest = "read" if any('data-status="read"' in frame for frame in together) else "delivered"
    routes["page"].send("".join(together))  # as the consumer writes pushes that waited together
    bubble = page.locator("[data-testid=message][data-direction=out]", has_text="Chegaram juntos")
    bubble.locator(f"[data-testid=ticks][data-status={newest}]").wait_for(timeout=10_000)
    assert bubble.count() == 1

    simulator.inbound(instance_b.gateway_name, **{"from": CUSTOMER, "push_name": "Outra", "text": "Sou da empresa B"})
    page.wait_for_timeout(1000)
    assert page.get_by_text("Sou da empresa B").count() == 0
