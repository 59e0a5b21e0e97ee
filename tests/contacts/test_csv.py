"""CSV import (preview, mapping, background job, rejected rows, idempotent re-import) and streamed export."""

from __future__ import annotations

import codecs
import csv
import html as htmllib
import io
import re
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile

from config.celery import app
from contacts import imports
from contacts.models import Contact, ContactImport, ContactTag, Tag
from contacts.tasks import run_import
from tenants.scoping import company_scope
from tests.factories import make_contact, make_instance, make_platform, make_tag

GOOD_BAD_DUPLICATE = (
    "Telefone;Nome;Etiquetas;Ignorado\n"
    "+55 11 98765-4321;Ana;VIP | Atacado;não\n"
    "5521999998888;Bia;VIP;sim\n"
    "12;Broken;;\n"
    "551187654321;Ana again;;\n"
    "5531988887777;Caio;;talvez\n"
    "120363025246125888@g.us;Equipe;;\n"
).encode("utf-8-sig")


def upload(client, company, instance, content: bytes, name: str = "contacts.csv"):
    return client.post(f"/c/{company.slug}/contacts/import/", {
        "instance": str(instance.public_id), "file": SimpleUploadedFile(name, content, content_type="text/csv")})


def latest_import(company) -> ContactImport:
    with company_scope(company):
        return ContactImport.objects.order_by("-pk").first()


def run(company, contact_import: ContactImport) -> ContactImport:
    run_import.apply(args=[company.pk, contact_import.pk]).get()
    with company_scope(company):
        contact_import.refresh_from_db()
    return contact_import


def start(client, company, contact_import: ContactImport, mapping: dict[int, str], has_header=True):
    data = {f"column_{index}": field for index, field in mapping.items()}
    if has_header:
        data["has_header"] = "on"
    return client.post(f"/c/{company.slug}/contacts/import/{contact_import.public_id}/", data)


def contacts_state(company) -> list:
    with company_scope(company):
        return sorted(
            (c.identifier, c.name, c.is_ignored, sorted(t.name for t in c.tags.all()))
            for c in Contact.objects.prefetch_related("tags")
        )


@pytest.mark.django_db
def test_upload_preview_guesses_the_mapping_and_import_reports_rejected_rows(client_a, company_a, instance_a):
    response = upload(client_a, company_a, instance_a, GOOD_BAD_DUPLICATE)
    assert response.status_code == 302
    contact_import = latest_import(company_a)
    assert (contact_import.delimiter, contact_import.has_header) == (";", True)
    assert contact_import.mapping == {"0": "identifier", "1": "name", "2": "tags", "3": "is_ignored"}
    preview = client_a.get(response["Location"]).content.decode()
    assert "Telefone" in preview and "+55 11 98765-4321" in preview and preview.count("<tr>") == 6
    assert start(client_a, company_a, contact_import, {0: "identifier", 1: "name", 2: "tags", 3: "is_ignored"}
                 ).status_code == 302
    assert latest_import(company_a).status == ContactImport.Status.QUEUED

    done = run(company_a, contact_import)
    assert done.status == ContactImport.Status.DONE and done.percent == 100
    assert (done.total_rows, done.created_count, done.updated_count, done.unchanged_count, done.rejected_count) == (
        6, 3, 0, 0, 3)
    assert contacts_state(company_a) == [
        ("120363025246125888@g.us", "Equipe", False, []),
        ("5511987654321", "Ana", False, ["Atacado", "VIP"]),
        ("5521999998888", "Bia", True, ["VIP"]),
    ]
    report = client_a.get(f"/c/{company_a.slug}/contacts/import/{contact_import.public_id}/rejected.csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["line", "reason", "Telefone", "Nome", "Etiquetas", "Ignorado"]
    assert [(row[0], row[2]) for row in rows[1:]] == [("4", "12"), ("5", "551187654321"), ("6", "5531988887777")]
    assert "not a valid phone number" in rows[1][1]
    assert "Same contact as line 2" in rows[2][1]
    assert "use yes or no" in rows[3][1]
    progress = client_a.get(f"/c/{company_a.slug}/contacts/import/{contact_import.public_id}/?fragment=progress")
    html = progress.content.decode()
    assert "100%" in html and "3 created" in html and "every 2s" not in html


def _rejected_table(page: str) -> tuple[str, list[list[str]]]:
    """The result page's rejected-rows table: its caption and each row's cells as text."""
    table = page.split('data-testid="rejected-rows"')[1].split("</table>")[0]
    caption = re.search(r"<caption[^>]*>(.*?)</caption>", table, re.S).group(1)
    body = table.split("<tbody>")[1]
    return caption, [[htmllib.unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
                     for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.mark.django_db
def test_the_result_page_lists_the_first_rejected_rows_with_the_report_for_all(client_a, client_b, company_a,
                                                                              instance_a):
    """Rejected rows were only in the downloadable CSV: the result page now shows the first 20 (line, cells,
    reason) and links the report with all of them."""
    lines = ["Telefone;Nome", "5511987654321;Ana"] + [f"{index};Broken <{index}>" for index in range(25)]
    upload(client_a, company_a, instance_a, "\n".join(lines).encode())
    contact_import = latest_import(company_a)
    start(client_a, company_a, contact_import, {0: "identifier", 1: "name"})
    assert run(company_a, contact_import).rejected_count == 25
    page_url = f"/c/{company_a.slug}/contacts/import/{contact_import.public_id}/"
    for fetched in (client_a.get(page_url), client_a.get(f"{page_url}?fragment=progress")):
        caption, rows = _rejected_table(fetched.content.decode())
        assert caption == "Rejected rows: the first 20 of 25; the report below has them all."
        assert len(rows) == 20 and rows[0][:2] == ["3", "0 · Broken <0>"] and rows[-1][0] == "22"
        assert "not a valid phone number" in rows[0][2]
        assert f'href="{page_url}rejected.csv"' in fetched.content.decode()
    # A few: all of them, under a plain caption.
    upload(client_a, company_a, instance_a, GOOD_BAD_DUPLICATE)
    small = latest_import(company_a)
    start(client_a, company_a, small, {0: "identifier", 1: "name", 2: "tags", 3: "is_ignored"})
    run(company_a, small)
    caption, rows = _rejected_table(client_a.get(f"/c/{company_a.slug}/contacts/import/{small.public_id}/")
                                    .content.decode())
    assert caption == "Rejected rows" and [row[0] for row in rows] == ["4", "5", "6"]
    assert rows[1][1:] == ["551187654321 · Ana again ·  · ", "Same contact as line 2."]
    assert client_b.get(page_url).status_code == 404
    assert client_b.get(f"{page_url}?fragment=progress").status_code == 404


@pytest.mark.django_db
def test_reimporting_the_same_file_changes_nothing(client_a, company_a, instance_a):
    def import_file() -> ContactImport:
        upload(client_a, company_a, instance_a, GOOD_BAD_DUPLICATE)
        contact_import = latest_import(company_a)
        start(client_a, company_a, contact_import, {0: "identifier", 1: "name", 2: "tags", 3: "is_ignored"})
        return run(company_a, contact_import)

    import_file()
    first = contacts_state(company_a)
    with company_scope(company_a):
        updated_at = sorted(Contact.objects.values_list("updated_at", flat=True))
    done = import_file()
    assert (done.created_count, done.updated_count, done.unchanged_count, done.rejected_count) == (0, 0, 3, 3)
    assert contacts_state(company_a) == first
    with company_scope(company_a):
        assert sorted(Contact.objects.values_list("updated_at", flat=True)) == updated_at
        assert Tag.objects.count() == 2


@pytest.mark.django_db
def test_import_updates_existing_contacts_and_keeps_what_the_file_leaves_empty(client_a, company_a, instance_a):
    vip = make_tag(company=company_a, name="VIP")
    make_contact(company=company_a, instance=instance_a, identifier="5511987654321", name="Old", custom_name="Keep",
                 tags=[vip])
    upload(client_a, company_a, instance_a, b"5511987654321,New,\n5511911112222,,\n")
    contact_import = latest_import(company_a)
    assert contact_import.has_header is False and contact_import.mapping == {"0": "identifier"}
    start(client_a, company_a, contact_import, {0: "identifier", 1: "name", 2: "custom_name"}, has_header=False)
    done = run(company_a, contact_import)
    assert (done.created_count, done.updated_count) == (1, 1)
    with company_scope(company_a):
        old = Contact.objects.get(identifier="5511987654321")
        assert (old.name, old.custom_name, [t.name for t in old.tags.all()]) == ("New", "Keep", ["VIP"])


@pytest.mark.django_db
def test_bad_uploads_and_mappings_explain_themselves(client_a, company_a, instance_a):
    response = upload(client_a, company_a, instance_a, b"")
    assert response.status_code == 400 and "The submitted file is empty." in response.content.decode()
    response = upload(client_a, company_a, instance_a, b"\n\n \n")
    assert response.status_code == 400 and "The file is empty." in response.content.decode()
    response = client_a.post(f"/c/{company_a.slug}/contacts/import/", {"instance": "nope"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    upload(client_a, company_a, instance_a, b"number,name\n5511987654321,Ana\n")
    contact_import = latest_import(company_a)
    response = start(client_a, company_a, contact_import, {0: "", 1: "name"})
    assert response.status_code == 400 and "Choose which column holds the number." in response.content.decode()
    response = start(client_a, company_a, contact_import, {0: "identifier", 1: "identifier"})
    assert response.status_code == 400 and "one column only" in response.content.decode()
    assert latest_import(company_a).status == ContactImport.Status.PREVIEW


@pytest.mark.django_db
def test_another_company_cannot_see_or_start_an_import(client_b, client_a, company_a, instance_a):
    upload(client_a, company_a, instance_a, b"number\n5511987654321\n")
    contact_import = latest_import(company_a)
    base = f"/c/{company_a.slug}/contacts/import/{contact_import.public_id}/"
    assert client_b.get(base).status_code == 404
    assert client_b.post(base, {"column_0": "identifier", "has_header": "on"}).status_code == 404
    assert client_b.get(f"/c/bravo/contacts/import/{contact_import.public_id}/").status_code == 404
    assert client_b.get(f"/c/bravo/contacts/import/{contact_import.public_id}/rejected.csv").status_code == 404
    assert latest_import(company_a).status == ContactImport.Status.PREVIEW


@pytest.mark.django_db
def test_export_streams_the_filtered_list_and_round_trips(client_a, agent_client_a, company_a, company_b,
                                                          instance_a, django_assert_max_num_queries):
    vip = make_tag(company=company_a, name="VIP")
    late = make_tag(company=company_a, name="Late")
    make_platform(company=company_a, instance=instance_a, slug="sales-bot")
    make_contact(company=company_a, instance=instance_a, identifier="5511987654321", name="Ana, \"the\" boss",
                 custom_name="Ana", tags=[vip, late], is_ignored=True, platform="sales-bot",
                 extra_identifiers=["99887766554433@lid"])
    make_contact(company=company_a, instance=instance_a, identifier="5521999998888", name="=HYPERLINK(\"x\")",
                 custom_name="-Bia", bot_paused=True)
    make_contact(company=company_a, instance=instance_a, identifier="120363025246125888@g.us", name="Equipe",
                 tags=[late])
    export = f"/c/{company_a.slug}/contacts/export.csv"
    assert agent_client_a.get(export).status_code == 403
    with django_assert_max_num_queries(10):
        response = client_a.get(export)
        body = b"".join(response.streaming_content).decode("utf-8")
    assert response.streaming and response["Content-Disposition"].startswith('attachment; filename="contacts-alpha-')
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert len(rows) == 3
    ana = next(row for row in rows if row["identifier"] == "5511987654321")
    assert ana["name"] == 'Ana, "the" boss' and ana["tags"] == "Late; VIP" and ana["is_ignored"] == "yes"
    assert ana["extra_identifiers"] == "551187654321 99887766554433@lid"
    bia = next(row for row in rows if row["identifier"] == "5521999998888")
    assert (bia["name"], bia["custom_name"]) == ("'=HYPERLINK(\"x\")", "'-Bia")  # no formula for spreadsheets
    filtered = b"".join(client_a.get(export, {"tag": str(vip.public_id)}).streaming_content).decode()
    assert filtered.count("\n") == 2

    # Into another company's fresh instance, the file recreates the same contacts...
    instance_b = make_instance(company=company_b)
    make_platform(company=company_b, instance=instance_b, slug="sales-bot")
    with company_scope(company_b):
        contact_import = imports.contact_import_create(company=company_b, instance=instance_b, filename="e.csv",
                                                       raw=body.encode())
        mapping = {str(k): v for k, v in contact_import.mapping.items()}
        imports.contact_import_start(company=company_b, contact_import=contact_import, mapping=mapping,
                                     has_header=True)
    run(company_b, contact_import)

    def book(company):
        with company_scope(company):
            return sorted((c.identifier, c.name, c.custom_name, c.type, c.is_ignored, c.bot_paused, c.platform,
                           sorted(t.name for t in c.tags.all())) for c in Contact.objects.prefetch_related("tags"))

    assert book(company_b) == book(company_a)
    # ...and back into the original it changes nothing.
    with company_scope(company_a):
        again = imports.contact_import_create(company=company_a, instance=instance_a, filename="e.csv",
                                              raw=body.encode())
        imports.contact_import_start(company=company_a, contact_import=again, mapping=again.mapping, has_header=True)
    done = run(company_a, again)
    assert (done.unchanged_count, done.created_count, done.updated_count) == (3, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_import_runs_on_a_real_worker_after_commit(client_a, company_a, instance_a):
    upload(client_a, company_a, instance_a, b"phone,tags\n5511987654321,VIP\n5521999998888,VIP\n")
    contact_import = latest_import(company_a)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
        start(client_a, company_a, contact_import, {0: "identifier", 1: "tags"})
        deadline = time.monotonic() + 60  # generous: the machine may be busy starting the worker
        while time.monotonic() < deadline and latest_import(company_a).status != ContactImport.Status.DONE:
            time.sleep(0.1)
    done = latest_import(company_a)
    assert done.status == ContactImport.Status.DONE and done.created_count == 2
    with company_scope(company_a):
        assert ContactTag.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"PK\x03\x04\x14\x00\x06\x00\x08\x00"])
def test_a_file_that_is_not_text_is_refused_with_a_reason(client_a, company_a, instance_a, content):
    """A picture or a spreadsheet saved as .xlsx (a zip) renamed to .csv: said so at upload, nothing stored."""
    response = upload(client_a, company_a, instance_a, content)
    assert response.status_code == 400 and "not a CSV file" in response.content.decode()
    assert latest_import(company_a) is None


# Excel's "Unicode text" (Texto Unicode): UTF-16 little-endian with its BOM, tab separated, CRLF; the cells hold
# commas and semicolons, which must not be taken for the separator.
EXCEL_UNICODE_TEXT = (
    "Telefone\tNome\tEtiquetas\r\n"
    "+55 11 98765-4321\tJoão da Conceição, Jr.\tVIP; Atacado\r\n"
    "5521999998888\tBeatriz Ávila\tVIP\r\n"
)


@pytest.mark.django_db
@pytest.mark.parametrize("content", [
    codecs.BOM_UTF16_LE + EXCEL_UNICODE_TEXT.encode("utf-16-le"),
    codecs.BOM_UTF16_BE + EXCEL_UNICODE_TEXT.encode("utf-16-be"),
    EXCEL_UNICODE_TEXT.encode("utf-8-sig"),
    EXCEL_UNICODE_TEXT.encode("utf-8"),
    EXCEL_UNICODE_TEXT.encode("cp1252"),
], ids=["utf-16-le", "utf-16-be", "utf-8-bom", "utf-8", "cp1252"])
def test_excel_unicode_text_and_other_tab_separated_files_import(client_a, client_b, company_a, instance_a, content):
    """A spreadsheet saved from Excel as "Unicode text" (UTF-16 with a BOM, tabs) was refused as not a CSV file
    (its NUL bytes); Brazilian users save it often. It imports like any CSV, accents and all; company B gets none."""
    response = upload(client_a, company_a, instance_a, content, name="contatos.txt")
    assert response.status_code == 302
    contact_import = latest_import(company_a)
    assert contact_import.delimiter == "\t" and contact_import.mapping == {"0": "identifier", "1": "name", "2": "tags"}
    assert "\0" not in contact_import.content and not contact_import.content.startswith("\ufeff")
    start(client_a, company_a, contact_import, {0: "identifier", 1: "name", 2: "tags"})
    assert run(company_a, contact_import).created_count == 2
    assert contacts_state(company_a) == [("5511987654321", "João da Conceição, Jr.", False, ["Atacado", "VIP"]),
                                         ("5521999998888", "Beatriz Ávila", False, ["VIP"])]
    assert client_b.get(f"/c/{company_a.slug}/contacts/import/{contact_import.public_id}/").status_code == 404


@pytest.mark.django_db
def test_lines_ended_by_a_lone_carriage_return_import_like_any_other(client_a, company_a, instance_a):
    """Excel for Mac's "CSV (Macintosh)" format."""
    response = upload(client_a, company_a, instance_a, b"number,name\r5511987654321,Ana\r5521999998888,Bia\r")
    assert response.status_code == 302
    contact_import = latest_import(company_a)
    start(client_a, company_a, contact_import, {0: "identifier", 1: "name"})
    assert run(company_a, contact_import).created_count == 2


@pytest.mark.django_db
def test_rejected_rows_are_explained_in_the_language_of_who_started_the_import(
        client_a, owner_a, company_a, instance_a, monkeypatch, django_capture_on_commit_callbacks):
    """The run happens on a worker, long after the request: the reasons it writes down must not be in the
    worker's language."""
    owner_a.language = "pt-br"
    owner_a.save(update_fields=["language"])
    monkeypatch.setattr(run_import, "delay", lambda *args, **kwargs: run_import.apply(args=args, kwargs=kwargs).get())
    upload(client_a, company_a, instance_a, GOOD_BAD_DUPLICATE)
    contact_import = latest_import(company_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        start(client_a, company_a, contact_import, {0: "identifier", 1: "name", 2: "tags", 3: "is_ignored"})
    for callback in callbacks:  # the worker, outside the request (whose language is reset by now)
        callback()
    report = client_a.get(f"/c/{company_a.slug}/contacts/import/{contact_import.public_id}/rejected.csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["linha", "motivo"]
    assert "não é um telefone válido" in rows[1][1] and "Mesmo contato da linha 2" in rows[2][1]
