"""The endpoint form of the settings pages."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from integrations.catalogue import EVENT_TYPES


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https",
                         help_text=_("Where Recado POSTs the signed events (https:// recommended)."))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label=_("Events"), required=False, widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        # Lazy: each label translated when the page is drawn (an f-string froze it in English at import).
        choices=[(name, format_lazy("{}: {}", name, label)) for name, label in EVENT_TYPES.items()],
        help_text=_("None ticked: every event."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class BotPlatformForm(forms.Form):
    slug = forms.SlugField(label=_("Slug"), max_length=50,
                           help_text=_("Contacts are bound to a platform by this name, e.g. sales-bot."))
    callback_url = forms.URLField(label=_("Callback URL"), max_length=500, assume_scheme="https",
                                  help_text=_("Where Recado POSTs this bot's messages, signed like webhooks."))
    is_starting = forms.BooleanField(label=_("Starting platform"), required=False,
                                     help_text=_("Gets the messages of contacts bound to no platform."))
