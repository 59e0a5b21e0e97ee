"""A tiny write route on the real API base classes, to exercise error shapes no product route has yet."""

from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response

from tenants.api import TenantAPIView
from tenants.problems import Conflict


class EchoSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=20)


class EchoView(TenantAPIView):
    def post(self, request):
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["name"] == "taken":
            raise Conflict("That name is taken.", extra={"existing_id": "123"})
        return Response({"name": serializer.validated_data["name"], "company": self.company.slug})


urlpatterns = [path("echo", EchoView.as_view())]
