"""Forms of the instance pages and the operator's gateway servers (shape only; rules live in services)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from instances.models import GatewayServer


class InstanceCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=40,
        help_text=_("Lowercase letters, digits and hyphens, e.g. “sales”. Used on the gateway; cannot change."),
    )
    label = forms.CharField(label=_("Display label"), max_length=80, required=False)


class InstanceRenameForm(forms.Form):
    label = forms.CharField(label=_("Display label"), max_length=80, required=False)


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
