"""Stored files no message references: a send rolled back after its file was written leaves one; the nightly
sweep (messaging/media.py) deletes it once it is past the grace period, and never a file some message, of any
company, still references."""

from __future__ import annotations

import base64
import contextlib
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from messaging import media, services
from messaging.models import Message
from messaging.services import Outgoing
from messaging.tasks import sweep_orphan_media
from tenants.scoping import company_scope
from tests.factories import make_instance
from tests.messaging.test_api import PNG
from tests.messaging.test_pages import make_conversation

pytestmark = pytest.mark.django_db


class RolledBack(Exception):
    """Raised inside the send's transaction to roll it back after the file was written."""


def _store_image(company, conversation, filename: str, *, roll_back: bool) -> None:
    outgoing = Outgoing(kind="image", media_base64=base64.b64encode(PNG).decode(), filename=filename)
    with company_scope(company), contextlib.suppress(RolledBack), transaction.atomic():
        message = services.message_build(company=company, conversation=conversation, outgoing=outgoing,
                                         sender_type=Message.SenderType.API)
        services.messages_store(company=company, messages=[message])
        if roll_back:  # as a bulk retried after a deadlock, or a request that failed after the INSERT
            raise RolledBack


def _files(settings) -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def test_a_rolled_back_send_s_file_is_swept_after_the_grace_period_and_referenced_files_stay(
        company_a, company_b, settings):
    conversation_a = make_conversation(company_a, make_instance(company=company_a), "5511955554444", "Ana")
    conversation_b = make_conversation(company_b, make_instance(company=company_b), "5511955554444", "Ana")
    _store_image(company_a, conversation_a, "kept-a.png", roll_back=False)
    _store_image(company_b, conversation_b, "kept-b.png", roll_back=False)
    _store_image(company_a, conversation_a, "lost.png", roll_back=True)
    with company_scope(company_a):
        kept_a = Message.objects.get().media_file.name
    with company_scope(company_b):
        kept_b = Message.objects.get().media_file.name
    files = _files(settings)
    [orphan] = files - {kept_a, kept_b}  # the rolled-back row is gone, its file is not
    assert orphan.endswith(".png") and "lost" in orphan and len(files) == 3

    # Younger than the grace period: its transaction might still be open somewhere; left alone.
    assert media.orphan_media_sweep() == [] and _files(settings) == files
    later = timezone.now() + media.ORPHAN_MEDIA_GRACE + timedelta(minutes=5)
    assert media.orphan_media_sweep(now=later) == [orphan]
    # Both companies' referenced files stay, and still read back.
    assert _files(settings) == {kept_a, kept_b}
    with company_scope(company_b):
        assert Message.objects.get().media_file.read() == PNG
    assert media.orphan_media_sweep(now=later) == []


def test_the_daily_task_sweeps_this_month_s_and_last_month_s_folders(settings):
    assert media.orphan_media_folders(timezone.make_aware(datetime(2026, 1, 15, 12))) == [
        "messages/2025/12/", "messages/2026/01/"]
    root = Path(settings.MEDIA_ROOT)
    old = timezone.now() - media.ORPHAN_MEDIA_GRACE - timedelta(hours=1)
    names = [f"{folder}stray.bin" for folder in media.orphan_media_folders(timezone.now())]
    for name in [*names, "messages/2001/01/ancient.bin"]:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        os.utime(path, (old.timestamp(), old.timestamp()))
    assert sweep_orphan_media.apply().get() == 2
    # Folders older than last month are not listed every night (a file is orphaned as it is written).
    assert _files(settings) == {"messages/2001/01/ancient.bin"}
