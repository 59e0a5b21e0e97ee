"""Request middleware of the tenants app."""

from axes.middleware import AxesMiddleware
from django.utils import translation
from django_htmx.middleware import HtmxMiddleware


class UserLanguageMiddleware:
    """Use the language chosen in the user's profile; otherwise LocaleMiddleware's browser choice stands."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


# Under ASGI, Django runs a middleware that can be either sync or async as async. Ours and Django's own are
# sync, so these two, last in the chain, made every request go from the sync middlewares back to the event
# loop and into a thread again for the (sync) view: three thread hand-offs per request instead of one, a
# fifth of the web process's CPU for a small API call (py-spy, docs/performance.md#send). Marked sync, the whole
# chain runs in the one thread Django hands the request to.
class SyncHtmxMiddleware(HtmxMiddleware):
    async_capable = False


class SyncAxesMiddleware(AxesMiddleware):
    async_capable = False
