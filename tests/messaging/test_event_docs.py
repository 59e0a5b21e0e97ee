"""docs/webhooks.md's catalogue shows each message and conversation event's `data` with the keys the events really
carry and values the API really uses: integrators write their parsers from it."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from django.conf import settings

from integrations.payloads import conversation_data, message_data
from messaging.models import Conversation, Message
from tenants.scoping import company_scope

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(40)


def documented(heading: str) -> dict:
    """The JSON example under `### <heading>` in docs/webhooks.md."""
    text = (Path(settings.BASE_DIR) / "docs" / "webhooks.md").read_text()
    section = text.split(f"### {heading}\n", 1)[1]
    return json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))


def paths(value, prefix: str = "") -> set[str]:
    """Every key path of a JSON object (`message.media.url`), the shape an integrator's parser relies on."""
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, item in value.items():
        found |= {f"{prefix}{key}"} | paths(item, f"{prefix}{key}.")
    return found


def test_the_documented_message_and_conversation_events_are_what_is_sent(api_a, instance_a, company_a, hooks):
    target = {"instance_id": str(instance_a.public_id), "number": "5511955554444"}
    with hooks.capture():
        text = api_a.post("/api/v1/messages", {**target, "text": "Oi, tudo bem?"}, format="json").json()
        image = api_a.post("/api/v1/messages", {**target, "kind": "image", "text": "Catálogo", "filename": "c.png",
                                                "media_base64": base64.b64encode(PNG).decode()}, format="json").json()
    with company_scope(company_a):
        text_data = message_data(Message.objects.get(public_id=text["id"]))
        image_data = message_data(Message.objects.get(public_id=image["id"]))
        conversation = conversation_data(Conversation.objects.get())
    assert paths(documented("message.received")) == paths(text_data)
    sent = documented("message.sent")
    assert paths(sent) == paths(image_data)
    assert sent["message"]["text"] == "Catálogo"  # a caption is the message's text
    opened = documented("conversation.opened / conversation.assigned / conversation.closed")
    assert paths(opened) - {"conversation.assignee.id", "conversation.assignee.name"} == paths(conversation)
    assert opened["conversation"]["priority"] in Conversation.Priority.values
    updated = documented("conversation.updated")
    assert paths(updated) - {"conversation.assignee.id", "conversation.assignee.name", "changed"} == paths(conversation)
    assert set(updated["changed"]) <= {"status", "priority"}


def test_the_instance_state_reasons_are_documented():
    """instance.state's `reason` is a key an integrator branches on (`qr_expired`: show a new QR; `logged_out`:
    scan again); the catalogue showed only `""`, and the reason the example really gets is `gateway_state`."""
    from instances.reasons import LABELS

    text = (Path(settings.BASE_DIR) / "docs" / "webhooks.md").read_text()
    section = text.split("### instance.state\n", 1)[1].split("\n### ", 1)[0]
    assert documented("instance.state")["reason"] in LABELS
    assert [key for key in LABELS if f"`{key}`" not in section] == []
