"""Inbox pages: the conversation list, one thread with its composer and contact panel, and their fragments.

Every member (agents included) may answer, assign, close and tag; permission decisions happen here, never in
the templates (STYLE rule 17). Live updates arrive over the page's WebSocket; each region also re-fetches
itself (hx-get) after a reconnect.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import selectors as contact_selectors
from contacts import services as contact_services
from instances.selectors import instance_get, instance_list
from integrations import bots
from integrations.models import BotPauseChange
from messaging import auto_replies, media, selectors, services
from messaging.forms import AutoReplyForm, ComposerForm, QuickReplyForm
from messaging.models import Conversation, Message, QuickReply
from messaging.selectors import ConversationFilters
from tenants.access import CompanyRequest, actor_label, company_member
from tenants.forms import add_errors
from tenants.models import Role
from tenants.selectors import membership_list

PAGE = "messaging/inbox.html"
FILTER_KEYS = ("status", "assignee", "instance", "tag", "q")


def _filters(request: CompanyRequest) -> tuple[ConversationFilters, dict]:
    # NUL cannot be searched for (PostgreSQL text cannot hold it): dropped, as a search box would.
    params = {key: request.GET.get(key, "").replace("\x00", "").strip() for key in FILTER_KEYS}
    if "status" not in request.GET:
        params["status"] = Conversation.Status.OPEN
    filters = ConversationFilters(status=params["status"], assignee=params["assignee"], instance=params["instance"],
                                  tag=params["tag"], search=params["q"])
    return filters, params


def _list_context(request: CompanyRequest) -> dict:
    filters, params = _filters(request)
    conversations = selectors.conversation_list(company=request.company, filters=filters, user=request.user)
    rows, next_cursor = selectors.keyset_page(conversations, field="last_message_at",
                                              cursor=request.GET.get("cursor", ""))
    # Encoded: a search for "#123", "P&G" or "+55" must come back whole in the list's re-fetch and next page.
    query = urlencode({key: value for key, value in params.items() if value})
    return {"company": request.company, "conversations": rows, "next_cursor": next_cursor, "params": params,
            "query": query}


def _page_context(request: CompanyRequest, conversation: Conversation | None) -> dict:
    company = request.company
    context = {
        **_list_context(request),
        "instances": instance_list(company=company),
        "tags": contact_selectors.tag_choices(company=company),
        "conversation": conversation,
        # The list's loop rebinds `conversation`: the open one's row is found by this name (aria-current).
        "current_conversation": conversation.public_id if conversation is not None else None,
    }
    if conversation is not None:
        context.update(_thread_context(request, conversation))
        context["form"] = ComposerForm(conversation=conversation, company=company)
        context["can_reconnect"] = request.membership.has_role(Role.ADMIN)
        # What "/" offers in the composer (static/recado/inbox.js filters it as the person types).
        context["quick_replies"] = selectors.quick_reply_composer_list(company=company)
    else:
        context["company_has_conversations"] = _has_conversations(request, context)
    return context


def _has_conversations(request: CompanyRequest, context: dict) -> bool:
    """For the welcome beside an empty list: does the company have conversations outside this view (a tab, a
    filter or a search that shows none), or none at all yet? Asked only when the list is empty."""
    return bool(context["conversations"]) or selectors.conversation_list(company=request.company).exists()


def _thread_context(request: CompanyRequest, conversation: Conversation, cursor: str = "") -> dict:
    company = request.company
    newest_first, older_cursor = selectors.keyset_page(
        selectors.message_list(company=company, conversation=conversation), field="created_at", cursor=cursor)
    return {
        **selectors.contact_panel_context(company=company, conversation=conversation),
        "thread_messages": newest_first[::-1], "older_cursor": older_cursor,
        "members": selectors.member_list(company=company),
    }


def _conversation_or_404(request: CompanyRequest, conversation_id) -> Conversation:
    conversation = selectors.conversation_get(company=request.company, public_id=conversation_id)
    if conversation is None:
        raise Http404
    return conversation


def _message_or_404(request: CompanyRequest, message_id) -> Message:
    message = selectors.message_get(company=request.company, public_id=message_id)
    if message is None:
        raise Http404
    return message


@company_member()
@require_GET
def inbox(request: CompanyRequest) -> HttpResponse:
    fragment = request.GET.get("fragment")
    if fragment in ("list", "more"):
        context = _list_context(request)
        # The list re-fetched on the inbox's own page also redraws the welcome beside it: the first conversations
        # arriving live turn "No conversations yet" into "Pick a conversation" (a thread page has no welcome).
        current = urlsplit(request.htmx.current_url or "").path if request.htmx else ""
        context["welcome_oob"] = fragment == "list" and current == request.path
        if context["welcome_oob"]:
            context["company_has_conversations"] = _has_conversations(request, context)
        return render(request, f"{PAGE}#conversation-{fragment}", context)
    return render(request, PAGE, _page_context(request, None))


@company_member()
@require_GET
def conversation_detail(request: CompanyRequest, conversation_id) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    fragment = request.GET.get("fragment")
    if fragment == "older":
        context = _thread_context(request, conversation, cursor=request.GET.get("cursor", ""))
        return render(request, f"{PAGE}#thread-older", context)
    if fragment == "messages":
        return render(request, f"{PAGE}#thread-messages", _thread_context(request, conversation))
    if fragment == "instance-notice":  # its number's state changed: the notice, drawn for this person
        return render(request, f"{PAGE}#instance-notice-fetched", {
            "company": request.company, "conversation": conversation,
            "can_reconnect": request.membership.has_role(Role.ADMIN)})
    if fragment == "header":
        return render(request, f"{PAGE}#thread-header", {"company": request.company, "conversation": conversation,
                                                         "members": selectors.member_list(company=request.company)})
    services.conversation_mark_read(company=request.company, conversation=conversation)
    return render(request, PAGE, _page_context(request, conversation))


@company_member()
@require_POST
def conversation_read(request: CompanyRequest, conversation_id) -> HttpResponse:
    """The agent is looking at the thread while a message arrives: it is read, the badge goes."""
    conversation = _conversation_or_404(request, conversation_id)
    services.conversation_mark_read(company=request.company, conversation=conversation)
    return HttpResponse(status=204)


@company_member()
@require_POST
def message_create(request: CompanyRequest, conversation_id) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    form = ComposerForm(request.POST, request.FILES, conversation=conversation, company=request.company)
    status = 200
    if form.is_valid() and form.cleaned_data["note"]:
        try:
            services.note_add(company=request.company, conversation=conversation, text=form.cleaned_data["text"],
                              author_label=actor_label(request))
            form = ComposerForm(conversation=conversation, company=request.company, initial={"note": True})
        except ValidationError as error:
            form.add_error(None, error.messages)
            status = 422
    elif form.is_valid() and (outgoing := form.outgoing()) is not None:
        try:
            services.message_send(company=request.company, conversation=conversation, outgoing=outgoing,
                                  sender_type=Message.SenderType.AGENT,
                                  sender_label=actor_label(request))
            form = ComposerForm(conversation=conversation, company=request.company)
        except ValidationError as error:
            form.add_error(None, error.messages)  # by its reason alone: the field it names may not be the form's
            status = 422
    else:
        status = 422
    return render(request, f"{PAGE}#composer", {"company": request.company, "conversation": conversation,
                                                 "form": form}, status=status)


def _header(request: CompanyRequest, conversation: Conversation) -> HttpResponse:
    return render(request, f"{PAGE}#thread-header", {"company": request.company, "conversation": conversation,
                                                     "members": selectors.member_list(company=request.company)})


@company_member()
@require_POST
def conversation_assign(request: CompanyRequest, conversation_id) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    choice = request.POST.get("assignee", "")
    if choice == "me":
        assignee = request.user
    elif choice:
        assignee = selectors.member_user_get(company=request.company, public_id=choice)
        if assignee is None:
            return HttpResponse(status=422)
    else:
        assignee = None
    conversation = services.conversation_assign(company=request.company, conversation=conversation,
                                                assignee=assignee)
    return _header(request, conversation)


@company_member()
@require_POST
def conversation_status(request: CompanyRequest, conversation_id) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    try:
        conversation = services.conversation_set_status(company=request.company, conversation=conversation,
                                                        status=request.POST.get("status", ""),
                                                        actor=actor_label(request))
    except ValidationError:
        return HttpResponse(status=422)
    return _header(request, conversation)


@company_member()
@require_POST
def conversation_priority(request: CompanyRequest, conversation_id) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    try:
        conversation = services.conversation_set_priority(company=request.company, conversation=conversation,
                                                          priority=request.POST.get("priority", ""))
    except ValidationError:
        return HttpResponse(status=422)
    return _header(request, conversation)


def _contact_panel(request: CompanyRequest, conversation: Conversation) -> HttpResponse:
    return render(request, f"{PAGE}#contact-panel",
                  selectors.contact_panel_context(company=request.company, conversation=conversation))


@company_member()
@require_POST
def contact_bot(request: CompanyRequest, conversation_id) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    bots.bot_set_paused(company=request.company, contact=conversation.contact, actor=actor_label(request),
                        paused=request.POST.get("paused") == "1", reason=BotPauseChange.Reason.INBOX)
    return _contact_panel(request, conversation)


@company_member()
@require_POST
def contact_tags(request: CompanyRequest, conversation_id) -> HttpResponse:
    """The panel sends back the tags it drew ticked (seen-tags): only what the person ticked or unticked changes, so
    a tag added or removed elsewhere meanwhile (another agent, the API, bulk tagging) stays as it is. A post without
    them (a client of its own) sets the tags whole."""
    conversation = _conversation_or_404(request, conversation_id)
    posted = set(request.POST.getlist("tags"))
    if request.POST.get("seen-form") != "1":
        tags, unknown = contact_selectors.tags_by_ids(company=request.company, public_ids=list(posted))
        if unknown:
            return HttpResponse(status=422)
        contact_services.contact_set_tags(company=request.company, contact=conversation.contact, tags=tags)
        return _contact_panel(request, conversation)
    seen = set(request.POST.getlist("seen-tags"))
    add, unknown = contact_selectors.tags_by_ids(company=request.company, public_ids=sorted(posted - seen))
    if unknown:
        return HttpResponse(status=422)
    # A tag unticked that was deleted meanwhile is gone already: unknown ids among these are nothing to remove.
    remove, _gone = contact_selectors.tags_by_ids(company=request.company, public_ids=sorted(seen - posted))
    contact_services.contact_change_tags(company=request.company, contact=conversation.contact, add=add, remove=remove)
    return _contact_panel(request, conversation)


@company_member()
@require_POST
def message_retry(request: CompanyRequest, message_id) -> HttpResponse:
    message = _message_or_404(request, message_id)
    try:
        message = services.message_retry(company=request.company, message=message)
    except services.MessagingError:
        return HttpResponse(status=422)
    return _message(request, message)


@company_member()
@require_POST
def message_delete(request: CompanyRequest, message_id) -> HttpResponse:
    message = _message_or_404(request, message_id)
    try:
        message = services.message_delete_for_everyone(company=request.company, message=message)
    except services.MessagingError as error:
        return render(request, f"{PAGE}#message", {"company": request.company, "message": message,
                                                   "conversation": message.conversation,
                                                   "action_error": error.message}, status=422)
    return _message(request, message)


def _message(request: CompanyRequest, message: Message) -> HttpResponse:
    message = selectors.message_for_render(company=request.company, message_id=message.pk)
    return render(request, f"{PAGE}#message", {"company": request.company, "message": message,
                                               "conversation": message.conversation})


@company_member()
@require_GET
def message_media(request: CompanyRequest, message_id) -> FileResponse:
    """A stored media file, served only to members of the message's company."""
    message = _message_or_404(request, message_id)
    if not message.media_file:
        raise Http404
    return media.file_response(message)


# --- quick replies --------------------------------------------------------------------------------------

def _quick_reply_or_404(request: CompanyRequest, quick_reply_id) -> QuickReply:
    quick_reply = selectors.quick_reply_get(company=request.company, public_id=quick_reply_id)
    if quick_reply is None:
        raise Http404
    return quick_reply


def _quick_replies_page(request: CompanyRequest, *, form=None, editing=None, status=200) -> HttpResponse:
    """Every member may add and edit quick replies (they write them); deleting is for admins, as for tags."""
    search = request.GET.get("q", "").replace("\x00", "")  # PostgreSQL text cannot hold NUL: dropped, as in the inbox
    replies = list(selectors.quick_reply_list(company=request.company, search=search))
    for reply in replies:
        reply.form = editing[1] if editing and editing[0] == reply.pk else QuickReplyForm(
            initial={"shortcut": reply.shortcut, "text": reply.text}, prefix=f"r{reply.public_id.hex}")
        for field in reply.form.fields.values():  # said once, by the new reply's form
            field.help_text = ""
    return render(request, "messaging/quick_replies.html", {
        "company": request.company, "replies": replies, "form": form or QuickReplyForm(),
        "can_delete": request.membership.has_role(Role.ADMIN), "q": search,
    }, status=status)


@company_member()
@require_http_methods(["GET", "POST"])
def quick_reply_list(request: CompanyRequest) -> HttpResponse:
    if request.method == "GET" and request.GET.get("fragment") == "composer":  # the composer's list, re-fetched
        return render(request, f"{PAGE}#quick-replies", {
            "company": request.company, "quick_replies": selectors.quick_reply_composer_list(company=request.company)})
    if request.method == "GET":
        return _quick_replies_page(request)
    form = QuickReplyForm(request.POST)
    if form.is_valid():
        try:
            reply = services.quick_reply_create(company=request.company, **form.cleaned_data)
        except services.QuickReplyShortcutTaken as error:
            form.add_error("shortcut", error.message)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Quick reply “/%(shortcut)s” created.") % {"shortcut": reply.shortcut})
            return redirect("messaging:quick_replies", request.company.slug)
    return _quick_replies_page(request, form=form, status=400)


@company_member()
@require_POST
def quick_reply_update(request: CompanyRequest, quick_reply_id) -> HttpResponse:
    reply = _quick_reply_or_404(request, quick_reply_id)
    form = QuickReplyForm(request.POST, prefix=f"r{reply.public_id.hex}")
    if form.is_valid():
        try:
            services.quick_reply_update(company=request.company, quick_reply=reply, **form.cleaned_data)
        except services.QuickReplyShortcutTaken as error:
            form.add_error("shortcut", error.message)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Quick reply “/%(shortcut)s” saved.") % {"shortcut": reply.shortcut})
            return redirect("messaging:quick_replies", request.company.slug)
    return _quick_replies_page(request, editing=(reply.pk, form), status=400)


@company_member(role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def quick_reply_delete(request: CompanyRequest, quick_reply_id) -> HttpResponse:
    reply = _quick_reply_or_404(request, quick_reply_id)
    if request.method == "POST":
        services.quick_reply_delete(company=request.company, quick_reply=reply)
        messages.success(request, _("Quick reply “/%(shortcut)s” deleted.") % {"shortcut": reply.shortcut})
        return redirect("messaging:quick_replies", request.company.slug)
    return render(request, "messaging/quick_reply_delete.html", {"company": request.company, "reply": reply})


@company_member(role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def auto_reply_edit(request: CompanyRequest, instance_id) -> HttpResponse:
    """An instance's greeting, away message and opening hours: admins, as for its other settings."""
    instance = instance_get(company=request.company, public_id=instance_id)
    if instance is None:
        raise Http404
    reply = auto_replies.auto_reply_for(company=request.company, instance=instance)
    members = list(membership_list(company=request.company))
    listed = auto_replies.assign_member_ids(company=request.company, reply=reply)
    context = {"company": request.company, "instance": instance,
               "assign_warning": auto_replies.assign_warning(reply=reply, listed=listed),
               "away_warning": auto_replies.away_warning(reply=reply)}
    if request.method == "GET":
        form = AutoReplyForm(initial=AutoReplyForm.initial_from(reply, listed), members=members)
        return render(request, "messaging/auto_replies.html", {**context, "form": form})
    form = AutoReplyForm(request.POST, members=members)
    if form.is_valid():
        try:
            auto_replies.auto_reply_update(company=request.company, instance=instance, **form.values())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Automatic replies of %(instance)s saved.") % {"instance": instance.label})
            return redirect("auto_replies:edit", request.company.slug, instance.public_id)
    else:  # the service's problems with the fields that passed show too: all of this submit's at once
        problems = auto_replies.auto_reply_problems(company=request.company, instance=instance, **form.values())
        add_errors(form, ValidationError({field: errors for field, errors in problems.items()
                                          if not form.has_error(field)}))
    return render(request, "messaging/auto_replies.html", {**context, "form": form}, status=400)


@company_member()
@require_GET
def inbox_summary(request: CompanyRequest) -> HttpResponse:
    """The overview page's "at a glance" panel (loaded and refreshed by htmx): what the team has to handle now."""
    summary = selectors.inbox_summary(company=request.company, user=request.user)
    return render(request, "messaging/_summary.html", {"company": request.company, "summary": summary})
