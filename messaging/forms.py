"""Inbox forms: the composer and the small conversation controls; every reference resolved inside the company."""

from __future__ import annotations

import functools
import mimetypes
import zoneinfo

from django import forms
from django.utils.translation import gettext_lazy as _

from messaging import media
from messaging.models import MAX_TEXT_LENGTH, AutoReply, Conversation, Message
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
        if target is not None and target.kind != Message.Kind.NOTE and not target.gateway_message_id:
            self.add_error("react_to", _("This message has not reached WhatsApp: it cannot be reacted to."))
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


WEEKDAYS = (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday"))


class AutoReplyForm(forms.Form):
    """An instance's greeting, away message and opening hours (messaging/auto_replies.py checks them again)."""

    greeting_enabled = forms.BooleanField(label=_("Greet customers who start a conversation"), required=False)
    greeting_text = forms.CharField(label=_("Text of the greeting"), required=False, max_length=MAX_TEXT_LENGTH,
                                    widget=forms.Textarea(attrs={"rows": 3}))
    away_enabled = forms.BooleanField(label=_("Answer outside the opening hours"), required=False)
    away_text = forms.CharField(label=_("Text of the away message"), required=False, max_length=MAX_TEXT_LENGTH,
                                widget=forms.Textarea(attrs={"rows": 3}))
    time_zone = forms.ChoiceField(label=_("Time zone"))
    auto_assign = forms.BooleanField(
        label=_("Give each conversation a customer opens to the available member with the fewest open conversations"),
        required=False)
    auto_close_hours = forms.IntegerField(
        label=_("Close a conversation after this many hours without a message"), required=False, min_value=0,
        help_text=_("Only when nothing is waiting for a reply. Empty or 0: never."))
    assign_to = forms.ChoiceField(
        label=_("Who takes this number's conversations"), required=False, widget=forms.RadioSelect,
        choices=[(AutoReply.AssignTo.ALL, _("Every member")),
                 (AutoReply.AssignTo.LISTED, _("Only the members ticked below"))],
        help_text=_("Among those available, the one with the fewest open conversations gets the next; on a tie, the "
                    "one who got one least recently."))
    assign_members = forms.MultipleChoiceField(
        label=_("Members who take this number's conversations"), required=False,
        widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, members=(), **kwargs) -> None:
        """`members`: the company's memberships (with their users), the choices of `assign_members`."""
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(zone, zone.replace("_", " ")) for zone in time_zones()]
        self.fields["assign_members"].choices = [
            (str(member.user.public_id), member.user.get_full_name() or member.user.get_username())
            for member in members]
        for index, name in enumerate(WEEKDAYS):
            self.fields[f"day{index}_open"] = forms.BooleanField(label=name, required=False)
            self.fields[f"day{index}_opens"] = forms.TimeField(
                label=_("Opens"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
            self.fields[f"day{index}_closes"] = forms.TimeField(
                label=_("Closes"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))

    @staticmethod
    def initial_from(reply, assign_members=()) -> dict:
        initial = {name: getattr(reply, name) for name in
                   ("greeting_enabled", "greeting_text", "away_enabled", "away_text", "time_zone", "auto_assign",
                    "auto_close_hours", "assign_to")}
        initial["assign_members"] = [str(user_id) for user_id in assign_members]
        for index, day in enumerate(reply.opening_hours):
            initial[f"day{index}_open"] = day is not None
            initial[f"day{index}_opens"], initial[f"day{index}_closes"] = day or ("09:00", "18:00")
        return initial

    def days(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [(self[f"day{index}_open"], self[f"day{index}_opens"], self[f"day{index}_closes"])
                for index in range(len(WEEKDAYS))]

    def clean(self):
        data = super().clean()
        hours = []
        for index in range(len(WEEKDAYS)):
            opens, closes = data.get(f"day{index}_opens"), data.get(f"day{index}_closes")
            if not data.get(f"day{index}_open"):
                hours.append(None)
            elif opens is None or closes is None:
                self.add_error(f"day{index}_opens", _("Give the opening and the closing time."))
            elif opens == closes:  # a closing time before the opening time is on the next day
                self.add_error(f"day{index}_closes", _("The opening and the closing time are the same. For a day "
                                                       "open around the clock, give 00:00 to 23:59."))
            else:
                hours.append([opens.strftime("%H:%M"), closes.strftime("%H:%M")])
        data["opening_hours"] = hours
        return data

    def values(self) -> dict:
        """The service's arguments from the fields that passed this form's checks (all of them once it is valid;
        one that failed is left out, so the service checks the others as if it kept its saved value)."""
        data = self.cleaned_data
        values = {name: data[name] for name in
                  ("greeting_enabled", "greeting_text", "away_enabled", "away_text", "time_zone", "auto_assign")
                  if name in data}
        if "assign_to" in data:
            values["assign_to"] = data["assign_to"] or None
            if "assign_members" in data:
                # Ticks left under "every member" are not a contradiction on a page, only hidden choices: dropped.
                everyone = data["assign_to"] == AutoReply.AssignTo.ALL
                values["assign_members"] = [] if everyone else data["assign_members"]
        if not any(self.has_error(f"day{index}_{part}") for index in range(len(WEEKDAYS))
                   for part in ("opens", "closes")):
            values["opening_hours"] = data["opening_hours"]
        if "auto_close_hours" in data:
            values["auto_close_hours"] = data["auto_close_hours"] or 0
        return values


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones a person would pick (no "Etc/GMT+3" style names, whose sign reads backwards)."""
    return tuple(sorted(zone for zone in zoneinfo.available_timezones()
                        if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "posix/", "right/"))))
