"""Running the outbound drain from a test, as its task runs it (the test's broker is not consumed)."""

from __future__ import annotations

from messaging import outbound
from messaging.models import Message
from tenants.scoping import company_scope


def drain(company, message: Message) -> outbound.DrainRun:
    """The drain of the message's chat, run here."""
    with company_scope(company):
        return outbound.outbound_drain(company=company, instance_id=message.instance_id,
                                       slot=outbound.outbound_slot(message.conversation_id))


def send_now(company, message: Message) -> str:
    """Run the message's drain; the message's status after it, or "skipped" when the drain had nothing to do."""
    if not drain(company, message).handled:
        return "skipped"
    with company_scope(company):
        return Message.objects.get(pk=message.pk).status
