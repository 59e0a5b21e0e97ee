"""The v2 adapter over real HTTP: every call and every error class, against the simulator (and a real server)."""

from __future__ import annotations

import base64
import json
import os
import struct
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import segno

from instances.gateways import (
    Button,
    ContactCard,
    GatewayNotConnected,
    GatewayProtocolError,
    GatewayRefused,
    GatewayServerError,
    GatewayTimeout,
    GatewayUnauthorized,
    GatewayUnreachable,
    GatewayValidationError,
    InstanceNameInUse,
    InstanceNotFound,
    ListRow,
    ListSection,
    Location,
    Media,
    MessageKey,
    NumberNotOnWhatsApp,
    Quoted,
    SendOptions,
    WebhookConfig,
    gateway_for,
)
from instances.gateways.evolution_v2 import FIND_PAGE_SIZE
from tests.simulator.fixtures import free_port, wait_until

CUSTOMER = "5511988887777"
PNG_BASE64 = base64.b64encode(base64.b64decode(segno.make_qr("x").png_data_uri().split(",", 1)[1])).decode()


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


# --- instance lifecycle -------------------------------------------------------------------------------------


def test_server_info_reports_the_gateway_version(gateway):
    info = gateway.server_info()
    assert info.version is not None and info.version.startswith("2.")
    assert info.client_name


def test_create_returns_the_token_state_and_inline_webhook(gateway, instance_name):
    webhook = WebhookConfig(url="http://127.0.0.1:9/hooks/abc", events=("MESSAGES_UPSERT", "CONNECTION_UPDATE"))
    created = gateway.create_instance(instance_name, token=f"{instance_name}-token", webhook=webhook)
    assert created.name == instance_name
    assert created.token == f"{instance_name}-token"
    assert created.state == "close"
    assert created.integration == "WHATSAPP-BAILEYS"
    assert created.webhook_url == webhook.url
    assert created.instance_id
    stored = gateway.find_webhook(instance_name)
    assert stored is not None
    assert (stored.url, stored.enabled, set(stored.events)) == (webhook.url, True, set(webhook.events))
    assert f"{instance_name}-token" not in repr(created)


def test_create_without_token_gets_one_generated(gateway, instance_name):
    created = gateway.create_instance(instance_name)
    assert created.token and len(created.token) >= 32
    assert created.connect is None


def test_create_with_qrcode_returns_a_first_qr(gateway, gateway_target, instance_name):
    gateway_target.require_simulator("needs WhatsApp to produce a QR")
    created = gateway.create_instance(instance_name, qrcode=True, number="5511912345678")
    assert created.state == "connecting"
    assert created.connect is not None and created.connect.has_qr
    assert created.connect.pairing_code and len(created.connect.pairing_code) == 8


def test_creating_a_taken_name_raises_instance_name_in_use(gateway, instance_name):
    gateway.create_instance(instance_name)
    with pytest.raises(InstanceNameInUse) as caught:
        gateway.create_instance(instance_name)
    assert caught.value.status_code == 403
    assert not caught.value.transient
    assert f'"{instance_name}" is already in use' in caught.value.message


def test_create_refusals_and_validation_errors_are_permanent(gateway, instance_name):
    with pytest.raises(GatewayRefused) as refused:
        gateway.create_instance(instance_name, integration="NOPE")
    assert refused.value.messages == ("Invalid integration",)
    with pytest.raises(GatewayValidationError) as invalid:
        gateway.create_instance(instance_name, number="abc")
    assert "number does not match pattern" in invalid.value.message
    assert not refused.value.transient and not invalid.value.transient


def test_fetch_instances_lists_and_filters(gateway, instance_name):
    gateway.create_instance(instance_name, token=f"{instance_name}-token")
    info = gateway.fetch_instance(instance_name)
    assert (info.name, info.state, info.owner_jid, info.owner_number) == (instance_name, "close", None, None)
    assert info.token == f"{instance_name}-token"
    assert instance_name in {row.name for row in gateway.fetch_instances()}
    with pytest.raises(InstanceNotFound):
        gateway.fetch_instance(f"{instance_name}-missing")


def test_connection_state_of_a_new_instance_is_close(gateway, instance_name):
    gateway.create_instance(instance_name)
    state = gateway.connection_state(instance_name)
    assert (state.instance_name, state.state) == (instance_name, "close")


def test_connect_returns_a_scannable_qr_png_and_a_pairing_code(gateway, gateway_target, instance_name):
    gateway_target.require_simulator("needs WhatsApp to produce a QR")
    gateway.create_instance(instance_name)
    result = gateway.connect(instance_name, number="5511912345678")
    assert result.has_qr and result.count == 1
    assert result.qr_data_url.startswith("data:image/png;base64,")
    png = result.qr_png
    assert png_size(png)[0] > 100
    # The image encodes exactly the `code` string: rendering it again gives the same PNG.
    assert segno.make_qr(result.qr_code, error="l").png_data_uri(scale=5, border=4) == result.qr_data_url
    assert result.pairing_code and len(result.pairing_code) == 8
    assert gateway.connection_state(instance_name).state == "connecting"


def test_connect_on_an_unreachable_whatsapp_gives_count_zero(gateway, gateway_target, instance_name):
    if gateway_target.sim is not None:
        gateway_target.sim.configure(whatsapp_reachable=False)
    gateway.create_instance(instance_name)
    result = gateway.connect(instance_name)
    if gateway_target.sim is not None:
        assert (result.has_qr, result.count, result.state) == (False, 0, None)
    assert isinstance(result.count, int)


def test_scanning_opens_the_session_with_owner_number_and_profile(gateway, open_instance):
    assert gateway.connection_state(open_instance).state == "open"
    info = gateway.fetch_instance(open_instance)
    assert (info.state, info.owner_number, info.profile_name) == ("open", "5511912345678", "ACME Support")
    assert info.owner_jid == "5511912345678@s.whatsapp.net"
    assert gateway.connect(open_instance).state == "open"


def test_restart_of_a_closed_instance_is_refused_with_the_gateways_message(gateway, instance_name):
    gateway.create_instance(instance_name)
    with pytest.raises(GatewayRefused) as caught:
        gateway.restart(instance_name)
    assert caught.value.status_code == 200  # the recorded quirk: an error answered as 200
    assert caught.value.message == "[object Object]"


def test_restart_of_an_open_instance_keeps_it_open(gateway, open_instance):
    assert gateway.restart(open_instance).state == "open"


def test_logout_of_a_closed_instance_is_a_permanent_not_connected_error(gateway, instance_name):
    gateway.create_instance(instance_name)
    with pytest.raises(GatewayNotConnected) as caught:
        gateway.logout(instance_name)
    assert not caught.value.transient
    assert "is not connected" in caught.value.message


def test_logout_closes_an_open_session(gateway, open_instance):
    gateway.logout(open_instance)
    assert gateway.connection_state(open_instance).state == "close"
    info = gateway.fetch_instance(open_instance)
    assert info.disconnection_reason_code == 401


def test_delete_removes_the_instance(gateway, instance_name):
    gateway.create_instance(instance_name)
    gateway.delete_instance(instance_name)
    with pytest.raises(InstanceNotFound) as caught:
        gateway.connection_state(instance_name)
    assert caught.value.status_code == 404 and not caught.value.transient


def test_webhook_set_and_find_round_trip(gateway, instance_name):
    gateway.create_instance(instance_name)
    assert gateway.find_webhook(instance_name) is None
    wanted = WebhookConfig(
        url="http://127.0.0.1:9/hooks/secret",
        events=("QRCODE_UPDATED", "MESSAGES_UPSERT"),
        by_events=True,
        headers={"x-recado-secret": "s3cret"},
    )
    stored = gateway.set_webhook(instance_name, wanted)
    assert stored == wanted
    assert gateway.find_webhook(instance_name) == wanted
    assert "s3cret" not in repr(stored)


def test_webhook_with_an_unknown_event_is_a_validation_error(gateway, instance_name):
    gateway.create_instance(instance_name)
    with pytest.raises(GatewayValidationError) as caught:
        gateway.set_webhook(instance_name, WebhookConfig(url="http://127.0.0.1:9/h", events=("NOT_AN_EVENT",)))
    assert "is not one of enum values" in caught.value.message


def test_set_presence(gateway, open_instance):
    gateway.set_presence(open_instance, "unavailable")


def test_set_presence_without_a_session_is_refused(gateway, instance_name):
    gateway.create_instance(instance_name)
    with pytest.raises(GatewayRefused):
        gateway.set_presence(instance_name, "available")


# --- authentication and routing errors ---------------------------------------------------------------------


def test_a_wrong_key_is_unauthorized_and_never_echoed(gateway_target, gateway, instance_name):
    gateway.create_instance(instance_name)
    with gateway_for(gateway_target.base_url, "v2", "wrong-secret-key") as wrong:
        with pytest.raises(GatewayUnauthorized) as caught:
            wrong.connection_state(instance_name)
        with pytest.raises(GatewayUnauthorized):
            wrong.fetch_instances()
    assert caught.value.status_code == 401 and not caught.value.transient
    assert "wrong-secret-key" not in str(caught.value) and "wrong-secret-key" not in repr(caught.value)


def test_an_unknown_instance_is_not_found_before_the_key_is_checked(gateway_target):
    with gateway_for(gateway_target.base_url, "v2", "wrong-key") as wrong, pytest.raises(InstanceNotFound) as caught:
        wrong.connection_state("recado-test-does-not-exist")
    assert 'The "recado-test-does-not-exist" instance does not exist' in caught.value.message


def test_an_instance_token_works_for_its_instance_only(gateway, instance_name):
    token = gateway.create_instance(instance_name).token
    other = f"{instance_name}-other"
    gateway.create_instance(other)
    try:
        scoped = gateway.with_api_key(token)
        assert scoped.connection_state(instance_name).state == "close"
        assert [row.name for row in scoped.fetch_instances()] == [instance_name]
        with pytest.raises(GatewayUnauthorized):
            scoped.connection_state(other)
        with pytest.raises(GatewayUnauthorized):
            scoped.create_instance(f"{instance_name}-x")
        scoped.close()  # does not close the shared pool
        assert gateway.connection_state(instance_name).state == "close"
    finally:
        gateway.delete_instance(other)


def test_an_unreachable_gateway_is_transient():
    with (
        gateway_for(f"http://127.0.0.1:{free_port()}", "v2", "k", timeout=2) as nowhere,
        pytest.raises(GatewayUnreachable) as caught,
    ):
        nowhere.connection_state("x")
    assert caught.value.transient


def test_a_slow_gateway_times_out_as_transient(gateway_target, gateway, instance_name):
    sim = gateway_target.require_simulator("needs injected latency")
    gateway.create_instance(instance_name)
    sim.control("POST", f"instances/{instance_name}/latency", {"ms": 1500})
    with (
        gateway_for(sim.base_url, "v2", sim.api_key, timeout=0.5) as impatient,
        pytest.raises(GatewayTimeout) as caught,
    ):
        impatient.connection_state(instance_name)
    assert caught.value.transient


def test_a_route_the_gateway_lacks_is_a_protocol_error(gateway_target):
    with (
        gateway_for(gateway_target.base_url, "v1", gateway_target.api_key) as v1,
        pytest.raises(GatewayProtocolError) as caught,
    ):
        v1.restart("anything")  # v1 restarts with PUT; a v2 server has no such route
    assert "Cannot PUT /instance/restart/anything" in caught.value.message


# --- sending ------------------------------------------------------------------------------------------------


def test_send_text_without_a_session_is_transient_not_connected(gateway, instance_name):
    gateway.create_instance(instance_name)
    with pytest.raises(GatewayNotConnected) as caught:
        gateway.send_text(instance_name, CUSTOMER, "hello")
    assert caught.value.transient and caught.value.status_code == 500


def test_send_text_with_reply_and_mentions(gateway, gateway_target, open_instance):
    sim = gateway_target.sim
    incoming = sim.inbound(open_instance, **{"from": CUSTOMER, "text": "Where is my order?"})
    quoted = Quoted(
        MessageKey(f"{CUSTOMER}@s.whatsapp.net", incoming["data"]["key"]["id"], False), "Where is my order?"
    )
    result = gateway.send_text(open_instance, CUSTOMER, "On its way", SendOptions(quoted=quoted, mentioned=(CUSTOMER,)))
    assert result.remote_jid == f"{CUSTOMER}@s.whatsapp.net"
    assert result.from_me and result.status == "PENDING" and result.message_type == "conversation"
    assert result.timestamp is not None and result.timestamp.tzinfo is not None
    recorded = sim.sent(open_instance)[-1]
    assert (recorded["id"], recorded["summary"]) == (result.message_id, "On its way")
    send_event = [e for e in sim.events(open_instance) if e["config_name"] == "SEND_MESSAGE"][-1]["body"]["data"]
    assert send_event["contextInfo"]["stanzaId"] == quoted.key.id
    assert send_event["contextInfo"]["mentionedJid"] == [f"{CUSTOMER}@s.whatsapp.net"]


def test_send_media_from_url_and_base64(gateway, gateway_target, open_instance):
    image = gateway.send_media(
        open_instance, CUSTOMER, Media("https://files.example.com/a.png", "image", caption="Your invoice")
    )
    assert image.message_type == "imageMessage"
    assert image.raw["message"]["imageMessage"]["caption"] == "Your invoice"
    document = gateway.send_media(
        open_instance,
        CUSTOMER,
        Media(PNG_BASE64, "document", mimetype="application/pdf", file_name="invoice.pdf"),
    )
    assert document.message_type == "documentMessage"
    assert document.raw["message"]["documentMessage"]["fileName"] == "invoice.pdf"
    with pytest.raises(GatewayRefused) as caught:
        gateway.send_media(open_instance, CUSTOMER, Media(PNG_BASE64, "document"))
    assert caught.value.messages == ("For base64 the file name must be informed.",)
    with pytest.raises(GatewayRefused, match="Owned media must be a url or base64"):
        gateway.send_media(open_instance, CUSTOMER, Media("data:image/png;base64,AAAA", "image"))


def test_send_voice_note_sticker_location_and_contacts(gateway, open_instance):
    voice = gateway.send_voice_note(open_instance, CUSTOMER, "https://files.example.com/v.ogg")
    assert voice.message_type == "audioMessage" and voice.raw["message"]["audioMessage"]["ptt"] is True
    sticker = gateway.send_sticker(open_instance, CUSTOMER, PNG_BASE64)
    assert sticker.message_type == "stickerMessage"
    location = gateway.send_location(open_instance, CUSTOMER, Location(-23.55, -46.63, "Store", "Av. Paulista, 1000"))
    assert location.raw["message"]["locationMessage"]["degreesLatitude"] == -23.55
    one = gateway.send_contacts(open_instance, CUSTOMER, [ContactCard("ACME Support", "+55 11 4000-1234")])
    assert one.message_type == "contactMessage"
    assert "waid=551140001234" in one.raw["message"]["contactMessage"]["vcard"]
    two = gateway.send_contacts(
        open_instance, CUSTOMER, [ContactCard("A", "5511400012345"), ContactCard("B", "5511400012346")]
    )
    assert two.message_type == "contactsArrayMessage"


def test_send_reaction_list_and_buttons(gateway, open_instance):
    sent = gateway.send_text(open_instance, CUSTOMER, "Rate us")
    reaction = gateway.send_reaction(open_instance, sent.key, "👍")
    assert reaction.message_type == "reactionMessage"
    assert reaction.raw["message"]["reactionMessage"]["key"]["id"] == sent.message_id
    with pytest.raises(GatewayRefused, match="single emoji"):
        gateway.send_reaction(open_instance, sent.key, "nice")
    sections = [ListSection("Plans", (ListRow("Basic", "basic"), ListRow("Pro", "pro", "Most popular")))]
    listed = gateway.send_list(open_instance, CUSTOMER, title="Choose", button_text="Open", sections=sections)
    assert listed.message_type == "listMessage"
    buttons = [Button("Yes", id="yes"), Button("No", id="no")]
    asked = gateway.send_buttons(open_instance, CUSTOMER, title="Confirm?", buttons=buttons, footer="ACME")
    assert asked.message_id
    with pytest.raises(GatewayRefused, match="mixed"):
        gateway.send_buttons(
            open_instance,
            CUSTOMER,
            title="x",
            buttons=[Button("Yes", id="y"), Button("Site", "url", url="https://a.b")],
        )


def test_buttons_come_back_in_whatsapps_native_flow_shape_and_parse_as_what_was_sent(gateway, gateway_target,
                                                                                     open_instance):
    """sendButtons' answer and its SEND_MESSAGE echo carry what WhatsApp carries (Evolution's
    buttonMessage): a native-flow interactiveMessage inside viewOnceMessage, each button `{name, buttonParamsJson}`
    and the title in bold in the body, not the request's `{type, displayText, id}`; our parser reads both as the
    interactive message we sent."""
    from instances.gateways.events import MessageReceived, parse_event

    asked = gateway.send_buttons(open_instance, CUSTOMER, title="Confirm?", description="Your order #12",
                                 buttons=[Button("Yes", id="yes"), Button("No", id="no")], footer="ACME")
    assert asked.message_type == "interactiveMessage"
    shown = asked.raw["message"]["viewOnceMessage"]["message"]["interactiveMessage"]
    assert shown["body"] == {"text": "*Confirm?*\n\nYour order #12\n"} and shown["footer"] == {"text": "ACME"}
    buttons = [(item["name"], json.loads(item["buttonParamsJson"])) for item in shown["nativeFlowMessage"]["buttons"]]
    assert buttons == [("quick_reply", {"display_text": "Yes", "id": "yes"}),
                       ("quick_reply", {"display_text": "No", "id": "no"})]
    echo = next(event["body"] for event in gateway_target.sim.events(open_instance)
                if event["config_name"] == "SEND_MESSAGE" and event["body"]["data"]["key"]["id"] == asked.message_id)
    [event] = parse_event(echo)
    assert isinstance(event, MessageReceived) and event.from_me
    assert (event.kind, event.message_type, event.text) == ("interactive", "interactiveMessage",
                                                            "*Confirm?*\n\nYour order #12\n")


def test_delete_message_for_everyone(gateway, gateway_target, open_instance):
    sent = gateway.send_text(open_instance, CUSTOMER, "oops")
    gateway.delete_message(open_instance, sent.key)
    deleted = [e for e in gateway_target.sim.events(open_instance) if e["config_name"] == "MESSAGES_DELETE"]
    assert deleted[-1]["body"]["data"]["key"]["id"] == sent.message_id


def test_check_numbers_and_profile_picture(gateway, gateway_target, open_instance):
    sim = gateway_target.sim
    sim.control(
        "POST",
        "numbers",
        {"not_on_whatsapp": ["5511900000000"], "profile_pictures": {CUSTOMER: "https://pps.example/p.jpg"}},
    )
    checks = gateway.check_numbers(open_instance, [CUSTOMER, "5511900000000", "120363025246125888@g.us"])
    assert [(c.exists, c.jid) for c in checks] == [
        (True, f"{CUSTOMER}@s.whatsapp.net"),
        (False, "5511900000000@s.whatsapp.net"),
        (True, "120363025246125888@g.us"),
    ]
    assert gateway.profile_picture_url(open_instance, CUSTOMER) == "https://pps.example/p.jpg"
    assert gateway.profile_picture_url(open_instance, "5511911112222") is None


def test_check_numbers_without_a_session_reads_the_unwrapped_boom_error(gateway, instance_name):
    gateway.create_instance(instance_name)
    gateway.connect(instance_name)
    gateway.logout(instance_name)
    with pytest.raises(GatewayNotConnected) as caught:
        gateway.check_numbers(instance_name, [CUSTOMER])
    assert caught.value.status_code == 400 and caught.value.message == "Connection Closed"


# --- injected failures ---------------------------------------------------------------------------------------


def test_a_5xx_is_a_transient_server_error(gateway, gateway_target, open_instance):
    gateway_target.sim.fail_next(open_instance, mode="server_error")
    with pytest.raises(GatewayServerError) as caught:
        gateway.send_text(open_instance, CUSTOMER, "hi")
    assert caught.value.transient and caught.value.status_code == 500
    assert gateway.send_text(open_instance, CUSTOMER, "hi again").message_id  # only the next one failed


def test_connection_closed_while_sending_is_transient(gateway, gateway_target, open_instance):
    gateway_target.sim.fail_next(open_instance, mode="connection_closed")
    with pytest.raises(GatewayNotConnected) as caught:
        gateway.send_text(open_instance, CUSTOMER, "hi")
    assert caught.value.transient


def test_a_number_not_on_whatsapp_is_refused_with_the_number(gateway, gateway_target, open_instance):
    gateway_target.sim.control("POST", "numbers", {"not_on_whatsapp": ["5511900000000"]})
    with pytest.raises(NumberNotOnWhatsApp) as caught:
        gateway.send_text(open_instance, "5511900000000", "hi")
    assert caught.value.numbers == ("5511900000000",)
    assert caught.value.message == "5511900000000 is not on WhatsApp"
    assert not caught.value.transient


def test_an_injected_refusal_carries_the_gateways_words(gateway, gateway_target, open_instance):
    gateway_target.sim.fail_next(open_instance, mode="refused", message="rate-overlimit")
    with pytest.raises(GatewayRefused) as caught:
        gateway.send_text(open_instance, CUSTOMER, "hi")
    assert caught.value.messages == ("rate-overlimit",)


def test_a_hanging_send_times_out(gateway_target, open_instance):
    sim = gateway_target.sim
    sim.fail_next(open_instance, mode="timeout", seconds=1.5)
    with gateway_for(sim.base_url, "v2", sim.api_key, timeout=0.5) as impatient, pytest.raises(GatewayTimeout):
        impatient.send_text(open_instance, CUSTOMER, "hi")
    # Like a real gateway, the hung send still goes out afterwards: retries must be idempotent upstream.
    wait_until(lambda: len(sim.sent(open_instance)) == 1, timeout=3)


def test_failures_scoped_to_any_call_hit_reads_too(gateway, gateway_target, open_instance):
    gateway_target.sim.fail_next(open_instance, mode="unauthorized", scope="any", count=2)
    for _ in range(2):
        with pytest.raises(GatewayUnauthorized):
            gateway.connection_state(open_instance)
    assert gateway.connection_state(open_instance).state == "open"


# --- our sent messages (findMessages) -----------------------------------------------------------------------

EVOLUTION_SEND_INSTANCE = os.environ.get("EVOLUTION_TEST_INSTANCE")
EVOLUTION_SEND_TO = os.environ.get("EVOLUTION_TEST_TO")


@pytest.fixture
def sending_instance(request, gateway, gateway_target):
    """(instance, recipient) that can send: a scanned simulator instance, or on a real server the connected
    instance and the recipient named by EVOLUTION_TEST_INSTANCE / EVOLUTION_TEST_TO (a real message is sent)."""
    if gateway_target.sim is not None:
        return request.getfixturevalue("open_instance"), CUSTOMER
    if not (EVOLUTION_SEND_INSTANCE and EVOLUTION_SEND_TO):
        pytest.skip("needs a connected instance: set EVOLUTION_TEST_INSTANCE and EVOLUTION_TEST_TO")
    return EVOLUTION_SEND_INSTANCE, EVOLUTION_SEND_TO


def recent(minutes: float = 2) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=minutes), now + timedelta(seconds=30)


def test_find_sent_messages_on_a_fresh_instance_is_empty(gateway, instance_name):
    gateway.create_instance(instance_name)
    assert gateway.find_sent_messages(instance_name, f"{CUSTOMER}@s.whatsapp.net", *recent()) == []


def test_a_sent_text_is_found_in_its_chat(gateway, sending_instance):
    # Needs the gateway to keep messages (Evolution: DATABASE_SAVE_DATA_NEW_MESSAGE=true).
    name, number = sending_instance
    text = f"recado find {uuid.uuid4().hex[:8]}"
    sent = gateway.send_text(name, number, text)
    found = {record.id: record for record in gateway.find_sent_messages(name, sent.remote_jid, *recent())}
    assert sent.message_id in found, "the gateway does not list what it sent: is message saving on?"
    record = found[sent.message_id]
    assert (record.kind, record.text, record.remote_jid) == ("text", text, sent.remote_jid)
    assert record.message_type in ("conversation", "extendedTextMessage")
    assert record.timestamp is not None and abs((record.timestamp - datetime.now(UTC)).total_seconds()) < 120


def test_find_sent_messages_lists_only_ours_in_that_chat_and_window(gateway, gateway_target, open_instance):
    sim = gateway_target.sim
    chat = f"{CUSTOMER}@s.whatsapp.net"
    text = gateway.send_text(open_instance, CUSTOMER, "first")
    picture = Media("https://files.example.com/a.png", "image", caption="cap")
    image = gateway.send_media(open_instance, CUSTOMER, picture)
    gateway.send_text(open_instance, "5511911112222", "another chat")
    sim.inbound(open_instance, **{"from": CUSTOMER, "text": "a customer writes"})
    typed = sim.inbound(open_instance, from_me=True, to=CUSTOMER, text="typed on the phone")["data"]
    old = sim.inbound(open_instance, from_me=True, to=CUSTOMER, text="long ago", timestamp=int(time.time()) - 3600)
    records = gateway.find_sent_messages(open_instance, chat, *recent())
    assert [r.id for r in records] == [typed["key"]["id"], image.message_id, text.message_id]  # newest first
    assert [(r.kind, r.text) for r in records] == [("text", "typed on the phone"), ("image", "cap"), ("text", "first")]
    assert {r.remote_jid for r in records} == {chat}
    wider = gateway.find_sent_messages(open_instance, chat, *recent(minutes=120))
    assert wider[-1].id == old["data"]["key"]["id"] and len(wider) == 4


def test_find_sent_messages_pages_through_the_history(gateway, open_instance):
    ids = [gateway.send_text(open_instance, CUSTOMER, f"n{i}").message_id for i in range(FIND_PAGE_SIZE + 5)]
    records = gateway.find_sent_messages(open_instance, f"{CUSTOMER}@s.whatsapp.net", *recent())
    assert [r.id for r in records] == ids[::-1]


def test_find_messages_wire_shape_and_the_time_filter(gateway_target, open_instance):
    sim = gateway_target.sim
    sent = sim.api("POST", f"/message/sendText/{open_instance}", {"number": CUSTOMER, "text": "hi"}).json()
    where = {"key": {"remoteJid": f"{CUSTOMER}@s.whatsapp.net", "fromMe": True}}
    answer = sim.api("POST", f"/chat/findMessages/{open_instance}", {"where": where})
    assert answer.status_code == 200
    page = answer.json()["messages"]
    assert (page["total"], page["pages"], page["currentPage"]) == (1, 1, 1)
    record = page["records"][0]
    assert set(record) == {"id", "key", "pushName", "messageType", "message", "messageTimestamp", "instanceId",
                           "source", "contextInfo", "MessageUpdate"}
    assert record["key"] == sent["key"] and record["message"] == {"conversation": "hi"}
    past = {"gte": "2020-01-01T00:00:00Z", "lte": "2020-01-02T00:00:00Z"}
    empty = sim.api("POST", f"/chat/findMessages/{open_instance}", {"where": {**where, "messageTimestamp": past}})
    assert empty.json()["messages"]["total"] == 0
    only_gte = {"gte": "2020-01-01T00:00:00Z"}  # one bound alone is ignored, as by the gateway
    ignored = sim.api("POST", f"/chat/findMessages/{open_instance}", {"where": {**where, "messageTimestamp": only_gte}})
    assert ignored.json()["messages"]["total"] == 1
    invalid = sim.api("POST", f"/chat/findMessages/{open_instance}", {"offset": "ten"})
    assert invalid.status_code == 400


def test_find_sent_messages_errors_are_typed(gateway, gateway_target, open_instance):
    gateway_target.sim.fail_next(open_instance, mode="server_error", scope="any")
    with pytest.raises(GatewayServerError) as caught:
        gateway.find_sent_messages(open_instance, f"{CUSTOMER}@s.whatsapp.net", *recent())
    assert caught.value.transient
    with pytest.raises(GatewayUnauthorized):
        gateway.with_api_key("wrong-key").find_sent_messages(open_instance, f"{CUSTOMER}@s.whatsapp.net", *recent())
