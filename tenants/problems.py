"""Every API error as application/problem+json (RFC 9457), never with internals."""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)
PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://recado.dev/problems/"


class Conflict(exceptions.APIException):
    """409: the request clashes with what exists (a duplicate name, an existing contact)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"

    def __init__(self, detail=None, code=None, *, extra: dict | None = None):
        super().__init__(detail, code)
        self.extra = extra or {}


class PayloadTooLarge(exceptions.APIException):
    """413: a body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django refuses to read it; it was a 500)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload-too-large"

    def __init__(self) -> None:
        megabytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
        super().__init__(_("The request body is too large: at most %(size)s MB.") % {"size": f"{megabytes:g}"})


def problem_body(status_code: int, detail, *, code: str | None = None, errors=None, extra=None) -> dict:
    title = HTTPStatus(status_code).phrase
    body = {
        "type": PROBLEM_TYPE_BASE + (code or title.lower()).replace(" ", "-").replace("_", "-"),
        "title": title,
        "status": status_code,
        "detail": str(detail),
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


def _summary(detail, path: tuple[str, ...] = ()) -> list[str]:
    """One "field: message" line per failing field, nested fields and list items named by their path
    ("location: latitude: …", "messages: 1: text: …")."""
    def line(text: str) -> list[str]:
        return [f"{': '.join(path)}: {text}" if path else text] if text else []

    if isinstance(detail, dict):
        return [found for key, value in detail.items() for found in _summary(value, (*path, str(key)))]
    if isinstance(detail, list):
        if any(isinstance(item, dict | list) for item in detail):
            return [found for index, item in enumerate(detail) for found in _summary(item, (*path, str(index)))]
        return line(" ".join(str(item) for item in detail))
    return line(str(detail))


def _validation_payload(detail) -> tuple[str, dict | list]:
    if isinstance(detail, dict):
        return "; ".join(_summary(detail)) or "Invalid input.", detail
    if isinstance(detail, list):
        return " ".join(str(item) for item in detail), {"non_field_errors": detail}
    return str(detail), {"non_field_errors": [str(detail)]}


def problem_exception_handler(exc, context):
    """DRF exception handler: keep DRF's status and headers (Retry-After, WWW-Authenticate), reshape the body."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(
            problem_body(500, "An unexpected error occurred; it has been logged.", code="server-error"),
            status=500, content_type=PROBLEM_CONTENT_TYPE,
        )
    if isinstance(exc, exceptions.ValidationError):
        detail, errors = _validation_payload(exc.detail)
        response.data = problem_body(400, detail, code="validation-error", errors=errors)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        code = code if isinstance(code, str) else None
        response.data = problem_body(response.status_code, detail, code=code, extra=getattr(exc, "extra", None))
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_response(status_code: int, detail: str, *, code: str | None = None) -> JsonResponse:
    """A plain Django response in problem+json (for errors raised outside DRF under /api/)."""
    return JsonResponse(
        problem_body(status_code, detail, code=code), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )
