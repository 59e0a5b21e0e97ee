"""The simulator posts Evolution's webhooks to a real local HTTP receiver: envelope, filters, suffixes, retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from instances.gateways.events import (
    ConnectionUpdate,
    MessageReceived,
    MessageStatusUpdate,
    QrUpdated,
    parse_event,
)
from tests.simulator.fixtures import wait_until

CUSTOMER = "5511988887777"
ENVELOPE_KEYS = {"event", "instance", "data", "destination", "date_time", "server_url", "apikey"}


def hook(receiver, path="/hook", events=(), by_events=False, headers=None):
    webhook = {"url": f"{receiver.url}{path}", "byEvents": by_events, "base64": False, "events": list(events)}
    if headers:
        webhook["headers"] = headers
    return webhook


def test_connection_events_carry_evolutions_envelope(simulator, webhook_receiver):
    simulator.create("acme", webhook=hook(webhook_receiver))
    simulator.connect("acme")
    qr = webhook_receiver.wait_for("qrcode.updated")[0]
    assert set(qr.body) == ENVELOPE_KEYS  # no `sender` before the first login
    assert qr.body["destination"] == f"{webhook_receiver.url}/hook" and qr.body["apikey"] is None
    assert qr.headers["Content-Type"] == "application/json"
    assert isinstance(parse_event(qr.body)[0], QrUpdated)
    simulator.scan("acme", number="5511999990000", profile_name="ACME")
    opened = next(r for r in webhook_receiver.wait_for("connection.update", 2) if r.body["data"]["state"] == "open")
    assert opened.body["sender"] == "5511999990000@s.whatsapp.net"
    event = parse_event(opened.body)[0]
    assert isinstance(event, ConnectionUpdate) and (event.owner_number, event.profile_name) == ("5511999990000", "ACME")


def test_by_events_appends_the_event_suffix_but_not_to_destination(simulator, webhook_receiver):
    simulator.create("acme", webhook=hook(webhook_receiver, "/wa", by_events=True))
    simulator.connect("acme")
    simulator.scan("acme")
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "hi"})
    simulator.api("POST", "/message/sendText/acme", {"number": CUSTOMER, "text": "hello"})
    expected = {
        "/wa/connection-update",
        "/wa/qrcode-updated",
        "/wa/messages-upsert",
        "/wa/send-message",
        "/wa/instance-create",
    }
    wait_until(lambda: {r.path for r in webhook_receiver.events()} >= expected)
    assert {r.body["destination"] for r in webhook_receiver.events()} == {f"{webhook_receiver.url}/wa"}


def test_only_the_configured_events_are_posted(simulator, webhook_receiver):
    simulator.open_instance("acme")
    response = simulator.api(
        "POST",
        "/webhook/set/acme",
        {"webhook": {"enabled": True, **hook(webhook_receiver, events=["MESSAGES_UPSERT"])}},
    )
    assert response.status_code == 201
    simulator.control("POST", "instances/acme/disconnect")
    simulator.connect("acme")
    simulator.scan("acme")
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "only me"})
    webhook_receiver.wait_for("messages.upsert")
    time.sleep(0.2)
    assert {r.body["event"] for r in webhook_receiver.events()} == {"messages.upsert"}


def test_a_disabled_webhook_posts_nothing(simulator, webhook_receiver):
    simulator.open_instance("acme")
    simulator.api("POST", "/webhook/set/acme", {"webhook": {**hook(webhook_receiver), "enabled": False}})
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "x"})
    time.sleep(0.3)
    assert webhook_receiver.events() == []


def test_a_failed_delivery_is_retried_with_the_same_body(simulator, webhook_receiver):
    webhook_receiver.answers = [500]
    simulator.open_instance("acme", webhook=hook(webhook_receiver, events=["MESSAGES_UPSERT"]))
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "retry me"})
    first, second = webhook_receiver.wait_for("messages.upsert", 2)
    assert first.body == second.body

    def attempts() -> list[tuple]:
        return [(d["attempt"], d["status"], d["outcome"]) for d in simulator.deliveries("acme")]

    # The simulator records an attempt after the receiver has answered it: wait for the second record.
    wait_until(lambda: len(attempts()) >= 2, timeout=5)
    assert attempts() == [(1, 500, "retry"), (2, 200, "done")]


def test_retries_back_off_and_stop_at_the_maximum(simulator, webhook_receiver):
    webhook_receiver.answers = [503] * 10
    simulator.open_instance("acme", webhook=hook(webhook_receiver, events=["MESSAGES_UPSERT"]))
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "never lands"})
    wait_until(lambda: len(webhook_receiver.events()) == 4, timeout=5)  # SIMULATOR_WEBHOOK_MAX_ATTEMPTS=4
    time.sleep(0.6)
    assert len(webhook_receiver.events()) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_non_retryable_answers_stop_at_once(simulator, webhook_receiver, status):
    webhook_receiver.answers = [status]
    simulator.open_instance("acme", webhook=hook(webhook_receiver, events=["MESSAGES_UPSERT"]))
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "x"})
    webhook_receiver.wait_for("messages.upsert")
    time.sleep(0.4)
    assert len(webhook_receiver.events()) == 1
    assert simulator.deliveries("acme")[0]["outcome"] == "final"


def test_custom_headers_and_jwt_key(simulator, webhook_receiver):
    headers = {"x-recado-secret": "abc", "jwt_key": "jwt-secret"}
    simulator.open_instance("acme", webhook=hook(webhook_receiver, events=["MESSAGES_UPSERT"], headers=headers))
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "x"})
    received = webhook_receiver.wait_for("messages.upsert")[0]
    assert received.headers["x-recado-secret"] == "abc"
    assert "jwt_key" not in {name.lower() for name in received.headers}
    token = received.headers["Authorization"].removeprefix("Bearer ")
    head, claims, signature = token.split(".")
    expected = hmac.new(b"jwt-secret", f"{head}.{claims}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=="))
    assert decoded["exp"] - decoded["iat"] == 600 and decoded["app"] == "evolution"


def test_sent_messages_get_ticks_in_order_when_auto_status_is_on(simulator, webhook_receiver):
    simulator.configure(auto_status=["SERVER_ACK", "DELIVERY_ACK", "READ"], status_delay=0.05)
    simulator.open_instance("acme", webhook=hook(webhook_receiver, events=["SEND_MESSAGE", "MESSAGES_UPDATE"]))
    sent = simulator.api("POST", "/message/sendText/acme", {"number": CUSTOMER, "text": "hello"}).json()
    updates = webhook_receiver.wait_for("messages.update", 3)
    parsed = [parse_event(r.body)[0] for r in updates]
    assert all(isinstance(e, MessageStatusUpdate) and e.message_id == sent["key"]["id"] for e in parsed)
    assert [e.status for e in parsed] == ["SERVER_ACK", "DELIVERY_ACK", "READ"]
    assert webhook_receiver.events("send.message")[0].body["data"]["key"]["id"] == sent["key"]["id"]


def test_statuses_can_be_sent_out_of_order_and_duplicated(simulator, webhook_receiver):
    simulator.open_instance("acme", webhook=hook(webhook_receiver, events=["MESSAGES_UPDATE"]))
    sent = simulator.api("POST", "/message/sendText/acme", {"number": CUSTOMER, "text": "hello"}).json()
    simulator.set_status("acme", sent["key"]["id"], "READ", "DELIVERY_ACK", "READ")
    updates = webhook_receiver.wait_for("messages.update", 3)
    assert [r.body["data"]["status"] for r in updates] == ["READ", "DELIVERY_ACK", "READ"]


def test_duplicate_inbound_and_replayed_events_are_identical(simulator, webhook_receiver):
    simulator.open_instance("acme", webhook=hook(webhook_receiver, events=["MESSAGES_UPSERT", "CONNECTION_UPDATE"]))
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "twice"}, duplicate=1)
    first, second = webhook_receiver.wait_for("messages.upsert", 2)
    assert first.body == second.body
    opened = [e for e in simulator.events("acme") if e["config_name"] == "CONNECTION_UPDATE"][-1]
    simulator.control("POST", f"instances/acme/events/{opened['seq']}/replay")
    replayed = webhook_receiver.wait_for("connection.update")[-1]
    assert replayed.body == opened["body"]


def test_date_time_is_local_time_labelled_utc_so_the_parser_uses_message_timestamp(simulator, webhook_receiver):
    simulator.open_instance("acme", webhook=hook(webhook_receiver, events=["MESSAGES_UPSERT"]))
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "when?"})
    body = webhook_receiver.wait_for("messages.upsert")[0].body
    labelled = datetime.fromisoformat(body["date_time"].replace("Z", "+00:00"))
    now = datetime.now(UTC)
    assert abs(labelled - (now - timedelta(hours=3))) < timedelta(minutes=1)
    assert abs(parse_event(body)[0].timestamp - now) < timedelta(minutes=1)


# Every kind a simulated customer can send, checked end to end: control route → webhook → typed event.
INBOUND_KINDS = [
    ({"kind": "text", "text": "Olá"}, {"kind": "text", "text": "Olá"}),
    ({"kind": "image", "caption": "Nota"}, {"kind": "image", "text": "Nota"}),
    ({"kind": "video", "media_url": "https://f/v.mp4", "caption": "Vídeo"}, {"kind": "video", "text": "Vídeo"}),
    ({"kind": "audio", "media_url": "https://f/a.mp3"}, {"kind": "audio"}),
    ({"kind": "voice", "seconds": 9}, {"kind": "audio"}),
    (
        {"kind": "document", "media_url": "https://f/nf.pdf", "file_name": "nf.pdf", "mimetype": "application/pdf"},
        {"kind": "document"},
    ),
    ({"kind": "sticker"}, {"kind": "sticker"}),
    ({"kind": "location", "latitude": -22.9, "longitude": -43.2, "name": "Rio"}, {"kind": "location"}),
    ({"kind": "contact", "contact": {"full_name": "Ana", "phone_number": "5511955554444"}}, {"kind": "contact"}),
    ({"kind": "text", "text": "in a group", "group": "120363025246125888"}, {"kind": "text", "is_group": True}),
    ({"kind": "text", "text": "private id", "lid": True}, {"kind": "text"}),
    (
        {"kind": "text", "text": "typed on the phone", "from_me": True, "to": CUSTOMER},
        {"kind": "text", "from_me": True},
    ),
]


@pytest.mark.parametrize(
    ("spec", "expected"), INBOUND_KINDS, ids=[f"{s['kind']}-{i}" for i, (s, _) in enumerate(INBOUND_KINDS)]
)
def test_every_inbound_kind_parses_into_the_right_event(simulator, webhook_receiver, spec, expected):
    simulator.open_instance("acme", webhook=hook(webhook_receiver, events=["MESSAGES_UPSERT"]))
    simulator.inbound("acme", **{"from": CUSTOMER, "push_name": "Maria", **spec})
    event = parse_event(webhook_receiver.wait_for("messages.upsert")[0].body)[0]
    assert isinstance(event, MessageReceived)
    for name, value in expected.items():
        assert getattr(event, name) == value, name
    if spec.get("group"):
        assert (event.remote_jid, event.participant) == ("120363025246125888@g.us", f"{CUSTOMER}@s.whatsapp.net")
    elif spec.get("lid"):
        assert event.lid and event.lid.endswith("@lid") and event.phone_number == CUSTOMER
    else:
        assert event.phone_number == CUSTOMER
    if spec["kind"] == "voice":
        assert event.media.voice and event.media.seconds == 9
    if spec["kind"] == "document":
        assert (event.media.file_name, event.media.mimetype) == ("nf.pdf", "application/pdf")
    if spec["kind"] == "location":
        assert (event.location.latitude, event.location.name) == (-22.9, "Rio")
    if spec["kind"] == "contact":
        assert event.contacts[0].phone_numbers == ("5511955554444",)


def test_reaction_and_reply_to_a_message_recado_sent(simulator, webhook_receiver):
    simulator.open_instance("acme", webhook=hook(webhook_receiver, events=["MESSAGES_UPSERT"]))
    sent = simulator.api("POST", "/message/sendText/acme", {"number": CUSTOMER, "text": "Your order shipped"}).json()
    simulator.inbound(
        "acme", **{"from": CUSTOMER, "kind": "reaction", "reaction": {"message_id": sent["key"]["id"], "emoji": "🎉"}}
    )
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "Thanks!", "quoted_id": sent["key"]["id"]})
    reaction, reply = (parse_event(r.body)[0] for r in webhook_receiver.wait_for("messages.upsert", 2))
    assert (reaction.kind, reaction.reaction.target_id, reaction.reaction.emoji) == (
        "reaction",
        sent["key"]["id"],
        "🎉",
    )
    assert reaction.reaction.target_from_me is True
    assert (reply.quoted_id, reply.quoted_text) == (sent["key"]["id"], "Your order shipped")
