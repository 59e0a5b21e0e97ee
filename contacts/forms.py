"""Forms of the contact and tag pages (shape and parsing only; rules live in services)."""

from __future__ import annotations

from django import forms
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from contacts import imports, selectors
from contacts.models import Contact, ContactType, Tag, color_validator
from contacts.selectors import ContactFilters
from tenants.models import Company

YES_NO = [("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]
SORTS = [("created", _("Date added")), ("name", _("Name")), ("identifier", _("Number"))]
# No order chosen: names and numbers A→Z (0→9), the date added newest first, as a person expects of each.
ORDERS = [("", pgettext_lazy("contact list order", "Default")), ("asc", _("Ascending")), ("desc", _("Descending"))]
DEFAULT_DESCENDING = {"created": True, "name": False, "identifier": False}
# "Select all N matching": one request tags at most this many contacts (each change is a contact.updated event).
BULK_LIMIT = 5000


STALE_FILTERS = _("The list's filters name a tag or an instance that no longer exists: nothing was done. Choose "
                  "the filters again.")


class _TagChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, tag: Tag) -> str:
        return tag.name


class ContactFilterForm(forms.Form):
    """The list's search, filters and ordering, read from the query string (or a bulk form's POST)."""

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    instance = forms.ChoiceField(label=_("Instance"), required=False)
    type = forms.ChoiceField(label=_("Type"), required=False, choices=[("", _("Any")), *ContactType.choices])
    tag = forms.MultipleChoiceField(label=_("Tag"), required=False)
    ignored = forms.ChoiceField(label=_("Ignored"), required=False, choices=YES_NO)
    bot_paused = forms.ChoiceField(label=_("Bot paused"), required=False, choices=YES_NO)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=SORTS)
    order = forms.ChoiceField(label=_("Order"), required=False, choices=ORDERS)

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.company = company
        self.instances = {str(i.public_id): i for i in selectors.instance_choices(company=company)}
        self.tags = {str(t.public_id): t for t in selectors.tag_list(company=company)}
        self.fields["instance"].choices = [("", _("All instances"))] + [
            (key, i.display_name) for key, i in self.instances.items()]
        self.fields["tag"].choices = [("", _("All tags"))] + [(key, t.name) for key, t in self.tags.items()]

    def names_what_no_longer_exists(self) -> bool:
        """Whether a tag or instance filter names one that is not (or no longer) the company's. The list drops
        such a filter and shows more; an action on every match or an export must not widen that way."""
        self.is_valid()
        return "tag" in self.errors or "instance" in self.errors

    def filters(self) -> ContactFilters:
        """The filters to apply; invalid parts (a stale tag id in a bookmark) are simply dropped."""
        self.is_valid()
        data = self.cleaned_data  # holds the valid fields only
        yes_no = {"yes": True, "no": False}
        sort = data.get("sort") or "created"
        return ContactFilters(
            search=data.get("q", ""), instance=self.instances.get(data.get("instance") or ""),
            type=data.get("type", ""), tags=[self.tags[key] for key in data.get("tag", []) if key],
            is_ignored=yes_no.get(data.get("ignored")), bot_paused=yes_no.get(data.get("bot_paused")),
            sort=sort, descending=data["order"] == "desc" if data.get("order") else DEFAULT_DESCENDING[sort],
        )


class ContactForm(forms.Form):
    custom_name = forms.CharField(label=_("Custom name"), max_length=120, required=False,
                                  help_text=_("Shown instead of the WhatsApp name."))
    photo_url = forms.URLField(label=_("Photo URL"), max_length=1000, required=False, assume_scheme="https")
    platform = forms.ChoiceField(label=_("Bot platform"), required=False,
                                 help_text=_("The bot that gets this contact's messages. The instance's bot "
                                             "platforms are set up on its page."))
    is_ignored = forms.BooleanField(label=_("Ignored (the service desk does not intercept its messages)"),
                                    required=False)
    bot_paused = forms.BooleanField(label=_("Bot paused for this contact"), required=False)
    tags = _TagChoice(label=_("Tags"), queryset=None, required=False, to_field_name="public_id",
                      widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, company: Company, contact: Contact, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tags"].queryset = selectors.tag_list(company=company)
        starting = contact.instance.starting_platform
        # Short: a select cannot wrap, and "None (the instance has no default bot)" was cut on a phone.
        default = (_("Default (%(slug)s)") % {"slug": starting} if starting else _("None (no default bot)"))
        slugs = selectors.platform_slugs(company=company, instance=contact.instance)
        choices = [("", default)] + [(slug, slug) for slug in slugs]
        if contact.platform and contact.platform not in slugs:  # bound to a platform deleted since: kept as is
            choices.append((contact.platform, _("%(slug)s (deleted platform)") % {"slug": contact.platform}))
        self.fields["platform"].choices = choices


class ContactCreateForm(forms.Form):
    instance = forms.ChoiceField(label=_("Instance"))
    identifier = forms.CharField(label=_("Number or group id"), max_length=80,
                                 help_text=_("With country code, e.g. 5511987654321, or a group id ending in @g.us."))
    custom_name = forms.CharField(label=_("Name"), max_length=120, required=False)

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instances = {str(i.public_id): i for i in selectors.instance_choices(company=company)}
        self.fields["instance"].choices = [(key, i.display_name) for key, i in self.instances.items()]


class IdentifierForm(forms.Form):
    identifier = forms.CharField(label=_("Another number or LID"), max_length=80,
                                 help_text=_("E.g. 5511987654321 or 123456789012345@lid."))


class TagForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    color = forms.CharField(label=_("Color"), max_length=7, initial="#6c757d", validators=[color_validator],
                            widget=forms.TextInput(attrs={"type": "color", "class": "form-control-color"}))


class BulkTagForm(forms.Form):
    """Add or remove one tag on the contacts ticked in the list (ids resolved inside the company), or, with
    `all_matching`, on every contact matching the list's filters (sent along: hx-include), at most BULK_LIMIT."""

    action = forms.ChoiceField(choices=[("add", _("Add tag")), ("remove", _("Remove tag"))])
    bulk_tag = forms.ChoiceField(label=_("Tag"), error_messages={"required": _("Choose a tag.")})
    all_matching = forms.BooleanField(required=False)

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.company = company
        self.tags = {str(t.public_id): t for t in selectors.tag_list(company=company)}
        self.fields["bulk_tag"].choices = [("", _("Choose a tag"))] + [(k, t.name) for k, t in self.tags.items()]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("all_matching"):
            matching = ContactFilterForm(self.data, company=self.company)
            if matching.names_what_no_longer_exists():
                raise forms.ValidationError(STALE_FILTERS)
            filters = matching.filters()
            data["contacts"] = selectors.contact_list_matching_bare(company=self.company, filters=filters,
                                                              limit=BULK_LIMIT + 1)
            if len(data["contacts"]) > BULK_LIMIT:
                limit = number_format(BULK_LIMIT, force_grouping=True)
                raise forms.ValidationError(_("More than %(limit)s contacts match these filters: narrow them, and "
                                              "apply the tag in parts.") % {"limit": limit})
        else:
            ids = self.data.getlist("contacts") if hasattr(self.data, "getlist") else []
            data["contacts"] = selectors.contact_list_by_ids(company=self.company, public_ids=ids)
        if not data["contacts"]:
            raise forms.ValidationError(_("Select at least one contact."))
        if data.get("bulk_tag"):
            data["tag"] = self.tags[data["bulk_tag"]]
        return data


class ImportUploadForm(forms.Form):
    instance = forms.ChoiceField(label=_("Instance"), help_text=_("The number these contacts write to."))
    file = forms.FileField(label=_("CSV file"),
                           help_text=_("CSV (comma, semicolon or tab separated; UTF-8 or Windows-1252) or Excel's "
                                       "“Unicode text”, with a header row. Up to 5 MB."))

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instances = {str(i.public_id): i for i in selectors.instance_choices(company=company)}
        self.fields["instance"].choices = [(key, i.display_name) for key, i in self.instances.items()]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > imports.MAX_FILE_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB; split it into smaller files."))
        return upload
