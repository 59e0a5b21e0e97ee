"""Bot platforms: routing inbound messages, pausing and resuming per number (issue 7), against the simulator,
the real hooks, PostgreSQL and a real HTTP receiver for the signed deliveries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from contacts.models import Contact
from integrations import bots
from integrations import services as integration_services
from integrations.models import BotPauseChange, BotPlatform, WebhookDelivery, WebhookEndpoint, WebhookEvent
from integrations.tasks import deliver_webhook, resume_bot_pauses, resume_expired_bot_pauses
from messaging import services
from messaging.models import Conversation
from messaging.services import Outgoing
from tenants.scoping import company_scope
from tests.factories import make_instance
from tests.integrations.conftest import receiver  # noqa: F401 (fixture)
from tests.messaging.test_inbound import CUSTOMER, inbound
from tests.messaging.test_outbound import conversation_a, queue  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
OTHER = "5521988887777"


def platform(company, instance, slug: str, url: str = "http://127.0.0.1:9/bot", starting: bool = False):
    with company_scope(company):
        return bots.platform_create(company=company, instance=instance, slug=slug, callback_url=url,
                                    make_starting=starting)


def routed(company, slug: str) -> list[dict]:
    """Bodies delivered (queued) to the platform `slug`, oldest first."""
    with company_scope(company):
        return [delivery.event.payload for delivery in
                WebhookDelivery.objects.filter(endpoint__platform__slug=slug).select_related("event")
                .order_by("pk")]


def contact(company, number: str = CUSTOMER) -> Contact:
    with company_scope(company):
        return Contact.objects.select_related("instance").get(identifier=number)


def changes(company) -> list[tuple[bool, str, str]]:
    with company_scope(company):
        return [(change.paused, change.reason, change.actor)
                for change in BotPauseChange.objects.order_by("at", "pk")]


def event_types(company) -> list[str]:
    with company_scope(company):
        return list(WebhookEvent.objects.order_by("created_at", "pk").values_list("type", flat=True))


@pytest.fixture
def webhook_a(company_a):
    """An integrator's endpoint of A that takes every event (so every event is stored and visible)."""
    with company_scope(company_a):
        return integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp").endpoint


# --- routing ------------------------------------------------------------------------------------------

def test_messages_go_to_the_starting_platform_then_to_the_contacts_own(company_a, instance_a, simulator, hooks,
                                                                       webhook_a):
    platform(company_a, instance_a, "vendas", starting=True)
    platform(company_a, instance_a, "suporte")
    inbound(simulator, instance_a, text="quero comprar")
    assert hooks.deliver(instance_a) == ["processed"]
    [first] = routed(company_a, "vendas")
    assert first["type"] == "message.received" and first["data"]["message"]["text"] == "quero comprar"
    # The integrator's webhook got the very same event (one id for both).
    with company_scope(company_a):
        assert WebhookDelivery.objects.filter(endpoint=webhook_a, event__event_id=first["id"]).exists()

    with company_scope(company_a):
        Contact.objects.filter(identifier=CUSTOMER).update(platform="suporte")
    inbound(simulator, instance_a, text="meu pedido atrasou")
    hooks.deliver(instance_a)
    assert [body["data"]["message"]["text"] for body in routed(company_a, "suporte")] == ["meu pedido atrasou"]
    assert len(routed(company_a, "vendas")) == 1


def test_a_binding_to_a_missing_platform_falls_back_to_the_starting_one(company_a, instance_a, simulator, hooks):
    platform(company_a, instance_a, "vendas", starting=True)
    inbound(simulator, instance_a, text="oi")
    hooks.deliver(instance_a)
    with company_scope(company_a):
        Contact.objects.filter(identifier=CUSTOMER).update(platform="gone")
    inbound(simulator, instance_a, text="oi de novo")
    hooks.deliver(instance_a)
    assert [body["data"]["message"]["text"] for body in routed(company_a, "vendas")] == ["oi", "oi de novo"]


def test_no_platform_no_forwarding_and_the_webhook_alone_gets_it(company_a, instance_a, simulator, hooks, webhook_a):
    platform(company_a, instance_a, "suporte")  # exists, but it is nobody's and not the starting one
    inbound(simulator, instance_a, text="oi")
    hooks.deliver(instance_a)
    assert routed(company_a, "suporte") == []
    assert event_types(company_a) == ["contact.created", "conversation.opened", "message.received"]


def test_an_ignored_contact_is_not_forwarded(company_a, instance_a, simulator, hooks):
    platform(company_a, instance_a, "vendas", starting=True)
    inbound(simulator, instance_a, text="primeira")
    hooks.deliver(instance_a)
    with company_scope(company_a):
        Contact.objects.filter(identifier=CUSTOMER).update(is_ignored=True)
    inbound(simulator, instance_a, text="segunda")
    hooks.deliver(instance_a)
    assert [body["data"]["message"]["text"] for body in routed(company_a, "vendas")] == ["primeira"]


def test_the_platform_receives_a_signed_body_it_can_verify(company_a, instance_a, simulator, hooks, receiver):  # noqa: F811
    issued = platform(company_a, instance_a, "vendas", url=receiver.url, starting=True)
    inbound(simulator, instance_a, text="assinado?")
    hooks.deliver(instance_a)
    with company_scope(company_a):
        delivery = WebhookDelivery.objects.get(endpoint__platform__slug="vendas")
    assert deliver_webhook.apply(args=[company_a.pk, delivery.pk]).get() == "succeeded"
    [request] = receiver.requests
    headers = {name.lower(): value for name, value in request.headers.items()}
    body = Webhook(issued.secret).verify(request.body, headers)
    assert body["type"] == "message.received" and body["data"]["message"]["text"] == "assinado?"
    assert body["data"]["conversation"]["id"]  # what the bot answers to (POST /api/v1/messages session_id)


# --- pause and resume ---------------------------------------------------------------------------------

def test_pause_by_api_stops_forwarding_and_resume_restarts_it(company_a, instance_a, simulator, hooks, api_a,
                                                              api_key_a, webhook_a):
    platform(company_a, instance_a, "vendas", starting=True)
    url = f"/api/v1/instances/{instance_a.public_id}/bot"
    response = api_a.post(f"{url}/pause", {"number": f"+{CUSTOMER}", "duration_minutes": 30}, format="json")
    assert response.status_code == 200, response.content
    state = response.json()
    assert (state["number"], state["bot_paused"], state["platform"], state["changed"]) == (
        CUSTOMER, True, "vendas", True)
    assert state["paused_until"] is not None
    # Pausing again changes nothing and records nothing.
    assert api_a.post(f"{url}/pause", {"number": CUSTOMER}, format="json").json()["changed"] is False

    inbound(simulator, instance_a, text="tem alguém aí?")
    hooks.deliver(instance_a)
    assert [body["type"] for body in routed(company_a, "vendas")] == ["bot.paused"]  # told, not forwarded

    response = api_a.post(f"{url}/resume", {"number": CUSTOMER}, format="json")
    assert response.status_code == 200 and response.json()["bot_paused"] is False
    inbound(simulator, instance_a, text="e agora?")
    hooks.deliver(instance_a)
    assert [body["type"] for body in routed(company_a, "vendas")] == ["bot.paused", "bot.resumed",
                                                                      "message.received"]
    actor = f"API key: {api_key_a.api_key.name}"
    assert changes(company_a) == [(True, "api", actor), (False, "api", actor)]
    with company_scope(company_a):
        paused_event = WebhookEvent.objects.get(type="bot.paused").payload
    assert paused_event["data"]["contact"]["identifier"] == CUSTOMER
    assert (paused_event["data"]["reason"], paused_event["data"]["actor"]) == ("api", actor)
    assert "bot.paused" in event_types(company_a) and "bot.resumed" in event_types(company_a)


def test_pause_api_errors_are_problems(company_a, instance_a, api_a, api_b):
    url = f"/api/v1/instances/{instance_a.public_id}/bot"
    bad = api_a.post(f"{url}/pause", {"number": "not a number"}, format="json")
    assert bad.status_code == 400 and bad["content-type"] == "application/problem+json"
    assert "number" in bad.json()["errors"]
    too_long = api_a.post(f"{url}/pause", {"number": CUSTOMER, "duration_minutes": 0}, format="json")
    assert too_long.status_code == 400 and "duration_minutes" in too_long.json()["errors"]
    unknown = api_a.post(f"{url}/resume", {"number": OTHER}, format="json")
    assert unknown.status_code == 404 and unknown["content-type"] == "application/problem+json"
    # Another company cannot pause A's bot, nor learn the instance exists.
    stranger = api_b.post(f"{url}/pause", {"number": CUSTOMER}, format="json")
    assert stranger.status_code == 404
    with company_scope(company_a):
        assert not Contact.objects.exists() and not BotPauseChange.objects.exists()


def test_inbox_toggle_pauses_and_resumes(company_a, instance_a, conversation_a, client_a, owner_a):  # noqa: F811
    platform(company_a, instance_a, "vendas", starting=True)
    url = reverse("messaging:bot", args=[company_a.slug, conversation_a.public_id])
    response = client_a.post(url, {"paused": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Resume bot" in response.content.decode()
    assert contact(company_a).bot_paused
    response = client_a.post(url, {"paused": "0"}, headers={"HX-Request": "true"})
    assert "Pause bot" in response.content.decode()
    assert not contact(company_a).bot_paused
    name = owner_a.get_full_name() or owner_a.get_username()
    assert changes(company_a) == [(True, "inbox", name), (False, "inbox", name)]


def test_the_contact_panel_offers_the_bot_toggle_only_where_a_bot_answers(
        company_a, instance_a, conversation_a, client_a, company_b, client_b):  # noqa: F811
    page = reverse("messaging:conversation", args=[company_a.slug, conversation_a.public_id])

    def panel(client=client_a) -> str:
        content = client.get(page).content.decode()
        return content[content.index('id="contact-panel"'):content.index("</aside>")]

    nothing = panel()  # no platform at all: no claim that a bot answers, nothing to pause
    assert "No bot answers this contact." in nothing and 'data-testid="bot-toggle"' not in nothing
    assert "The bot answers" not in nothing
    platform_b = platform(company_b, make_instance(company=company_b), "vendas", starting=True)
    assert "No bot answers this contact." in panel()  # another company's platform routes nothing here
    vendas = platform(company_a, instance_a, "vendas")
    assert "No bot answers this contact." in panel()  # a platform, but neither starting nor the contact's
    with company_scope(company_a):
        bots.instance_set_starting_platform(company=company_a, instance=instance_a, slug="vendas")
    answering = panel()
    assert "The bot answers this contact (platform “vendas”)." in answering
    assert 'name="paused" value="1" data-testid="bot-toggle"' in answering
    with company_scope(company_a):
        bots.platform_update(company=company_a, platform=vendas.platform, is_active=False)
    assert 'data-testid="bot-toggle"' not in panel() and "No bot answers this contact." in panel()
    with company_scope(company_a):  # paused (by the API, say) while no bot answers: it can still be resumed
        bots.bot_pause(company=company_a, contact=contact(company_a), reason="api", actor="CRM")
    assert 'name="paused" value="0" data-testid="bot-toggle"' in panel()
    assert client_b.get(page).status_code == 404 and platform_b.platform.company_id == company_b.pk


def test_inbox_toggle_of_another_company_is_404(company_a, instance_a, conversation_a, client_b):  # noqa: F811
    url = reverse("messaging:bot", args=[company_a.slug, conversation_a.public_id])
    assert client_b.post(url, {"paused": "1"}).status_code == 404
    assert not contact(company_a).bot_paused


def test_an_agent_reply_pauses_the_bot_an_api_send_does_not(company_a, instance_a, conversation_a, hooks,  # noqa: F811
                                                            settings):
    settings.BOT_AUTO_PAUSE_MINUTES = 45
    platform(company_a, instance_a, "vendas", starting=True)
    with company_scope(company_a), hooks.capture():
        services.message_send(company=company_a, conversation=conversation_a, sender_type="api",
                              sender_label="Bot de vendas", outgoing=Outgoing(kind="text", text="Olá! Sou o bot."))
    assert not contact(company_a).bot_paused
    queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="Aqui é a Alice, assumo daqui."))
    paused = contact(company_a)
    assert paused.bot_paused
    assert timedelta(minutes=44) < paused.bot_paused_until - timezone.now() <= timedelta(minutes=45)
    assert changes(company_a) == [(True, "agent_reply", "Alice")]
    queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="Mais uma"))  # still paused: no new record
    assert len(changes(company_a)) == 1


def test_without_a_platform_an_agent_reply_pauses_nothing(company_a, instance_a, conversation_a, hooks):  # noqa: F811
    queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="Sem bot aqui"))
    assert not contact(company_a).bot_paused and changes(company_a) == []


def test_a_message_from_the_phone_pauses_the_bot(company_a, instance_a, simulator, hooks, settings):
    settings.BOT_AUTO_PAUSE_MINUTES = 0  # until the conversation is closed
    platform(company_a, instance_a, "vendas", starting=True)
    inbound(simulator, instance_a, text="oi")
    hooks.deliver(instance_a)
    simulator.inbound(instance_a.gateway_name, from_me=True, to=CUSTOMER, text="deixa comigo, sou o dono")
    hooks.deliver(instance_a)
    paused = contact(company_a)
    assert paused.bot_paused and paused.bot_paused_until is None
    [(is_paused, reason, _actor)] = changes(company_a)
    assert (is_paused, reason) == (True, "phone_owner")
    inbound(simulator, instance_a, text="obrigado")
    hooks.deliver(instance_a)
    assert [body["data"]["message"]["text"] for body in routed(company_a, "vendas")
            if body["type"] == "message.received"] == ["oi"]


def test_closing_the_conversation_resumes_the_bot(company_a, instance_a, conversation_a, hooks, owner_a):  # noqa: F811
    platform(company_a, instance_a, "vendas", starting=True)
    queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="Resolvido?"))
    assert contact(company_a).bot_paused
    with company_scope(company_a):
        services.conversation_set_status(company=company_a, conversation=conversation_a,
                                         status=Conversation.Status.CLOSED, actor="Alice")
    assert not contact(company_a).bot_paused
    assert changes(company_a)[-1] == (False, "conversation_closed", "Alice")


def test_an_expired_pause_is_resumed_by_the_beat(company_a, instance_a, conversation_a, company_b,  # noqa: F811
                                                 django_capture_on_commit_callbacks):
    platform(company_a, instance_a, "vendas", starting=True)
    paused = contact(company_a)
    with company_scope(company_a):
        bots.bot_pause(company=company_a, contact=paused, reason="api", actor="ERP", minutes=5)
        Contact.objects.filter(pk=paused.pk).update(bot_paused_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks() as callbacks:
        assert resume_expired_bot_pauses.apply().get() == 1
    assert len(callbacks) == 1  # one task for company A, in its own scope
    assert resume_bot_pauses.apply(args=[company_a.pk, [paused.pk]]).get() == 1
    assert not contact(company_a).bot_paused
    assert changes(company_a)[-1] == (False, "expired", "system")
    # A second run finds nothing; a not-yet-expired pause is left alone.
    assert resume_expired_bot_pauses.apply().get() == 0


def test_an_expired_pause_ends_when_the_next_message_arrives(company_a, instance_a, simulator, hooks):
    platform(company_a, instance_a, "vendas", starting=True)
    inbound(simulator, instance_a, text="oi")
    hooks.deliver(instance_a)
    paused = contact(company_a)
    with company_scope(company_a):
        bots.bot_pause(company=company_a, contact=paused, reason="api", actor="ERP", minutes=5)
        Contact.objects.filter(pk=paused.pk).update(bot_paused_until=timezone.now() - timedelta(seconds=1))
    inbound(simulator, instance_a, text="voltei")
    hooks.deliver(instance_a)
    assert [body["type"] for body in routed(company_a, "vendas")] == [
        "message.received", "bot.paused", "bot.resumed", "message.received"]
    assert changes(company_a)[-1] == (False, "expired", "system")


def test_editing_the_contact_pauses_through_the_same_record(company_a, instance_a, conversation_a, api_a):  # noqa: F811
    paused = contact(company_a)
    response = api_a.patch(f"/api/v1/contacts/{paused.public_id}", {"bot_paused": True}, format="json")
    assert response.status_code == 200 and response.json()["bot_paused"] is True
    [(is_paused, reason, _actor)] = changes(company_a)
    assert (is_paused, reason) == (True, "contact_edit")


# --- platforms API ------------------------------------------------------------------------------------

def test_platforms_api_create_list_update_rotate_delete(company_a, instance_a, api_a, receiver):  # noqa: F811
    base = f"/api/v1/instances/{instance_a.public_id}/platforms"
    created = api_a.post(base, {"slug": "vendas", "callback_url": receiver.url, "is_starting": True}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["is_starting"] is True
    assert "secret" not in api_a.get(f"{base}/vendas").json()
    duplicate = api_a.post(base, {"slug": "vendas", "callback_url": receiver.url}, format="json")
    assert duplicate.status_code == 400 and "slug" in duplicate.json()["errors"]
    api_a.post(base, {"slug": "suporte", "callback_url": receiver.url}, format="json")
    assert [item["slug"] for item in api_a.get(base).json()] == ["suporte", "vendas"]

    switched = api_a.patch(f"{base}/suporte", {"is_starting": True, "is_active": False}, format="json")
    assert switched.status_code == 200 and switched.json()["is_starting"] is True
    assert switched.json()["is_active"] is False
    assert api_a.get(f"{base}/vendas").json()["is_starting"] is False
    instance = api_a.get(f"/api/v1/instances/{instance_a.public_id}")
    assert instance.status_code == 200

    rotated = api_a.post(f"{base}/vendas/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["secret"] != body["secret"]
    assert api_a.get(f"{base}/vendas/deliveries").json()["results"] == []
    # The platforms' endpoints are not the integrator's webhooks.
    assert api_a.get("/api/v1/webhooks").json()["results"] == []

    assert api_a.delete(f"{base}/suporte").status_code == 204
    with company_scope(company_a):
        instance_a.refresh_from_db()
        assert instance_a.starting_platform == ""
        assert not WebhookEndpoint.objects.filter(kind="platform", platform__isnull=True).exists()
    assert api_a.get(f"{base}/suporte").status_code == 404


def test_platforms_api_refuses_bad_input_with_problems(company_a, instance_a, api_a, settings):
    base = f"/api/v1/instances/{instance_a.public_id}/platforms"
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    private = api_a.post(base, {"slug": "vendas", "callback_url": "http://10.0.0.5/bot"}, format="json")
    assert private.status_code == 400 and private["content-type"] == "application/problem+json"
    assert "callback_url" in private.json()["errors"]
    bad_slug = api_a.post(base, {"slug": "com espaço", "callback_url": "https://bots.example.com"}, format="json")
    assert bad_slug.status_code == 400 and "slug" in bad_slug.json()["errors"]
    starting = api_a.patch(f"/api/v1/instances/{instance_a.public_id}", {"starting_platform": "nope"}, format="json")
    assert starting.status_code == 400 and "starting_platform" in starting.json()["errors"]
    with company_scope(company_a):
        assert not BotPlatform.objects.exists() and not WebhookEndpoint.objects.exists()


def test_instance_patch_sets_label_and_starting_platform(company_a, instance_a, api_a):
    platform(company_a, instance_a, "vendas")
    response = api_a.patch(f"/api/v1/instances/{instance_a.public_id}",
                           {"label": "Loja centro", "starting_platform": "vendas"}, format="json")
    assert response.status_code == 200 and response.json()["label"] == "Loja centro"
    assert response.json()["starting_platform"] == "vendas"


def test_platforms_of_another_company_are_invisible(company_a, instance_a, api_b, client_b, company_b):
    issued = platform(company_a, instance_a, "vendas", starting=True)
    base = f"/api/v1/instances/{instance_a.public_id}/platforms"
    assert api_b.get(base).status_code == 404
    assert api_b.get(f"{base}/vendas").status_code == 404
    assert api_b.post(base, {"slug": "x", "callback_url": "https://bots.example.com"}, format="json").status_code == 404
    assert api_b.delete(f"{base}/vendas").status_code == 404
    assert api_b.post(f"{base}/vendas/rotate-secret").status_code == 404
    assert api_b.patch(f"/api/v1/instances/{instance_a.public_id}", {"starting_platform": ""},
                       format="json").status_code == 404
    page = reverse("integrations:detail", args=[company_b.slug, issued.platform.endpoint.public_id])
    assert client_b.get(page).status_code == 404
    with company_scope(company_a):
        assert BotPlatform.objects.count() == 1
        instance_a.refresh_from_db()
        assert instance_a.starting_platform == "vendas"


def test_bot_events_of_a_company_reach_only_its_own_webhooks(company_a, instance_a, conversation_a, company_b,  # noqa: F811
                                                             api_a):
    with company_scope(company_b):
        integration_services.endpoint_create(company=company_b, url="http://127.0.0.1:9/b")
    api_a.post(f"/api/v1/instances/{instance_a.public_id}/bot/pause", {"number": CUSTOMER}, format="json")
    with company_scope(company_b):
        assert not WebhookEvent.objects.exists()
    assert [(paused, reason) for paused, reason, _actor in changes(company_a)] == [(True, "api")]


# --- pages --------------------------------------------------------------------------------------------

def test_admins_manage_platforms_on_the_instance_page(company_a, instance_a, client_a, agent_client_a, receiver):  # noqa: F811
    page = reverse("instances:detail", args=[company_a.slug, instance_a.public_id])
    assert b"no-platforms" in client_a.get(page).content
    assert b"bot-platforms" not in agent_client_a.get(page).content  # agents work, admins set bots up
    create = reverse("platforms:create", args=[company_a.slug, instance_a.public_id])
    assert agent_client_a.post(create, {"slug": "vendas", "callback_url": receiver.url}).status_code == 403

    response = client_a.post(create, {"slug": "vendas", "callback_url": receiver.url, "is_starting": "on"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "new-webhook-secret" in html and "Bot platform vendas" in html
    with company_scope(company_a):
        created = BotPlatform.objects.select_related("endpoint").get()
        instance_a.refresh_from_db()
    assert instance_a.starting_platform == "vendas" and created.endpoint.secret in html  # shown this once
    listing = client_a.get(page).content.decode()
    assert 'data-testid="platform-vendas"' in listing and "starting-badge" in listing
    assert created.endpoint.secret not in listing

    again = client_a.post(create, {"slug": "vendas", "callback_url": receiver.url})
    assert again.status_code == 400 and "already has a platform" in again.content.decode()
    bad = client_a.post(create, {"slug": "com espaço", "callback_url": "not a url"})
    assert bad.status_code == 400
    with company_scope(company_a):
        assert BotPlatform.objects.count() == 1

    starting = reverse("platforms:starting", args=[company_a.slug, instance_a.public_id, "vendas"])
    assert client_a.post(starting, {"starting": "0"}).status_code == 302
    with company_scope(company_a):
        instance_a.refresh_from_db()
    assert instance_a.starting_platform == ""

    endpoint_page = reverse("integrations:detail", args=[company_a.slug, created.endpoint.public_id])
    assert 'name="event_types"' not in client_a.get(endpoint_page).content.decode()
    delete = reverse("integrations:delete", args=[company_a.slug, created.endpoint.public_id])
    assert client_a.post(delete)["location"] == page
    with company_scope(company_a):
        assert not BotPlatform.objects.exists() and not WebhookEndpoint.objects.exists()


def test_a_new_platforms_secret_is_not_announced_as_a_rotation(company_a, instance_a, client_a, receiver):  # noqa: F811
    """There is no old secret yet: no "two signatures for 24 hours"; that is said after a rotation only."""
    create = reverse("platforms:create", args=[company_a.slug, instance_a.public_id])
    html = client_a.post(create, {"slug": "vendas", "callback_url": receiver.url}).content.decode()
    assert "new-webhook-secret" in html and "this is the only time Recado shows it" in html
    assert "old secret" not in html
    with company_scope(company_a):
        endpoint = BotPlatform.objects.get().endpoint
    rotated = client_a.post(reverse("integrations:rotate", args=[company_a.slug, endpoint.public_id])).content.decode()
    assert "one with the old secret and one with this one" in rotated


def test_platform_pages_of_another_company_are_404(company_a, instance_a, client_b, company_b):
    issued = platform(company_a, instance_a, "vendas")
    create = reverse("platforms:create", args=[company_b.slug, instance_a.public_id])
    assert client_b.post(create, {"slug": "x", "callback_url": "http://127.0.0.1:9/x"}).status_code == 404
    starting = reverse("platforms:starting", args=[company_b.slug, instance_a.public_id, "vendas"])
    assert client_b.post(starting, {"starting": "1"}).status_code == 404
    delete = reverse("integrations:delete", args=[company_b.slug, issued.platform.endpoint.public_id])
    assert client_b.post(delete).status_code == 404
    with company_scope(company_a):
        assert BotPlatform.objects.count() == 1


def test_the_contact_page_shows_the_bots_history(company_a, instance_a, conversation_a, client_a):  # noqa: F811
    paused = contact(company_a)
    with company_scope(company_a):
        bots.bot_pause(company=company_a, contact=paused, reason="api", actor="API key: ERP", minutes=10)
    html = client_a.get(reverse("contacts:detail", args=[company_a.slug, paused.public_id])).content.decode()
    assert "Paused until" in html and "API key: ERP" in html and "Paused or resumed through the API" in html


def test_the_open_threads_contact_panel_follows_a_pause_made_elsewhere(company_a, instance_a, conversation_a,  # noqa: F811
                                                                        api_a, listener, company_b,
                                                                        django_capture_on_commit_callbacks):
    from tenants import realtime
    from tests.realtime_listener import Listener

    listener.join(company_a, realtime.topic_for("conversation", conversation_a.public_id))
    stranger = Listener().join(company_b, realtime.topic_for("conversation", conversation_a.public_id))
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.post(f"/api/v1/instances/{instance_a.public_id}/bot/pause",
                              {"number": CUSTOMER, "duration_minutes": 15}, format="json")
    assert response.status_code == 200
    pushed = "".join(listener.drain())
    assert 'id="contact-panel"' in pushed and 'hx-swap-oob="true"' in pushed
    assert "The bot is paused for this contact (until" in pushed and "Resume bot" in pushed
    assert stranger.drain() == []


def test_the_contacts_api_tells_the_bots_history(company_a, instance_a, conversation_a, api_a, api_b):  # noqa: F811
    paused = contact(company_a)
    with company_scope(company_a):
        bots.bot_pause(company=company_a, contact=paused, reason="api", actor="API key: ERP", minutes=10)
        bots.bot_resume(company=company_a, contact=paused, reason="inbox", actor="Alice")
    history = api_a.get(f"/api/v1/contacts/{paused.public_id}/bot-history")
    assert history.status_code == 200
    assert [(row["paused"], row["reason"], row["actor"]) for row in history.json()] == [
        (False, "inbox", "Alice"), (True, "api", "API key: ERP")]
    assert history.json()[1]["until"] is not None
    assert api_a.get(f"/api/v1/contacts/{paused.public_id}").json()["bot_paused_until"] is None
    assert api_b.get(f"/api/v1/contacts/{paused.public_id}/bot-history").status_code == 404
