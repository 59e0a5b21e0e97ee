"""Reads about companies and people, shared by pages and the API."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from tenants.models import ApiKey, Company, Invitation, Membership, Role, User
from tenants.scoping import company_scope


def company_get_by_slug(*, slug: str) -> Company | None:
    return Company.objects.filter(slug=slug).first()


def user_memberships(*, user: User) -> QuerySet[Membership]:
    """The companies a user belongs to (for the switcher and the home redirect)."""
    # all_companies: listing one's own memberships across companies is the switcher's whole point;
    # scoped by the user, never by input.
    return Membership.all_companies.filter(user=user).select_related("company").order_by("company__name")


def membership_for_slug(*, user: User, slug: str) -> Membership | None:
    """The user's membership in the company of this slug, with the company, in one query (every company page
    starts with it); None when no company has the slug or the user is not one of its members."""
    # all_companies: the user's own membership, found before any company scope exists; scoped by the user,
    # the slug only picks among their companies.
    return Membership.all_companies.filter(user=user, company__slug=slug).select_related("company").first()


def membership_get(*, company: Company, user: User) -> Membership | None:
    return Membership.objects.filter(company=company, user=user).select_related("company").first()


def membership_list(*, company: Company) -> QuerySet[Membership]:
    return Membership.objects.filter(company=company).select_related("user").order_by("user__email")


def membership_get_by_public_id(*, company: Company, public_id) -> Membership | None:
    return Membership.objects.filter(company=company, public_id=public_id).select_related("user").first()


def invitation_list_pending(*, company: Company) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        company=company, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
    ).order_by("-created_at")


def invitation_get(*, company: Company, public_id) -> Invitation | None:
    return Invitation.objects.filter(company=company, public_id=public_id).first()


def api_key_list(*, company: Company) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(company=company).order_by("-created_at")


def api_key_get(*, company: Company, public_id) -> ApiKey | None:
    return ApiKey.objects.filter(company=company, public_id=public_id).first()


def company_list_with_counts() -> QuerySet[Company]:
    """Operator dashboard: every company with its member, active API key and instance counts, in one query."""
    # Company is global; the counts join tenant tables through their company FK (no manager involved).
    return Company.objects.annotate(
        member_count=Count("tenants_membership", distinct=True),
        api_key_count=Count("tenants_apikey", filter=Q(tenants_apikey__revoked_at=None), distinct=True),
        instance_count=Count("instances_instance", distinct=True),
    ).order_by("name")


def company_get(*, public_id) -> Company | None:
    """Operator lookups: a company by its public id (Company is the tenant itself, not tenant-owned)."""
    return company_list_with_counts().filter(public_id=public_id).first()


def company_owner_list(*, company: Company) -> list[Membership]:
    """The owners of one company, for the operator's company page (which runs outside any company scope)."""
    with company_scope(company):
        return list(Membership.objects.filter(company=company, role=Role.OWNER).select_related("user")
                    .order_by("user__email"))


def user_email_taken(*, email: str) -> bool:
    return get_user_model().objects.filter(email__iexact=email.strip()).exists()
