"""Inbox forms: the composer and the small conversation controls; every reference resolved inside the company."""

from __future__ import annotations

import mimetypes

from django import forms
from django.utils.translation import gettext_lazy as _

from messaging.models import Conversation, Message
from messaging.services import Outgoing

MAX_UPLOAD_BYTES = 16 * 1024 * 1024


def media_kind(mimetype: str) -> str:
    """The message kind WhatsApp uses for a file of this type."""
    major = (mimetype or "").split("/", 1)[0]
    if mimetype == "image/webp":
        return Message.Kind.STICKER
    return {"image": Message.Kind.IMAGE, "video": Message.Kind.VIDEO, "audio": Message.Kind.AUDIO}.get(
        major, Message.Kind.DOCUMENT)


class ComposerForm(forms.Form):
    text = forms.CharField(label=_("Message"), required=False, max_length=4096, widget=forms.Textarea)
    attachment = forms.FileField(label=_("Attachment"), required=False)
    reply_to = forms.UUIDField(required=False)
    react_to = forms.UUIDField(required=False)
    emoji = forms.CharField(required=False, max_length=16)

    def __init__(self, *args, conversation: Conversation, company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conversation = conversation
        self.company = company

    def _message(self, field: str) -> Message | None:
        public_id = self.cleaned_data.get(field)
        if not public_id:
            return None
        message = Message.objects.filter(company=self.company, conversation=self.conversation,
                                         public_id=public_id).first()
        if message is None:
            self.add_error(field, _("That message is not in this conversation."))
        return message

    def clean_attachment(self):
        upload = self.cleaned_data.get("attachment")
        if upload is not None and upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 16 MB."))
        return upload

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("text") or "").strip() and not cleaned.get("attachment") and not cleaned.get("react_to"):
            raise forms.ValidationError(_("Write a message or attach a file."))
        return cleaned

    def outgoing(self) -> Outgoing | None:
        """What to send, or None (with form errors) when a referenced message is not in this conversation."""
        quoted, target = self._message("reply_to"), self._message("react_to")
        if self.errors:
            return None
        data = self.cleaned_data
        if target is not None:
            return Outgoing(kind=Message.Kind.REACTION, reaction_target=target, emoji=data.get("emoji") or "👍")
        upload = data.get("attachment")
        if upload is not None:
            mimetype = upload.content_type or mimetypes.guess_type(upload.name)[0] or "application/octet-stream"
            return Outgoing(kind=media_kind(mimetype), text=data.get("text") or "", media_upload=upload,
                            mimetype=mimetype, filename=upload.name, quoted=quoted)
        return Outgoing(kind=Message.Kind.TEXT, text=data["text"], quoted=quoted)
