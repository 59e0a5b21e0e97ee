"""Received media copied into our storage, so it outlives the gateway's short-lived URLs."""

from __future__ import annotations

import logging
import mimetypes
import uuid
from urllib.parse import urlsplit

import httpx
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from messaging import events
from messaging.models import Message
from tenants.models import Company

logger = logging.getLogger(__name__)
DOWNLOAD_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
MAX_BYTES = 64 * 1024 * 1024
# WhatsApp's own CDN serves media encrypted with a key only the phone session holds: nothing to copy.
ENCRYPTED_HOSTS = {"mmg.whatsapp.net", "media.whatsapp.net"}


def _fetch(url: str) -> tuple[bytes, str]:
    with httpx.Client(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True) as client, client.stream("GET", url) as answer:
        answer.raise_for_status()
        chunks, size = [], 0
        for chunk in answer.iter_bytes():
            size += len(chunk)
            if size > MAX_BYTES:
                raise ValueError("larger than 64 MB")
            chunks.append(chunk)
        return b"".join(chunks), answer.headers.get("content-type", "").split(";")[0].strip()


def message_download_media(*, company: Company, message: Message) -> bool:
    """Copy the message's media into default storage; on failure keep the URL and say why in `media_note`."""
    if message.media_file or not message.media_url:
        return False
    if urlsplit(message.media_url).hostname in ENCRYPTED_HOSTS or message.media_url.split("?")[0].endswith(".enc"):
        note = _("The gateway sent only WhatsApp's encrypted link; turn on base64 or S3 media on the gateway to "
                 "keep received files.")
        Message.objects.filter(company=company, pk=message.pk).update(media_note=note[:300])
        return False
    try:
        data, content_type = _fetch(message.media_url)
    except (httpx.HTTPError, ValueError) as error:
        logger.info("media of message %s not downloaded: %s", message.pk, error)
        note = _("The file could not be copied from the gateway (%(error)s); the link may expire.") % {
            "error": str(error)[:150]}
        Message.objects.filter(company=company, pk=message.pk).update(media_note=note[:300])
        return False
    mimetype = message.media_mimetype or content_type
    extension = mimetypes.guess_extension(mimetype or "") or ""
    name = message.media_filename or f"{uuid.uuid4().hex}{extension}"
    with transaction.atomic():
        message.media_file.save(name, ContentFile(data), save=False)
        Message.objects.filter(company=company, pk=message.pk).update(
            media_file=message.media_file.name, media_note="", media_mimetype=mimetype[:120])
        events.message_changed(company=company, message=message)
    return True
