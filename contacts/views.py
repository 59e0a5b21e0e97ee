"""Contact and tag pages: list with search/filters/bulk tags, detail, tags, CSV import and export.

Permissions: every member (agents included) can view and edit contacts, tag them, create and rename
tags and import CSV files; deleting a tag (it disappears from every contact) and exporting the whole
book need an admin.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import csv_format, imports, selectors, services
from contacts.forms import (
    BULK_LIMIT,
    STALE_FILTERS,
    BulkTagForm,
    ContactCreateForm,
    ContactFilterForm,
    ContactForm,
    IdentifierForm,
    ImportUploadForm,
    TagForm,
)
from contacts.identity import parse_identifier
from contacts.models import Contact, Tag
from contacts.streaming import company_stream
from integrations import bots
from tenants.access import CompanyRequest, actor_label, company_member
from tenants.forms import add_errors
from tenants.models import Role

PAGE_SIZE = 50


def _contact_or_404(request: CompanyRequest, contact_id) -> Contact:
    contact = selectors.contact_get(company=request.company, public_id=contact_id)
    if contact is None:
        raise Http404
    return contact


def _tag_or_404(request: CompanyRequest, tag_id) -> Tag:
    tag = selectors.tag_get(company=request.company, public_id=tag_id)
    if tag is None:
        raise Http404
    return tag


def _results_context(request: CompanyRequest, params) -> dict:
    company = request.company
    filter_form = ContactFilterForm(params, company=company)
    paginator = Paginator(selectors.contact_list(company=company, filters=filter_form.filters()), PAGE_SIZE)
    page = paginator.get_page(params.get("page"))
    query = params.copy()
    for key in ("page", "csrfmiddlewaretoken", "action", "bulk_tag", "contacts", "all_matching"):
        query.pop(key, None)
    return {"company": company, "filter_form": filter_form, "page": page, "contacts": page.object_list,
            "query": query.urlencode(), "tags": filter_form.tags.values(), "bulk_limit": BULK_LIMIT,
            "can_export": request.membership.has_role(Role.ADMIN)}


@company_member()
@require_GET
def contact_list(request: CompanyRequest) -> HttpResponse:
    context = _results_context(request, request.GET)
    if request.htmx and request.htmx.target == "contact-results":
        response = render(request, "contacts/list.html#contact-results", context)
    else:
        context["create_form"] = ContactCreateForm(company=request.company)
        response = render(request, "contacts/list.html", context)
    response["Vary"] = "HX-Request"
    return response


@company_member()
@require_POST
def contact_bulk_tag(request: CompanyRequest) -> HttpResponse:
    form = BulkTagForm(request.POST, company=request.company)
    if form.is_valid():
        data = form.cleaned_data
        service = services.contacts_add_tag if data["action"] == "add" else services.contacts_remove_tag
        changed = service(company=request.company, contacts=data["contacts"], tag=data["tag"])
        if data["action"] == "add":
            notice = ngettext("Tag “%(tag)s” added to %(count)s contact.", "Tag “%(tag)s” added to %(count)s contacts.",
                              changed)
        else:
            notice = ngettext("Tag “%(tag)s” removed from %(count)s contact.",
                              "Tag “%(tag)s” removed from %(count)s contacts.", changed)
        notice %= {"tag": data["tag"].name, "count": changed}
        if data.get("all_matching"):
            matching = len(data["contacts"])
            notice += " " + ngettext("%(count)s contact matched the filters.",
                                     "%(count)s contacts matched the filters.", matching) % {"count": matching}
        error = None
    else:
        notice, error = None, " ".join(" ".join(errors) for errors in form.errors.values())
    if not request.htmx:
        (messages.success if notice else messages.error)(request, notice or error)
        return redirect(reverse("contacts:list", args=[request.company.slug]) + "?" + request.POST.get("query", ""))
    context = {**_results_context(request, request.POST), "bulk_notice": notice, "bulk_error": error,
               "bulk_tag": request.POST.get("bulk_tag", "")}  # the tag stays chosen (to retry after an error)
    return render(request, "contacts/list.html#contact-results", context)


def _validate_only(request: CompanyRequest) -> bool:
    return request.POST.get("validate_only") == "1"


def _live_errors(form) -> None:
    """While the person is still filling the form, say nothing about the fields they have not reached."""
    for name in list(form.errors):
        if name in form.fields and not form.data.get(name):
            del form.errors[name]


def _contact_create_check(request: CompanyRequest, form: ContactCreateForm) -> HttpResponse:
    existing = None
    if form.is_valid():
        try:
            identity = parse_identifier(form.cleaned_data["identifier"])
        except ValidationError as error:
            form.add_error("identifier", error.messages)
        else:
            existing = services.contact_find(company=request.company, keys=identity.keys,
                                             instance=form.instances[form.cleaned_data["instance"]])
            if existing is not None:
                form.add_error("identifier", _("This contact already exists (%(name)s).") % {
                    "name": existing.display_name})
    _live_errors(form)
    return render(request, "contacts/list.html#contact-create-form",
                  {"company": request.company, "create_form": form, "existing": existing})


@company_member()
@require_POST
def contact_create(request: CompanyRequest) -> HttpResponse:
    form = ContactCreateForm(request.POST, company=request.company)
    if _validate_only(request):
        return _contact_create_check(request, form)
    if form.is_valid():
        try:
            contact = services.contact_create(
                company=request.company, instance=form.instances[form.cleaned_data["instance"]],
                identifier=form.cleaned_data["identifier"], custom_name=form.cleaned_data["custom_name"],
            )
        except services.ContactExists as error:
            messages.info(request, error.message)
            return redirect("contacts:detail", request.company.slug, error.contact.public_id)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Contact created."))
            return redirect("contacts:detail", request.company.slug, contact.public_id)
    context = {**_results_context(request, request.GET), "create_form": form, "show_create": True}
    return render(request, "contacts/list.html", context, status=400)


# The form's fields as the page drew them go back as hidden "seen-<name>" inputs: saving changes only what the
# person changed there, so a tag added or a bot paused elsewhere after the page was drawn is not undone.
SEEN_FIELDS = ("custom_name", "photo_url", "platform", "is_ignored", "bot_paused")


def _seen(contact: Contact) -> list[tuple[str, str]]:
    return ([("form", "1")] + [(name, "1" if getattr(contact, name) is True else
                                 "" if getattr(contact, name) is False else getattr(contact, name))
                                for name in SEEN_FIELDS]
            + [("tags", str(tag.public_id)) for tag in contact.tags.all()])


def _changes(request: CompanyRequest, form: ContactForm) -> dict:
    """contact_update's arguments from a valid form: every field and the whole tag set as posted when the post
    says nothing of what was seen (a client of its own), else only the fields that differ from what was seen and
    the tags ticked or unticked (as the inbox's contact panel sends them, messaging.views.contact_tags)."""
    fields = dict(form.cleaned_data)
    tags = list(fields.pop("tags"))
    if request.POST.get("seen-form") != "1":
        return {**fields, "tags": tags}
    fields = {name: value for name, value in fields.items()
              if form.fields[name].has_changed(request.POST.get(f"seen-{name}", ""), form[name].data)}
    seen, posted = set(request.POST.getlist("seen-tags")), {str(tag.public_id) for tag in tags}
    # An unticked tag deleted meanwhile is gone already: unknown ids among these are nothing to remove.
    unticked, _gone = selectors.tags_by_ids(company=request.company, public_ids=sorted(seen - posted))
    return {**fields, "add_tags": [tag for tag in tags if str(tag.public_id) not in seen], "remove_tags": unticked}


def _detail(request: CompanyRequest, contact: Contact, *, form=None, identifier_form=None, status=200):
    if form is None:
        form = ContactForm(company=request.company, contact=contact, initial={
            "custom_name": contact.custom_name, "photo_url": contact.photo_url, "platform": contact.platform,
            "is_ignored": contact.is_ignored, "bot_paused": contact.bot_paused,
            "tags": [tag.public_id for tag in contact.tags.all()],
        })
    return render(request, "contacts/detail.html", {
        "company": request.company, "contact": contact, "form": form,
        # After a refused save, still what the person first saw (their changes are what is checked against it).
        "seen": ([(key.removeprefix("seen-"), value) for key, values in request.POST.lists()
                  if key.startswith("seen-") for value in values]
                 if request.method == "POST" and "seen-form" in request.POST else _seen(contact)),
        "identifier_form": identifier_form or IdentifierForm(),
        "identifiers": selectors.contact_identifiers(company=request.company, contact=contact),
        "bot_changes": bots.change_list(company=request.company, contact=contact),
        "bot_platform": _answering_platform(request, contact),
        "can_delete": request.membership.has_role(Role.ADMIN),
    }, status=status)


def _answering_platform(request: CompanyRequest, contact: Contact):
    """The bot platform this contact's messages go to (as the inbox's panel tells it), or None."""
    platform = bots.platform_for(company=request.company, contact=contact)
    return platform if platform is not None and platform.endpoint.is_active and not contact.is_ignored else None


@company_member()
@require_http_methods(["GET", "POST"])
def contact_detail(request: CompanyRequest, contact_id) -> HttpResponse:
    contact = _contact_or_404(request, contact_id)
    if request.method == "GET":
        return _detail(request, contact)
    form = ContactForm(request.POST, company=request.company, contact=contact)
    if form.is_valid():
        try:
            services.contact_update(company=request.company, contact=contact, actor=actor_label(request),
                                    **_changes(request, form))
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Contact saved."))
            return redirect("contacts:detail", request.company.slug, contact.public_id)
    return _detail(request, contact, form=form, status=400)


@company_member()
@require_POST
def contact_identifier_add(request: CompanyRequest, contact_id) -> HttpResponse:
    contact = _contact_or_404(request, contact_id)
    form = IdentifierForm(request.POST)
    if form.is_valid():
        try:
            services.contact_add_identifier(company=request.company, contact=contact,
                                            identifier=form.cleaned_data["identifier"])
        except services.ContactExists as error:
            form.add_error("identifier", _("Already used by %(name)s.") % {"name": error.contact.display_name})
        except ValidationError as error:
            form.add_error("identifier", error.messages)
        else:
            messages.success(request, _("Identifier added."))
            return redirect("contacts:detail", request.company.slug, contact.public_id)
    return _detail(request, contact, identifier_form=form, status=400)


@company_member()
@require_POST
def contact_identifier_remove(request: CompanyRequest, contact_id, identifier_id) -> HttpResponse:
    contact = _contact_or_404(request, contact_id)
    identifier = selectors.contact_identifier_get(company=request.company, contact=contact, public_id=identifier_id)
    if identifier is None:
        raise Http404
    try:
        services.contact_remove_identifier(company=request.company, contact=contact, identifier=identifier)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Identifier removed."))
    return redirect("contacts:detail", request.company.slug, contact.public_id)


@company_member(role=Role.ADMIN)
@require_GET
def contact_export(request: CompanyRequest) -> HttpResponse:
    """The current filtered list as CSV, streamed row by row (any size, constant memory)."""
    company = request.company
    form = ContactFilterForm(request.GET, company=company)
    if form.names_what_no_longer_exists():  # all contacts would be exported instead: back to the list
        messages.error(request, STALE_FILTERS)
        return redirect("contacts:list", company.slug)
    contacts = selectors.contact_list(company=company, filters=form.filters()).prefetch_related(
        selectors.identifiers_prefetch(company))
    lines = csv_format.export_lines(contacts.iterator(chunk_size=500))
    response = StreamingHttpResponse(company_stream(company, lines, asynchronous=isinstance(request, ASGIRequest)),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="contacts-{company.slug}-{stamp}.csv"'
    return response


# --- tags ---------------------------------------------------------------------------------------

def _tags_page(request: CompanyRequest, *, form=None, edit_errors=None, status=200) -> HttpResponse:
    tags = list(selectors.tag_list(company=request.company))
    for tag in tags:
        tag.errors = (edit_errors or {}).get(tag.pk, [])
    return render(request, "contacts/tags.html", {
        "company": request.company, "tags": tags, "form": form or TagForm(),
        "can_delete": request.membership.has_role(Role.ADMIN),
    }, status=status)


@company_member()
@require_http_methods(["GET", "POST"])
def tag_list(request: CompanyRequest) -> HttpResponse:
    if request.method == "GET":
        return _tags_page(request)
    form = TagForm(request.POST)
    if _validate_only(request):
        if form.is_valid() and selectors.tag_name_exists(company=request.company, name=form.cleaned_data["name"]):
            form.add_error("name", services.TagNameTaken(form.cleaned_data["name"]).message)
        _live_errors(form)
        return render(request, "contacts/tags.html#tag-create-form", {"company": request.company, "form": form})
    if form.is_valid():
        try:
            tag = services.tag_create(company=request.company, **form.cleaned_data)
        except services.TagNameTaken as error:
            form.add_error("name", error.message)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Tag “%(name)s” created.") % {"name": tag.name})
            return redirect("contacts:tags", request.company.slug)
    return _tags_page(request, form=form, status=400)


@company_member()
@require_POST
def tag_update(request: CompanyRequest, tag_id) -> HttpResponse:
    tag = _tag_or_404(request, tag_id)
    form = TagForm(request.POST)
    errors = []
    if form.is_valid():
        try:
            services.tag_update(company=request.company, tag=tag, **form.cleaned_data)
        except services.TagNameTaken as error:
            errors = [error.message]
        except ValidationError as error:
            errors = error.messages
        else:
            messages.success(request, _("Tag “%(name)s” saved.") % {"name": tag.name})
            return redirect("contacts:tags", request.company.slug)
    else:
        errors = [error for field_errors in form.errors.values() for error in field_errors]
    return _tags_page(request, edit_errors={tag.pk: errors}, status=400)


@company_member(role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def tag_delete(request: CompanyRequest, tag_id) -> HttpResponse:
    tag = _tag_or_404(request, tag_id)
    if request.method == "POST":
        affected = services.tag_delete(company=request.company, tag=tag)
        messages.success(request, ngettext("Tag “%(name)s” deleted; %(count)s contact lost it.",
                                           "Tag “%(name)s” deleted; %(count)s contacts lost it.", affected) % {
            "name": tag.name, "count": affected})
        return redirect("contacts:tags", request.company.slug)
    return render(request, "contacts/tag_delete.html", {"company": request.company, "tag": tag})


# --- CSV import ---------------------------------------------------------------------------------

@company_member()
@require_http_methods(["GET", "POST"])
def import_upload(request: CompanyRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None, company=request.company)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            contact_import = imports.contact_import_create(
                company=request.company, instance=form.instances[form.cleaned_data["instance"]],
                filename=upload.name, raw=upload.read(), created_by=request.user)
        except imports.ImportFileError as error:
            form.add_error("file", error.message)
        else:
            return redirect("contacts:import_detail", request.company.slug, contact_import.public_id)
    status = 400 if request.method == "POST" else 200
    return render(request, "contacts/import.html", {"company": request.company, "form": form}, status=status)


def _import_or_404(request: CompanyRequest, import_id):
    contact_import = selectors.contact_import_get(company=request.company, public_id=import_id)
    if contact_import is None:
        raise Http404
    return contact_import


@company_member()
@require_http_methods(["GET", "POST"])
def import_detail(request: CompanyRequest, import_id) -> HttpResponse:
    contact_import = _import_or_404(request, import_id)
    context = {"company": request.company, "contact_import": contact_import}
    if request.GET.get("fragment") == "progress":
        return render(request, "contacts/import_detail.html#import-progress", context)
    error, status = None, 200
    if request.method == "POST":
        header, _rows = imports.contact_import_preview(contact_import)
        mapping = {str(index): request.POST.get(f"column_{index}", "") for index in range(len(header))}
        mapping = {key: value for key, value in mapping.items() if value in csv_format.FIELDS}
        try:
            imports.contact_import_start(company=request.company, contact_import=contact_import, mapping=mapping,
                                         has_header=request.POST.get("has_header") == "on")
        except ValidationError as exc:
            error, status = " ".join(exc.messages), 400
        else:
            return redirect("contacts:import_detail", request.company.slug, contact_import.public_id)
    header, rows = imports.contact_import_preview(contact_import)
    columns = [{"index": index, "title": title, "field": contact_import.mapping.get(str(index), "")}
               for index, title in enumerate(header)]
    return render(request, "contacts/import_detail.html", {
        **context, "columns": columns, "rows": rows, "fields": csv_format.FIELDS.items(), "error": error,
    }, status=status)


@company_member()
@require_GET
def import_rejected(request: CompanyRequest, import_id) -> HttpResponse:
    contact_import = _import_or_404(request, import_id)
    header, _rows = imports.contact_import_preview(contact_import)
    response = HttpResponse("".join(csv_format.rejected_lines(header, contact_import.rejected)),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejected-{contact_import.public_id.hex[:8]}.csv"'
    return response


# --- merge and delete ---------------------------------------------------------------------------

def _merge_page(request: CompanyRequest, contact: Contact, *, other: Contact | None = None, error: str = "",
                status: int = 200) -> HttpResponse:
    search = request.GET.get("q", "").replace("\x00", "").strip()[:100]  # PostgreSQL text cannot hold NUL
    context = {
        "company": request.company, "contact": contact, "other": other, "error": error, "search": search,
        "candidates": selectors.merge_candidates(company=request.company, contact=contact, search=search),
    }
    if other is not None:
        context.update(
            other_identifiers=selectors.contact_identifiers(company=request.company, contact=other),
            other_bot_changes=bots.change_list(company=request.company, contact=other, limit=1),
            other_summary=selectors.contact_conversation_summary(company=request.company, contact=other),
            kept_summary=selectors.contact_conversation_summary(company=request.company, contact=contact),
            filled=[(Contact._meta.get_field(field).verbose_name, getattr(other, field))
                    for field in services.MERGED_FIELDS if not getattr(contact, field) and getattr(other, field)],
        )
    if request.htmx and request.htmx.target == "merge-candidates":
        return render(request, "contacts/merge.html#merge-candidates", context)
    return render(request, "contacts/merge.html", context, status=status)


@company_member()
@require_http_methods(["GET", "POST"])
def contact_merge(request: CompanyRequest, contact_id) -> HttpResponse:
    """Pick a contact of the same instance (search), see what moves, confirm: it is merged into this one."""
    contact = _contact_or_404(request, contact_id)
    chosen = request.POST.get("merge", "") if request.method == "POST" else request.GET.get("merge", "")
    if not chosen and request.method == "GET":
        return _merge_page(request, contact)
    other = selectors.contact_get(company=request.company, public_id=chosen)
    try:
        if request.method == "GET":  # the confirmation step
            services.contact_merge_check(contact=contact, other=other)
            return _merge_page(request, contact, other=other)
        result = services.contact_merge(company=request.company, contact=contact, other=other)
    except ValidationError as error:
        return _merge_page(request, contact, error=" ".join(error.messages), status=400)
    except services.ContactGone:
        return _merge_page(request, contact, error=_("That contact no longer exists."), status=400)
    messages.success(request, _("%(other)s was merged into %(name)s.") % {
        "other": other.display_name, "name": result.contact.display_name})
    return redirect("contacts:detail", request.company.slug, contact.public_id)


@company_member(role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def contact_delete(request: CompanyRequest, contact_id) -> HttpResponse:
    """Delete a contact for good with its conversation, messages and stored media (a privacy request)."""
    contact = _contact_or_404(request, contact_id)
    if request.method == "POST":
        try:
            summary = services.contact_delete(company=request.company, contact=contact)
        except services.ContactGone:
            raise Http404 from None
        messages.success(request, ngettext(
            "%(name)s was deleted with %(count)s message.", "%(name)s was deleted with %(count)s messages.",
            summary.messages) % {"name": contact.display_name, "count": summary.messages})
        return redirect("contacts:list", request.company.slug)
    return render(request, "contacts/delete.html", {
        "company": request.company, "contact": contact,
        "summary": services.contact_deletion_summary(company=request.company, contact=contact),
    })


@company_member()
@require_GET
def open_conversation(request: CompanyRequest) -> HttpResponse:
    """Where an inbox page goes when its conversation was merged away or deleted: the contact's conversation, else
    the inbox (an unknown or foreign id lands on the inbox too: nothing about it is told)."""
    from messaging import selectors as messaging_selectors

    contact = selectors.contact_get(company=request.company, public_id=request.GET.get("contact", ""))
    conversation = (messaging_selectors.conversation_for_contact(company=request.company, contact_id=contact.pk)
                    if contact is not None else None)
    url = (reverse("messaging:conversation", args=[request.company.slug, conversation.public_id]) if conversation
           else reverse("messaging:inbox", args=[request.company.slug]))
    if request.htmx:
        return HttpResponse(headers={"HX-Redirect": url})
    return redirect(url)
