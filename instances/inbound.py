"""The inbound drain: stored gateway bodies applied by a few long-running tasks per company, not one task each.

Each company has INBOUND_DRAIN_SLOTS drain slots, and each stored event belongs to one of them: its chat (the
payload's remoteJid) hashed over the slots (`services.inbound_partition_sql`, computed by PostgreSQL as the
hook stores it). One chat's events are therefore applied by one drain, in arrival order, and two drains never
wait on each other's conversation locks.

The hook stores a body and calls `inbound_wake(company_id, partition)` after its commit. A wake takes that
slot (a Redis key with a TTL, set with NX) and enqueues one `drain_inbound_events` task for it; when the slot
is held, its drain is already running and will find the event, so the hook sends no broker message at all. A
drain applies its partition's oldest pending events that no other drain holds (`inbound_events_claim_batch`:
one `SKIP LOCKED` claim of up to INBOUND_DRAIN_BATCH events and one transaction for them, their pushes merged
into one frame per open page), until none is left or INBOUND_DRAIN_SECONDS have passed; then it chains itself,
so other tasks on the queue are not starved. A drain that keeps up finds one event at a time, so each event's
pushes go out as soon as it is applied; batches grow only while events wait, and make each of them cheaper.
When an event of a batch raises, the batch is rolled back and its events are applied one per transaction
(`inbound_event_claim_next`), so only the failing one is counted as an attempt.

A drain that finds nothing lingers up to INBOUND_DRAIN_LINGER_MS before it stops: a hook that finds its slot
held leaves a wake-up in the slot's Redis list (in the same script as the slot's SET NX, one round trip), and
the drain's BLPOP returns at once. At a steady trickle (a chat every few hundred milliseconds) one task keeps
applying, each event a few milliseconds after its hook, instead of a broker message and a task per event. It
holds its worker child meanwhile, so the linger is short (200 ms by default; 0 turns it off). Without
partitions (SQLite, development) hooks leave no wake-up, so a drain does not linger there.

No wake-up is lost: a drain that finds nothing deletes its slot key and looks once more before it stops. An
event committed before that last look is found by it; one committed after it finds the key gone, and its hook
starts a new drain. A drain that dies holds its slot only until the key's TTL; the beat's
`instances.sweep_pending_inbound` wakes every slot of every company with an event pending for longer than
INBOUND_SWEEP_AFTER_SECONDS, so nothing waits forever for a task that was lost (a broker restart, a killed
worker, a hook and a worker that disagreed on INBOUND_DRAIN_SLOTS during a deploy).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from instances import services
from instances.models import Instance
from tenants.drains import DrainSlots
from tenants.models import Company

logger = logging.getLogger(__name__)

SLOTS = DrainSlots("inbound-drain")


def _slot_prefix(company_id: int) -> str:
    return SLOTS.prefix(company_id)


def inbound_wake(company_id: int, partition: int | None = None) -> int | None:
    """Make sure a drain will see the company's newly committed event; the slot a new drain got, or None.

    `partition` (the event's, from the store): that slot's drain, the one that applies its chat. None (a
    database without partitions): the first free slot."""
    from instances.tasks import drain_inbound_events

    if partition is None:
        slot = SLOTS.take_first_free(company_id, settings.INBOUND_DRAIN_SLOTS)
    else:
        slot = partition % settings.INBOUND_DRAIN_SLOTS
        slot = slot if SLOTS.take_or_wake(company_id, slot) else None
    if slot is None:
        return None  # that slot's drain is running (or queued, or lingering: woken) and looks again before it stops
    drain_inbound_events.apply_async(args=[company_id, slot])
    return slot


def inbound_wake_all(company_id: int) -> list[int]:
    """Wake a drain on every free slot of the company (the sweep: which partition waits is not known)."""
    return [slot for slot in range(settings.INBOUND_DRAIN_SLOTS) if inbound_wake(company_id, slot) is not None]


def _lingered(company_id: int, slot: int, deadline: float) -> bool:
    """Wait up to INBOUND_DRAIN_LINGER_MS (never past the run's deadline) for a wake-up left by a hook that
    found this slot held; whether one came. Without partitions (SQLite) hooks leave none: no wait."""
    if services.inbound_partition_sql() is None:
        return False
    return SLOTS.linger(company_id, slot, min(settings.INBOUND_DRAIN_LINGER_MS / 1000, deadline - time.monotonic()))


def inbound_drain(*, company: Company, slot: int, seconds: float | None = None) -> tuple[int, bool]:
    """Apply the company's pending events, oldest first; (events handled, more left when time ran out)."""
    deadline = time.monotonic() + (settings.INBOUND_DRAIN_SECONDS if seconds is None else seconds)
    failed: set[int] = set()  # raised in this run: left for the sweep's next run, not retried in a loop
    # Instances (with their server) loaded once per run: an instance's own settings changed meanwhile (its bot's
    # starting platform) apply from the next run, seconds later; lifecycle events refresh it as they apply.
    instances: dict[int, Instance] = {}
    handled = 0
    one_by_one = 0  # after a batch was rolled back: its events are applied one per transaction
    while True:
        if time.monotonic() >= deadline:
            SLOTS.hold(company.pk, slot)
            return handled, True
        if one_by_one:
            one_by_one -= 1
            try:
                claimed = services.inbound_event_claim_next(company=company, exclude=failed, instances=instances,
                                                            partition=slot)
            except services.InboundEventFailed as exc:
                failed.add(exc.event_id)
                handled += 1
                continue
            if claimed is not None:
                handled += 1
                continue
        else:
            try:
                applied = services.inbound_events_claim_batch(company=company, limit=settings.INBOUND_DRAIN_BATCH,
                                                              exclude=failed, instances=instances, partition=slot)
            except services.InboundBatchFailed as exc:
                one_by_one = exc.size
                continue
            if applied:
                handled += applied
                continue
        # Nothing left: linger for a hook's wake-up (the next event needs no task of its own), then give the slot
        # back and look once more (an event whose hook saw the slot held).
        if _lingered(company.pk, slot, deadline):
            continue
        SLOTS.release(company.pk, slot)
        if (not services.pending_inbound_exists(company=company, exclude=failed, partition=slot)
                or not SLOTS.retake(company.pk, slot)):
            return handled, False
