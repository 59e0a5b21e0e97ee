"""Webhook payloads (shapes from the reference §4, §15 and its appendix, and the recording) → typed events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from instances.gateways.events import (
    ConnectionUpdate,
    InstanceRemoved,
    InteractiveReply,
    LogoutInstance,
    MessageDeleted,
    MessageEdited,
    MessageReceived,
    MessageStatusUpdate,
    QrUpdated,
    UnknownEvent,
    canonical_event_name,
    parse_event,
    status_rank,
)

RECORDING = json.loads((Path(__file__).parent / "recordings/evolution-2.3.6.json").read_text())
INSTANCE_ID = "0b6f3c1e-5d8a-4a53-9a57-2f0f1c0f9e11"
MARIA = "5511988887777@s.whatsapp.net"


def envelope(event: str, data: object, **extra: object) -> dict:
    """A v2 webhook body around `data` (§4.3)."""
    return {
        "event": event,
        "instance": "acme",
        "data": data,
        "destination": "https://app.example.com/hooks/wa",
        "date_time": "2025-10-21T06:31:07.412Z",
        "sender": "5511999990000@s.whatsapp.net",
        "server_url": "https://evo.example.com",
        "apikey": None,
        **extra,
    }


def upsert(message: dict, message_type: str, *, key: dict | None = None, **data: object) -> dict:
    return envelope(
        "messages.upsert",
        {
            "key": key or {"remoteJid": MARIA, "fromMe": False, "id": "3A5F1C2B9D0E4F6A7B8C"},
            "pushName": "Maria",
            "status": "DELIVERY_ACK",
            "message": message,
            "contextInfo": None,
            "messageType": message_type,
            "messageTimestamp": 1761039067,
            "instanceId": INSTANCE_ID,
            "source": "android",
            **data,
        },
    )


def one(payload: dict, version: str = "v2", kind: type = MessageReceived):
    events = parse_event(payload, version)
    assert len(events) == 1, events
    assert isinstance(events[0], kind), events[0]
    return events[0]


# --- names ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "messages.upsert",
        "MESSAGES_UPSERT",
        "messages-upsert",
        "/messages-upsert",
        "https://app/hooks/wa/messages-upsert",
    ],
)
def test_every_spelling_of_an_event_name_is_the_same_event(name):
    assert canonical_event_name(name) == "MESSAGES_UPSERT"


def test_group_participants_update_wire_name():
    assert canonical_event_name("group-participants.update") == "GROUP_PARTICIPANTS_UPDATE"


def test_the_by_events_suffix_names_the_event_when_the_body_does_not():
    payload = envelope("", {"instance": "acme", "state": "open", "statusReason": 200})
    event = parse_event(payload, path_suffix="connection-update")[0]
    assert isinstance(event, ConnectionUpdate) and event.state == "open"


# --- instance events -----------------------------------------------------------------------------------------


def test_qrcode_updated():
    data = {
        "qrcode": {
            "instance": "acme",
            "pairingCode": "WZYEH1YY",
            "code": "2@y8d0...",
            "base64": "data:image/png;base64,iVBO",
        }
    }
    event = one(envelope("qrcode.updated", data), kind=QrUpdated)
    assert (event.qr_code, event.pairing_code, event.qr_data_url) == (
        "2@y8d0...",
        "WZYEH1YY",
        "data:image/png;base64,iVBO",
    )
    assert (event.event, event.instance, event.limit_reached) == ("QRCODE_UPDATED", "acme", False)


def test_qrcode_limit_reached():
    data = {"message": "QR code limit reached, please login again", "statusCode": 500}
    event = one(envelope("qrcode.updated", data), kind=QrUpdated)
    assert event.limit_reached and event.qr_data_url is None
    assert event.message == "QR code limit reached, please login again"


def test_qrcode_updated_v1_flat_shape_is_tolerated():
    event = one(envelope("qrcode.updated", {"code": "2@abc", "base64": "data:image/png;base64,x"}), "v1", QrUpdated)
    assert event.qr_code == "2@abc"


@pytest.mark.parametrize(
    ("data", "state", "reason", "logged_out"),
    [
        ({"instance": "acme", "state": "connecting", "statusReason": 200}, "connecting", 200, False),
        ({"instance": "acme", "state": "close", "statusReason": 401}, "close", 401, True),
        ({"instance": "acme", "state": "close", "statusReason": 408}, "close", 408, False),
        ({"instance": "acme", "state": "refused", "statusReason": 428}, "refused", 428, False),
    ],
)
def test_connection_update_states(data, state, reason, logged_out):
    event = one(envelope("connection.update", data), kind=ConnectionUpdate)
    assert (event.state, event.status_reason, event.logged_out) == (state, reason, logged_out)


def test_connection_open_carries_owner_and_profile():
    data = {
        "instance": "acme",
        "wuid": "5511999990000@s.whatsapp.net",
        "profileName": "ACME Support",
        "profilePictureUrl": "https://pps.whatsapp.net/v/t61/x",
        "state": "open",
        "statusReason": 200,
    }
    event = one(envelope("connection.update", data), kind=ConnectionUpdate)
    assert (event.owner_number, event.profile_name) == ("5511999990000", "ACME Support")
    assert event.profile_picture_url == "https://pps.whatsapp.net/v/t61/x"


def test_status_instance_is_a_close_with_its_reason():
    data = {"instance": "acme", "status": "closed", "disconnectionReasonCode": 401, "disconnectionObject": "{}"}
    event = one(envelope("status.instance", data), kind=ConnectionUpdate)
    assert (event.state, event.status_reason) == ("close", 401)


def test_logout_and_remove_instance_as_recorded():
    samples: dict[str, dict] = {}
    for sample in RECORDING["webhooks"]["first_of_each"]:
        samples.setdefault(sample["event"], sample["body"])
    assert isinstance(one(samples["logout.instance"], kind=LogoutInstance), LogoutInstance)
    removed = one(samples["remove.instance"], kind=InstanceRemoved)
    assert (removed.instance, removed.sender) == ("peer1", None)
    connecting = one(samples["connection.update"], kind=ConnectionUpdate)
    assert connecting.state == "connecting"


def test_instance_delete_is_also_a_removal():
    one(envelope("instance.delete", {"instanceName": "acme", "instanceId": INSTANCE_ID}), kind=InstanceRemoved)


# --- messages ------------------------------------------------------------------------------------------------


def test_incoming_text():
    event = one(upsert({"conversation": "Olá, tudo bem?"}, "conversation"))
    assert (event.kind, event.text, event.from_me, event.push_name) == ("text", "Olá, tudo bem?", False, "Maria")
    assert (event.phone_jid, event.phone_number, event.lid, event.is_group) == (MARIA, "5511988887777", None, False)
    assert event.timestamp == datetime(2025, 10, 21, 9, 31, 7, tzinfo=UTC)  # messageTimestamp, not date_time (06:31)
    assert (event.status, event.source, event.message_id) == ("DELIVERY_ACK", "android", "3A5F1C2B9D0E4F6A7B8C")
    assert event.dedup_key == "message:3A5F1C2B9D0E4F6A7B8C"


def test_extended_text_with_reply_and_mentions_v1():
    message = {
        "extendedTextMessage": {
            "text": "Yes, see above",
            "contextInfo": {
                "stanzaId": "3EB0AAA",
                "quotedMessage": {"conversation": "Is it ready?"},
                "mentionedJid": [MARIA],
            },
        }
    }
    payload = upsert(message, "extendedTextMessage", messageTimestamp="1761039067", owner="acme")
    payload["data"].pop("instanceId")
    payload.pop("apikey")
    event = one(payload, "v1")
    assert (event.kind, event.message_type, event.text) == ("text", "extendedTextMessage", "Yes, see above")
    assert (event.quoted_id, event.quoted_text, event.mentioned) == ("3EB0AAA", "Is it ready?", (MARIA,))
    assert event.timestamp == datetime(2025, 10, 21, 9, 31, 7, tzinfo=UTC)


def test_v2_reply_context_sits_at_the_top_of_data():
    context = {
        "stanzaId": "3EB0BBB",
        "participant": "5511999990000@s.whatsapp.net",
        "quotedMessage": {"conversation": "Hi"},
    }
    event = one(upsert({"conversation": "Hello back"}, "conversation", contextInfo=context))
    assert (event.quoted_id, event.quoted_text) == ("3EB0BBB", "Hi")


def test_image_with_caption_and_base64():
    image = {
        "url": "https://mmg.whatsapp.net/o1/x",
        "mimetype": "image/jpeg",
        "caption": "Nota fiscal",
        "fileLength": {"low": 1, "high": 0, "unsigned": True},
    }
    event = one(upsert({"imageMessage": image, "base64": "/9j/4AAQ"}, "imageMessage"))
    assert (event.kind, event.text) == ("image", "Nota fiscal")
    assert (event.media.url, event.media.mimetype, event.media.caption, event.media.base64) == (
        "https://mmg.whatsapp.net/o1/x",
        "image/jpeg",
        "Nota fiscal",
        "/9j/4AAQ",
    )
    assert "/9j/" not in repr(event.media)


@pytest.mark.parametrize(
    ("message", "message_type", "kind", "voice", "file_name"),
    [
        ({"videoMessage": {"url": "u", "mimetype": "video/mp4", "caption": "c"}}, "videoMessage", "video", False, None),
        (
            {"audioMessage": {"url": "u", "mimetype": "audio/ogg; codecs=opus", "ptt": True, "seconds": 7}},
            "audioMessage",
            "audio",
            True,
            None,
        ),
        ({"audioMessage": {"url": "u", "mimetype": "audio/mpeg", "ptt": False}}, "audioMessage", "audio", False, None),
        (
            {"documentMessage": {"url": "u", "mimetype": "application/pdf", "fileName": "a.pdf", "title": "a"}},
            "documentMessage",
            "document",
            False,
            "a.pdf",
        ),
        (
            {"documentWithCaptionMessage": {"message": {"documentMessage": {"title": "b.pdf", "caption": "see"}}}},
            "documentWithCaptionMessage",
            "document",
            False,
            "b.pdf",
        ),
        ({"stickerMessage": {"url": "u", "mimetype": "image/webp"}}, "stickerMessage", "sticker", False, None),
        ({"ptvMessage": {"url": "u", "mimetype": "video/mp4"}}, "ptvMessage", "video", False, None),
    ],
)
def test_media_kinds(message, message_type, kind, voice, file_name):
    event = one(upsert(message, message_type))
    assert (event.kind, event.media.voice, event.media.file_name) == (kind, voice, file_name)


def test_voice_note_duration():
    event = one(upsert({"audioMessage": {"ptt": True, "seconds": {"low": 7, "high": 0}}}, "audioMessage"))
    assert event.media.voice and event.media.seconds is None  # a Long where a number was expected is not trusted


def test_location():
    location = {"degreesLatitude": -23.55, "degreesLongitude": -46.63, "name": "Loja", "address": "Av. Paulista"}
    event = one(upsert({"locationMessage": location}, "locationMessage"))
    assert event.kind == "location"
    assert (event.location.latitude, event.location.longitude, event.location.name) == (-23.55, -46.63, "Loja")


def test_contact_cards():
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Suporte\nTEL;type=CELL;waid=551140001234:+55 11 4000-1234\nEND:VCARD"
    single = one(upsert({"contactMessage": {"displayName": "Suporte", "vcard": vcard}}, "contactMessage"))
    assert single.kind == "contact" and single.contacts[0].phone_numbers == ("551140001234",)
    plain = "BEGIN:VCARD\nFN:Ana\nTEL:+55 (11) 95555-4444\nEND:VCARD"
    several = {
        "contactsArrayMessage": {
            "displayName": "2 contacts",
            "contacts": [{"displayName": "Suporte", "vcard": vcard}, {"displayName": "Ana", "vcard": plain}],
        }
    }
    event = one(upsert(several, "contactsArrayMessage"))
    assert [c.display_name for c in event.contacts] == ["Suporte", "Ana"]
    assert event.contacts[1].phone_numbers == ("5511955554444",)


def test_reaction_and_its_removal():
    target = {"remoteJid": MARIA, "fromMe": True, "id": "3EB0CCC"}
    event = one(
        upsert(
            {"reactionMessage": {"key": target, "text": "❤️", "senderTimestampMs": "1761039067000"}}, "reactionMessage"
        )
    )
    assert event.kind == "reaction"
    assert (event.reaction.target_id, event.reaction.emoji, event.reaction.target_from_me) == ("3EB0CCC", "❤️", True)
    removal = one(upsert({"reactionMessage": {"key": target, "text": ""}}, "reactionMessage"))
    assert removal.reaction.emoji == ""


# A customer's tap on a list row or a button: the option's id (what a bot branches on), its title, and the message it
# answers (contextInfo.stanzaId: at the top of `data` in v2, inside the content in v1 and raw Baileys).
LIST_ID = "3EB0LIST0001"
ANSWERS_LIST = {"stanzaId": LIST_ID, "participant": "5511999990000@s.whatsapp.net",
                "quotedMessage": {"listMessage": {"title": "Cardápio", "buttonText": "Ver opções"}}}


def test_a_list_reply_keeps_the_row_id_title_and_the_list_it_answers():
    reply = {"listResponseMessage": {"title": "Calabresa", "description": "Molho, calabresa e cebola",
                                     "listType": "SINGLE_SELECT", "singleSelectReply": {"selectedRowId": "p1"}},
             "messageContextInfo": {"deviceListMetadataVersion": 2}}
    event = one(upsert(reply, "listResponseMessage", contextInfo=ANSWERS_LIST))
    assert (event.kind, event.text) == ("interactive", "Calabresa")
    assert event.interactive_reply == InteractiveReply(type="list_reply", id="p1", title="Calabresa",
                                                       description="Molho, calabresa e cebola")
    assert (event.quoted_id, event.quoted_text) == (LIST_ID, "Cardápio")


def test_a_v1_list_reply_carries_its_context_inside_the_content():
    reply = {"listResponseMessage": {"title": "Pro", "listType": 1, "singleSelectReply": {"selectedRowId": "plan-pro"},
                                     "contextInfo": {"stanzaId": LIST_ID}}}
    event = one(upsert(reply, "listResponseMessage", owner="acme", messageTimestamp="1761039067"), "v1")
    assert (event.interactive_reply.type, event.interactive_reply.id, event.quoted_id) == ("list_reply", "plan-pro",
                                                                                         LIST_ID)


def test_a_classic_button_reply_keeps_the_button_id():
    button = {"buttonsResponseMessage": {"selectedButtonId": "yes", "selectedDisplayText": "Sim", "type": 1,
                                         "contextInfo": {"stanzaId": "3EB0BTN", "quotedMessage": {
                                             "buttonsMessage": {"contentText": "Confirma?"}}}}}
    event = one(upsert(button, "buttonsResponseMessage"))
    assert (event.kind, event.text) == ("interactive", "Sim")
    assert event.interactive_reply == InteractiveReply(type="button_reply", id="yes", title="Sim")
    assert event.quoted_id == "3EB0BTN"


def test_a_template_button_reply_keeps_the_selected_id():
    reply = {"templateButtonReplyMessage": {"selectedId": "track-1042", "selectedDisplayText": "Rastrear pedido",
                                            "selectedIndex": 0}}
    event = one(upsert(reply, "templateButtonReplyMessage", contextInfo={"stanzaId": "3EB0TPL"}))
    assert event.interactive_reply == InteractiveReply(type="button_reply", id="track-1042", title="Rastrear pedido")
    assert event.quoted_id == "3EB0TPL"


def test_a_native_flow_button_reply_takes_the_id_from_params_json():
    """Evolution v2's sendButtons sends native-flow quick replies: the tap comes back as interactiveResponseMessage,
    the button's id inside the JSON string paramsJson and its label in body.text."""
    reply = {"interactiveResponseMessage": {
        "body": {"text": "Falar com atendente", "format": "DEFAULT"},
        "nativeFlowResponseMessage": {"name": "quick_reply", "paramsJson": '{"id":"human"}', "version": 1},
        "contextInfo": {"stanzaId": "3EB0NATIVE"}}}
    event = one(upsert(reply, "interactiveResponseMessage"))
    assert (event.kind, event.text) == ("interactive", "Falar com atendente")
    assert event.interactive_reply == InteractiveReply(type="button_reply", id="human", title="Falar com atendente")
    assert event.quoted_id == "3EB0NATIVE"


def test_a_native_flow_list_reply_and_odd_params_never_raise():
    row = {"interactiveResponseMessage": {"nativeFlowResponseMessage": {
        "name": "single_select", "paramsJson": '{"id": 7, "title": "Sete", "description": "d"}'}}}
    assert one(upsert(row, "interactiveResponseMessage")).interactive_reply == InteractiveReply(
        type="list_reply", id="7", title="Sete", description="d")
    broken = {"interactiveResponseMessage": {"body": {"text": "Ok"},
                                             "nativeFlowResponseMessage": {"paramsJson": "{not json"}}}
    event = one(upsert(broken, "interactiveResponseMessage"))
    assert (event.text, event.interactive_reply) == ("Ok", InteractiveReply(type="button_reply", id=None, title="Ok"))


def test_a_reply_declared_as_message_context_info_is_still_found():
    """Some servers declare `messageType: "messageContextInfo"` for a button tap (the first key of the message)."""
    button = {"messageContextInfo": {"deviceListMetadataVersion": 2},
              "buttonsResponseMessage": {"selectedButtonId": "no", "selectedDisplayText": "Não"}}
    assert one(upsert(button, "messageContextInfo")).interactive_reply.id == "no"


def test_a_list_sent_from_the_phone_is_interactive_without_a_reply():
    sent = {"listMessage": {"title": "Cardápio", "buttonText": "Ver", "sections": []}}
    event = one(upsert(sent, "listMessage"))
    assert (event.kind, event.text, event.interactive_reply) == ("interactive", "Cardápio", None)


def test_group_message_keeps_the_group_and_the_participant():
    key = {
        "remoteJid": "120363025246125888@g.us",
        "fromMe": False,
        "id": "ABCD1234",
        "participant": "5511977776666@s.whatsapp.net",
    }
    event = one(upsert({"conversation": "@5511999990000 can you check?"}, "conversation", key=key, pushName="João"))
    assert event.is_group and event.remote_jid == "120363025246125888@g.us"
    assert (event.participant, event.participant_phone_jid, event.phone_jid) == (
        "5511977776666@s.whatsapp.net",
        "5511977776666@s.whatsapp.net",
        None,
    )
    assert event.push_name == "João"


def test_group_message_from_a_lid_participant_keeps_both_identities():
    key = {
        "remoteJid": "120363025246125888@g.us",
        "fromMe": False,
        "id": "X1",
        "participant": "99887766554433@lid",
        "participantAlt": "5511977776666@s.whatsapp.net",
    }
    event = one(upsert({"conversation": "hi"}, "conversation", key=key, pushName="99887766554433@lid"))
    assert (event.participant_lid, event.participant_phone_jid) == (
        "99887766554433@lid",
        "5511977776666@s.whatsapp.net",
    )
    assert event.push_name is None  # a JID as push name is not a name


@pytest.mark.parametrize(
    ("key", "phone", "lid"),
    [
        (
            {"remoteJid": "12345678901234@lid", "remoteJidAlt": MARIA, "addressingMode": "lid"},
            MARIA,
            "12345678901234@lid",
        ),
        ({"remoteJid": "12345678901234@lid"}, None, "12345678901234@lid"),
        ({"remoteJid": MARIA, "remoteJidAlt": MARIA}, MARIA, None),
        ({"remoteJid": "12345678901234@lid", "senderPn": MARIA}, MARIA, "12345678901234@lid"),
        (
            {"remoteJid": "5511988887777:12@s.whatsapp.net", "senderLid": "12345678901234@lid"},
            MARIA,
            "12345678901234@lid",
        ),
    ],
)
def test_lid_addressing_forms(key, phone, lid):
    event = one(upsert({"conversation": "x"}, "conversation", key={**key, "fromMe": False, "id": "L1"}))
    assert (event.phone_jid, event.lid) == (phone, lid)


def test_message_typed_on_the_phone_is_from_me():
    key = {"remoteJid": MARIA, "fromMe": True, "id": "3A0000"}
    event = one(upsert({"conversation": "sent from my phone"}, "conversation", key=key, pushName="ACME Support"))
    assert event.from_me and not event.sent_via_api and event.push_name is None


def test_send_message_is_a_message_sent_through_the_api():
    data = {
        "key": {"remoteJid": MARIA, "fromMe": True, "id": "3EB0A1B2C3D4E5F60718"},
        "pushName": "Você",
        "status": "PENDING",
        "message": {"conversation": "Seu pedido saiu para entrega"},
        "contextInfo": {"mentionedJid": [], "groupMentions": []},
        "messageType": "conversation",
        "messageTimestamp": 1761039300,
        "instanceId": INSTANCE_ID,
        "source": "web",
    }
    event = one(envelope("send.message", data))
    assert event.sent_via_api and event.from_me and event.status == "PENDING"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1761039067, datetime(2025, 10, 21, 9, 31, 7, tzinfo=UTC)),
        ("1761039067", datetime(2025, 10, 21, 9, 31, 7, tzinfo=UTC)),
        ({"low": 1761039067, "high": 0, "unsigned": False}, datetime(2025, 10, 21, 9, 31, 7, tzinfo=UTC)),
        ({"low": -1827551232, "high": 409, "unsigned": True}, None),  # milliseconds split across high/low
        (None, None),
    ],
)
def test_timestamps_in_every_shape(raw, expected):
    event = one(upsert({"conversation": "x"}, "conversation", messageTimestamp=raw))
    if expected is None and raw is not None:
        assert event.timestamp is not None and event.timestamp.year >= 2025
    else:
        assert event.timestamp == expected


def test_the_same_message_twice_has_the_same_dedup_key():
    first = one(upsert({"conversation": "x"}, "conversation"))
    degraded = one(upsert({}, "conversation"))
    assert first.dedup_key == degraded.dedup_key


def test_messages_set_gives_one_event_per_message():
    items = [
        upsert({"conversation": str(n)}, "conversation", key={"remoteJid": MARIA, "fromMe": False, "id": f"M{n}"})[
            "data"
        ]
        for n in range(3)
    ]
    events = parse_event(envelope("messages.set", items))
    assert [event.message_id for event in events] == ["M0", "M1", "M2"]


# --- statuses, deletes, edits --------------------------------------------------------------------------------


def test_status_update_v2():
    data = {
        "keyId": "3EB0A1B2",
        "remoteJid": MARIA,
        "fromMe": True,
        "participant": MARIA,
        "status": "READ",
        "instanceId": INSTANCE_ID,
        "messageId": "cmh0x1y2z0001abcd",
    }
    event = one(envelope("messages.update", data), kind=MessageStatusUpdate)
    assert (event.message_id, event.status, event.gateway_record_id, event.from_me) == (
        "3EB0A1B2",
        "READ",
        "cmh0x1y2z0001abcd",
        True,
    )
    assert event.dedup_key == "status:3EB0A1B2:READ"


def test_status_update_v1_uses_the_key_id():
    data = {
        "remoteJid": MARIA,
        "fromMe": True,
        "id": "3EB0V1",
        "status": "DELIVERY_ACK",
        "datetime": 1761039300000,
        "owner": "acme",
    }
    event = one(envelope("messages.update", data), "v1", MessageStatusUpdate)
    assert (event.message_id, event.status, event.gateway_record_id) == ("3EB0V1", "DELIVERY_ACK", None)


@pytest.mark.parametrize(
    ("raw", "name"),
    [(0, "ERROR"), (2, "SERVER_ACK"), (3, "DELIVERY_ACK"), ("4", "READ"), (5, "PLAYED"), ("played", "PLAYED")],
)
def test_numeric_and_lower_case_statuses(raw, name):
    event = one(envelope("messages.update", {"keyId": "K", "status": raw}), kind=MessageStatusUpdate)
    assert event.status == name


def test_an_update_without_status_means_deleted():
    event = one(
        envelope("messages.update", {"keyId": "K", "remoteJid": MARIA, "fromMe": True}), kind=MessageStatusUpdate
    )
    assert event.status == "DELETED"


def test_statuses_only_move_forward():
    ranks = [status_rank(s) for s in ("PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED")]
    assert ranks == sorted(ranks)
    assert status_rank("READ") > status_rank("DELIVERY_ACK") > status_rank("ERROR")


def test_remote_revoke_is_a_bare_key():
    data = {"remoteJid": MARIA, "fromMe": False, "id": "3A1", "participant": MARIA}
    event = one(envelope("messages.delete", data), kind=MessageDeleted)
    assert (event.message_id, event.from_me) == ("3A1", False)


def test_own_revoke_carries_the_stored_message():
    data = {
        "id": "cmdbid",
        "instanceId": INSTANCE_ID,
        "key": {"remoteJid": MARIA, "fromMe": True, "id": "3EB0X"},
        "messageType": "conversation",
        "status": "DELETED",
    }
    event = one(envelope("messages.delete", data), kind=MessageDeleted)
    assert event.message_id == "3EB0X"  # the WhatsApp id, not the gateway's database id


def test_revoke_arriving_as_an_upsert_protocol_message():
    protocol = {"key": {"remoteJid": MARIA, "fromMe": False, "id": "3AREVOKED"}, "type": 0}
    event = one(upsert({"protocolMessage": protocol}, "protocolMessage"), kind=MessageDeleted)
    assert event.message_id == "3AREVOKED"


def test_messages_edited():
    protocol = {
        "key": {"remoteJid": MARIA, "fromMe": False, "id": "3AEDIT"},
        "type": "MESSAGE_EDIT",
        "editedMessage": {"conversation": "fixed typo"},
        "timestampMs": "1761039400000",
    }
    event = one(envelope("messages.edited", protocol), kind=MessageEdited)
    assert (event.message_id, event.text) == ("3AEDIT", "fixed typo")
    assert event.timestamp == datetime(2025, 10, 21, 9, 36, 40, tzinfo=UTC)


def test_send_message_update_is_our_own_edit():
    protocol = {
        "key": {"remoteJid": MARIA, "fromMe": True, "id": "3EB0E"},
        "type": 14,
        "editedMessage": {"extendedTextMessage": {"text": "new"}},
    }
    event = one(envelope("send.message.update", protocol), kind=MessageEdited)
    assert (event.text, event.from_me) == ("new", True)


def test_messages_edited_for_a_non_edit_protocol_message_is_unknown():
    event = one(envelope("messages.edited", {"key": {"id": "K"}, "type": "EPHEMERAL_SETTING"}), kind=UnknownEvent)
    assert event.event == "MESSAGES_EDITED"


# --- robustness ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        envelope("contacts.update", [{"id": MARIA, "profilePictureUrl": None, "owner": "acme"}]),
        envelope("presence.update", {"id": MARIA, "presences": {}}),
        envelope("messages.upsert", {"key": "not-a-dict"}),
        envelope("connection.update", None),
        envelope("messages.update", [None, 3]),
        {"no": "event"},
    ],
)
def test_unknown_or_malformed_events_never_raise(payload):
    events = parse_event(payload)
    assert events and all(isinstance(event, UnknownEvent) for event in events)


def test_a_non_dict_payload_is_unknown():
    assert isinstance(parse_event(["x"])[0], UnknownEvent)


def test_our_native_flow_buttons_echoed_in_a_view_once_wrapper_are_the_interactive_message_we_sent():
    """Evolution's echo of sendButtons (its Baileys buttonMessage): the content sits in viewOnceMessage, the
    declared messageType is the wrapper's (Baileys' getContentType) and the buttons are `{name, buttonParamsJson}`."""
    shown = {"viewOnceMessage": {"message": {"interactiveMessage": {
        "body": {"text": "*Confirma?*\n\nPedido 12\n"}, "footer": {"text": "ACME"},
        "nativeFlowMessage": {"buttons": [{"name": "quick_reply",
                                           "buttonParamsJson": '{"display_text":"Sim","id":"yes"}'}],
                              "messageParamsJson": '{"from":"api","templateId":"5c1f"}'}}}}}
    key = {"remoteJid": MARIA, "fromMe": True, "id": "3EB0BUTTONS"}
    for message in (shown, {"messageContextInfo": {"deviceListMetadataVersion": 2}, **shown}):
        event = one(upsert(message, "viewOnceMessage", key=key))
        assert (event.from_me, event.kind, event.message_type, event.text, event.interactive_reply) == (
            True, "interactive", "interactiveMessage", "*Confirma?*\n\nPedido 12\n", None)
