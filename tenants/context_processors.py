"""Template context for the navigation shell: the current company and the switcher's companies."""

from django.http import HttpRequest

from tenants.selectors import user_memberships


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_company": getattr(request, "company", None),
        "current_membership": getattr(request, "membership", None),
        # Lazy: evaluated only by templates that draw the switcher.
        "switcher_memberships": lambda: list(user_memberships(user=user)),
    }
