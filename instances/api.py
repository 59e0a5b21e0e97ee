"""REST API /api/v1/instances: create, list, retrieve, state, connect, QR image, restart, logout, delete.

Create, connect, restart, logout and delete call the gateway synchronously (short timeout): integrators
expect the token or the QR in the response. Errors are problem+json: 409 duplicate name, 403 limit
reached (with `limit`), 503 gateway unavailable (with Retry-After), 422 gateway refusal (its message).
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from instances import selectors, services
from instances.errors import (
    GatewayRejected,
    GatewayUnavailable,
    InstanceError,
    InstanceLimitReached,
    InstanceNameInvalid,
    InstanceNameTaken,
)
from instances.models import Instance, InstanceState
from tenants.api import TenantViewSet
from tenants.problems import Conflict


class LimitReached(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "limit-reached"

    def __init__(self, detail: str, limit: int) -> None:
        super().__init__(detail)
        self.extra = {"limit": limit}


class GatewayUnavailableProblem(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "gateway-unavailable"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.wait = retry_after  # DRF turns `wait` into the Retry-After header


class GatewayRefusedProblem(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "gateway-refused"


@contextmanager
def problems():
    """Use-case errors as the API's problem responses."""
    try:
        yield
    except InstanceNameInvalid as error:
        raise exceptions.ValidationError({error.field: [error.message]}) from error
    except InstanceNameTaken as error:
        raise Conflict(error.message, code="duplicate-name") from error
    except InstanceLimitReached as error:
        raise LimitReached(error.message, error.limit) from error
    except GatewayUnavailable as error:
        raise GatewayUnavailableProblem(error.message, error.retry_after) from error
    except (GatewayRejected, InstanceError) as error:
        raise GatewayRefusedProblem(error.message) from error


class InstanceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    phone_number = serializers.CharField(read_only=True, help_text="Digits with country code, once connected.")

    class Meta:
        model = Instance
        fields = ["id", "name", "label", "state", "phone_number", "owner_jid", "profile_name",
                  "profile_picture_url", "state_changed_at", "created_at"]
        read_only_fields = fields


class InstanceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40, help_text="Lowercase letters, digits and hyphens.")
    label = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    token = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                  help_text="The instance's key on the gateway (16+ characters); random if omitted.")


class InstanceCreatedSerializer(InstanceSerializer):
    token = serializers.CharField(read_only=True, help_text="The instance's token on the gateway.")

    class Meta(InstanceSerializer.Meta):
        fields = [*InstanceSerializer.Meta.fields, "token"]
        read_only_fields = fields


class InstanceStateSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    state = serializers.ChoiceField(choices=InstanceState.choices)
    raw_state = serializers.CharField(help_text="The gateway's own word for the state, as last seen.")
    reason = serializers.CharField(source="state_reason")
    state_changed_at = serializers.DateTimeField()
    last_polled_at = serializers.DateTimeField(allow_null=True)


class ConnectRequestSerializer(serializers.Serializer):
    number = serializers.CharField(required=False, allow_blank=True, max_length=20,
                                   help_text="Phone number (digits with country code) to get a pairing code.")


class ConnectSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=InstanceState.choices)
    qr = serializers.CharField(source="qr_data_url", allow_blank=True, help_text="QR code as a PNG data URL.")
    pairing_code = serializers.CharField(allow_blank=True)
    expires_at = serializers.DateTimeField(source="connect_deadline", allow_null=True)
    count = serializers.IntegerField(source="qr_count")


ERRORS = {
    403: OpenApiResponse(description="Instance limit reached (problem+json with `limit`)."),
    404: OpenApiResponse(description="Unknown instance."),
    409: OpenApiResponse(description="Duplicate name."),
    422: OpenApiResponse(description="The gateway refused (its message in `detail`)."),
    503: OpenApiResponse(description="Gateway unavailable; see Retry-After."),
}
STATE_FILTER = OpenApiParameter("state", str, enum=[value for value, _label in InstanceState.choices],
                                description="Only instances in this state.")


@extend_schema_view(
    list=extend_schema(operation_id="instances_list", parameters=[STATE_FILTER]),
    retrieve=extend_schema(operation_id="instances_retrieve", responses={200: InstanceSerializer, 404: ERRORS[404]}),
)
class InstanceViewSet(TenantViewSet):
    """The company's WhatsApp instances."""

    model = Instance
    serializer_class = InstanceSerializer
    lookup_value_converter = "uuid"

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = queryset.select_related("server").order_by("name")
        state = self.request.query_params.get("state")
        if self.action == "list" and state:
            if state not in InstanceState.values:
                raise exceptions.ValidationError({"state": [_("Unknown state.")]})
            queryset = queryset.filter(state=state)
        return queryset

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(InstanceSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(InstanceSerializer(self.get_object()).data)

    @extend_schema(operation_id="instances_create", request=InstanceCreateSerializer,
                   responses={201: InstanceCreatedSerializer, 403: ERRORS[403], 409: ERRORS[409],
                              422: ERRORS[422], 503: ERRORS[503]})
    def create(self, request: Request) -> Response:
        data = InstanceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with problems():
            instance = services.instance_create(company=self.company, **data.validated_data)
        return Response(InstanceCreatedSerializer(instance).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="instances_destroy", responses={204: None, 404: ERRORS[404], 503: ERRORS[503]})
    def destroy(self, request: Request, id: str) -> Response:
        with problems():
            services.instance_delete(company=self.company, instance=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(operation_id="instances_state", responses={200: InstanceStateSerializer, 404: ERRORS[404]})
    @action(detail=True, methods=["get"])
    def state(self, request: Request, id: str) -> Response:
        return Response(InstanceStateSerializer(self.get_object()).data)

    @extend_schema(operation_id="instances_connect", request=ConnectRequestSerializer,
                   responses={200: ConnectSerializer, 404: ERRORS[404], 422: ERRORS[422], 503: ERRORS[503]})
    @action(detail=True, methods=["post"])
    def connect(self, request: Request, id: str) -> Response:
        instance = self.get_object()
        data = ConnectRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with problems():
            instance = services.instance_connect(company=self.company, instance=instance,
                                                 number=data.validated_data.get("number") or None)
        return Response(ConnectSerializer(instance).data)

    @extend_schema(operation_id="instances_qr_png",
                   responses={(200, "image/png"): OpenApiTypes.BINARY, 404: ERRORS[404]})
    @action(detail=True, methods=["get"], url_path="qr.png")
    def qr_png(self, request: Request, id: str) -> HttpResponse:
        png = selectors.instance_qr_png(self.get_object())
        if png is None:
            raise exceptions.NotFound(_("This instance has no QR code right now."))
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(operation_id="instances_restart", request=None,
                   responses={200: InstanceStateSerializer, 404: ERRORS[404], 422: ERRORS[422], 503: ERRORS[503]})
    @action(detail=True, methods=["post"])
    def restart(self, request: Request, id: str) -> Response:
        with problems():
            instance = services.instance_restart(company=self.company, instance=self.get_object())
        return Response(InstanceStateSerializer(instance).data)

    @extend_schema(operation_id="instances_logout", request=None,
                   responses={200: InstanceStateSerializer, 404: ERRORS[404], 422: ERRORS[422], 503: ERRORS[503]})
    @action(detail=True, methods=["post"])
    def logout(self, request: Request, id: str) -> Response:
        with problems():
            instance = services.instance_logout(company=self.company, instance=self.get_object())
        return Response(InstanceStateSerializer(instance).data)


router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("instances", InstanceViewSet, basename="instance")
