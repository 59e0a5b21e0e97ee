"""GET /api/v1/members: the ids an integrator assigns conversations by (and filters the inbox list by)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


def test_members_list_the_companys_people_with_the_ids_assign_takes(company_a, owner_a, member_a, owner_b, api_a,
                                                                     api_b):
    """`assignee` on POST /conversations/{id}/assign and the `assignee` filter take a member's user id, which no
    route gave: an integrator could only copy one from a conversation someone had already assigned."""
    listed = api_a.get("/api/v1/members")
    assert listed.status_code == 200, listed.content
    body = listed.json()
    assert body["count"] == 2 and body["next"] is None
    assert [(row["id"], row["email"], row["role"]) for row in body["results"]] == [
        (str(member_a.public_id), "adam@alpha.test", "agent"), (str(owner_a.public_id), "alice@alpha.test", "owner")]
    assert [row["name"] for row in body["results"]] == [member_a.get_username(), "Alice"]  # by e-mail, as the page
    assert [row["id"] for row in api_b.get("/api/v1/members").json()["results"]] == [str(owner_b.public_id)]
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company_a, scopes=['read']).secret}")
    assert reader.get("/api/v1/members").json()["count"] == 2
    anonymous = APIClient().get("/api/v1/members")
    assert anonymous.status_code == 401 and anonymous["Content-Type"] == "application/problem+json"
