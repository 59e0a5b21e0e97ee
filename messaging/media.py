"""Received media copied into our storage, so it outlives the gateway's short-lived URLs; and what a file we send
is, told by its first bytes rather than by its name or the type its sender declared."""

from __future__ import annotations

import logging
import mimetypes
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from instances.gateways import GatewayError, MediaFile
from messaging import events
from messaging.models import MEDIA_NOT_COPIED, Message
from tenants.models import Company
from tenants.stored_text import english

logger = logging.getLogger(__name__)
DOWNLOAD_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
MAX_BYTES = 64 * 1024 * 1024
# WhatsApp's own CDN serves media encrypted with a key only the phone session holds: nothing to copy.
ENCRYPTED_HOSTS = {"mmg.whatsapp.net", "media.whatsapp.net"}

SNIFF_BYTES = 64  # enough for every signature below
PICTURE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}  # what WhatsApp shows as a picture
# Containers that hold sound alone as well as pictures: the type the file was given says which it is.
AUDIO_OR_VIDEO = {"video/mp4", "video/3gpp", "video/webm", "audio/ogg"}
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"), (b"OggS", "audio/ogg"), (b"ID3", "audio/mpeg"), (b"fLaC", "audio/flac"),
    (b"#!AMR", "audio/amr"), (b"\x1a\x45\xdf\xa3", "video/webm"), (b"FLV\x01", "video/x-flv"),
    (b"\x00\x00\x01\xba", "video/mpeg"), (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "video/x-ms-asf"),
)
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_FTYP_BRANDS = {b"M4A ": "audio/mp4", b"M4B ": "audio/mp4", b"M4P ": "audio/mp4", b"F4A ": "audio/mp4",
                b"qt  ": "video/quicktime", b"heic": "image/heic", b"heix": "image/heic", b"mif1": "image/heic",
                b"msf1": "image/heic", b"avif": "image/avif", b"avis": "image/avif"}


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


class MediaRetryLater(Exception):
    """The file could not be had now for a reason that may pass (the gateway unreachable, or its WhatsApp
    session down): the download is worth another try."""


def message_download_media(*, company: Company, message: Message) -> bool:
    """Copy the message's media into default storage; on failure keep the URL and say why in `media_note`.

    A plain link (the gateway's S3, a URL we were given) is fetched. WhatsApp's own links hold the file
    encrypted with a key only the phone session has, so for those (and for a plain link that no longer
    answers) the gateway is asked to download and decrypt it (`Gateway.media_file`, Evolution's
    getBase64FromMediaMessage). Raises MediaRetryLater when the gateway could not be asked right now."""
    if message.media_file or not message.media_url:
        return False
    error: str | None = None
    if not _encrypted(message.media_url):
        try:
            data, content_type = _fetch(message.media_url)
        except (httpx.HTTPError, ValueError) as fetch_error:
            logger.info("media of message %s not fetched: %s", message.pk, fetch_error)
            error = str(fetch_error)
        else:
            return _keep(company, message, data, message.media_mimetype or content_type, None)
    if message.gateway_message_id:
        try:
            media = _from_gateway(message)
        except GatewayError as gateway_error:
            if gateway_error.transient:
                raise MediaRetryLater(gateway_error.message) from gateway_error
            logger.info("media of message %s not given by the gateway: %s", message.pk, gateway_error)
            error = gateway_error.message
        else:
            return _keep(company, message, media.data, message.media_mimetype or media.mimetype or "",
                         media.file_name)
    _note_failure(company, message, error or gettext_noop("the gateway keeps no copy of this message"))
    return False


def note_retries_exhausted(*, company: Company, message: Message, reason: str) -> None:
    """The last try failed for a passing reason too: say so on the message (its link stays)."""
    _note_failure(company, message, reason)


def _encrypted(url: str) -> bool:
    return urlsplit(url).hostname in ENCRYPTED_HOSTS or url.split("?")[0].endswith(".enc")


def _from_gateway(message: Message) -> MediaFile:
    from instances import services as instance_services

    instance = message.instance
    with instance_services.gateway(instance.server) as gateway:
        return gateway.media_file(instance.gateway_name, message.gateway_message_id)


def _note_failure(company: Company, message: Message, error: str) -> None:
    note = english(MEDIA_NOT_COPIED, error=error[:150])
    Message.objects.filter(company=company, pk=message.pk).update(media_note=note[:300])
    message.media_note = note[:300]
    events.message_changed(company=company, message=message)


def _keep(company: Company, message: Message, data: bytes, mimetype: str, file_name: str | None) -> bool:
    extension = mimetypes.guess_extension(mimetype or "") or ""
    name = message.media_filename or file_name or f"{uuid.uuid4().hex}{extension}"
    with transaction.atomic():
        message.media_file.save(name, ContentFile(data), save=False)
        Message.objects.filter(company=company, pk=message.pk).update(
            media_file=message.media_file.name, media_note="", media_mimetype=mimetype[:120])
        message.media_note, message.media_mimetype = "", mimetype[:120]
        events.message_changed(company=company, message=message)
    return True


def file_response(message: Message) -> FileResponse:
    """A message's stored file as the inbox and the API serve it: its name and type, documents as attachments,
    cacheable by the browser alone (the caller checked that the file exists and who may read it)."""
    response = FileResponse(message.media_file.open("rb"), filename=message.media_filename or None,
                            as_attachment=message.kind == Message.Kind.DOCUMENT)
    if message.media_mimetype:
        response["Content-Type"] = message.media_mimetype
    response["Cache-Control"] = "private, max-age=86400"
    return response


# --- files no message references --------------------------------------------------------------------

# A file is written as its message's row is inserted (or, for received media, just before the row is
# updated), in the same transaction: when that transaction rolls back (a bulk retried after a deadlock, a
# worker killed), the file stays with no row pointing to it. A sweep finds those files. It leaves alone
# anything younger than ORPHAN_MEDIA_GRACE, whose transaction may still be open.
ORPHAN_MEDIA_GRACE = timedelta(hours=6)
ORPHAN_MEDIA_BATCH = 500
MEDIA_FOLDER = "messages/{:%Y/%m}/"  # Message.media_file's upload_to


def orphan_media_folders(now: datetime) -> list[str]:
    """The folders a rollback can have left a file in lately: this month's and last month's (a daily sweep
    covers every month; upload_to puts each file in the folder of the month it was written)."""
    now = timezone.localtime(now)
    first = now.replace(day=1)
    return [MEDIA_FOLDER.format(first - timedelta(days=1)), MEDIA_FOLDER.format(now)]


def orphan_media_sweep(*, now: datetime | None = None) -> list[str]:
    """Delete the files of recent folders that no message references and that are older than the grace
    period; returns their names. Storage names are not per company, so this reads across companies, and
    only which names are referenced (STYLE rule 12)."""
    now = now or timezone.now()
    deleted: list[str] = []
    # upload_to names the folder by the process's local time (TIME_ZONE), so do the folders here.
    for folder in orphan_media_folders(now):
        try:
            _dirs, files = default_storage.listdir(folder)
        except FileNotFoundError:
            continue
        old = [folder + name for name in sorted(files)
               if default_storage.get_modified_time(folder + name) < now - ORPHAN_MEDIA_GRACE]
        for start in range(0, len(old), ORPHAN_MEDIA_BATCH):
            batch = old[start:start + ORPHAN_MEDIA_BATCH]
            # all_companies: which of these names any message references (index message_media_file).
            referenced = set(Message.all_companies.filter(media_file__in=batch).exclude(media_file="")
                             .values_list("media_file", flat=True))
            for name in batch:
                if name not in referenced:
                    default_storage.delete(name)
                    deleted.append(name)
    if deleted:
        logger.info("deleted %d stored files no message references", len(deleted))
    return deleted


# --- what a file is ---------------------------------------------------------------------------------


def sniff_mimetype(head: bytes) -> str | None:
    """The type a file's first bytes (SNIFF_BYTES of them) show, or None when they match no signature we know.

    Pictures, the common video and audio containers and PDF: enough to tell whether a file is what it claims."""
    for signature, mimetype in _SIGNATURES:
        if head.startswith(signature):
            return mimetype
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head[4:8] == b"ftyp":  # ISO base media: MP4, M4A, MOV, 3GP, HEIF
        brand = head[8:12]
        return _FTYP_BRANDS.get(brand) or ("video/3gpp" if brand[:3] in (b"3gp", b"3g2") else "video/mp4")
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame: MP3, or AAC (ADTS)
        return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"
    return None


def media_kind(mimetype: str) -> str:
    """The message kind WhatsApp uses for a file of this type; pictures it cannot show go as documents."""
    if mimetype == "image/webp":
        return Message.Kind.STICKER
    if mimetype in PICTURE_TYPES:
        return Message.Kind.IMAGE
    major = (mimetype or "").split("/", 1)[0]
    return {"video": Message.Kind.VIDEO, "audio": Message.Kind.AUDIO}.get(major, Message.Kind.DOCUMENT)


def upload_type(head: bytes, declared: str) -> tuple[str, str] | None:
    """The kind and type to send a file as, decided by its content (`head`); `declared` (its name's or its
    sender's type) only settles a container that holds audio or video, and names the type of a document.
    None: it claims to be a picture, a video or an audio and its content is none of those (damaged, or
    mislabelled)."""
    found = sniff_mimetype(head)
    claimed = media_kind(declared)
    if found is None:
        return None if claimed != Message.Kind.DOCUMENT else (claimed, declared or "application/octet-stream")
    if found in AUDIO_OR_VIDEO and claimed in (Message.Kind.AUDIO, Message.Kind.VIDEO):
        return claimed, declared
    kind = media_kind(found)
    if kind == Message.Kind.DOCUMENT and claimed == Message.Kind.DOCUMENT and declared:
        return kind, declared  # an office file is a ZIP inside: the type it was given says more
    return kind, found


def content_fits(kind: str, head: bytes) -> bool:
    """Whether a file sent as `kind` (image, sticker, video, audio) has that content; other kinds take any."""
    found = sniff_mimetype(head) or ""
    if kind in (Message.Kind.IMAGE, Message.Kind.STICKER):
        return found in PICTURE_TYPES
    if kind in (Message.Kind.VIDEO, Message.Kind.AUDIO):
        return found.startswith(f"{kind}/") or found in AUDIO_OR_VIDEO
    return True


def not_that_kind(kind: str) -> str:
    """Why a file refused by `content_fits` or `upload_type` was refused."""
    if kind == Message.Kind.VIDEO:
        return _("The file is not a video in a format we know (such as MP4, 3GP or WebM); it may be damaged.")
    if kind == Message.Kind.AUDIO:
        return _("The file is not an audio in a format we know (such as OGG, MP3, M4A or WAV); it may be damaged.")
    return _("The file is not a valid image (PNG, JPEG, GIF or WEBP); it may be damaged.")
