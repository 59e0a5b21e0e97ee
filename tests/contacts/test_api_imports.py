"""CSV imports through the API (/api/v1/contacts/imports): queued as the Contacts page queues them, run by the real
task, read back with their counts and refused rows; bad input is a 400 naming the field and leaves no import;
another company's imports are 404."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from contacts.models import Contact, ContactImport
from contacts.tasks import run_import
from tenants.scoping import company_scope
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/imports"
CSV = "telefone;nome;etiquetas\n5511987654321;Maria;VIP|Atacado\n5521999998888;João;\n12;Zé;\n"


@pytest.fixture(autouse=True)
def _imports_run_in_this_process(monkeypatch):
    """The task runs here when the request's transaction commits, as a worker would run it."""
    monkeypatch.setattr(run_import, "delay",
                        lambda *args, **kwargs: run_import.apply(args=args, kwargs=kwargs).get())


def imports_of(company) -> list[ContactImport]:
    with company_scope(company):
        return list(ContactImport.objects.all())


def test_a_csv_sent_as_text_is_imported_and_its_refused_rows_are_told(api_a, company_a, instance_a,
                                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.post(URL, {"channel": str(instance_a.public_id), "csv": CSV, "filename": "erp.csv"},
                              format="json")
    assert response.status_code == 202, response.json()
    queued = response.json()
    assert (queued["status"], queued["filename"], queued["mapping"]) == (
        "queued", "erp.csv", {"0": "identifier", "1": "name", "2": "tags"})
    done = api_a.get(f"{URL}/{queued['id']}").json()
    assert (done["status"], done["total_rows"], done["created_count"], done["rejected_count"]) == ("done", 3, 2, 1)
    assert done["rejected"][0]["line"] == 4 and done["rejected"][0]["values"][0] == "12"
    with company_scope(company_a):
        maria = Contact.objects.get(identifier="5511987654321")
        assert (maria.name, sorted(maria.tags.values_list("name", flat=True))) == ("Maria", ["Atacado", "VIP"])
    listed = api_a.get(URL).json()
    assert [row["id"] for row in listed["results"]] == [queued["id"]] and "rejected" not in listed["results"][0]


def test_a_file_upload_and_a_mapping_given_by_hand(api_a, company_a, instance_a, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("lista.csv", b"phone,name\n5511911112222,Ana\n", content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.post(URL, {"channel": str(instance_a.public_id), "file": upload}, format="multipart")
    assert response.status_code == 202 and response.json()["filename"] == "lista.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.post(URL, {"channel": str(instance_a.public_id), "has_header": False,
                                    "csv": "5511933334444,Bia\n", "mapping": {"0": "identifier", "1": "custom_name"}},
                              format="json")
    assert response.status_code == 202
    with company_scope(company_a):
        assert dict(Contact.objects.values_list("identifier", "custom_name")) == {
            "5511911112222": "", "5511933334444": "Bia"}
        assert Contact.objects.get(identifier="5511911112222").name == "Ana"


@pytest.mark.parametrize(("body", "field"), [
    ({"csv": "a\x00b"}, "csv"),  # not a text file
    ({"csv": ""}, "csv"),
    ({"csv": "nome\nMaria\n"}, "mapping"),  # no column holds the number
    ({"csv": CSV, "mapping": {"0": "identifier", "1": "identifier"}}, "mapping"),
    ({"csv": CSV, "mapping": {"first": "identifier"}}, "mapping"),
    ({"csv": CSV, "mapping": {"0": "birthday"}}, "mapping"),
    ({}, "csv"),
    ({"csv": CSV, "channel": "00000000-0000-4000-8000-000000000000"}, "channel"),
])
def test_bad_input_is_a_400_naming_the_field_and_leaves_no_import(api_a, company_a, instance_a, body, field):
    response = api_a.post(URL, {"channel": str(instance_a.public_id), **body}, format="json")
    assert response.status_code == 400 and response["content-type"].startswith("application/problem+json")
    assert field in response.json()["errors"], response.json()
    assert imports_of(company_a) == []


def test_another_companys_imports_and_channels_are_out_of_reach(api_a, api_b, company_a, company_b, instance_a,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = api_a.post(URL, {"channel": str(instance_a.public_id), "csv": CSV}, format="json").json()
    assert api_b.get(f"{URL}/{created['id']}").status_code == 404
    assert api_b.get(URL).json()["results"] == []
    refused = api_b.post(URL, {"channel": str(instance_a.public_id), "csv": CSV}, format="json")
    assert refused.status_code == 400 and "channel" in refused.json()["errors"]
    assert imports_of(company_b) == []


def test_a_read_only_key_reads_but_cannot_import(company_a, instance_a):
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company_a, scopes=['read']).secret}")
    assert reader.get(URL).status_code == 200
    assert reader.post(URL, {"channel": str(instance_a.public_id), "csv": CSV}, format="json").status_code == 403
    assert imports_of(company_a) == []
