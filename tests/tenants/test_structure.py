"""Structural tenancy tests: leaks become impossible by construction and visible here (STYLE 5.1)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from tenants.models import ApiKey, Invitation, Membership
from tenants.scoping import TenantOwned, TenantScopeError, company_scope, current_company
from tests.factories import make_member

ROOT = Path(__file__).resolve().parents[2]

# Models that are not tenant-owned, each with the reason.
GLOBAL_MODELS = {
    "tenants.User": "a person may belong to several companies",
    "tenants.Company": "the tenant itself",
    "instances.GatewayServer": "operator-managed gateway servers shared by all companies",
}
OUR_APPS = {"tenants", "instances", "contacts", "messaging", "integrations"}

# Modules allowed to bypass the fail-closed manager, and why (STYLE rule 12).
ALL_COMPANIES_ALLOWED = {
    "tenants/scoping.py": "defines the bypass",
    "tenants/admin.py": "Django admin is the operators' cross-company tool",
    "tenants/selectors.py": "a user's own memberships across companies (switcher)",
    "tenants/services.py": "invitation tokens and API keys are looked up by their hashed secret",
    "tenants/authentication.py": "the API key names the company",
    "instances/tasks.py": "the beat fan-out enqueues one poll per due instance, and the daily retention scan one "
                          "purge per company with old gateway bodies, and the inbound sweep wakes the drain of each "
                          "company with a stale pending body, across companies (ids only)",
    "instances/hooks.py": "inbound webhooks: the URL secret (or server + instance name) names the instance",
    "integrations/tasks.py": "the beat scan re-enqueues due webhook deliveries, and the daily retention scan enqueues "
                             "one purge per company with old events, across companies (ids only)",
    "integrations/consumers.py": "the event stream's API key names the company",
    "messaging/tasks.py": "the beat's scan for companies that close inactive conversations reads their ids only; "
                          "each close runs in its company's scope",
    "messaging/media.py": "the nightly sweep of stored files no message references: storage names are not per "
                          "company, and it reads only which names are referenced",
    "messaging/outbound.py": "the outbound sweep wakes the drain of each message left unsent too long, across "
                             "companies (ids only)",
}


# Modules allowed to write SQL themselves (STYLE: raw SQL confined to allowlisted modules), and why.
RAW_SQL_ALLOWED = {
    "config/ops.py": "the health check's SELECT 1",
    "instances/services.py": "the hook's one-statement store (INSERT … SELECT … ON CONFLICT) and the drain "
                             "partition expression over the stored body; tenant-filtered by the instance row "
                             "and the scoped manager; the inbound batch's transaction-local lock_timeout",
    "tenants/prepared.py": "runs the ORM's own SQL (built under a placeholder scope) with the current company",
    "messaging/selectors.py": "the inbox search's one lookup query (the ORM's own SQL of its three parts in one "
                              "statement) and its collected array; each part tenant-filtered by the scoped manager",
    "messaging/services.py": "the outbound drain's one-statement claim: an UPDATE of the ORM's own SKIP LOCKED "
                             "selection, tenant-filtered by the scoped manager",
    "messaging/auto_replies.py": "automatic assignment's transaction-scoped advisory lock keyed on the company's id: "
                                 "reads no table",
}


def test_raw_sql_is_used_only_in_allowlisted_modules():
    users = subprocess.run(
        ["git", "grep", "-l", "-E", r"\.cursor\(|RawSQL|\.raw\(|\.extra\(", "--", "*.py", ":!tests/",
         ":!benchmarks/", ":!*/migrations/*"], cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.split()
    unexpected = sorted(set(users) - set(RAW_SQL_ALLOWED))
    assert unexpected == [], f"raw SQL outside the allowlist: {unexpected}"


def test_every_model_is_tenant_owned_or_allowlisted():
    offenders = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS
        and not issubclass(model, TenantOwned)
        and model._meta.label not in GLOBAL_MODELS
    ]
    assert offenders == [], f"models neither TenantOwned nor allowlisted with a reason: {offenders}"


def test_tenant_models_have_company_first_in_composite_indexes():
    for model in apps.get_models():
        if not issubclass(model, TenantOwned):
            continue
        for index in model._meta.indexes:
            assert index.fields[0] == "company", f"{model._meta.label} index {index.name} does not start with company"


@pytest.mark.django_db
def test_query_without_company_context_raises(company_a, owner_a):
    with pytest.raises(TenantScopeError):
        list(Membership.objects.all())
    with pytest.raises(TenantScopeError):
        ApiKey.objects.count()


@pytest.mark.django_db
def test_scope_filters_to_its_company_and_resets(company_a, owner_a, company_b, owner_b):
    with company_scope(company_a):
        assert [m.user for m in Membership.objects.all()] == [owner_a]
    with company_scope(company_b):
        assert [m.user for m in Membership.objects.all()] == [owner_b]
    assert current_company() is None


@pytest.mark.django_db
def test_saving_another_companys_row_inside_a_scope_is_refused(company_a, company_b, owner_b):
    foreign = Membership.all_companies.get(user=owner_b)
    foreign.role = "agent"
    with company_scope(company_a), pytest.raises(TenantScopeError):
        foreign.save()
    foreign.refresh_from_db()
    assert foreign.role == "owner"


def test_all_companies_is_used_only_in_allowlisted_modules():
    output = subprocess.run(
        ["git", "grep", "-l", "all_companies", "--", "*.py", ":!tests/"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.split()
    untracked = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "*.py"], cwd=ROOT, capture_output=True, text=True,
        check=False,
    ).stdout.split()
    users = set(output) | {path for path in untracked
                           if not path.startswith("tests/") and "all_companies" in (ROOT / path).read_text()}
    unexpected = sorted(users - set(ALL_COMPANIES_ALLOWED))
    assert unexpected == [], f"all_companies used outside the allowlist: {unexpected}"


def test_every_all_companies_use_carries_a_reason():
    for relative in ALL_COMPANIES_ALLOWED:
        lines = (ROOT / relative).read_text().splitlines()
        for number, line in enumerate(lines):
            if ".all_companies" in line and not line.strip().startswith("#"):
                context = "\n".join(lines[max(0, number - 3): number + 1])
                assert "all_companies:" in context or "#" in line, (
                    f"{relative}:{number + 1} uses all_companies without a comment saying why"
                )


@pytest.mark.django_db
def test_context_is_empty_after_a_page_request_and_an_api_call(client_a, company_a, api_a):
    assert client_a.get(f"/c/{company_a.slug}/").status_code == 200
    assert current_company() is None
    assert api_a.get("/api/v1/me").status_code == 200
    assert current_company() is None
    assert api_a.get("/api/v1/does-not-exist").status_code == 404
    assert current_company() is None


# --- URL sweep --------------------------------------------------------------------------------

def _company_patterns(resolver: URLResolver | None = None, prefix: str = "") -> list[str]:
    """Every route (as a regex-ish string) that lives under the company prefix or takes an object id."""
    resolver = resolver or get_resolver()
    routes = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes += _company_patterns(entry, route)
        elif isinstance(entry, URLPattern):
            routes.append(route)
    return routes


def _victim_instance(company_a):
    """An instance row of company A (no gateway call: the sweep only needs it to exist)."""
    from instances.models import GatewayServer, Instance

    server = GatewayServer.objects.create(name="sweep", base_url="http://127.0.0.1:9", api_key="k",
                                          hook_secret="s", hook_secret_hash="sweep-hash")
    with company_scope(company_a):
        return Instance.objects.create(company=company_a, server=server, name="victim", gateway_name="alpha_victim",
                                       token="t", webhook_secret_hash="sweep-instance-hash")


def _victim_contacts(company_a, instance):
    """A contact (with a LID), a tag and a CSV import of company A."""
    from contacts import imports
    from contacts import services as contact_services

    with company_scope(company_a):
        tag = contact_services.tag_create(company=company_a, name="victim")
        contact = contact_services.contact_create(company=company_a, instance=instance, identifier="5511987654321",
                                                  tags=[tag], extra_identifiers=["1234567890123@lid"])
        identifier = contact.identifiers.get(kind="lid")
        contact_import = imports.contact_import_create(company=company_a, instance=instance, filename="v.csv",
                                                       raw=b"identifier,name\n5511987650000,Victim\n")
    return contact, tag, contact_import, identifier


def _victim_conversation(company_a, contact):
    """A conversation of company A with one sent message (no gateway call)."""
    from messaging.models import Conversation, Message

    with company_scope(company_a):
        conversation = Conversation.objects.create(company=company_a, instance=contact.instance, contact=contact)
        message = Message.objects.create(company=company_a, conversation=conversation, instance=contact.instance,
                                         direction="out", kind="text", text="victim", status="failed",
                                         gateway_message_id="3EB0VICTIM")
    return conversation, message


def _victim_webhook(company_a):
    """A webhook endpoint of company A with one delivery (never sent: the sweep only needs it to exist)."""
    from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

    with company_scope(company_a):
        endpoint = WebhookEndpoint.objects.create(company=company_a, url="https://victim.example/hook",
                                                  secret="whsec_dmljdGlt")
        event = WebhookEvent.objects.create(company=company_a, event_id="evt_victim", type="contact.created",
                                            payload={})
        delivery = WebhookDelivery.objects.create(company=company_a, endpoint=endpoint, event=event,
                                                  status="succeeded")
    return endpoint, delivery


# How to fill each URL parameter with an object of company A (the victim).
def _victim_values(company_a, owner_a) -> dict[str, str]:
    victim = make_member(company=company_a, role="agent", email="victim@alpha.test")
    from tenants import services

    issued = services.invitation_create(company=company_a, invited_by=owner_a, email="invitee@alpha.test", role="agent")
    key = services.api_key_create(company=company_a, name="victim key")
    instance = _victim_instance(company_a)
    contact, tag, contact_import, identifier = _victim_contacts(company_a, instance)
    conversation, message = _victim_conversation(company_a, contact)
    endpoint, delivery = _victim_webhook(company_a)
    with company_scope(company_a):
        from integrations import bots

        bots.platform_create(company=company_a, instance=instance, slug="victim-bot",
                             callback_url="http://127.0.0.1:9/victim-bot", make_starting=True)
        from messaging import services as messaging_services

        quick_reply = messaging_services.quick_reply_create(company=company_a, shortcut="victim", text="A's")
    return {
        "quick_reply_id": str(quick_reply.public_id),
        "slug": "victim-bot",
        "endpoint_id": str(endpoint.public_id),
        "delivery_id": str(delivery.public_id),
        "conversation_id": str(conversation.public_id),
        "message_id": str(message.public_id),
        "contact_id": str(contact.public_id),
        "tag_id": str(tag.public_id),
        "import_id": str(contact_import.public_id),
        "identifier_id": str(identifier.public_id),
        "instance_id": str(instance.public_id),
        "company_slug": company_a.slug,
        "membership_id": str(victim.public_id),
        "invitation_id": str(issued.invitation.public_id),
        "api_key_id": str(key.api_key.public_id),
        "id": str(victim.public_id),
    }


def _fill(route: str, values: dict[str, str]) -> str | None:
    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    missing = [name for name in names if name not in values]
    assert not missing, f"URL sweep does not know how to fill {missing} in {route}: add them to _victim_values"
    path = route
    for name in names:
        path = re.sub(rf"<(?:\w+:)?{name}>", values[name], path)
    return "/" + path.lstrip("^").rstrip("$")


def _snapshot() -> dict[str, list]:
    return {
        model._meta.label: sorted(map(repr, model.all_companies.values_list()))
        for model in apps.get_models() if issubclass(model, TenantOwned)
    }


@pytest.mark.django_db
def test_url_sweep_foreign_company_gets_404_and_changes_nothing(company_a, owner_a, client_b, owner_b):
    values = _victim_values(company_a, owner_a)
    routes = [route for route in _company_patterns() if "<slug:company_slug>" in route]
    assert len(routes) >= 8, routes
    before = _snapshot()
    for route in routes:
        path = _fill(route, values)
        for method in ("get", "post"):
            response = getattr(client_b, method)(path)
            assert response.status_code == 404, f"{method.upper()} {path} gave {response.status_code} to company B"
    assert _snapshot() == before
    assert current_company() is None


@pytest.mark.django_db
def test_api_sweep_foreign_ids_get_404_and_change_nothing(company_a, owner_a, api_b):
    values = _victim_values(company_a, owner_a)
    routes = [route for route in _company_patterns() if route.startswith("api/v1/") and "<" in route]
    assert api_b.get("/api/v1/me").status_code == 200  # records the key's first use before the snapshot
    before = _snapshot()
    for route in routes:
        path = _fill(route, values)
        for method in ("get", "patch", "put", "delete", "post"):
            response = getattr(api_b, method)(path, {}, format="json")
            assert response.status_code in (404, 405), f"{method.upper()} {path} gave {response.status_code}"
            if response.status_code == 404:
                assert response["Content-Type"] == "application/problem+json"
    assert _snapshot() == before


@pytest.mark.django_db
def test_models_in_sweep_are_really_company_a(company_a, owner_a):
    values = _victim_values(company_a, owner_a)
    with company_scope(company_a):
        assert Membership.objects.filter(public_id=values["membership_id"]).exists()
        assert Invitation.objects.filter(public_id=values["invitation_id"]).exists()
        assert ApiKey.objects.filter(public_id=values["api_key_id"]).exists()
