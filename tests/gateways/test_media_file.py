"""`Gateway.media_file`: a received message's media, downloaded and decrypted by the gateway
(Evolution's POST /chat/getBase64FromMediaMessage), which is the only way to the file when the gateway has no S3
and no webhook base64 (its default) and the webhook carries only WhatsApp's encrypted link."""

from __future__ import annotations

import base64

import pytest

from instances.gateways import GatewayError, GatewayProtocolError
from instances.gateways.evolution_v2 import parse_media_file
from simulator.messages import SAMPLE_PNG

CUSTOMER = "5511988887777"


def test_a_received_picture_with_only_an_encrypted_link_is_given_by_the_gateway(gateway, gateway_target,
                                                                               open_instance):
    sim = gateway_target.sim
    sim.inbound(open_instance, **{"from": CUSTOMER, "kind": "image", "caption": "foto", "cdn_only": True,
                                  "id": "3AMEDIAFILE0001"})
    [event] = [e for e in sim.events(open_instance) if e["config_name"] == "MESSAGES_UPSERT"]
    image = event["body"]["data"]["message"]
    assert image["imageMessage"]["url"].startswith("https://mmg.whatsapp.net/") and "mediaUrl" not in image
    media = gateway.media_file(open_instance, "3AMEDIAFILE0001")
    assert media.data == base64.b64decode(SAMPLE_PNG.split(",", 1)[1]) and media.mimetype == "image/jpeg"


def test_a_document_sent_as_base64_comes_back_with_its_name(gateway, gateway_target, open_instance):
    from instances.gateways import Media

    document = Media(media=base64.b64encode(b"%PDF-1.4 x").decode(), mediatype="document", file_name="nota.pdf")
    sent = gateway.send_media(open_instance, CUSTOMER, document)
    media = gateway.media_file(open_instance, sent.message_id)
    assert (media.data, media.file_name) == (b"%PDF-1.4 x", "nota.pdf")


def test_a_text_message_has_no_media_and_the_gateway_says_so(gateway, gateway_target, open_instance):
    gateway_target.sim.inbound(open_instance, **{"from": CUSTOMER, "text": "oi", "id": "3ATEXTONLY00001"})
    with pytest.raises(GatewayError) as caught:
        gateway.media_file(open_instance, "3ATEXTONLY00001")
    assert not caught.value.transient and "not of the media type" in caught.value.message


def test_a_message_the_gateway_does_not_keep_is_refused_with_its_words(gateway, instance_name):
    """Runs against a real server too: an instance with no messages has none to give."""
    gateway.create_instance(instance_name)
    with pytest.raises(GatewayError) as caught:
        gateway.media_file(instance_name, "3ANEVERSTORED0001")
    assert not caught.value.transient and "Message not found" in caught.value.message


def test_an_answer_without_the_file_is_a_protocol_error():
    with pytest.raises(GatewayProtocolError):
        parse_media_file({"mediaType": "imageMessage", "base64": None})
    with pytest.raises(GatewayProtocolError):
        parse_media_file({"mediaType": "imageMessage", "base64": "***not base64***"})
    media = parse_media_file({"mediaType": "documentMessage", "fileName": "a.pdf", "mimetype": "application/pdf",
                              "base64": base64.b64encode(b"%PDF").decode(), "buffer": None})
    assert (media.data, media.mimetype, media.file_name) == (b"%PDF", "application/pdf", "a.pdf")


def test_a_file_larger_than_asked_is_refused_unread(gateway, gateway_target, open_instance):
    """WhatsApp documents reach 2 GB: the answer is not read past the bound."""
    document = bytes(range(256)) * 800  # 200 KB
    gateway_target.sim.inbound(open_instance, **{"from": CUSTOMER, "kind": "document", "cdn_only": True,
                                                 "file_name": "big.bin", "id": "3ATOOLARGE00001",
                                                 "base64": base64.b64encode(document).decode()})
    with pytest.raises(GatewayProtocolError) as caught:
        gateway.media_file(open_instance, "3ATOOLARGE00001", max_bytes=100_000)
    assert "larger than" in caught.value.message and not caught.value.transient
    assert gateway.media_file(open_instance, "3ATOOLARGE00001").data == document
