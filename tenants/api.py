"""The REST API's scoped base views (STYLE rule 13), GET /api/v1/me and GET /api/v1/members."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, viewsets
from rest_framework.fields import empty
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from tenants import selectors
from tenants.authentication import SCOPE_TOKEN_ATTRIBUTE, ApiKeyAuthentication
from tenants.models import ApiKey, Company, Membership, Role
from tenants.openapi import page_example
from tenants.scoping import exit_company_scope


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http", "scheme": "bearer",
            "description": "An API key (`rk_...`); an `apikey` header also works.",
        }



class SparseInputSerializer(serializers.Serializer):
    """An input serializer that builds only the fields a request can use, and shares its plain ones.

    DRF deep-copies every declared field for every serializer it makes, nested serializers included: for a plain
    text send that was most of the cost of validating it (a location, contact cards and a list or buttons that
    the request does not mention, each rebuilt). Here, for a serializer given a JSON-style mapping on its own
    (not partial, not a list's child, not form input, whose names nest by prefixes):

    - a nested or otherwise stateful field the data leaves out that is neither required nor has a default is not
      built: DRF would skip it, so no outcome changes;
    - a plain field (text, number, choice, UUID, boolean, with a fixed default and validators that read nothing
      but the value) is not copied at all: one bound set per class validates every request's values, as
      validating reads only the field's own settings. `fields` then lists only the request's own fields."""

    def _sparse(self) -> bool:
        data = getattr(self, "initial_data", None)
        return (self.parent is None and not self.partial and isinstance(data, Mapping)
                and not isinstance(data, QueryDict))

    @classmethod
    def _shared_input_fields(cls) -> dict[str, serializers.Field]:
        shared = cls.__dict__.get("_shared_inputs")
        if shared is None:
            shared = {name: field for name, field in cls().fields.items()
                      if isinstance(field, _PLAIN_INPUT_FIELDS) and not callable(field.default)
                      and not any(getattr(validator, "requires_context", False) for validator in field.validators)}
            cls._shared_inputs = shared
        return shared

    def get_fields(self) -> dict[str, serializers.Field]:
        if not self._sparse():
            return super().get_fields()
        data, shared = self.initial_data, self._shared_input_fields()
        return {name: copy.deepcopy(field) for name, field in self._declared_fields.items()
                if name not in shared and (name in data or field.required or field.default is not empty)}

    @property
    def _writable_fields(self):
        if not self._sparse():
            yield from super()._writable_fields
            return
        shared, own = self._shared_input_fields(), self.fields
        for name in self._declared_fields:
            field = shared.get(name) or own.get(name)
            if field is not None and not field.read_only:
                yield field


# Input field kinds whose validation reads only the value and the field's own settings.
_PLAIN_INPUT_FIELDS = (serializers.CharField, serializers.UUIDField, serializers.ChoiceField, serializers.BooleanField,
                       serializers.IntegerField, serializers.FloatField, serializers.DecimalField)


class ReadOnlyModelSerializer(serializers.ModelSerializer):
    """An output-only ModelSerializer (every field read-only) whose fields are worked out once per class.

    DRF works out a ModelSerializer's fields from the model for every serializer it makes (each field's kwargs
    derived from the model field, the declared ones deep-copied): a tenth of the CPU of a small API request
    such as a send. Read-only fields keep only simple kwargs (DRF drops their validators and querysets), so
    each serializer here builds its own field objects from the kwargs the first one derived, as DRF's own
    deepcopy of a field does."""

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        specs = cls.__dict__.get("_field_specs")
        if specs is None:
            fields = super().get_fields()
            if not all(field.read_only for field in fields.values()):
                raise TypeError(f"{cls.__name__}: every field of a ReadOnlyModelSerializer must be read-only")
            specs = {name: (type(field), field._args, field._kwargs) for name, field in fields.items()}
            cls._field_specs = specs
        return {name: kind(*args, **kwargs) for name, (kind, args, kwargs) in specs.items()}

    @classmethod
    def _output_fields(cls) -> tuple[serializers.Field, ...]:
        """One bound set of field objects per class, shared by every serializer of the class to write its output.

        Building 30 field objects per message was still most of the cost of answering one (a send's response,
        every row of a list). Writing a value is read-only for the kinds allowed here: none keeps per-call state
        or reads the serializer's context (a file or hyperlinked field would: those are refused)."""
        shared = cls.__dict__.get("_shared_output_fields")
        if shared is None:
            shared = tuple(field for field in cls().fields.values() if not field.write_only)
            unsafe = [field.field_name for field in shared if not isinstance(field, _CONTEXT_FREE_FIELDS)]
            if unsafe:
                raise TypeError(f"{cls.__name__}: fields {unsafe} may read the context; they cannot be shared")
            cls._shared_output_fields = shared
        return shared

    def to_representation(self, instance) -> dict[str, Any]:
        """DRF's Serializer.to_representation over the class's shared fields; a method field calls this serializer's
        method (the shared field's parent is the serializer that built them)."""
        output = {}
        for field in self._output_fields():
            if isinstance(field, serializers.SerializerMethodField):
                output[field.field_name] = getattr(self, field.method_name)(instance)
                continue
            try:
                attribute = field.get_attribute(instance)
            except serializers.SkipField:
                continue
            output[field.field_name] = None if attribute is None else field.to_representation(attribute)
        return output


# Field kinds whose to_representation reads only the value and the field's own settings.
_CONTEXT_FREE_FIELDS = (*_PLAIN_INPUT_FIELDS, serializers.DateTimeField, serializers.DateField,
                        serializers.JSONField, serializers.SerializerMethodField)


def query_text(request: Request, name: str) -> str:
    """A free-text query parameter ("" when absent). A NUL character is a 400 naming it: PostgreSQL text cannot
    hold one, so it could only ever fail the query (DRF's CharField refuses it in bodies the same way)."""
    value = request.query_params.get(name, "")
    if "\x00" in value:
        raise exceptions.ValidationError({name: [_("Null characters are not allowed.")]})
    return value


class DownloadNegotiation(BaseContentNegotiation):
    """For routes answering a file (a QR PNG, a message's media): whatever the client accepts, the file is what it
    gets, and an error is problem+json as everywhere (DRF's negotiation answered `Accept: image/png` with a 406,
    since the API renders JSON only)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _CompanyScopedMixin:
    """Closes the company scope the authentication opened, whatever happens in the view."""

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            token = getattr(request, SCOPE_TOKEN_ATTRIBUTE, None)
            if token is not None:
                delattr(request, SCOPE_TOKEN_ATTRIBUTE)
                exit_company_scope(token)

    @property
    def company(self) -> Company:
        return self.request.company


class TenantAPIView(_CompanyScopedMixin, APIView):
    """Base of every non-model API view."""


class TenantViewSet(_CompanyScopedMixin, viewsets.GenericViewSet):
    """Base of every model API viewset: the queryset is always the company's; subclasses filter in scoped_queryset."""

    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    model: type | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for forbidden in ("get_queryset", "get_object"):
            if forbidden in cls.__dict__:
                raise TypeError(f"{cls.__name__} must not override {forbidden}; filter in scoped_queryset()")
        if "queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: set `model`, not a class-level queryset (it would skip the company)")

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset

    def get_queryset(self) -> QuerySet:
        return self.scoped_queryset(self.model.objects.filter(company=self.company))

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "company": self.company}

    def get_object(self):
        try:
            return super().get_object()
        except (ValueError, DjangoValidationError):
            # A malformed id looks exactly like an unknown one.
            raise exceptions.NotFound() from None


class CompanySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    slug = serializers.CharField()
    max_instances = serializers.IntegerField()
    max_members = serializers.IntegerField()


class MeView(TenantAPIView, generics.GenericAPIView):
    """The company and key behind the request."""

    serializer_class = CompanySerializer

    @extend_schema(
        operation_id="me",
        responses=inline_serializer(
            "Me",
            {
                "company": CompanySerializer(),
                "api_key": inline_serializer(
                    "MeApiKey", {"name": serializers.CharField(), "prefix": serializers.CharField(),
                                 "scopes": serializers.ListField(child=serializers.CharField())},
                ),
            },
        ),
        examples=[OpenApiExample("Demo company", response_only=True, value={
            "company": {"id": "5c1d2e3f-8888-4000-8000-000000000008", "name": "Mercearia Demo",
                        "slug": "mercearia-demo", "max_instances": 5, "max_members": 20},
            "api_key": {"name": "ERP", "prefix": "rk_77595e3b", "scopes": ["read", "write", "messages"]}})],
    )
    def get(self, request: Request) -> Response:
        api_key: ApiKey = request.auth
        return Response({
            "company": CompanySerializer(self.company).data,
            "api_key": {"name": api_key.name, "prefix": api_key.prefix, "scopes": api_key.scopes},
        })


class MemberSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="user.public_id",
                               help_text="The user id conversations are assigned by (`assignee`).")
    name = serializers.SerializerMethodField()
    email = serializers.EmailField(source="user.email")
    role = serializers.ChoiceField(choices=Role.choices)

    def get_name(self, membership: Membership) -> str:
        return membership.user.get_full_name() or membership.user.get_username()


MEMBER_EXAMPLE = {"id": "9a8b7c6d-2222-4000-8000-000000000002", "name": "Alice", "email": "alice@example.com",
                  "role": "agent"}


class MemberViewSet(TenantViewSet):
    """The company's people: the ids POST /conversations/{id}/assign and the `assignee` filter take."""

    model = Membership
    serializer_class = MemberSerializer

    @extend_schema(operation_id="members_list", examples=[page_example(MEMBER_EXAMPLE, "/members", count=1)])
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.membership_list(company=self.company))
        return self.get_paginated_response(MemberSerializer(page, many=True).data)


router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("members", MemberViewSet, basename="member")
