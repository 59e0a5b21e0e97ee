"""Import progress is pushed (after commit) to the import's own company topic; other companies cannot join it."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from contacts import imports
from contacts.streaming import company_stream
from tenants import realtime
from tenants.scoping import TenantScopeError, company_scope
from tests.realtime_listener import Listener

pytestmark = pytest.mark.django_db


def test_progress_fragments_reach_the_import_topic(company_a, instance_a, django_capture_on_commit_callbacks):
    with company_scope(company_a):
        contact_import = imports.contact_import_create(company=company_a, instance=instance_a, filename="a.csv",
                                                       raw=b"number\n5511987654321\n5521999998888\n")
    listener = Listener().join(company_a, realtime.topic_for("contact_import", contact_import.public_id))
    with company_scope(company_a):
        # The enqueue waits for a commit that never comes in this test; the task's body is run right here.
        imports.contact_import_start(company=company_a, contact_import=contact_import, mapping={"0": "identifier"},
                                     has_header=True)
    with company_scope(company_a), django_capture_on_commit_callbacks(execute=True):
        imports.contact_import_run(company=company_a, contact_import=contact_import)
    pushed = listener.drain()
    assert pushed, "no progress was pushed"
    hex_id = contact_import.public_id.hex
    for html in pushed:  # a language-free nudge that makes each page fetch its own progress fragment
        assert f'id="import-{hex_id}-nudge"' in html and 'hx-swap-oob="true"' in html
        assert f'hx-target="#import-{hex_id}-progress"' in html and 'hx-trigger="load"' in html
        assert f"/import/{contact_import.public_id}/?fragment=progress" in html


def test_only_the_owning_company_can_follow_an_import(company_a, company_b, instance_a):
    with company_scope(company_a):
        contact_import = imports.contact_import_create(company=company_a, instance=instance_a, filename="a.csv",
                                                       raw=b"number\n5511987654321\n")
        assert realtime.resolve_topic(company_a, "contact_import", str(contact_import.public_id)) == (
            f"contact_import.{contact_import.public_id.hex}")
    with company_scope(company_b):
        assert realtime.resolve_topic(company_b, "contact_import", str(contact_import.public_id)) is None


def test_streamed_bodies_reenter_the_company_scope_per_chunk(company_a):
    from contacts.models import Tag

    def rows():
        yield str(Tag.objects.count())  # needs the scope: the view's scope is long closed when this runs
        yield "!"

    assert "".join(company_stream(company_a, rows(), asynchronous=False)) == "0!"

    async def collect():
        return [chunk async for chunk in company_stream(company_a, rows(), asynchronous=True)]

    assert "".join(async_to_sync(collect)()) == "0!"
    with pytest.raises(TenantScopeError):
        list(rows())
