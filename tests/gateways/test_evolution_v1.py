"""The v1 adapter: bodies and answers in the shapes of the reference §15, plus HTTP where v1 and v2 routes coincide.

No v1 server is available here, and a hand-written v1 stub would only agree with our own reading.
So request shaping and response parsing are checked against the shapes the reference documents
(from the v1.8 source), and the HTTP behaviour runs against the simulator on the routes whose path,
verb and body are the same in both versions.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from instances.gateways import (
    Button,
    ContactCard,
    GatewayNotConnected,
    GatewayProtocolError,
    GatewayUnsupported,
    GatewayValidationError,
    InstanceNotFound,
    ListRow,
    ListSection,
    Location,
    Media,
    MessageKey,
    Quoted,
    SendOptions,
    WebhookConfig,
    gateway_for,
)
from instances.gateways.evolution_v1 import (
    EvolutionV1Gateway,
    button_message_v1,
    create_body_v1,
    media_message_v1,
    options_body_v1,
    parse_instances_v1,
    webhook_body_v1,
    wrapped,
)
from instances.gateways.evolution_v2 import parse_created, parse_send_result, parse_webhook

CUSTOMER = "5511988887777"


# --- request shapes (reference §15) ----------------------------------------------------------------------


def test_create_body_is_flat_snake_case_and_keeps_groups():
    webhook = WebhookConfig(url="https://app/hooks/x", events=("MESSAGES_UPSERT",), by_events=True, base64=True)
    body = create_body_v1(
        "acme", token="tok", integration="WHATSAPP-BAILEYS", number="5511999990000", qrcode=True, webhook=webhook
    )
    assert body == {
        "instanceName": "acme",
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": True,
        "reject_call": False,
        "msg_call": "",
        "groups_ignore": False,
        "always_online": False,
        "read_messages": False,
        "read_status": False,
        "sync_full_history": False,
        "token": "tok",
        "number": "5511999990000",
        "webhook": "https://app/hooks/x",
        "webhook_by_events": True,
        "webhook_base64": True,
        "events": ["MESSAGES_UPSERT"],
    }


def test_webhook_set_body_is_flat():
    body = webhook_body_v1(WebhookConfig(url="https://app/h", events=("QRCODE_UPDATED",)))
    assert body == {
        "enabled": True,
        "url": "https://app/h",
        "webhook_by_events": False,
        "webhook_base64": False,
        "events": ["QRCODE_UPDATED"],
    }


def test_send_options_are_wrapped_with_mentions_object():
    quoted = Quoted(MessageKey(f"{CUSTOMER}@s.whatsapp.net", "3A1", False), "Hi")
    options = SendOptions(quoted=quoted, mentioned=(CUSTOMER,), delay_ms=1200, link_preview=False)
    assert wrapped(CUSTOMER, options, "textMessage", {"text": "Hello"}) == {
        "number": CUSTOMER,
        "textMessage": {"text": "Hello"},
        "options": {
            "delay": 1200,
            "quoted": {
                "key": {"remoteJid": f"{CUSTOMER}@s.whatsapp.net", "fromMe": False, "id": "3A1"},
                "message": {"conversation": "Hi"},
            },
            "linkPreview": False,
            "mentions": {"everyOne": False, "mentioned": [CUSTOMER]},
        },
    }
    assert wrapped(CUSTOMER, SendOptions(), "textMessage", {"text": "x"}) == {
        "number": CUSTOMER,
        "textMessage": {"text": "x"},
    }
    assert options_body_v1(SendOptions(mention_everyone=True))["mentions"] == {"everyOne": True, "mentioned": []}


def test_media_message_shape():
    media = Media("https://f/x.pdf", "document", mimetype="application/pdf", caption="Fatura", file_name="x.pdf")
    assert media_message_v1(media) == {
        "mediatype": "document",
        "media": "https://f/x.pdf",
        "mimetype": "application/pdf",
        "caption": "Fatura",
        "fileName": "x.pdf",
    }


def test_buttons_are_reply_only_in_v1():
    assert button_message_v1("T", "D", "F", [Button("Yes", id="y")]) == {
        "title": "T",
        "description": "D",
        "footerText": "F",
        "buttons": [{"buttonText": "Yes", "buttonId": "y"}],
    }
    with pytest.raises(GatewayValidationError):
        button_message_v1("T", "D", "F", [Button("Site", "url", url="https://x")])


# --- answer shapes (reference §15) -----------------------------------------------------------------------


def test_create_answer_v1():
    answer = {
        "instance": {"instanceName": "acme", "instanceId": "abc", "status": "created"},
        "hash": {"apikey": "TOKEN-1"},
        "webhook": {"webhook": "https://app/h", "webhook_by_events": False, "webhook_base64": False, "events": []},
        "qrcode": {"pairingCode": None, "code": "2@x", "base64": "data:image/png;base64,AA", "count": 1},
    }
    created = parse_created(answer)
    assert (created.name, created.token, created.state, created.webhook_url) == (
        "acme",
        "TOKEN-1",
        "created",
        "https://app/h",
    )
    assert created.connect is not None and created.connect.qr_code == "2@x"
    assert parse_created({**answer, "hash": {"jwt": "JWT-1"}}).token == "JWT-1"


def test_fetch_instances_v1_list_and_single_object():
    entry = {
        "instance": {
            "instanceName": "acme",
            "instanceId": "abc",
            "owner": "5511999990000@s.whatsapp.net",
            "profileName": "ACME",
            "profilePictureUrl": "https://pps/x",
            "profileStatus": "",
            "status": "open",
            "apikey": "TOKEN-1",
        }
    }
    [info] = parse_instances_v1([entry])
    assert (info.name, info.state, info.owner_number, info.profile_name, info.token) == (
        "acme",
        "open",
        "5511999990000",
        "ACME",
        "TOKEN-1",
    )
    assert parse_instances_v1(entry)[0].name == "acme"


def test_send_answer_v1_is_a_raw_web_message_info():
    answer = {
        "key": {"remoteJid": f"{CUSTOMER}@s.whatsapp.net", "fromMe": True, "id": "BAE5F1"},
        "message": {"extendedTextMessage": {"text": "Hello"}},
        "messageTimestamp": "1761039300",
        "status": "PENDING",
    }
    result = parse_send_result(answer)
    assert (result.message_id, result.status, result.message_type) == ("BAE5F1", "PENDING", "extendedTextMessage")
    assert result.timestamp == datetime(2025, 10, 21, 9, 35, tzinfo=UTC)


def test_webhook_find_v1():
    found = parse_webhook(
        {
            "enabled": True,
            "url": "https://app/h",
            "webhook_by_events": True,
            "webhook_base64": False,
            "events": ["MESSAGES_UPSERT"],
        }
    )
    assert found == WebhookConfig(url="https://app/h", events=("MESSAGES_UPSERT",), by_events=True)


# --- HTTP on the routes v1 shares with v2 ----------------------------------------------------------------


@pytest.fixture
def v1(simulator):
    with gateway_for(simulator.base_url, "v1", simulator.api_key) as adapter:
        yield adapter


def test_the_factory_returns_the_v1_adapter(v1):
    assert isinstance(v1, EvolutionV1Gateway) and v1.version == "v1"
    with pytest.raises(ValueError, match="unknown gateway version"):
        gateway_for("http://x", "v3", "k")


def test_shared_routes_work_over_http(v1, simulator):
    simulator.create("acme")
    assert v1.connection_state("acme").state == "close"
    result = v1.connect("acme")
    assert result.has_qr and result.count == 1
    simulator.scan("acme", number="5511999990000")
    v1.set_presence("acme", "available")
    assert v1.check_numbers("acme", [CUSTOMER])[0].exists
    assert v1.profile_picture_url("acme", CUSTOMER) is None
    v1.logout("acme")
    v1.delete_instance("acme")
    with pytest.raises(InstanceNotFound):
        v1.connection_state("acme")


def test_delete_message_for_everyone_is_the_same_call(v1, simulator):
    simulator.open_instance("acme")
    sent = simulator.api("POST", "/message/sendText/acme", {"number": CUSTOMER, "text": "oops"}).json()
    v1.delete_message("acme", MessageKey(sent["key"]["remoteJid"], sent["key"]["id"], True))
    assert simulator.sent("acme")[0]["deleted"] is True


def test_v1_bodies_sent_to_a_v2_server_fail_validation_as_reported_upstream(v1, simulator):
    """A server registered with the wrong version fails loudly and permanently (#2570), never silently."""
    simulator.open_instance("acme")
    with pytest.raises(GatewayValidationError) as caught:
        v1.send_text("acme", CUSTOMER, "hello")
    assert caught.value.message == 'instance requires property "text"'
    with pytest.raises(GatewayValidationError):
        v1.send_location("acme", CUSTOMER, Location(1.0, 2.0, "a", "b"))
    with pytest.raises(GatewayValidationError):
        v1.send_contacts("acme", CUSTOMER, [ContactCard("A", "5511400012345")])
    with pytest.raises(GatewayValidationError):
        v1.send_list("acme", CUSTOMER, title="t", button_text="b", sections=[ListSection("s", (ListRow("r", "r"),))])
    with pytest.raises(GatewayProtocolError):
        v1.restart("acme")  # PUT in v1


def test_v1_send_without_session_maps_like_v2(v1, simulator):
    simulator.create("acme")
    with pytest.raises(GatewayNotConnected):
        v1.check_numbers("acme", [CUSTOMER])


def test_listing_sent_messages_is_unsupported_in_v1(v1, simulator):
    simulator.create("acme")
    now = datetime.now(UTC)
    with pytest.raises(GatewayUnsupported) as caught:
        v1.find_sent_messages("acme", f"{CUSTOMER}@s.whatsapp.net", now, now)
    assert not caught.value.transient
