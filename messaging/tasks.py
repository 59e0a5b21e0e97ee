"""Celery tasks of messaging: thin wrappers that load ids and call one service (STYLE rules 24-29)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from messaging import auto_replies, media, outbound
from messaging.models import AutoReply, Message
from tenants.models import Company
from tenants.scoping import first_row
from tenants.tasks import company_task


@company_task(name="messaging.drain_outbound", queue="messaging", soft_time_limit=60, time_limit=90)
def drain_outbound(company: Company, instance_id: int, slot: int, take_slot: bool = False) -> int:
    """Send the queued messages of one instance's chat slot (messaging/outbound.py); chains itself while more
    are left or the throttle says wait, and comes back when a message waits for a later moment.

    `take_slot`: a run scheduled for such a moment, which has to take the slot first (its drain may be running)."""
    if take_slot and not outbound.SLOTS.take_or_wake(outbound.outbound_scope(company.pk, instance_id), slot):
        return 0
    run = outbound.outbound_drain(company=company, instance_id=instance_id, slot=slot)
    if run.again_in is not None:
        drain_outbound.apply_async(args=[company.pk, instance_id, slot], countdown=run.again_in or None)
    elif run.next_due is not None:
        countdown = max(0.0, (run.next_due - timezone.now()).total_seconds())
        drain_outbound.apply_async(args=[company.pk, instance_id, slot, True], countdown=countdown)
    return run.handled


@company_task(name="messaging.send_message", queue="messaging", soft_time_limit=60, time_limit=90)
def send_message(company: Company, message_id: int) -> bool:
    """One message's send, as an older release enqueued it: wakes the drain of its chat, which sends it."""
    row = first_row(Message.objects.filter(company=company, pk=message_id).values_list("instance_id",
                                                                                         "conversation_id"))
    return row is not None and outbound.outbound_wake(company.pk, row[0], outbound.outbound_slot(row[1]))


@shared_task(name="messaging.sweep_outbox", soft_time_limit=20, time_limit=30)
def sweep_outbox() -> int:
    """Beat: wake the drain of every message left sendable for longer than OUTBOUND_SWEEP_AFTER_SECONDS."""
    return outbound.sweep_outbox()


# A download the gateway could not serve right now (unreachable, or its session down) is tried again after
# these many seconds, then given up with a note on the message (its link stays).
DOWNLOAD_RETRY_COUNTDOWNS = (30, 120, 600, 1800)


@company_task(name="messaging.download_media", soft_time_limit=60, time_limit=90)
def download_media(company: Company, message_id: int, attempt: int = 0) -> bool:
    message = Message.objects.filter(company=company, pk=message_id).select_related("instance__server").first()
    if message is None:
        return False
    try:
        return media.message_download_media(company=company, message=message)
    except media.MediaRetryLater as later:
        if attempt < len(DOWNLOAD_RETRY_COUNTDOWNS):
            download_media.apply_async(args=[company.pk, message_id, attempt + 1],
                                       countdown=DOWNLOAD_RETRY_COUNTDOWNS[attempt])
        else:
            media.note_retries_exhausted(company=company, message=message, reason=str(later))
        return False


@shared_task(name="messaging.sweep_orphan_media", soft_time_limit=300, time_limit=330)
def sweep_orphan_media() -> int:
    """Beat (daily): delete stored files that no message references (a rolled-back send's, say)."""
    return len(media.orphan_media_sweep())


@company_task(name="messaging.close_inactive_for_company", soft_time_limit=240, time_limit=270)
def close_inactive_for_company(company: Company) -> int:
    return auto_replies.close_inactive(company=company)


@shared_task(name="messaging.close_inactive_conversations", soft_time_limit=20, time_limit=30)
def close_inactive_conversations() -> int:
    """Beat (every ten minutes): one close_inactive_for_company per company that closes inactive conversations."""
    # all_companies: the beat's scan reads only the ids of companies with auto_close_hours set; each close runs in
    # its company's scope.
    companies = set(AutoReply.all_companies.filter(auto_close_hours__isnull=False)
                    .values_list("company_id", flat=True))
    for company_id in sorted(companies):
        close_inactive_for_company.delay(company_id)
    return len(companies)
