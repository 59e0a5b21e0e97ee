"""Forms of the instance pages and the operator's gateway servers (shape only; rules live in services)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from instances.models import GatewayServer
from instances.services import CALL_REJECTION_MESSAGE_MAX_LENGTH


class InstanceCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=40,
        help_text=_("Lowercase letters, digits and hyphens, e.g. “sales”. Used on the gateway; cannot change."),
    )
    label = forms.CharField(label=_("Display label"), max_length=80, required=False)


class InstanceRenameForm(forms.Form):
    label = forms.CharField(label=_("Display label"), max_length=80, required=False)


class InstanceSettingsForm(forms.Form):
    """The number's WhatsApp behaviour (the message's length is the service's rule, checked after trimming)."""

    reject_calls = forms.BooleanField(
        label=_("Reject calls"), required=False, help_text=_("Incoming WhatsApp calls are declined automatically."),
    )
    call_rejection_message = forms.CharField(
        label=_("Message to callers"), required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": CALL_REJECTION_MESSAGE_MAX_LENGTH}),
        help_text=_("Sent to the caller when a call is rejected; kept but not sent while calls are not rejected."),
    )
    ignore_groups = forms.BooleanField(
        label=_("Ignore groups"), required=False,
        help_text=_("Group messages do not reach Recado: no conversation, no webhook, no bot."),
    )
    always_online = forms.BooleanField(
        label=_("Always online"), required=False, help_text=_("The number shows as online while it is connected."),
    )
    read_messages = forms.BooleanField(
        label=_("Mark messages as read"), required=False,
        help_text=_("Customers see their messages as read as soon as they arrive, before anyone reads them here."),
    )
    read_status = forms.BooleanField(
        label=_("Read status updates"), required=False,
        help_text=_("Contacts' status updates are received and marked as seen."),
    )
    sync_full_history = forms.BooleanField(
        label=_("Sync full history"), required=False,
        help_text=_("Ask WhatsApp for the whole chat history when a phone is linked (from the next pairing on)."),
    )


class PairingCodeForm(forms.Form):
    number = forms.CharField(
        label=_("Phone number"), max_length=20,
        help_text=_("With country and area code, e.g. 5511999998888."),
    )


class GatewayServerForm(forms.ModelForm):
    api_key = forms.CharField(
        label=_("Global API key"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted. Leave empty to keep the current key."),
    )

    class Meta:
        model = GatewayServer
        fields = ["name", "base_url", "version", "capacity", "enabled"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["api_key"].required = True
            self.fields["api_key"].help_text = _("Stored encrypted.")
