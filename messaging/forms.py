"""Inbox forms: the composer and the small conversation controls; every reference resolved inside the company."""

from __future__ import annotations

import mimetypes

from django import forms
from django.utils.translation import gettext_lazy as _

from messaging import media
from messaging.models import MAX_TEXT_LENGTH, Conversation, Message
from messaging.services import Outgoing, quick_reply_shortcut_clean

MAX_UPLOAD_BYTES = 16 * 1024 * 1024


class MessageTextField(forms.CharField):
    """A line break counts as one character, as the textarea's `maxlength` counts it (browsers send CRLF)."""

    def to_python(self, value):
        return super().to_python(value).replace("\r\n", "\n")


class ComposerForm(forms.Form):
    text = MessageTextField(label=_("Message"), required=False, max_length=MAX_TEXT_LENGTH, widget=forms.Textarea)
    attachment = forms.FileField(label=_("Attachment"), required=False)
    reply_to = forms.UUIDField(required=False)
    react_to = forms.UUIDField(required=False)
    emoji = forms.CharField(required=False, max_length=16)
    # A private note for the team instead of a message to the customer.
    note = forms.BooleanField(required=False, label=_("Private note"))

    def __init__(self, *args, conversation: Conversation, company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conversation = conversation
        self.company = company
        self.attachment_type: tuple[str, str] | None = None  # (kind, mimetype), from the file's content

    def _lookup(self, field: str) -> Message | None:
        public_id = self.cleaned_data.get(field)
        if not public_id:
            return None
        return Message.objects.filter(company=self.company, conversation=self.conversation,
                                      public_id=public_id).first()

    def _message(self, field: str) -> Message | None:
        message = self._lookup(field)
        if message is None and self.cleaned_data.get(field):
            self.add_error(field, _("That message is not in this conversation."))
        return message

    def replying_to(self) -> Message | None:
        """A refused send's reply target, shown again above the text it kept."""
        if not self.is_bound or self.has_error("reply_to"):
            return None
        return self._lookup("reply_to")

    def clean_attachment(self):
        upload = self.cleaned_data.get("attachment")
        if upload is None:
            return None
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 16 MB."))
        declared = upload.content_type
        if not declared or declared == "application/octet-stream":
            declared = mimetypes.guess_type(upload.name)[0] or ""
        upload.seek(0)
        head = upload.read(media.SNIFF_BYTES)
        upload.seek(0)
        # The content decides, not the name: a damaged "photo.png" would reach the customer as a broken picture.
        self.attachment_type = media.upload_type(head, declared)
        if self.attachment_type is None:
            raise forms.ValidationError(media.not_that_kind(media.media_kind(declared)))
        return upload

    def clean(self):
        cleaned = super().clean()
        if self.errors:  # a field's own error says what is wrong; "write a message" would only add noise
            return cleaned
        if cleaned.get("note"):
            if cleaned.get("attachment"):
                self.add_error("attachment", _("A private note is text only: send the file as a message."))
            elif not (cleaned.get("text") or "").strip():
                raise forms.ValidationError(_("Write the note."))
            return cleaned
        if not (cleaned.get("text") or "").strip() and not cleaned.get("attachment") and not cleaned.get("react_to"):
            raise forms.ValidationError(_("Write a message or attach a file."))
        return cleaned

    def outgoing(self) -> Outgoing | None:
        """What to send, or None (with form errors) when a referenced message is not in this conversation."""
        quoted, target = self._message("reply_to"), self._message("react_to")
        for field, message in (("reply_to", quoted), ("react_to", target)):
            if message is not None and message.kind == Message.Kind.NOTE:  # the customer never saw it
                self.add_error(field, _("A private note cannot be replied or reacted to on WhatsApp."))
        if self.errors:
            return None
        data = self.cleaned_data
        if target is not None:
            emoji = data.get("emoji") or "👍"
            # The reaction we already left, tapped again, is taken back (an empty reaction), as on the phone.
            ours = (Message.objects.filter(company=self.company, reaction_target=target, kind=Message.Kind.REACTION,
                                           direction=Message.Direction.OUT, is_deleted=False)
                    .order_by("-pk").values_list("emoji", flat=True).first())
            return Outgoing(kind=Message.Kind.REACTION, reaction_target=target, emoji="" if ours == emoji else emoji)
        upload = data.get("attachment")
        if upload is not None:
            kind, mimetype = self.attachment_type
            return Outgoing(kind=kind, text=data.get("text") or "", media_upload=upload, mimetype=mimetype,
                            filename=upload.name, quoted=quoted)
        return Outgoing(kind=Message.Kind.TEXT, text=data["text"], quoted=quoted)


class QuickReplyForm(forms.Form):
    shortcut = forms.CharField(label=_("Shortcut"), max_length=41,
                               help_text=_("Typed after “/” in the message box, e.g. “pix” for /pix."))
    text = forms.CharField(label=_("Text"), max_length=MAX_TEXT_LENGTH, widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("{{contact.name}}, {{contact.first_name}} and {{agent.name}} are filled in "
                                       "when the reply is inserted."))

    def clean_shortcut(self) -> str:
        return quick_reply_shortcut_clean(self.cleaned_data["shortcut"])
