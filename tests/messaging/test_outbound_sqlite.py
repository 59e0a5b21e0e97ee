"""The outbound drain on SQLite, the development default (`make run`): its claim has a SQLite path (no
`SKIP LOCKED`, no UPDATE … RETURNING), and the chat's order, the hand-back and the next due moment are plain
ORM. A subprocess on a fresh SQLite file sends to the real simulator; Redis is the test worker's."""

from __future__ import annotations

import json
import uuid

from django.conf import settings

from tests.test_settings import run_django

_SEND = """
import json, sys, django
django.setup()
from datetime import timedelta
import httpx
from django.core.management import call_command
from django.utils import timezone
call_command("migrate", verbosity=0)
from instances.models import GatewayServer, Instance
from messaging import outbound, services
from messaging.models import Message
from tenants.models import Company
from tenants.scoping import company_scope

simulator, key, run = sys.argv[1], sys.argv[2], sys.argv[3]
control = httpx.Client(base_url=simulator, headers={"apikey": key}, timeout=10)
server = GatewayServer.objects.create(name="gw", base_url=simulator, api_key=key, hook_secret="s",
                                      hook_secret_hash=f"sqlite-{run}")
made = {}
for slug in ("alpha", "beta"):
    name = f"{slug}_{run}"
    control.post("/instance/create", json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"}).raise_for_status()
    control.get(f"/instance/connect/{name}").raise_for_status()
    control.post(f"/_sim/instances/{name}/scan", json={"number": "5511900000001"}).raise_for_status()
    company = Company.objects.create(name=slug, slug=slug)
    with company_scope(company):
        instance = Instance.objects.create(company=company, server=server, name="sales", gateway_name=name, token=key,
                                           webhook_secret_hash=f"{slug}-{run}")
        chats = []
        for number in ("5511955550001", "5511955550002"):
            contact = services.contact_for_recipient(company=company, instance=instance, recipient=number)
            chats.append(services.conversation_start(company=company, instance=instance, contact=contact)[0])
        texts = [(chats[0], "primeiro"), (chats[0], "segundo"), (chats[1], "outro")]
        messages = [services.message_send(company=company, conversation=chat, sender_type="api",
                                          outgoing=services.Outgoing(kind="text", text=f"{slug} {text}"))[0]
                    for chat, text in texts]
    made[slug] = (company, instance, messages)

def statuses(slug):
    company, _instance, messages = made[slug]
    with company_scope(company):
        return [Message.objects.get(pk=message.pk).status for message in messages]

def sent(slug):
    name = made[slug][1].gateway_name
    return [entry["message"].get("conversation") for entry in control.get(f"/_sim/instances/{name}/sent").json()]

company, instance, messages = made["alpha"]
control.post(f"/_sim/instances/{instance.gateway_name}/fail", json={"count": 1, "mode": "server_error"})
with company_scope(company):
    first = outbound.outbound_drain(company=company, instance_id=instance.pk, slot=0)
    after_first = statuses("alpha")
    Message.objects.filter(pk=messages[0].pk).update(retry_at=timezone.now() - timedelta(seconds=1))
    second = outbound.outbound_drain(company=company, instance_id=instance.pk, slot=0)
print(json.dumps({"first": [first.handled, first.next_due is not None], "after_first": after_first,
                  "second": second.handled, "alpha": statuses("alpha"), "alpha_sent": sent("alpha"),
                  "beta": statuses("beta"), "beta_sent": sent("beta")}))
"""


def test_the_drain_sends_in_order_on_sqlite_and_only_its_company_s_messages(tmp_path, simulator):
    result = run_django(["-c", _SEND, simulator.base_url, simulator.api_key, uuid.uuid4().hex[:8]],
                        DJANGO_ENV="development", RECADO_VAR_DIR=str(tmp_path), REDIS_URL=settings.REDIS_URL,
                        CACHE_KEY_PREFIX=f"sqlite-test-{tmp_path.name}", OUTBOUND_DRAIN_SLOTS="1",
                        # One gateway call at a time: the simulator fails the next call it receives, which must
                        # be the first message's.
                        OUTBOUND_SEND_CONCURRENCY="1", MESSAGING_SEND_RATE_PER_MINUTE="6000")
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # The first send failed for now: its chat's second message waited behind it, the other chat's went.
    assert outcome["first"] == [3, True] and outcome["after_first"] == ["queued", "queued", "sent"]
    assert outcome["second"] == 2 and outcome["alpha"] == ["sent"] * 3
    assert outcome["alpha_sent"] == ["alpha outro", "alpha primeiro", "alpha segundo"]
    assert outcome["beta"] == ["queued"] * 3 and outcome["beta_sent"] == []  # beta's are beta's drain's
